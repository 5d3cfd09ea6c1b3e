package resolver

import (
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	pathFast = iota
	pathSlow
)

// Query counters are resolved once into arrays indexed by qtype and rcode,
// so counting a query is one atomic add with no label hashing.
var (
	qtypeNames = [...]string{"none", "A", "AAAA", "SRV", "SOA", "NS", "ANY", "PTR", "MX", "TXT", "CNAME", "DS", "other"}
	rcodeNames = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other"}
)

func qtypeIndex(t uint16) int {
	switch t {
	case 0:
		return 0
	case dns.TypeA:
		return 1
	case dns.TypeAAAA:
		return 2
	case dns.TypeSRV:
		return 3
	case dns.TypeSOA:
		return 4
	case dns.TypeNS:
		return 5
	case dns.TypeANY:
		return 6
	case dns.TypePTR:
		return 7
	case dns.TypeMX:
		return 8
	case dns.TypeTXT:
		return 9
	case dns.TypeCNAME:
		return 10
	case dns.TypeDS:
		return 11
	}
	return 12
}

func rcodeIndex(rc int) int {
	if rc >= 0 && rc <= 5 {
		return rc
	}
	return 6
}

type metrics struct {
	queries   [len(qtypeNames)][len(rcodeNames)]prometheus.Counter
	latency   [2]prometheus.Observer
	forwarded *prometheus.CounterVec
	prepare   prometheus.Histogram
	names     prometheus.Gauge
	records   *prometheus.GaugeVec
	serial    prometheus.Gauge
	built     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &metrics{}
	qv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sextant_mesosdns_dns_queries_total",
		Help: "DNS replies sent, by question type and response code.",
	}, []string{"qtype", "rcode"})
	lv := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sextant_mesosdns_dns_handler_duration_seconds",
		Help:    "Time to build a DNS reply, by path. The fast path is sampled (1 query in 64) so timing never dominates it.",
		Buckets: []float64{1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 5e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 5},
	}, []string{"path"})
	m.forwarded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sextant_mesosdns_dns_forwarded_total",
		Help: "Queries for names outside the domain, by zone and result (ok, failed, refused).",
	}, []string{"zone", "result"})
	m.prepare = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "sextant_mesosdns_dns_prepare_seconds",
		Help:    "Time to prepare the DNS answers of a new record set.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
	})
	m.names = prometheus.NewGauge(prometheus.GaugeOpts{Name: "sextant_mesosdns_dns_names", Help: "Names served in the domain."})
	m.records = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sextant_mesosdns_records", Help: "Record values in the served record set, by type."}, []string{"type"})
	m.serial = prometheus.NewGauge(prometheus.GaugeOpts{Name: "sextant_mesosdns_soa_serial", Help: "SOA serial being served (Unix time of the last successful reload)."})
	m.built = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sextant_mesosdns_dns_answers_built_total",
		Help: "Names whose answers were built on demand (first asked for since a reload changed them, or dropped from the bounded cache).",
	})
	for _, c := range []prometheus.Collector{qv, lv, m.forwarded, m.prepare, m.names, m.records, m.serial, m.built} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for i, q := range qtypeNames {
		for j, rc := range rcodeNames {
			m.queries[i][j] = qv.WithLabelValues(q, rc)
		}
	}
	m.latency[pathFast] = lv.WithLabelValues("fast")
	m.latency[pathSlow] = lv.WithLabelValues("slow")
	return m, nil
}

func (m *metrics) count(qt uint16, rcode int) { m.queries[qtypeIndex(qt)][rcodeIndex(rcode)].Inc() }

func (m *metrics) countFast(qt uint16, rcode int) { m.count(qt, rcode) }
