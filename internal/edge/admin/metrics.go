package admin

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/edge"
)

// statsCollector turns the engine's stats rows into series named as
// HAProxy's Prometheus exporter names them.
type statsCollector struct {
	e     edge.Engine
	descs map[string]*prometheus.Desc
}

func kind(t int) (string, bool) {
	switch t {
	case edge.StatFrontend:
		return "frontend", true
	case edge.StatBackend:
		return "backend", true
	case edge.StatServer:
		return "server", true
	}
	return "", false
}

func desc(kind, name, help string) *prometheus.Desc {
	labels := []string{"proxy"}
	if kind == "server" {
		labels = append(labels, "server")
	}
	if name == "http_responses_total" {
		labels = append(labels, "code")
	}
	return prometheus.NewDesc("haproxy_"+kind+"_"+name, help, labels, nil)
}

func newStatsCollector(e edge.Engine) statsCollector {
	c := statsCollector{e: e, descs: map[string]*prometheus.Desc{}}
	for _, k := range []string{"frontend", "backend", "server"} {
		for n, h := range map[string]string{
			"current_sessions": "Current sessions.", "max_sessions": "Most sessions at once.",
			"sessions_total": "Sessions.", "bytes_in_total": "Request bytes.", "bytes_out_total": "Response bytes.",
			"http_responses_total": "HTTP responses by class.", "current_queue": "Queued requests.",
			"status": "1 when UP (or OPEN), else 0.", "weight": "Effective weight.",
		} {
			c.descs[k+"_"+n] = desc(k, n, h)
		}
	}
	return c
}

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.e.Stats() {
		k, ok := kind(r.Type)
		if !ok {
			continue
		}
		lv := []string{r.PxName}
		if k == "server" {
			lv = append(lv, r.SvName)
		}
		gauge := func(n string, v int64) {
			ch <- prometheus.MustNewConstMetric(c.descs[k+"_"+n], prometheus.GaugeValue, float64(v), lv...)
		}
		counter := func(n string, v int64) {
			ch <- prometheus.MustNewConstMetric(c.descs[k+"_"+n], prometheus.CounterValue, float64(v), lv...)
		}
		gauge("current_sessions", r.Scur)
		gauge("max_sessions", r.Smax)
		counter("sessions_total", r.Stot)
		counter("bytes_in_total", r.Bin)
		counter("bytes_out_total", r.Bout)
		gauge("current_queue", r.Qcur)
		up := int64(0)
		if r.Status == "UP" || r.Status == "OPEN" || len(r.Status) > 3 && r.Status[:3] == "UP " {
			up = 1
		}
		gauge("status", up)
		if k != "frontend" {
			gauge("weight", r.Weight)
		}
		if r.Mode == "http" {
			for i, v := range r.Hrsp {
				code := strconv.Itoa(i+1) + "xx"
				if i == 5 {
					code = "other"
				}
				ch <- prometheus.MustNewConstMetric(c.descs[k+"_http_responses_total"], prometheus.CounterValue,
					float64(v), append(lv, code)...)
			}
		}
	}
}
