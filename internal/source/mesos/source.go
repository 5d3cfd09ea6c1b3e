// Package mesos is the Mesos state source: it finds the leading master
// (a static list or ZooKeeper), fetches `/master/state` (or follows the
// leader's v1 operator-API event stream where one is plugged in), resolves
// the host names the state mentions, translates the state into the model's
// types and publishes a whole model.MesosObservation to its Sink after
// every successful fetch.
//
// A failed fetch or an undecodable state publishes nothing: the hub keeps
// the last good observation, and the failure shows in the log ("keeping
// last good state"), in the metrics, in Status and through Sink.Fail.
//
// Imports: internal/mesos/* (wire types and clients), internal/model, the
// standard library, Prometheus and ZooKeeper. Mesos wire types never leave
// this package: Observe translates them.
//
//	masters (static | ZooKeeper watch) ──► master list ─┐
//	ticker (refresh interval) ─────────────────────────┼─► poll: fetch → resolve → Observe ─► Sink
//	Trigger() ─────────────────────────────────────────┘                                        ▲
//	operator-API stream from the leader (optional) ─► coalesce (~20 ms) ─► resolve → Observe ────┘
package mesos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
)

// HostResolver looks up host names found in pids. *net.Resolver satisfies
// it. It may be called from several goroutines at once.
type HostResolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Streamer follows a master's v1 operator API. Stream subscribes at
// baseURL (e.g. "http://10.0.0.1:5050") with c and calls onState with a
// complete v0-shaped state after SUBSCRIBED and after every event, from
// one goroutine. It blocks until ctx ends or the stream breaks, and
// returns an error wrapping ErrStreamUnsupported when the master does not
// offer the API.
type Streamer interface {
	Stream(ctx context.Context, c *http.Client, baseURL string, onState func(*state.State)) error
}

// StreamFunc adapts a function to Streamer.
type StreamFunc func(ctx context.Context, c *http.Client, baseURL string, onState func(*state.State)) error

// Stream implements Streamer.
func (f StreamFunc) Stream(ctx context.Context, c *http.Client, baseURL string, onState func(*state.State)) error {
	return f(ctx, c, baseURL, onState)
}

// ErrStreamUnsupported is what a Streamer wraps when the master has no
// operator API; the source then polls only and retries the stream rarely.
var ErrStreamUnsupported = errors.New("operator API event stream not supported by the master")

// Options configure a Source. Zero values take the defaults noted.
type Options struct {
	// Masters is the static list "host:port", tried in order; with ZK it
	// is the fallback tried before ZooKeeper has reported.
	Masters []string
	// ZK enables ZooKeeper leader detection.
	ZK *ZKURL
	// ZKDetectionTimeout: no leader known for this long makes Run return an
	// error. 0 turns it off.
	ZKDetectionTimeout time.Duration
	// ZKSessionTimeout is the ZooKeeper session timeout (default 10 s).
	ZKSessionTimeout time.Duration
	// RefreshInterval is the poll period (default 60 s). With a stream it
	// is the safety-net resync period.
	RefreshInterval time.Duration
	// StateTimeout bounds one state fetch (default 300 s).
	StateTimeout time.Duration
	// HTTPS fetches with https://. Without CACertFile the master's
	// certificate is not verified, as in Mesos-DNS.
	HTTPS                         bool
	CACertFile, CertFile, KeyFile string
	// Basic or IAM authenticate every request (at most one).
	Basic *BasicAuth
	IAM   *IAMConfig
	// UserAgent of the state request (default "Mesos-DNS", which some
	// proxies in front of masters are configured to expect).
	UserAgent string
	// MaxStateBytes caps one state document (default 256 MiB).
	MaxStateBytes int64
	// Resolver looks up host names in pids (default net.DefaultResolver);
	// ResolveTimeout bounds each lookup (default 5 s).
	Resolver       HostResolver
	ResolveTimeout time.Duration
	// Streamer follows the leader's event stream (default: the v1
	// operator API via OperatorStreamer). NoStream turns streaming off:
	// polling only, as the original Mesos-DNS.
	Streamer Streamer
	NoStream bool
	// StreamCoalesce is the minimum time between two builds from stream
	// updates (default 20 ms): a burst of events yields one snapshot.
	StreamCoalesce time.Duration
	// StreamBackoffMin/Max bound the jittered retry delay after a stream
	// breaks (default 2 s / 30 s); an unsupported stream is retried after
	// StreamUnsupportedRetry (default 10 min) or when the leader changes.
	StreamBackoffMin, StreamBackoffMax time.Duration
	StreamUnsupportedRetry             time.Duration
	// StreamDelay is how long after the first successful poll the first
	// stream subscribes (default: eight times what that poll took, at most
	// RefreshInterval); negative subscribes right after it.
	StreamDelay time.Duration

	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) fill() error {
	if len(o.Masters) == 0 && o.ZK == nil {
		return errors.New("mesos source: no masters and no zk")
	}
	for i, m := range o.Masters {
		if h, _, err := net.SplitHostPort(m); err != nil || h == "" {
			return fmt.Errorf("mesos source: masters[%d]: %q is not host:port", i, m)
		}
	}
	if o.Basic != nil && o.IAM != nil {
		return errors.New("mesos source: basic and iam authentication are exclusive")
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = 60 * time.Second
	}
	if o.RefreshInterval < 0 {
		return fmt.Errorf("mesos source: refresh interval must be > 0, got %v", o.RefreshInterval)
	}
	if o.StateTimeout <= 0 {
		o.StateTimeout = 300 * time.Second
	}
	if o.ZKSessionTimeout <= 0 {
		o.ZKSessionTimeout = 10 * time.Second
	}
	if o.ZKDetectionTimeout < 0 {
		o.ZKDetectionTimeout = 0
	}
	if o.UserAgent == "" {
		o.UserAgent = "Mesos-DNS"
	}
	if o.MaxStateBytes <= 0 {
		o.MaxStateBytes = 256 << 20
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.ResolveTimeout <= 0 {
		o.ResolveTimeout = 5 * time.Second
	}
	if o.StreamCoalesce <= 0 {
		o.StreamCoalesce = 20 * time.Millisecond
	}
	if o.StreamBackoffMin <= 0 {
		o.StreamBackoffMin = 2 * time.Second
	}
	if o.StreamBackoffMax < o.StreamBackoffMin {
		o.StreamBackoffMax = max(30*time.Second, o.StreamBackoffMin)
	}
	if o.StreamUnsupportedRetry <= 0 {
		o.StreamUnsupportedRetry = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.NoStream {
		o.Streamer = nil
	} else if o.Streamer == nil {
		o.Streamer = defaultStreamer(o.Logger)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Status is the source's health, for APIs and /health.
type Status struct {
	// Version counts the observations published (0: none yet).
	Version uint64
	// Leader is the leader the last good state names ("master@ip:port").
	Leader string
	// Master is the address the last good state came from.
	Master string
	// Masters is the current master list [presumed leader, others…].
	Masters []string
	// LastSuccess is when the last good state was fetched.
	LastSuccess time.Time
	// LastError and LastErrorTime describe the last failed refresh.
	LastError     string
	LastErrorTime time.Time
	// Stale is true before the first success and while the latest refresh
	// failed: the last good snapshot is still being served.
	Stale bool
	// Streaming is true while the operator-API stream delivers state.
	Streaming bool
}

// Source is the Mesos state source. Create it with New and run it with
// Run; Status and Trigger may be called from any goroutine.
type Source struct {
	o          Options
	log        *slog.Logger
	sink       Sink
	fetcher    *fetcher
	streamHTTP *http.Client
	m          *metrics
	started    time.Time
	trigger    chan struct{}
	running    atomic.Bool

	mu     sync.Mutex // guards status
	status Status

	// Owned by the Run goroutine.
	version      uint64
	lastProblems map[string]bool
	lastSkipped  skippedLog
	resolved     map[string][]netip.Addr
	// fwPIDs are the framework pids of the last poll, by framework id:
	// the operator API has none (v1 FrameworkInfo carries no pid), and
	// without them a stream's states would lose the _framework._tcp names
	// that every poll brings back.
	fwPIDs map[string]string
}

// Sink receives the source's output, from the Run goroutine only, in
// order; both methods must return quickly. *hub.Hub is one.
type Sink interface {
	PublishMesos(*model.MesosObservation)
	// Fail reports a failed refresh; source is always "mesos".
	Fail(source string, err error)
}

// SinkFunc adapts a function to Sink for callers that only want the
// observations (tests, tools); failures are dropped.
type SinkFunc func(*model.MesosObservation)

// PublishMesos implements Sink.
func (f SinkFunc) PublishMesos(o *model.MesosObservation) { f(o) }

// Fail implements Sink.
func (SinkFunc) Fail(string, error) {}

// New checks the options and builds a Source that publishes to sink.
func New(o Options, sink Sink) (*Source, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("mesos source: sink is nil")
	}
	poll, stream, err := httpClients(&o)
	if err != nil {
		return nil, fmt.Errorf("mesos source: %w", err)
	}
	scheme := "http"
	if o.HTTPS {
		scheme = "https"
	}
	s := &Source{
		o:          o,
		log:        o.Logger,
		sink:       sink,
		fetcher:    &fetcher{client: poll, scheme: scheme, userAgent: o.UserAgent, maxBytes: o.MaxStateBytes},
		streamHTTP: stream,
		started:    o.Now(),
		trigger:    make(chan struct{}, 1),
	}
	s.status.Stale = true
	s.m = newMetrics(o.Registerer, s.age)
	return s, nil
}

func (s *Source) age() float64 {
	s.mu.Lock()
	last := s.status.LastSuccess
	s.mu.Unlock()
	if last.IsZero() {
		last = s.started
	}
	return s.o.Now().Sub(last).Seconds()
}

// Status returns a copy of the current status.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Masters = slices.Clone(st.Masters)
	return st
}

// Check is a /health check: nil while the last refresh succeeded; an
// error before the first snapshot and while the last good state is being
// kept after a failure (records are then served stale).
func (s *Source) Check() error {
	st := s.Status()
	switch {
	case st.Version == 0 && st.LastError == "":
		return errors.New("no mesos state fetched yet")
	case st.Version == 0:
		return fmt.Errorf("no mesos state fetched yet: %s", st.LastError)
	case st.Stale:
		return fmt.Errorf("serving the state of %s: last refresh failed: %s",
			st.LastSuccess.UTC().Format(time.RFC3339), st.LastError)
	}
	return nil
}

// Trigger asks for a refresh as soon as the current one (if any) ends.
// Triggers while one is pending are merged. It never blocks.
func (s *Source) Trigger() {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

// Run detects masters, refreshes and emits snapshots until ctx ends (then
// it returns nil) or ZooKeeper detection times out (then it returns the
// error). Refreshes run one at a time. Run may be called once.
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("mesos source: Run called twice")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	lists := make(chan MasterList, 1)
	masters := slices.Clone(s.o.Masters)
	var detect *time.Timer
	var detectC <-chan time.Time
	if s.o.ZK != nil {
		// Before ZooKeeper reports, the presumed leader is unknown and the
		// static masters are the fallback (as in Mesos-DNS).
		masters = append([]string{""}, masters...)
		d := &zkDetector{url: *s.o.ZK, sessionTimeout: s.o.ZKSessionTimeout, log: s.log,
			publish: func(l MasterList) { latest(lists, l) }}
		wg.Go(func() { d.run(ctx) })
		if s.o.ZKDetectionTimeout > 0 {
			detect = time.NewTimer(s.o.ZKDetectionTimeout)
			detectC = detect.C
			defer detect.Stop()
		}
	}
	s.setMasters(masters)

	st := newStreamer(s, &wg)
	defer st.stop()

	ticker := time.NewTicker(s.o.RefreshInterval)
	defer ticker.Stop()
	if s.o.ZK == nil {
		s.refresh(ctx, masters, st)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-lists:
			masters = l.Masters
			s.setMasters(masters)
			s.log.Info("mesos master list changed", "masters", masters, "leader", l.Leader())
			if detect != nil {
				if l.Leader() == "" {
					// Measured from the loss of the leader: a later
					// leaderless report does not restart the clock.
					if detectC == nil {
						detect.Reset(s.o.ZKDetectionTimeout)
						detectC = detect.C
					}
				} else {
					detect.Stop()
					detectC = nil
				}
			}
			s.refresh(ctx, masters, st)
		case <-detectC:
			return fmt.Errorf("mesos source: master detection timed out after %v", s.o.ZKDetectionTimeout)
		case <-ticker.C:
			s.refresh(ctx, masters, st)
		case <-s.trigger:
			s.refresh(ctx, masters, st)
		case <-st.signal:
			st.armCoalesce()
		case <-st.coalesceC():
			st.build(ctx)
		case res := <-st.done:
			st.ended(res)
		case <-st.retryC():
			st.retry(ctx)
		}
	}
}

// latest replaces whatever is pending in a 1-slot channel with v, so the
// producer never blocks and the consumer sees the newest value.
func latest[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

func (s *Source) setMasters(ms []string) {
	s.mu.Lock()
	s.status.Masters = slices.Clone(ms)
	s.mu.Unlock()
}

// refresh runs one poll: fetch, resolve, build, emit; or record the
// failure and keep the last good state.
func (s *Source) refresh(ctx context.Context, masters []string, st *streamer) {
	start := s.o.Now()
	stt, skipped, from, err := s.fetcher.fetch(ctx, masters, func(addr string, err error) {
		s.m.masterFailures.WithLabelValues(addr).Inc()
		s.log.Warn("mesos state fetch failed; trying the next master", "master", addr, "err", err)
	})
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.fail(start, err)
		return
	}
	s.lastSkipped = s.lastSkipped.note(skipped, s.m, s.log)
	fetched := s.o.Now()
	s.fwPIDs = frameworkPIDs(stt)
	if st.newerPending(from) {
		// An event arrived while this poll ran: the stream's state is at
		// least as new, and emitting the poll first would make names flap.
		s.m.refreshDuration.Observe(s.o.Now().Sub(start).Seconds())
		s.m.refresh.WithLabelValues("ok").Inc()
		s.log.Debug("poll result superseded by a pending stream update", "master", from)
		st.leader(ctx, from, s.o.Now().Sub(start))
		return
	}
	// A poll refreshes every name; stream builds in between reuse these.
	s.resolved = s.resolve(ctx, stt, nil)
	obs := s.observe(stt, from, fetched, false)
	s.m.refreshDuration.Observe(s.o.Now().Sub(start).Seconds())
	s.m.refresh.WithLabelValues("ok").Inc()
	s.succeed(obs, skipped)
	st.leader(ctx, from, s.o.Now().Sub(start))
}

// frameworkPIDs maps the framework ids of st to their pids.
func frameworkPIDs(st *state.State) map[string]string {
	m := make(map[string]string, len(st.Frameworks))
	for i := range st.Frameworks {
		if f := &st.Frameworks[i]; f.PID != "" {
			m[f.ID] = f.PID
		}
	}
	return m
}

// fillPIDs gives the frameworks of a stream's state that have no pid the
// one the last poll saw for the same id.
func fillPIDs(st *state.State, pids map[string]string) {
	for i := range st.Frameworks {
		if f := &st.Frameworks[i]; f.PID == "" {
			f.PID = pids[f.ID]
		}
	}
}

func (s *Source) fail(start time.Time, err error) {
	now := s.o.Now()
	s.m.refreshDuration.Observe(now.Sub(start).Seconds())
	s.m.refresh.WithLabelValues("error").Inc()
	s.mu.Lock()
	s.status.LastError = err.Error()
	s.status.LastErrorTime = now
	s.status.Stale = true
	version, last := s.status.Version, s.status.LastSuccess
	s.mu.Unlock()
	s.sink.Fail("mesos", err)
	if version == 0 {
		s.log.Error("mesos state refresh failed; no state yet", "err", err)
		return
	}
	s.log.Error("mesos state refresh failed; keeping last good state", "err", err,
		"version", version, "last_success", last)
}

// observe translates a state into the next observation.
func (s *Source) observe(st *state.State, from string, fetched time.Time, streamed bool) *model.MesosObservation {
	obs := Observe(st, s.resolved)
	obs.Fetched, obs.From, obs.Streamed = fetched, from, streamed
	s.mu.Lock()
	obs.Masters = slices.Clone(s.status.Masters)
	s.mu.Unlock()
	return obs
}

// succeed publishes an observation. The parts of the document that
// decoding skipped (logged and counted by skippedLog) join its problems
// after the translation's own, so every consumer can list them.
func (s *Source) succeed(obs *model.MesosObservation, skipped []state.Skipped) {
	s.version++
	s.mu.Lock()
	s.status.Version = s.version
	s.status.Leader = obs.Leader.Raw
	s.status.Master = obs.From
	s.status.LastSuccess = obs.Fetched
	s.status.Stale = false
	s.mu.Unlock()
	s.m.lastSuccess.Set(float64(obs.Fetched.UnixNano()) / 1e9)
	s.m.version.Set(float64(s.version))
	s.m.problems.Set(float64(len(obs.Problems)))
	s.logProblems(obs.Problems)
	for _, sk := range skipped {
		obs.Problems = append(obs.Problems, model.Problem{Item: sk.Item, Field: sk.Field, Reason: sk.Reason})
	}
	s.sink.PublishMesos(obs)
}

// logProblems logs each problem once, when it first appears, so a
// standing bad item does not flood the log on every refresh.
func (s *Source) logProblems(problems []model.Problem) {
	cur := make(map[string]bool, len(problems))
	for _, p := range problems {
		k := p.String()
		cur[k] = true
		if !s.lastProblems[k] {
			s.log.Warn("mesos state item skipped or degraded", "item", p.Item, "field", p.Field, "reason", p.Reason, "version", s.version)
		}
	}
	s.lastProblems = cur
}

// resolve looks up the host names of the state (a few at a time, each
// bounded by ResolveTimeout). A name that does not resolve is logged and
// left out; it never fails the refresh. Names already in cache are reused.
func (s *Source) resolve(ctx context.Context, st *state.State, cache map[string][]netip.Addr) map[string][]netip.Addr {
	hosts := HostsToResolve(st)
	out := make(map[string][]netip.Addr, len(hosts))
	var todo []string
	for _, h := range hosts {
		if a, ok := cache[h]; ok {
			out[h] = a
		} else {
			todo = append(todo, h)
		}
	}
	if len(todo) == 0 {
		return out
	}
	type res struct {
		host  string
		addrs []netip.Addr
		err   error
	}
	results := make(chan res, len(todo))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, h := range todo {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			lctx, cancel := context.WithTimeout(ctx, s.o.ResolveTimeout)
			defer cancel()
			as, err := s.o.Resolver.LookupNetIP(lctx, "ip", h)
			results <- res{h, as, err}
		})
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.err != nil || len(r.addrs) == 0 {
			s.log.Warn("cannot resolve host name in mesos state; its records are left out", "host", r.host, "err", r.err)
			continue
		}
		as := make([]netip.Addr, 0, len(r.addrs))
		for _, a := range r.addrs {
			as = append(as, a.Unmap().WithZone(""))
		}
		slices.SortFunc(as, func(a, b netip.Addr) int { return a.Compare(b) })
		out[r.host] = slices.Compact(as)
	}
	return out
}

// jitter spreads d by ±20%.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
