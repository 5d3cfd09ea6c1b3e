package marathon

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	fetch           *prometheus.CounterVec
	fetchDuration   prometheus.Histogram
	events          *prometheus.CounterVec
	streamUp        prometheus.Gauge
	reconnects      prometheus.Counter
	apps            prometheus.Gauge
	tasks           prometheus.Gauge
	skipped         *prometheus.CounterVec
	lastSuccessUnix prometheus.Gauge
}

// newMetrics builds the source's metrics and registers them on reg (nil:
// not registered).
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		fetch: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sextant_marathon_fetch_total",
			Help: "Full reads of GET /v2/apps by result (ok or error; error means every URL failed).",
		}, []string{"result"}),
		fetchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sextant_marathon_fetch_duration_seconds",
			Help:    "Time of one full read (all URLs tried), including decoding.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sextant_marathon_events_total",
			Help: "Events read from /v2/events by eventType (other: a type not known; invalid: unreadable data).",
		}, []string{"type"}),
		streamUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sextant_marathon_stream_up",
			Help: "1 while the /v2/events stream is attached.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sextant_marathon_stream_reconnects_total",
			Help: "Event stream connection attempts after the first.",
		}),
		apps: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sextant_marathon_apps",
			Help: "Apps in the last observation published.",
		}),
		tasks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sextant_marathon_tasks",
			Help: "Tasks in the last observation published.",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sextant_marathon_items_skipped_total",
			Help: "Items left out of a full read because they could not be decoded, by kind (app, task, field); counted on every read that skips them.",
		}, []string{"kind"}),
		lastSuccessUnix: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sextant_marathon_last_success_timestamp_seconds",
			Help: "Unix time of the last successful full read (0 before the first).",
		}),
	}
	// Every label value exists from the start, so rate() works before the
	// first occurrence.
	for _, r := range []string{"ok", "error"} {
		m.fetch.WithLabelValues(r)
	}
	for _, k := range []string{kindApp, kindTask, kindField} {
		m.skipped.WithLabelValues(k)
	}
	if reg != nil {
		reg.MustRegister(m.fetch, m.fetchDuration, m.events, m.streamUp, m.reconnects, m.apps, m.tasks, m.skipped, m.lastSuccessUnix)
	}
	return m
}
