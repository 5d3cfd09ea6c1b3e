package mesos

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

type metrics struct {
	refresh         *prometheus.CounterVec
	refreshDuration prometheus.Histogram
	lastSuccess     prometheus.Gauge
	version         prometheus.Gauge
	problems        prometheus.Gauge
	streamUp        prometheus.Gauge
	streamUpdates   prometheus.Counter
	masterFailures  *prometheus.CounterVec
	itemsSkipped    *prometheus.CounterVec
}

// newMetrics builds the source's metrics and registers them on reg (nil:
// not registered). age reports the snapshot age in seconds.
func newMetrics(reg prometheus.Registerer, age func() float64) *metrics {
	m := &metrics{
		refresh: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sextant_mesos_refresh_total",
			Help: "State refreshes (fetch, parse, build) by result (ok or error).",
		}, []string{"result"}),
		refreshDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sextant_mesos_refresh_duration_seconds",
			Help:    "Time to fetch the Mesos state and build a snapshot.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sextant_mesos_last_success_timestamp_seconds",
			Help: "Unix time of the last successful refresh (0 before the first).",
		}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sextant_mesos_snapshot_version",
			Help: "Version of the last snapshot emitted.",
		}),
		problems: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sextant_mesos_snapshot_problems",
			Help: "Items of the last snapshot's input that were skipped or degraded.",
		}),
		streamUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sextant_mesos_stream_up",
			Help: "1 while an operator-API event stream from the leader is delivering state.",
		}),
		streamUpdates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sextant_mesos_stream_updates_total",
			Help: "Snapshots built from the operator-API event stream.",
		}),
		masterFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sextant_mesos_master_fetch_errors_total",
			Help: "Failed state fetches by master address.",
		}, []string{"master"}),
		itemsSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sextant_mesos_state_items_skipped_total",
			Help: "Parts of fetched states left out for a value of the wrong type, by kind (agent, framework, task, status, or field: one field dropped), counted on every fetch.",
		}, []string{"kind"}),
	}
	// Both results exist from the start, so a rate() works before the
	// first error.
	m.refresh.WithLabelValues("ok")
	m.refresh.WithLabelValues("error")
	for _, k := range []state.Kind{state.KindAgent, state.KindFramework, state.KindTask, state.KindStatus, state.KindField} {
		m.itemsSkipped.WithLabelValues(string(k))
	}
	if reg != nil {
		reg.MustRegister(m.refresh, m.refreshDuration, m.lastSuccess, m.version, m.problems,
			m.streamUp, m.streamUpdates, m.masterFailures, m.itemsSkipped,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sextant_mesos_snapshot_age_seconds",
				Help: "Seconds since the state behind the current snapshot was fetched (since start before the first).",
			}, age))
	}
	return m
}
