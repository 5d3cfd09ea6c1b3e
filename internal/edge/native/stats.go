package native

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/edge"
)

// counters are one frontend's, backend's or server's figures, named as
// HAProxy's stats CSV columns. They live across configurations (HAProxy
// loses them at every reload; the native engine has none).
type counters struct {
	scur, smax, stot  atomic.Int64
	bin, bout         atomic.Int64
	ereq, econ, eresp atomic.Int64
	wretr, wredis     atomic.Int64
	hrsp              [6]atomic.Int64
	reqTot, lbtot     atomic.Int64
	cliAbrt, srvAbrt  atomic.Int64
}

func (c *counters) open() {
	c.stot.Add(1)
	c.bumpMax(c.scur.Add(1))
}

func (c *counters) close() { c.scur.Add(-1) }

func (c *counters) bumpMax(n int64) {
	for {
		m := c.smax.Load()
		if n <= m || c.smax.CompareAndSwap(m, n) {
			return
		}
	}
}

// resp counts a response by class and returns its code.
func (c *counters) resp(code int) int {
	i := code/100 - 1
	if i < 0 || i > 4 {
		i = 5
	}
	c.hrsp[i].Add(1)
	return code
}

func (c *counters) row(px, sv string, typ int) edge.StatRow {
	r := edge.StatRow{PxName: px, SvName: sv, Type: typ,
		Scur: c.scur.Load(), Smax: c.smax.Load(), Stot: c.stot.Load(), Bin: c.bin.Load(), Bout: c.bout.Load(),
		Ereq: c.ereq.Load(), Econ: c.econ.Load(), Eresp: c.eresp.Load(), ReqTot: c.reqTot.Load()}
	for i := range r.Hrsp {
		r.Hrsp[i] = c.hrsp[i].Load()
	}
	return r
}

// Stats is one row per frontend, then per backend its servers and its
// BACKEND row, in the order of the configuration file.
func (e *Engine) Stats() []edge.StatRow {
	t := e.cur.Load()
	e.mu.Lock()
	gen := e.gen
	e.mu.Unlock()
	if gen == nil {
		return nil
	}
	var rows []edge.StatRow
	seen := map[string]bool{}
	for _, fe := range t.order {
		if seen[fe.name] {
			continue
		}
		seen[fe.name] = true
		r := fe.stats.row(fe.name, "FRONTEND", edge.StatFrontend)
		r.Status, r.Mode = "OPEN", fe.mode
		rows = append(rows, r)
	}
	for _, s := range gen.Config.Services {
		be := t.backends[s.Name]
		if be == nil {
			continue
		}
		act := int64(0)
		for _, srv := range be.servers {
			st := srv.st
			r := st.stats.row(be.name, srv.name, edge.StatServer)
			r.Scur = st.active.Load()
			r.Addr, r.Mode, r.Act, r.Weight = srv.addr, be.mode, 1, 1
			st.mu.Lock()
			checked, desc := st.checking != nil, st.checkDesc
			st.mu.Unlock()
			switch {
			case srv.draining:
				r.Status, r.Weight, r.Act = "MAINT", 0, 0
			case !st.up.Load():
				r.Status = "DOWN"
			case !checked:
				r.Status = "no check"
			default:
				r.Status = "UP"
			}
			if r.Status == "UP" || r.Status == "no check" {
				act++
			}
			r.CheckStatus = desc
			rows = append(rows, r)
		}
		r := be.stats.row(be.name, "BACKEND", edge.StatBackend)
		r.Mode, r.Act, r.Weight, r.Status = be.mode, act, act, "UP"
		if act == 0 {
			r.Status = "DOWN"
		}
		rows = append(rows, r)
	}
	return rows
}

type metrics struct {
	applies, failed prometheus.Counter
	applySeconds    prometheus.Histogram
	listeners       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		applies: prometheus.NewCounter(prometheus.CounterOpts{Name: "sextant_edge_native_applies_total",
			Help: "Configurations the native edge engine applied."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "sextant_edge_native_apply_failures_total",
			Help: "Configurations the native edge engine refused (the previous one kept serving)."}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sextant_edge_native_apply_seconds",
			Help: "Time to compile and swap in a configuration.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}),
		listeners: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sextant_edge_native_listeners",
			Help: "Listening sockets of the native edge engine."}),
	}
	if reg != nil {
		reg.MustRegister(m.applies, m.failed, m.applySeconds, m.listeners)
	}
	return m
}
