package haproxy

import "github.com/prometheus/client_golang/prometheus"

type engineMetrics struct {
	applied       *prometheus.CounterVec
	applySeconds  *prometheus.HistogramVec
	reloads       prometheus.Counter
	runtimeOps    prometheus.Counter
	checkFailures prometheus.Counter
}

func newEngineMetrics(reg prometheus.Registerer) *engineMetrics {
	m := &engineMetrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_edge_haproxy_applies_total",
			Help: "Generations applied, by how: runtime (runtime API, no reload), reload, rejected (haproxy -c), failed."},
			[]string{"how"}),
		applySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sextant_edge_haproxy_apply_seconds",
			Help: "Time from a generation to HAProxy running it.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)},
			[]string{"how"}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{Name: "sextant_edge_haproxy_reloads_total",
			Help: "HAProxy starts and reloads (new workers)."}),
		runtimeOps: prometheus.NewCounter(prometheus.CounterOpts{Name: "sextant_edge_haproxy_runtime_commands_total",
			Help: "Runtime API commands that changed servers without a reload."}),
		checkFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "sextant_edge_haproxy_check_failures_total",
			Help: "Generations haproxy -c rejected (their offending apps are then left out)."}),
	}
	if reg != nil {
		reg.MustRegister(m.applied, m.applySeconds, m.reloads, m.runtimeOps, m.checkFailures)
	}
	return m
}
