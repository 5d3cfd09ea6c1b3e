package marathon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextantdc/sextant/internal/model"
)

// SourceName is the name the source reports failures under.
const SourceName = "marathon"

// Sink receives the source's output. Both methods must return quickly and
// may be called from the Run goroutine only. *hub.Hub satisfies it.
type Sink interface {
	// PublishMarathon hands over a whole new observation; the source never
	// modifies it afterwards.
	PublishMarathon(*model.MarathonObservation)
	// Fail reports a failed full read; source is always "marathon". The
	// sink keeps the last good observation.
	Fail(source string, err error)
}

// appsPath is the full read: tasks, deployments and readiness results
// embedded (marathon-lb asks for tasks only; Traefik for all three).
const appsPath = "/v2/apps?embed=apps.tasks&embed=apps.deployments&embed=apps.readiness"

// Status is the source's health, for APIs and /health.
type Status struct {
	// Version counts the observations published (0: none yet).
	Version uint64
	// URL is the Marathon URL in use: the last one that answered.
	URL string
	// LastSuccess is when the last good full read arrived.
	LastSuccess time.Time
	// LastError and LastErrorTime describe the last failed read, if any
	// since the last success.
	LastError     string
	LastErrorTime time.Time
	// Stale is true before the first success and while the latest read
	// failed: the sink keeps serving the last good observation.
	Stale bool
	// Streaming is true while /v2/events is attached; Polling while the
	// stream endpoint is not offered and the source polls instead.
	Streaming bool
	Polling   bool
	// Apps and Tasks count the last observation.
	Apps, Tasks int
}

// Source is the Marathon source. Create it with New and run it with Run;
// Status and Check may be called from any goroutine.
type Source struct {
	o       Options
	sink    Sink
	log     *slog.Logger
	m       *metrics
	client  *http.Client
	running atomic.Bool

	// invalid is poked (1 slot, never blocks) by the stream goroutine for
	// every event that may change the apps.
	invalid chan struct{}

	// pollEvery is the period of reads while the stream is not attached;
	// streamRetry how long an unsupported stream waits before a retry.
	pollEvery, streamRetry time.Duration

	mu     sync.Mutex // guards status
	status Status

	// Owned by the Run goroutine.
	preferred    int // index into o.URLs of the last URL that worked
	lastProblems map[string]bool
}

// New checks the options and builds a Source that reports to sink.
func New(o Options, sink Sink) (*Source, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("marathon source: sink is nil")
	}
	c, err := newClient(&o)
	if err != nil {
		return nil, err
	}
	s := &Source{
		o:       o,
		sink:    sink,
		log:     o.Logger,
		m:       newMetrics(o.Registerer),
		client:  c,
		invalid: make(chan struct{}, 1),
	}
	// Polling replaces the stream, so it runs more often than the safety
	// net resync, but never hammers Marathon, and never less often than
	// the resync itself.
	s.pollEvery = min(o.ResyncInterval, max(o.ResyncInterval/10, 5*time.Second))
	s.streamRetry = 10 * s.pollEvery
	s.status.Stale = true
	s.status.URL = o.URLs[0]
	return s, nil
}

// Status returns a copy of the current status.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Check is a /health check: nil while the last read succeeded; an error
// before the first observation and while the last good one is kept after
// a failure.
func (s *Source) Check() error {
	st := s.Status()
	switch {
	case st.Version == 0 && st.LastError == "":
		return errors.New("no marathon apps read yet")
	case st.Version == 0:
		return fmt.Errorf("no marathon apps read yet: %s", st.LastError)
	case st.Stale:
		return fmt.Errorf("serving the marathon apps of %s: last read failed: %s",
			st.LastSuccess.UTC().Format(time.RFC3339), st.LastError)
	}
	return nil
}

// Run reads the apps, follows the event stream and publishes to the sink
// until ctx ends; then it returns nil once its stream goroutine has
// stopped. It may be called once.
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("marathon source: Run called twice")
	}
	// Idle keep-alive connections would outlive Run otherwise.
	defer s.client.CloseIdleConnections()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	r := newRunner(s, &wg)
	defer r.stop()
	// Read at once: the stream may take a while to attach, or never. The
	// read after it attaches is the one that cannot miss an event.
	r.schedule(0)
	if !s.o.NoStream {
		r.connect(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.invalid:
			r.schedule(s.o.Coalesce)
		case <-r.fetchT.C:
			r.fetch(ctx)
		case msg := <-r.msgs:
			r.streamMsg(ctx, msg)
		case <-r.retryC():
			r.retryOn = false
			r.connect(ctx)
		}
	}
}

// runner is the Run goroutine's state: when the next full read is due,
// and the event stream's lifecycle.
//
// There is one read timer. Every reason to read (an invalidation after
// Coalesce, the periodic resync, a retry after a failed read) only brings
// the deadline forward, so a burst of reasons yields one read, and an
// event that arrives during a read still causes one more read after it.
type runner struct {
	s  *Source
	wg *sync.WaitGroup

	fetchT  *time.Timer
	fetchOn bool
	fetchAt time.Time
	backoff time.Duration // of failed reads
	// notBefore holds reads back after a failure, so events do not make
	// the source hammer a failing Marathon.
	notBefore time.Time

	msgs      chan streamMsg
	gen       uint64
	on, up    bool // a stream goroutine runs; it is attached
	connects  int
	sbackoff  time.Duration // of stream reconnects
	retryT    *time.Timer
	retryOn   bool
	polling   bool
	cancelStr context.CancelFunc
}

func newRunner(s *Source, wg *sync.WaitGroup) *runner {
	r := &runner{s: s, wg: wg, msgs: make(chan streamMsg, 2)}
	r.fetchT = time.NewTimer(time.Hour)
	r.fetchT.Stop()
	r.retryT = time.NewTimer(time.Hour)
	r.retryT.Stop()
	return r
}

func (r *runner) stop() {
	r.fetchT.Stop()
	r.retryT.Stop()
	if r.cancelStr != nil {
		r.cancelStr()
	}
}

func (r *runner) retryC() <-chan time.Time {
	if !r.retryOn {
		return nil
	}
	return r.retryT.C
}

// schedule makes the next read happen within d (but not before a failed
// read's backoff has passed).
func (r *runner) schedule(d time.Duration) {
	now := time.Now()
	at := now.Add(d)
	if at.Before(r.notBefore) {
		at, d = r.notBefore, r.notBefore.Sub(now)
	}
	if r.fetchOn && !at.Before(r.fetchAt) {
		return
	}
	r.fetchT.Reset(d)
	r.fetchOn, r.fetchAt = true, at
}

// period is how long the source goes without a read: the resync interval
// while events tell it about changes, the poll interval otherwise.
func (r *runner) period() time.Duration {
	if r.up {
		return r.s.o.ResyncInterval
	}
	return r.s.pollEvery
}

// fetch does one full read, publishes it or reports the failure, and
// schedules the next one.
func (r *runner) fetch(ctx context.Context) {
	r.fetchT.Stop()
	r.fetchOn = false
	s := r.s
	start := time.Now()
	obs, probs, err := s.read(ctx)
	if ctx.Err() != nil {
		return
	}
	s.m.fetchDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		s.failed(err)
		if r.backoff == 0 {
			r.backoff = s.o.BackoffMin
		} else {
			r.backoff = min(2*r.backoff, s.o.BackoffMax)
		}
		wait := min(jitter(r.backoff), r.period())
		r.notBefore = time.Now().Add(wait)
		r.schedule(wait)
		return
	}
	r.backoff, r.notBefore = 0, time.Time{}
	s.publish(obs, probs)
	r.schedule(r.period())
}

// connect starts a stream goroutine. Only one runs at a time: the next is
// started after the previous one's end message.
func (r *runner) connect(ctx context.Context) {
	if r.connects > 0 {
		r.s.m.reconnects.Inc()
	}
	r.connects++
	r.gen++
	gen, start := r.gen, r.s.preferred
	sctx, cancel := context.WithCancel(ctx)
	r.cancelStr, r.on = cancel, true
	r.wg.Go(func() {
		defer cancel()
		end := r.s.stream(sctx, start, func(url int) {
			select {
			case r.msgs <- streamMsg{gen: gen, attached: true, url: url}:
			case <-ctx.Done():
			}
		})
		end.gen = gen
		select {
		case r.msgs <- end:
		case <-ctx.Done():
		}
	})
}

func (r *runner) streamMsg(ctx context.Context, m streamMsg) {
	if !r.on || m.gen != r.gen {
		return
	}
	s := r.s
	if m.attached {
		r.up, r.polling = true, false
		s.preferred = m.url
		s.setStream(true, false, s.o.URLs[m.url])
		s.log.Info("marathon event stream attached; reading all apps", "url", s.o.URLs[m.url])
		// Marathon replays nothing: whatever happened before this point
		// is only in a full read started after it.
		r.fetch(ctx)
		return
	}
	r.on, r.up = false, false
	var wait time.Duration
	if m.unsupported {
		r.polling = true
		wait = s.streamRetry
		s.log.Warn("marathon offers no event stream; polling instead", "err", m.err,
			"poll_every", s.pollEvery, "stream_retry_in", wait)
	} else {
		// A stream that lived long (or only went quiet) starts the
		// backoff over; one that keeps failing fast backs off further.
		if r.sbackoff == 0 || m.idle || m.lived >= s.o.BackoffMax {
			r.sbackoff = s.o.BackoffMin
		} else {
			r.sbackoff = min(2*r.sbackoff, s.o.BackoffMax)
		}
		wait = jitter(r.sbackoff)
		s.log.Warn("marathon event stream ended; reconnecting", "err", m.err, "retry_in", wait)
	}
	s.setStream(false, r.polling, "")
	r.retryT.Reset(wait)
	r.retryOn = true
	// Without events, changes are seen by polling until the stream is back.
	r.schedule(r.period())
}

func (s *Source) setStream(up, polling bool, url string) {
	v := 0.0
	if up {
		v = 1
	}
	s.m.streamUp.Set(v)
	s.mu.Lock()
	s.status.Streaming, s.status.Polling = up, polling
	if url != "" {
		s.status.URL = url
	}
	s.mu.Unlock()
}

// StatusError is a request answered with a non-2xx status.
type StatusError struct {
	URL    string
	Status string
	Code   int
}

func (e *StatusError) Error() string { return "GET " + e.URL + ": status " + e.Status }

// readErrors are the failures of one read over all URLs.
type readErrors []error

func (e readErrors) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (e readErrors) Unwrap() []error { return e }

// read does one full read, trying the URLs in order from the last one
// that worked.
func (s *Source) read(ctx context.Context) (*model.MarathonObservation, []problem, error) {
	n := len(s.o.URLs)
	var errs readErrors
	for k := range n {
		i := (s.preferred + k) % n
		u := s.o.URLs[i]
		obs, probs, err := s.readFrom(ctx, u)
		if err == nil {
			if i != s.preferred {
				s.log.Info("marathon url in use changed", "url", u, "previous", s.o.URLs[s.preferred])
			}
			s.preferred = i
			return obs, probs, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		errs = append(errs, err)
		if k < n-1 {
			s.log.Warn("marathon apps read failed; trying the next url", "url", u, "err", err)
		}
	}
	if len(errs) == 1 {
		return nil, nil, errs[0]
	}
	return nil, nil, errs
}

func (s *Source) readFrom(ctx context.Context, base string) (*model.MarathonObservation, []problem, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+appsPath, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("read apps from %s: %w", base, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("read apps: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, nil, &StatusError{URL: base + "/v2/apps", Status: resp.Status, Code: resp.StatusCode}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, s.o.MaxBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read apps from %s: %w", base, err)
	}
	if int64(len(b)) > s.o.MaxBytes {
		return nil, nil, fmt.Errorf("read apps from %s: response larger than %d bytes", base, s.o.MaxBytes)
	}
	fetched := s.o.Now()
	apps, probs, err := decodeApps(b)
	if err != nil {
		return nil, nil, fmt.Errorf("read apps from %s: %w", base, err)
	}
	ps := make([]model.Problem, len(probs))
	for i, p := range probs {
		ps[i] = p.Problem
	}
	return &model.MarathonObservation{Apps: apps, Problems: ps, Fetched: fetched, From: base}, probs, nil
}

func (s *Source) publish(obs *model.MarathonObservation, probs []problem) {
	tasks := 0
	for i := range obs.Apps {
		tasks += len(obs.Apps[i].Tasks)
	}
	s.mu.Lock()
	s.status.Version++
	s.status.URL = obs.From
	s.status.LastSuccess = obs.Fetched
	s.status.LastError, s.status.LastErrorTime, s.status.Stale = "", time.Time{}, false
	s.status.Apps, s.status.Tasks = len(obs.Apps), tasks
	s.mu.Unlock()
	s.m.fetch.WithLabelValues("ok").Inc()
	s.m.apps.Set(float64(len(obs.Apps)))
	s.m.tasks.Set(float64(tasks))
	s.m.lastSuccessUnix.Set(float64(obs.Fetched.UnixNano()) / 1e9)
	s.logProblems(probs)
	s.sink.PublishMarathon(obs)
}

// logProblems counts every skipped item and logs each distinct problem
// once, when it first appears, so a standing bad app does not flood the
// log on every read.
func (s *Source) logProblems(probs []problem) {
	cur := make(map[string]bool, len(probs))
	for _, p := range probs {
		s.m.skipped.WithLabelValues(p.Kind).Inc()
		k := p.String()
		if cur[k] {
			continue
		}
		cur[k] = true
		if !s.lastProblems[k] {
			s.log.Warn("marathon item skipped", "kind", p.Kind, "item", p.Item, "field", p.Field, "reason", p.Reason)
		}
	}
	s.lastProblems = cur
}

func (s *Source) failed(err error) {
	now := s.o.Now()
	s.mu.Lock()
	s.status.LastError, s.status.LastErrorTime, s.status.Stale = err.Error(), now, true
	version, last := s.status.Version, s.status.LastSuccess
	s.mu.Unlock()
	s.m.fetch.WithLabelValues("error").Inc()
	if version == 0 {
		s.log.Error("marathon apps read failed; no apps yet", "err", err)
	} else {
		s.log.Error("marathon apps read failed; keeping the last good apps", "err", err, "last_success", last)
	}
	s.sink.Fail(SourceName, err)
}

// jitter spreads d by ±20%, so many instances do not retry in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
