// Package hub is the snapshot fan-out between Sextant's sources and its
// consumers.
//
// One job: keep the latest whole observation of every source, merge them
// with model.Build into the next immutable Snapshot whenever one changes,
// and hand the latest snapshot to every subscriber.
//
//	mesos source ────► PublishMesos ────┐
//	marathon source ─► PublishMarathon ─┼─► (coalesce) ─► model.Build ─► Snapshot vN ─► Subscription.Next (each consumer)
//	any source ──────► Fail(err) ───────┘    keeps that source's last good observation; staleness in Sources()
//
// Inputs: observations (model.MesosObservation, model.MarathonObservation,
// model.ItemsObservation)
// and fetch failures, from any goroutine; producers never block. Outputs:
// *model.Snapshot through Current and Subscription, and each source's
// status through Sources.
//
// Latest value wins everywhere: a burst of observations yields one build,
// and a slow subscriber skips the snapshots it had no time for instead of
// holding anyone up. A failed fetch publishes nothing: the source's last
// good observation keeps serving and its staleness shows in the log, in
// /metrics and in Sources.
//
// Imports: internal/model, internal/obs (the /health shapes) and the
// standard library, Prometheus.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/obs"
)

// Source names, in the order snapshots list them.
const (
	Mesos    = "mesos"
	Marathon = "marathon"
	// Gossip is the source of the cluster items (zones, the VIP
	// document) a node holds.
	Gossip = "gossip"
)

// Options configure a Hub.
type Options struct {
	// Settle is how long the first build waits for every registered
	// source's first observation (default 1 s): without it a consumer
	// would see the cluster without its Marathon apps for an instant, and
	// health-checked tasks flap. Sources that have delivered once are never
	// waited for again.
	Settle time.Duration
	// StaleAfter is how long a source may go without a good observation
	// while its fetches fail before Check and SourceHealth report it
	// failing, turning /health to 503 (default 3 min, as Mesos-DNS' 3 × 60 s
	// refresh; compositions set 3 × their refresh interval). 0 uses the
	// default.
	StaleAfter time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// SourceStatus is one source's health as the hub sees it.
type SourceStatus struct {
	Name string
	// Version counts the observations published (0: none yet).
	Version uint64
	// LastSuccess is when the last good observation arrived; From where.
	LastSuccess time.Time
	From        string
	// LastError and LastErrorTime describe the last failure, if any after
	// the last success.
	LastError     string
	LastErrorTime time.Time
	// Stale is true before the first observation and while the latest
	// fetch failed: the last good observation is being served.
	Stale bool
}

// State classifies a status: "no-data", "stale" or "ok".
func (s SourceStatus) State() string {
	switch {
	case s.Version == 0:
		return "no-data"
	case s.Stale:
		return "stale"
	}
	return "ok"
}

// Hub merges observations into snapshots. Create it with New, register
// the sources that will publish, and Run it.
type Hub struct {
	o   Options
	log *slog.Logger
	m   *metrics

	dirty chan struct{}
	cur   atomic.Pointer[model.Snapshot]

	mu      sync.Mutex // guards the fields below
	obs     model.Observations
	status  map[string]*SourceStatus
	order   []string
	subs    map[*Subscription]struct{}
	version uint64
	// changed lists the sources that published since the last build.
	changed map[string]bool
	started time.Time
}

// New builds a hub.
func New(o Options) *Hub {
	if o.Settle <= 0 {
		o.Settle = time.Second
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 3 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	h := &Hub{
		o:       o,
		log:     o.Logger,
		dirty:   make(chan struct{}, 1),
		status:  map[string]*SourceStatus{},
		subs:    map[*Subscription]struct{}{},
		changed: map[string]bool{},
	}
	h.started = o.Now()
	h.m = newMetrics(o.Registerer, h)
	return h
}

// Register declares a source that will publish (Mesos or Marathon), so
// that the first build waits for it and Sources lists it before it has
// delivered. It is idempotent.
func (h *Hub) Register(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.registerLocked(name)
}

func (h *Hub) registerLocked(name string) *SourceStatus {
	st, ok := h.status[name]
	if !ok {
		st = &SourceStatus{Name: name, Stale: true}
		h.status[name] = st
		h.order = append(h.order, name)
		slices.SortFunc(h.order, func(a, b string) int { return sourceRank(a) - sourceRank(b) })
		h.m.sources.WithLabelValues(name).Set(1)
	}
	return st
}

func sourceRank(name string) int {
	switch name {
	case Mesos:
		return 0
	case Marathon:
		return 1
	case Gossip:
		return 2
	}
	return 3
}

// PublishMesos replaces the Mesos observation. It never blocks; obs must
// not be modified afterwards.
func (h *Hub) PublishMesos(obs *model.MesosObservation) {
	h.publish(Mesos, obs.Fetched, obs.From, func() { h.obs.Mesos = obs })
}

// PublishMarathon replaces the Marathon observation. It never blocks; obs
// must not be modified afterwards.
func (h *Hub) PublishMarathon(obs *model.MarathonObservation) {
	h.publish(Marathon, obs.Fetched, obs.From, func() { h.obs.Marathon = obs })
}

// PublishItems replaces the cluster items. It never blocks; obs must not
// be modified afterwards. A change of items alone does not rebuild the
// tasks: the next snapshot shares them with the previous one.
func (h *Hub) PublishItems(obs *model.ItemsObservation) {
	h.publish(Gossip, obs.Fetched, "", func() { h.obs.Items = obs })
}

func (h *Hub) publish(name string, fetched time.Time, from string, set func()) {
	h.mu.Lock()
	st := h.registerLocked(name)
	set()
	h.changed[name] = true
	st.Version++
	if fetched.IsZero() {
		fetched = h.o.Now()
	}
	st.LastSuccess, st.From = fetched, from
	st.LastError, st.LastErrorTime, st.Stale = "", time.Time{}, false
	h.mu.Unlock()
	h.m.observations.WithLabelValues(name).Inc()
	select {
	case h.dirty <- struct{}{}:
	default:
	}
}

// Fail records a failed fetch of a source: its last good observation keeps
// serving and the source is marked stale. Sources log their own failures
// with the detail they have; the hub only counts and keeps the state.
func (h *Hub) Fail(name string, err error) {
	if err == nil {
		return
	}
	h.mu.Lock()
	st := h.registerLocked(name)
	st.LastError, st.LastErrorTime, st.Stale = err.Error(), h.o.Now(), true
	h.mu.Unlock()
	h.m.failures.WithLabelValues(name).Inc()
}

// Sources returns the status of every registered source, in snapshot
// order.
func (h *Hub) Sources() []SourceStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]SourceStatus, 0, len(h.order))
	for _, n := range h.order {
		out = append(out, *h.status[n])
	}
	return out
}

// Check is the hub's health rule, the same for every role: an error when a
// source has never delivered, or when its fetches have failed for longer
// than StaleAfter since its last good observation. A source that is stale
// for less than that is reported by Sources and SourceHealth but does not
// fail the check: its last good observation is still being served.
func (h *Hub) Check() error {
	var errs []error
	for _, s := range h.SourceHealth() {
		if s.Failing != "" {
			errs = append(errs, errors.New(s.Name+": "+s.Failing))
		}
	}
	return errors.Join(errs...)
}

// SourceHealth reports every registered source for /health
// (obs.Sources), in snapshot order, with Check's rule applied to each.
func (h *Hub) SourceHealth() []obs.SourceHealth {
	now := h.o.Now()
	ss := h.Sources()
	out := make([]obs.SourceHealth, 0, len(ss))
	for _, s := range ss {
		sh := obs.SourceHealth{Name: s.Name, State: s.State(), LastSuccess: s.LastSuccess, LastError: s.LastError,
			LastErrorTime: s.LastErrorTime, StaleAfter: h.o.StaleAfter}
		if s.Version > 0 {
			sh.Age = max(now.Sub(s.LastSuccess), 0)
		}
		switch {
		case s.Version == 0 && s.LastError != "":
			sh.Failing = "no data yet: " + s.LastError
		case s.Version == 0:
			sh.Failing = "no data yet"
		case s.Stale && sh.Age > h.o.StaleAfter:
			sh.Failing = fmt.Sprintf("stale since %s (%s, longer than %s): %s", s.LastSuccess.UTC().Format(time.RFC3339),
				sh.Age.Round(time.Second), h.o.StaleAfter, s.LastError)
		}
		out = append(out, sh)
	}
	return out
}

var _ obs.Sources = (*Hub)(nil)

// Current returns the latest snapshot, or nil before the first build.
func (h *Hub) Current() *model.Snapshot { return h.cur.Load() }

// Run builds snapshots until ctx ends. It may be called once.
func (h *Hub) Run(ctx context.Context) error {
	settle := time.NewTimer(h.o.Settle)
	defer settle.Stop()
	settled := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-settle.C:
			settled = true
			h.build()
		case <-h.dirty:
			if !settled && !h.allDelivered() {
				continue // the settle timer builds what there is
			}
			settled = true
			h.build()
		}
	}
}

func (h *Hub) allDelivered() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, st := range h.status {
		if st.Version == 0 {
			return false
		}
	}
	return true
}

func (h *Hub) build() {
	h.mu.Lock()
	obs := h.obs
	if obs.Mesos == nil && obs.Marathon == nil && obs.Items == nil && obs.Overlay == nil {
		h.mu.Unlock()
		return
	}
	itemsOnly := len(h.changed) == 1 && h.changed[Gossip]
	clear(h.changed)
	versions := make([]model.SourceVersion, 0, len(h.order))
	for _, n := range h.order {
		st := h.status[n]
		if st.Version == 0 {
			continue
		}
		versions = append(versions, model.SourceVersion{Name: n, Version: st.Version, Fetched: st.LastSuccess, From: st.From})
	}
	h.version++
	v := h.version
	h.mu.Unlock()

	start := h.o.Now()
	bo := model.BuildOptions{Version: v, Now: start, Sources: versions}
	var snap *model.Snapshot
	if prev := h.cur.Load(); itemsOnly && prev != nil {
		snap = model.WithItems(prev, obs.Items, bo)
	} else {
		snap = model.Build(obs, bo)
	}
	h.m.buildDuration.Observe(h.o.Now().Sub(start).Seconds())
	h.m.version.Set(float64(v))
	h.m.problems.Set(float64(len(snap.Problems)))
	h.cur.Store(snap)

	h.mu.Lock()
	for s := range h.subs {
		s.notify()
	}
	h.mu.Unlock()
}

// Subscribe returns a subscription that sees the latest snapshot and
// every later one it has time for. Close it when done.
func (h *Hub) Subscribe() *Subscription {
	s := &Subscription{h: h, c: make(chan struct{}, 1)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	if h.cur.Load() != nil {
		s.notify()
	}
	return s
}

// Subscription is one consumer's view of the hub. Its methods are for one
// goroutine at a time.
type Subscription struct {
	h    *Hub
	c    chan struct{}
	last uint64
}

func (s *Subscription) notify() {
	select {
	case s.c <- struct{}{}:
	default:
	}
}

// Next returns the latest snapshot, once it is newer than the last one
// returned; it blocks until then or until ctx ends (then it returns the
// context's error).
func (s *Subscription) Next(ctx context.Context) (*model.Snapshot, error) {
	for {
		if snap := s.h.cur.Load(); snap != nil && snap.Version > s.last {
			s.last = snap.Version
			return snap, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.c:
		}
	}
}

// Close detaches the subscription from the hub.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	delete(s.h.subs, s)
	s.h.mu.Unlock()
}

// Snapshots adapts a subscription to a channel of snapshots for consumers
// written around one: latest value wins, the channel closes when ctx ends.
func (s *Subscription) Snapshots(ctx context.Context) <-chan *model.Snapshot {
	out := make(chan *model.Snapshot, 1)
	go func() {
		defer close(out)
		for {
			snap, err := s.Next(ctx)
			if err != nil {
				return
			}
			// Replace a snapshot the consumer has not taken yet.
			select {
			case <-out:
			default:
			}
			select {
			case out <- snap:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
