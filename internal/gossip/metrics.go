package gossip

import "github.com/prometheus/client_golang/prometheus"

// metrics of one Node, registered on the registry the role passes in.
type metrics struct {
	received    prometheus.Counter
	applied     prometheus.Counter
	stale       prometheus.Counter
	invalid     *prometheus.CounterVec // by message type
	dropped     prometheus.Counter
	bytesIn     prometheus.Counter
	bytesOut    prometheus.Counter
	published   prometheus.Counter
	reasserted  prometheus.Counter
	sendErrors  prometheus.Counter
	lag         prometheus.Histogram
	members     *prometheus.GaugeVec
	isLeader    prometheus.Gauge
	zoneVersion *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sextant_gossip_zone_versions_received_total",
			Help: "Zone messages received from peers (broadcast or reliable), duplicates included.",
		}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sextant_gossip_zone_versions_applied_total",
			Help: "Zone versions that were newer than the held one and replaced it.",
		}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sextant_gossip_zone_versions_stale_total",
			Help: "Zone versions dropped because an equal or newer version was held.",
		}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sextant_gossip_messages_invalid_total",
			Help: "Gossip messages from peers that failed to decode, by message kind.",
		}, []string{"kind"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sextant_gossip_messages_dropped_total",
			Help: "Incoming messages dropped because the processing queue was full (anti-entropy repairs them).",
		}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sextant_gossip_payload_bytes_received_total",
			Help: "Encoded (possibly compressed) zone message bytes received.",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sextant_gossip_payload_bytes_sent_total",
			Help: "Encoded (possibly compressed) zone message bytes sent directly to members (gossip relays not counted).",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sextant_gossip_zone_versions_published_total",
			Help: "Zone versions published by this node as leader.",
		}),
		reasserted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sextant_gossip_zone_reasserts_total",
			Help: "Times this leader re-published its zone because another publisher's version had overtaken it.",
		}),
		sendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sextant_gossip_send_errors_total",
			Help: "Reliable sends of zone messages that failed (the peer catches up by anti-entropy).",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sextant_gossip_convergence_lag_seconds",
			Help:    "Time from publish (publisher's clock) to apply here; only meaningful with synchronised clocks.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		members: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sextant_gossip_members",
			Help: "Members this node knows, by state (alive, dead, left).",
		}, []string{"state"}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sextant_gossip_is_leader",
			Help: "1 when this node is the zone-publishing leader.",
		}),
		zoneVersion: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sextant_gossip_zone_version",
			Help: "Version of each zone held by this node.",
		}, []string{"zone"}),
	}
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			m.unregister(reg)
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.received, m.applied, m.stale, m.invalid, m.dropped, m.bytesIn,
		m.bytesOut, m.published, m.reasserted, m.sendErrors, m.lag, m.members, m.isLeader, m.zoneVersion}
}

// unregister removes what was registered, so a failed New can be retried
// with the same registry.
func (m *metrics) unregister(reg prometheus.Registerer) {
	for _, c := range m.collectors() {
		reg.Unregister(c)
	}
}
