package hub

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	sources       *prometheus.GaugeVec
	observations  *prometheus.CounterVec
	failures      *prometheus.CounterVec
	buildDuration prometheus.Histogram
	version       prometheus.Gauge
	problems      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, h *Hub) *metrics {
	m := &metrics{
		sources: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sextant_hub_sources",
			Help: "Sources feeding the cluster model in this process (1 per source)."}, []string{"source"}),
		observations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_hub_observations_total",
			Help: "Whole observations published by each source."}, []string{"source"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_hub_source_failures_total",
			Help: "Failed fetches reported by each source (its last good observation kept serving)."}, []string{"source"}),
		buildDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sextant_hub_build_duration_seconds",
			Help: "Time to merge the observations into one snapshot.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sextant_hub_snapshot_version",
			Help: "Version of the latest snapshot."}),
		problems: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sextant_hub_snapshot_problems",
			Help: "Items skipped or degraded in the latest snapshot."}),
	}
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sextant_hub_stale_sources",
		Help: "Sources whose latest fetch failed or that have not delivered yet."}, func() float64 {
		n := 0
		for _, s := range h.Sources() {
			if s.Stale {
				n++
			}
		}
		return float64(n)
	})
	if reg != nil {
		reg.MustRegister(m.sources, m.observations, m.failures, m.buildDuration, m.version, m.problems, age)
	}
	return m
}
