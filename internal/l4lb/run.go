package l4lb

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/vip"
)

// Defaults of Options.
const (
	// DefaultResyncInterval is dcos-l4lb's reconcile period (§B.6, F.1).
	DefaultResyncInterval = 30 * time.Second
	// DefaultMinSyncInterval spaces syncs of a burst of changes.
	DefaultMinSyncInterval = 20 * time.Millisecond
	// DefaultSyncTimeout bounds one Sync.
	DefaultSyncTimeout = 30 * time.Second
	retryMin, retryMax = time.Second, 30 * time.Second
)

// Options configure an LB.
type Options struct {
	Config
	// ResyncInterval: the same services are synced again this often, so
	// a plane repairs drift (0: DefaultResyncInterval; negative: never).
	ResyncInterval time.Duration
	// MinSyncInterval is the least time between two syncs (0:
	// DefaultMinSyncInterval).
	MinSyncInterval time.Duration
	// SyncTimeout bounds one Sync (0: DefaultSyncTimeout).
	SyncTimeout time.Duration
	// Plane names the data plane for the API and the metrics
	// ("nftables", "ebpf+nftables", "userspace"); PlaneInfo says why it
	// was chosen.
	Plane, PlaneInfo string
	Logger           *slog.Logger
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
}

// LB drives one Dataplane from snapshots.
type LB struct {
	plane Dataplane
	o     Options
	log   *slog.Logger
	m     *metrics
	kick  chan struct{}
	// cur is the last desired state handed to the plane.
	cur  atomic.Pointer[desired]
	once sync.Once
	// planeMu keeps Stats from running during a Sync. The contract lets
	// a plane take both at once, but a plane that gets it wrong (the
	// first nftables plane took its two locks in opposite orders and
	// deadlocked) would stall the API and the metrics; a Sync takes
	// milliseconds, so waiting for it costs a scrape little.
	planeMu sync.Mutex
}

// stats reads a plane's counters, never during a Sync.
func (l *LB) stats(sr StatsReporter) []ServiceStats {
	l.planeMu.Lock()
	defer l.planeMu.Unlock()
	return sr.Stats()
}

type desired struct {
	services []Service
	report   Report
	version  uint64
	// table is the VIP table before the reachability filter, and down
	// the agents that filter dropped (for the API's backend states).
	table *vip.Table
	down  map[netip.Addr]bool
	// synced is when the plane last applied these services; err the last
	// sync's error ("" when it succeeded).
	synced atomic.Pointer[syncResult]
}

type syncResult struct {
	at  time.Time
	err string
}

// New returns an LB that programs plane. It registers its metrics with
// o.Registerer; Close unregisters them.
func New(plane Dataplane, o Options) (*LB, error) {
	if o.ResyncInterval == 0 {
		o.ResyncInterval = DefaultResyncInterval
	}
	if o.MinSyncInterval <= 0 {
		o.MinSyncInterval = DefaultMinSyncInterval
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = DefaultSyncTimeout
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &LB{plane: plane, o: o, log: log, kick: make(chan struct{}, 1)}
	l.m = newMetrics(l)
	if o.Registerer != nil {
		if err := l.m.register(o.Registerer); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Close unregisters the metrics. It does not close the plane.
func (l *LB) Close() {
	l.once.Do(func() {
		if l.o.Registerer != nil {
			l.m.unregister(l.o.Registerer)
		}
	})
}

// Resync asks Run to recompute the services from the last snapshot, for
// an input that is not in snapshots (Unreachable) having changed. It never
// blocks.
func (l *LB) Resync() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Services returns the services last handed to the plane (nil before the
// first sync). The slice is shared: do not modify it.
func (l *LB) Services() []Service {
	if d := l.cur.Load(); d != nil {
		return d.services
	}
	return nil
}

// Run syncs the plane with the latest of snaps until ctx ends or snaps is
// closed; it returns nil then. A failed sync is retried with a backoff,
// and the services are synced again every ResyncInterval.
func (l *LB) Run(ctx context.Context, snaps <-chan *model.Snapshot) error {
	var latest *model.Snapshot
	var lastSync time.Time
	var items tableItems
	retry := time.Duration(0)
	dirty := false // desired services must be recomputed
	due := false   // a sync is due (change, retry or resync)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	resync := func() <-chan time.Time { return nil }
	var resyncTicker *time.Ticker
	if l.o.ResyncInterval > 0 {
		resyncTicker = time.NewTicker(l.o.ResyncInterval)
		defer resyncTicker.Stop()
		resync = func() <-chan time.Time { return resyncTicker.C }
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case s, ok := <-snaps:
			if !ok {
				return nil
			}
			if l.o.FromItems {
				if !items.changed(s) {
					continue
				}
			} else if s.SameSources(latest, "mesos", "marathon") {
				continue // only gossip items changed: not what VIPs come from
			}
			latest, dirty, due = s, true, true
		case <-l.kick:
			dirty, due = latest != nil, latest != nil
		case <-resync():
			due = l.cur.Load() != nil
		case <-timer.C:
		}
		if !due {
			continue
		}
		if wait := l.o.MinSyncInterval - time.Since(lastSync); wait > 0 {
			timer.Reset(wait)
			continue
		}
		if dirty {
			var table *vip.Table
			var probs []model.Problem
			if l.o.FromItems {
				table = vip.MergeWriters(items.table(latest, l.log), items.liveWriters(latest, unreachableSet(l.o.Config), l.o.LiveWriter, l.log))
			} else {
				table, probs = vip.BuildTable(latest, l.o.VIP)
			}
			svcs, rep, down := desiredFrom(table, probs, latest, l.o.Config)
			for _, p := range rep.Problems {
				l.log.Debug("vip problem", "item", p.Item, "field", p.Field, "reason", p.Reason)
			}
			l.cur.Store(&desired{services: svcs, report: rep, version: latest.Version, table: table, down: down})
			l.m.setReport(rep)
			dirty = false
		}
		d := l.cur.Load()
		err := l.sync(ctx, d)
		lastSync = time.Now()
		due = false
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			retry = min(max(2*retry, retryMin), retryMax)
			l.log.Warn("l4lb sync failed", "version", d.version, "retry_in", retry, "err", err)
			timer.Reset(retry)
			due = true
			continue
		}
		retry = 0
	}
}

func (l *LB) sync(ctx context.Context, d *desired) error {
	ctx, cancel := context.WithTimeout(ctx, l.o.SyncTimeout)
	defer cancel()
	start := time.Now()
	// The plane gets its own copy: it may keep what it is given.
	l.planeMu.Lock()
	err := l.plane.Sync(ctx, slices.Clone(d.services))
	l.planeMu.Unlock()
	l.m.syncDuration.Observe(time.Since(start).Seconds())
	res := &syncResult{at: time.Now()}
	if err != nil {
		res.err = err.Error()
	}
	d.synced.Store(res)
	if err != nil && !errors.Is(err, context.Canceled) {
		l.m.syncFailures.Inc()
	}
	return err
}

// tableItems follows the vip.TableItem item of the snapshots: the last
// good table, and the version of the item it came from.
type tableItems struct {
	seen    bool
	version uint64
	good    *vip.Table
	// writers are the per-writer backend sets (vip.WriterItem) of the
	// last snapshot read, each the last good version of its item.
	writers map[netip.Addr]writerSet
}

func tableItem(s *model.Snapshot) (model.Item, bool) {
	for _, it := range s.Items {
		if it.Name == vip.TableItem {
			return it, true
		}
	}
	return model.Item{}, false
}

// changed reports whether s carries another version of the item than the
// one last read.
func (t *tableItems) changed(s *model.Snapshot) bool {
	if !t.seen || !sameWriterVersions(t.writers, s) {
		return true
	}
	it, ok := tableItem(s)
	return ok && it.Version != t.version
}

// table decodes the item of s; a bad one keeps the last good table, and
// none yet is the empty table.
func (t *tableItems) table(s *model.Snapshot, log *slog.Logger) *vip.Table {
	t.seen = true
	it, ok := tableItem(s)
	if ok && (t.good == nil || it.Version != t.version) {
		t.version = it.Version
		var tab vip.Table
		if err := tab.UnmarshalBinary(it.Payload); err != nil {
			log.Warn("gossiped VIP table rejected; keeping the last good one", "version", it.Version, "err", err)
		} else {
			t.good = &tab
		}
	}
	if t.good == nil {
		return &vip.Table{}
	}
	return t.good
}

// writerSet is one agent's backend set as last read: the item's version
// and its last good table.
type writerSet struct {
	version uint64
	good    *vip.Table
}

// sameWriterVersions reports whether s carries exactly the per-writer
// items, at the versions, that held records.
func sameWriterVersions(held map[netip.Addr]writerSet, s *model.Snapshot) bool {
	n := 0
	for _, it := range s.Items {
		w, ok := vip.ParseWriterItem(it.Name)
		if !ok {
			continue
		}
		n++
		if h, ok := held[w]; !ok || h.version != it.Version {
			return false
		}
	}
	return n == len(held)
}

// liveWriters reads the per-writer items of s (a bad version keeps that
// writer's last good set; a writer whose item is gone is forgotten) and
// returns the sets of the writers not in down: a writer the failure
// detector reports dead or gone, or that is no live member (a writer
// that died before this node joined), takes its backends with it.
func (t *tableItems) liveWriters(s *model.Snapshot, down map[netip.Addr]bool, live func(netip.Addr) bool, log *slog.Logger) map[netip.Addr]*vip.Table {
	next := make(map[netip.Addr]writerSet, len(t.writers))
	for _, it := range s.Items {
		w, ok := vip.ParseWriterItem(it.Name)
		if !ok {
			continue
		}
		cur := t.writers[w]
		if cur.good == nil || cur.version != it.Version {
			cur.version = it.Version
			var tab vip.Table
			if err := tab.UnmarshalBinary(it.Payload); err != nil {
				log.Warn("gossiped backend set rejected; keeping the writer's last good one", "writer", w, "version", it.Version, "err", err)
			} else {
				cur.good = &tab
			}
		}
		next[w] = cur
	}
	t.writers = next
	var out map[netip.Addr]*vip.Table
	for w, ws := range next {
		if ws.good == nil || down[w] || (live != nil && !live(w)) {
			continue
		}
		if out == nil {
			out = map[netip.Addr]*vip.Table{}
		}
		out[w] = ws.good
	}
	return out
}
