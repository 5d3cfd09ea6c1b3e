package l4lb

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/model"
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
	Logger      *slog.Logger
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
}

type desired struct {
	services []Service
	report   Report
	version  uint64
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
			if s.SameSources(latest, "mesos", "marathon") {
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
			svcs, rep := Desired(latest, l.o.Config)
			for _, p := range rep.Problems {
				l.log.Debug("vip problem", "item", p.Item, "field", p.Field, "reason", p.Reason)
			}
			l.cur.Store(&desired{services: svcs, report: rep, version: latest.Version})
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
	err := l.plane.Sync(ctx, slices.Clone(d.services))
	l.m.syncDuration.Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, context.Canceled) {
		l.m.syncFailures.Inc()
	}
	return err
}
