package forward

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultAttemptTimeout is dcos-dns' per-attempt timeout (spec §A.3, §F.1).
const DefaultAttemptTimeout = 5 * time.Second

// DefaultFailureHalfLife is how fast an upstream's failure score decays.
// dcos-dns never forgot a failure (a lifetime counter), so an upstream that
// had a bad hour was avoided for the life of the process; spec §F.2 asks
// for decay. Set Metrics.HalfLife to 0 for the original behaviour.
const DefaultFailureHalfLife = 5 * time.Minute

// Metrics holds the dcos-dns forwarder metrics (spec §A.10) and the
// per-upstream failure scores the Racing forwarders rank upstreams by.
// One Metrics is shared by every Racing forwarder of a process so that an
// upstream that appears in several lists has one score, as in dcos-dns.
type Metrics struct {
	requests       *prometheus.HistogramVec // forwarder_requests_duration_seconds{zone}
	failures       *prometheus.CounterVec   // forwarder_failures_total{zone}
	workerRequests *prometheus.HistogramVec // worker_requests_duration_seconds{protocol,upstream_address}
	workerFailures *prometheus.CounterVec   // worker_failures_total{protocol,upstream_address,reason}

	// HalfLife of failure scores; 0 keeps a lifetime count. Set before use.
	HalfLife time.Duration
	// Now is the clock; tests replace it. Set before use.
	Now func() time.Time

	mu     sync.Mutex
	scores map[string]score // guarded by mu
}

type score struct {
	value float64
	at    time.Time
}

// buckets returns the dcos-dns histogram buckets: 1, 5, 10, 50, 100,
// 500 ms, 1 s, 5 s.
func buckets() []float64 { return []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5} }

// NewMetrics creates the forwarder metrics with the given namespace prefix
// (e.g. "dcos_dns"; "" for the bare dcos-dns names) and registers them on
// reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer, namespace string) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "forwarder_requests_duration_seconds",
			Help: "Time to answer a forwarded query, by routing zone.", Buckets: buckets(),
		}, []string{"zone"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "forwarder_failures_total",
			Help: "Forwarded queries for which every upstream failed, by routing zone.",
		}, []string{"zone"}),
		workerRequests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "worker_requests_duration_seconds",
			Help: "Time of each upstream exchange that got a reply.", Buckets: buckets(),
		}, []string{"protocol", "upstream_address"}),
		workerFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "worker_failures_total",
			Help: "Upstream exchanges that failed, by reason.",
		}, []string{"protocol", "upstream_address", "reason"}),
		HalfLife: DefaultFailureHalfLife,
		Now:      time.Now,
		scores:   map[string]score{},
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.failures, m.workerRequests, m.workerFailures} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register forwarder metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Failures returns an upstream's current failure score (decayed).
func (m *Metrics) Failures(upstream string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.scoreLocked(upstream, m.Now())
}

func (m *Metrics) scoreLocked(upstream string, now time.Time) float64 {
	s, ok := m.scores[upstream]
	if !ok {
		return 0
	}
	if m.HalfLife <= 0 {
		return s.value
	}
	el := now.Sub(s.at)
	if el <= 0 {
		return s.value
	}
	return s.value * math.Exp2(-float64(el)/float64(m.HalfLife))
}

func (m *Metrics) recordFailure(upstream, protocol, why string) {
	m.workerFailures.WithLabelValues(protocol, upstream, why).Inc()
	m.mu.Lock()
	now := m.Now()
	m.scores[upstream] = score{value: m.scoreLocked(upstream, now) + 1, at: now}
	m.mu.Unlock()
}

// LoserGrace is how long the attempts that lost a race may still run.
const LoserGrace = time.Second

// errLostRace cancels attempts still running LoserGrace after a win; they
// count as timeouts.
var errLostRace = errors.New("no reply within the grace period after another upstream answered")

// Racing forwards like dcos-dns (spec/dcos-net.md §A.3): two upstreams are
// picked by failure score and asked in parallel with the client's message
// over the client's transport; the first reply (any rcode) wins and later
// ones are dropped. Each attempt is bounded by the attempt timeout and a
// failed attempt raises the upstream's failure score. When every attempt
// fails the answer is SERVFAIL with QR set (dcos-dns left QR unset).
type Racing struct {
	zone      string
	upstreams []string
	timeout   time.Duration
	m         *Metrics
	// intn picks a random index in [0,n); tests replace it.
	intn func(n int) int
	mux  muxes // UDP; TCP dials a connection per attempt
	// wires holds buffers for the queries' wire copies.
	wires sync.Pool
}

var _ Forwarder = (*Racing)(nil)

// RacingConfig configures a Racing forwarder.
type RacingConfig struct {
	// Zone labels the metrics: "mesos.", ".", or a forward zone "corp.example.".
	Zone string
	// Upstreams are "ip" or "ip:port" strings. Duplicates are kept, so the
	// same upstream can be raced against itself, as in dcos-dns.
	Upstreams []string
	// Timeout per attempt; 0 means DefaultAttemptTimeout.
	Timeout time.Duration
}

// NewRacing builds a Racing forwarder. Bad upstreams are reported and
// skipped; the rest are used. m may be nil (private, unregistered metrics).
func NewRacing(cfg RacingConfig, m *Metrics) (*Racing, error) {
	if m == nil {
		m, _ = NewMetrics(nil, "")
	}
	r := &Racing{zone: cfg.Zone, timeout: cfg.Timeout, m: m, intn: rand.IntN}
	if r.timeout <= 0 {
		r.timeout = DefaultAttemptTimeout
	}
	var errs []error
	for _, u := range cfg.Upstreams {
		n, err := NormalizeUpstream(u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.upstreams = append(r.upstreams, n)
	}
	r.mux = newMuxes(r.upstreams, m)
	return r, errors.Join(errs...)
}

// Close closes the upstream sockets; queries still waiting fail. Call it
// once no more queries are sent through r.
func (r *Racing) Close() {
	r.mux.close()
}

// Upstreams returns the normalised upstream list.
func (r *Racing) Upstreams() []string { return append([]string(nil), r.upstreams...) }

// pick chooses the upstreams to race ("take_upstreams" in dcos-dns):
// fewer than 3 → all of them; otherwise group by failure score (whole
// failures), lowest first; if the best group has two or more members pick
// two of them at random, if it has one pick it and one random member of
// the next group.
func (r *Racing) pick() []string {
	if len(r.upstreams) < 3 {
		return r.upstreams
	}
	r.m.mu.Lock()
	now := r.m.Now()
	type member struct {
		addr   string
		bucket int64
	}
	ms := make([]member, len(r.upstreams))
	for i, u := range r.upstreams {
		ms[i] = member{u, int64(math.Floor(r.m.scoreLocked(u, now)))}
	}
	r.m.mu.Unlock()
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].bucket < ms[j].bucket })
	// Split into buckets.
	var groups [][]string
	for i, m := range ms {
		if i == 0 || m.bucket != ms[i-1].bucket {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], m.addr)
	}
	best := groups[0]
	if len(best) >= 2 {
		i := r.intn(len(best))
		j := r.intn(len(best) - 1)
		if j >= i {
			j++
		}
		return []string{best[i], best[j]}
	}
	next := groups[1]
	return []string{best[0], next[r.intn(len(next))]}
}

type result struct {
	msg *dns.Msg
	err error
}

// Forward implements Forwarder.
func (r *Racing) Forward(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error) {
	return r.ForwardRaw(ctx, req, nil, network)
}

// ForwardRaw implements RawForwarder: raw, when not nil, is req as the
// client sent it, relayed without packing req again.
func (r *Racing) ForwardRaw(ctx context.Context, req *dns.Msg, raw []byte, network string) (*dns.Msg, error) {
	start := r.m.Now()
	defer func() { r.m.requests.WithLabelValues(r.zone).Observe(r.m.Now().Sub(start).Seconds()) }()
	if len(r.upstreams) == 0 {
		r.m.failures.WithLabelValues(r.zone).Inc()
		return Reply(req, dns.RcodeServerFailure), ErrNoUpstreams
	}
	picked := r.pick()
	proto := transport(network)
	if proto == "udp" {
		return r.forwardUDP(ctx, req, raw, picked)
	}
	if len(picked) == 1 {
		// Nothing to race: ask inline, without the goroutines.
		u := picked[0]
		t0 := time.Now()
		msg, err := exchange(ctx, req, nil, proto, u, r.timeout, nil)
		if err == nil {
			r.m.workerRequests.WithLabelValues(proto, u).Observe(time.Since(t0).Seconds())
			return msg, nil
		}
		var ae *AttemptError
		if errors.As(err, &ae) && ae.Reason != "canceled" {
			r.m.recordFailure(u, proto, ae.Reason)
		}
		r.m.failures.WithLabelValues(r.zone).Inc()
		return Reply(req, dns.RcodeServerFailure), fmt.Errorf("%w: %w", ErrAllFailed, err)
	}
	// Attempts outlive a win by a grace period so that an upstream that
	// is dead or much slower than the winner still collects a failure (the
	// ranking depends on it), without holding a socket for the whole
	// attempt timeout on every query. A cancelled caller stops them all.
	actx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stopParent := context.AfterFunc(ctx, func() { cancel(context.Canceled) })
	var pending sync.WaitGroup
	pending.Add(len(picked))
	var grace atomic.Pointer[time.Timer]
	go func() {
		pending.Wait()
		stopParent()
		cancel(nil)
		if t := grace.Load(); t != nil {
			t.Stop()
		}
	}()
	results := make(chan result, len(picked))
	for _, u := range picked {
		go func() {
			defer pending.Done()
			t0 := time.Now()
			msg, err := exchange(actx, req, nil, proto, u, r.timeout, nil)
			if err != nil {
				var ae *AttemptError
				why := "error"
				if errors.As(err, &ae) {
					why = ae.Reason
				}
				if why != "canceled" {
					r.m.recordFailure(u, proto, why)
				}
			} else {
				r.m.workerRequests.WithLabelValues(proto, u).Observe(time.Since(t0).Seconds())
			}
			results <- result{msg, err}
		}()
	}
	won := func() {
		grace.Store(time.AfterFunc(min(r.timeout, LoserGrace), func() { cancel(errLostRace) }))
	}
	var errs []error
	for range picked {
		select {
		case res := <-results:
			if res.err == nil {
				won()
				return res.msg, nil
			}
			errs = append(errs, res.err)
		case <-ctx.Done():
			errs = append(errs, ctx.Err())
			r.m.failures.WithLabelValues(r.zone).Inc()
			return Reply(req, dns.RcodeServerFailure), fmt.Errorf("%w: %w", ErrAllFailed, errors.Join(errs...))
		}
	}
	r.m.failures.WithLabelValues(r.zone).Inc()
	return Reply(req, dns.RcodeServerFailure), fmt.Errorf("%w: %w", ErrAllFailed, errors.Join(errs...))
}

// forwardUDP races the picked upstreams over the multiplexed sockets:
// one write each from this goroutine, then the first reply wins. Losers
// may run LoserGrace longer so that a dead or much slower upstream still
// collects its failure.
func (r *Racing) forwardUDP(ctx context.Context, req *dns.Msg, raw []byte, picked []string) (*dns.Msg, error) {
	bp, _ := r.wires.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	var wire []byte
	if raw != nil {
		wire = append((*bp)[:0], raw...)
	} else {
		b, err := req.PackBuffer(*bp)
		if err != nil {
			r.wires.Put(bp)
			r.m.failures.WithLabelValues(r.zone).Inc()
			return Reply(req, dns.RcodeServerFailure), fmt.Errorf("%w: pack: %w", ErrAllFailed, err)
		}
		wire = b
	}
	rc := &race{req: req, origID: binary.BigEndian.Uint16(wire), ch: make(chan attemptResult, len(picked))}
	var started [2]*attempt
	as := started[:0]
	for _, u := range picked {
		a := &attempt{r: rc, m: r.m}
		mu := r.mux[u]
		s, err := mu.sock()
		if err == nil {
			err = s.start(a, wire, r.timeout)
		}
		if err != nil {
			why := netReason(err)
			if !errors.Is(err, errMuxClosed) {
				r.m.recordFailure(u, "udp", why)
			}
			rc.ch <- attemptResult{err: &AttemptError{Upstream: u, Reason: why, Err: err}}
			continue
		}
		as = append(as, a)
	}
	*bp = wire
	r.wires.Put(bp)
	var errs []error
	for range picked {
		select {
		case res := <-rc.ch:
			if res.err == nil {
				for _, a := range as {
					if a != res.a {
						a.cutShort(min(r.timeout, LoserGrace))
					}
				}
				return res.msg, nil
			}
			errs = append(errs, res.err)
		case <-ctx.Done():
			// The client went away: stop every attempt, uncounted.
			for _, a := range as {
				a.sock.finish(a, nil, ctx.Err(), "")
			}
			errs = append(errs, ctx.Err())
			r.m.failures.WithLabelValues(r.zone).Inc()
			return Reply(req, dns.RcodeServerFailure), fmt.Errorf("%w: %w", ErrAllFailed, errors.Join(errs...))
		}
	}
	r.m.failures.WithLabelValues(r.zone).Inc()
	return Reply(req, dns.RcodeServerFailure), fmt.Errorf("%w: %w", ErrAllFailed, errors.Join(errs...))
}
