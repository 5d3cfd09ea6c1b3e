package l4lb

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	l                                    *LB
	vips, backends                       prometheus.Gauge
	unreachBackends, unreachVIPs, unNode prometheus.Gauge
	problems                             prometheus.Gauge
	syncDuration                         prometheus.Histogram
	syncFailures                         prometheus.Counter
	// Per service and backend, read at scrape time.
	weight, conns, active, failures, bytes, refused *prometheus.Desc
	plane                                           *prometheus.Desc
}

var (
	backendLabels = []string{"protocol", "vip", "name", "backend"}
	vipLabels     = []string{"protocol", "vip", "name"}
)

func newMetrics(l *LB) *metrics {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: "sextant_l4lb_" + name, Help: help})
	}
	return &metrics{
		l:               l,
		vips:            g("vips", "VIP addresses and ports served (per protocol)."),
		backends:        g("backends", "Backends programmed, after the reachability filter."),
		unreachBackends: g("unreachable_backends", "Backends dropped because their agent is unreachable."),
		unreachVIPs:     g("unreachable_vips", "VIPs whose every backend is unreachable (kept: fail open)."),
		unNode:          g("unreachable_nodes", "Agents with backends that are reported unreachable."),
		problems:        g("problems", "VIP declarations skipped or defaulted in the last build."),
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sextant_l4lb_sync_duration_seconds",
			Help: "Time the data plane took to apply the desired services.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9)}),
		syncFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "sextant_l4lb_sync_failures_total",
			Help: "Syncs of the data plane that failed (retried with a backoff)."}),
		weight: prometheus.NewDesc("sextant_l4lb_backend_weight",
			"Weight of a backend: 0 drains it (no new connections).", backendLabels, nil),
		conns: prometheus.NewDesc("sextant_l4lb_backend_connections_total",
			"Connections (UDP: flows) forwarded to a backend.", backendLabels, nil),
		active: prometheus.NewDesc("sextant_l4lb_backend_active_connections",
			"Connections (UDP: flows) to a backend open now.", backendLabels, nil),
		failures: prometheus.NewDesc("sextant_l4lb_backend_failures_total",
			"Connections that could not reach a backend.", backendLabels, nil),
		bytes: prometheus.NewDesc("sextant_l4lb_backend_bytes_total",
			"Payload bytes relayed to (direction=to_backend) and from a backend.", append(backendLabels[:4:4], "direction"), nil),
		plane: prometheus.NewDesc("sextant_l4lb_plane_info",
			"The data plane serving VIPs on this node (value 1).", []string{"plane"}, nil),
		refused: prometheus.NewDesc("sextant_l4lb_vip_refused_total",
			"New connections to a VIP refused (TCP reset, UDP dropped): no backend takes new connections.", vipLabels, nil),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.vips, m.backends, m.unreachBackends, m.unreachVIPs, m.unNode, m.problems,
		m.syncDuration, m.syncFailures, m}
}

func (m *metrics) register(r prometheus.Registerer) error {
	var done []prometheus.Collector
	for _, c := range m.collectors() {
		if err := r.Register(c); err != nil {
			for _, d := range done {
				r.Unregister(d)
			}
			return err
		}
		done = append(done, c)
	}
	return nil
}

func (m *metrics) unregister(r prometheus.Registerer) {
	for _, c := range m.collectors() {
		r.Unregister(c)
	}
}

func (m *metrics) setReport(rep Report) {
	m.vips.Set(float64(rep.VIPs))
	m.backends.Set(float64(rep.Backends))
	m.unreachBackends.Set(float64(rep.UnreachableBackends))
	m.unreachVIPs.Set(float64(rep.UnreachableVIPs))
	m.unNode.Set(float64(rep.UnreachableNodes))
	m.problems.Set(float64(len(rep.Problems)))
}

// Describe implements prometheus.Collector for the per-backend series.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.weight, m.conns, m.active, m.failures, m.bytes, m.refused, m.plane} {
		ch <- d
	}
}

// Collect reads the desired weights and the plane's counters.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	if m.l.o.Plane != "" {
		ch <- prometheus.MustNewConstMetric(m.plane, prometheus.GaugeValue, 1, m.l.o.Plane)
	}
	d := m.l.cur.Load()
	if d == nil {
		return
	}
	names := make(map[Key]string, len(d.services))
	for _, s := range d.services {
		names[s.Key] = s.Name
		for _, b := range s.Backends {
			ch <- prometheus.MustNewConstMetric(m.weight, prometheus.GaugeValue, float64(b.Weight),
				s.Protocol.String(), s.Addr.String(), s.Name, b.Addr.String())
		}
	}
	sr, ok := m.l.plane.(StatsReporter)
	if !ok {
		return
	}
	for _, s := range m.l.stats(sr) {
		proto, vip, name := s.Key.Protocol.String(), s.Key.Addr.String(), names[s.Key]
		ch <- prometheus.MustNewConstMetric(m.refused, prometheus.CounterValue, float64(s.Refused), proto, vip, name)
		for _, b := range s.Backends {
			be := b.Addr.String()
			ch <- prometheus.MustNewConstMetric(m.conns, prometheus.CounterValue, float64(b.Connections), proto, vip, name, be)
			ch <- prometheus.MustNewConstMetric(m.active, prometheus.GaugeValue, float64(b.Active), proto, vip, name, be)
			ch <- prometheus.MustNewConstMetric(m.failures, prometheus.CounterValue, float64(b.Failures), proto, vip, name, be)
			ch <- prometheus.MustNewConstMetric(m.bytes, prometheus.CounterValue, float64(b.BytesToBackend), proto, vip, name, be, "to_backend")
			ch <- prometheus.MustNewConstMetric(m.bytes, prometheus.CounterValue, float64(b.BytesFromBackend), proto, vip, name, be, "from_backend")
		}
	}
}
