package mesos

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// streamer runs the optional operator-API stream from the current leader
// next to polling. Every method except onState runs on the Run goroutine.
//
// The stream is started after a poll has found the leader, restarted when
// the leader moves, and retried with jittered backoff when it breaks; a
// master without the API is retried rarely. Polling never stops: it is the
// fallback and the safety net for events a stream can miss.
//
// The first stream of a run subscribes a while after the first poll
// (StreamDelay): its SUBSCRIBED state is the whole cluster again, and
// decoding it while the consumers build their first views from the poll's
// state would take half the machine from them exactly when nothing is
// served yet (at 100,000 tasks it costs more CPU than the poll itself).
type streamer struct {
	s  *Source
	wg *sync.WaitGroup

	signal chan struct{}     // poked by onState (1 slot)
	done   chan streamResult // a stream goroutine ended

	mu      sync.Mutex // guards gen and pending
	gen     uint64
	pending *state.State

	cancel    context.CancelFunc
	started   bool // a stream was started (or scheduled) in this run
	running   bool
	target    string // master address of the current/last stream
	leaderNow string // leader address the last poll found
	delivered bool   // the current stream has delivered a state

	coalesce   *time.Timer
	coalesceOn bool
	lastBuild  time.Time

	retryT           *time.Timer
	retryOn          bool
	backoff          time.Duration
	unsupportedAddr  string
	unsupportedUntil time.Time
}

type streamResult struct {
	gen       uint64
	err       error
	delivered bool
}

func newStreamer(s *Source, wg *sync.WaitGroup) *streamer {
	st := &streamer{s: s, wg: wg, signal: make(chan struct{}, 1), done: make(chan streamResult, 1)}
	st.coalesce = time.NewTimer(time.Hour)
	st.coalesce.Stop()
	st.retryT = time.NewTimer(time.Hour)
	st.retryT.Stop()
	return st
}

func (st *streamer) coalesceC() <-chan time.Time {
	if !st.coalesceOn {
		return nil
	}
	return st.coalesce.C
}

func (st *streamer) retryC() <-chan time.Time {
	if !st.retryOn {
		return nil
	}
	return st.retryT.C
}

func (st *streamer) stop() {
	if st.cancel != nil {
		st.cancel()
	}
	st.coalesce.Stop()
	st.retryT.Stop()
}

// leader is told the master address each successful poll came from and
// how long that poll took.
func (st *streamer) leader(ctx context.Context, addr string, took time.Duration) {
	if st.s.o.Streamer == nil {
		return
	}
	st.leaderNow = addr
	if !st.started {
		st.started = true
		if d := st.firstDelay(took); d > 0 {
			st.target = addr
			st.retryT.Reset(d)
			st.retryOn = true
			st.s.log.Debug("mesos event stream subscribes once the first state is served", "in", d)
			return
		}
	}
	if st.running {
		if st.target == addr {
			return
		}
		st.s.log.Info("mesos leader moved; restarting the event stream", "from", st.target, "to", addr)
		st.cancel()
		st.running = false
		st.setUp(false)
		st.start(ctx, addr)
		return
	}
	if st.retryOn && st.target == addr {
		return // waiting for the backoff to pass
	}
	if addr == st.unsupportedAddr && st.s.o.Now().Before(st.unsupportedUntil) {
		return
	}
	st.start(ctx, addr)
}

// firstDelay is how long after the first poll the first stream starts:
// StreamDelay, or by default eight times what that poll took (the
// consumers' first build of records and answers costs about as many polls
// at 100,000 tasks), at most one refresh interval.
func (st *streamer) firstDelay(took time.Duration) time.Duration {
	o := st.s.o
	switch {
	case o.StreamDelay < 0:
		return 0
	case o.StreamDelay > 0:
		return o.StreamDelay
	}
	return min(8*took, o.RefreshInterval)
}

func (st *streamer) start(ctx context.Context, addr string) {
	if st.retryOn {
		st.retryT.Stop()
		st.retryOn = false
	}
	st.mu.Lock()
	st.gen++
	gen := st.gen
	st.pending = nil
	st.mu.Unlock()
	sctx, cancel := context.WithCancel(ctx)
	st.cancel, st.running, st.target, st.delivered = cancel, true, addr, false
	base := (&url.URL{Scheme: st.s.fetcher.scheme, Host: addr}).String()
	st.s.log.Debug("mesos event stream starting", "url", base)
	st.wg.Go(func() {
		delivered := false
		err := st.s.o.Streamer.Stream(sctx, st.s.streamHTTP, base, func(s *state.State) {
			st.mu.Lock()
			if st.gen == gen && s != nil {
				st.pending = s
				delivered = true
			}
			st.mu.Unlock()
			select {
			case st.signal <- struct{}{}:
			default:
			}
		})
		cancel()
		st.mu.Lock()
		d := delivered
		st.mu.Unlock()
		select {
		case st.done <- streamResult{gen: gen, err: err, delivered: d}:
		case <-ctx.Done():
		}
	})
}

// newerPending reports whether a healthy stream from addr holds a state
// not built yet (it arrived while a poll ran; the Run loop builds it next).
func (st *streamer) newerPending(addr string) bool {
	if !st.running || !st.delivered || st.target != addr {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.pending != nil
}

func (st *streamer) armCoalesce() {
	if st.coalesceOn {
		return
	}
	wait := st.lastBuild.Add(st.s.o.StreamCoalesce).Sub(st.s.o.Now())
	st.coalesce.Reset(max(wait, 0))
	st.coalesceOn = true
}

// build emits a snapshot from the newest streamed state.
func (st *streamer) build(ctx context.Context) {
	st.coalesceOn = false
	st.mu.Lock()
	s := st.pending
	st.pending = nil
	st.mu.Unlock()
	if s == nil || !st.running {
		return
	}
	src := st.s
	now := src.o.Now()
	fillPIDs(s, src.fwPIDs)
	src.resolved = src.resolve(ctx, s, src.resolved)
	obs := src.observe(s, st.target, now, true)
	st.lastBuild = src.o.Now()
	st.delivered = true
	st.backoff = 0
	src.m.streamUpdates.Inc()
	st.setUp(true)
	src.succeed(obs, nil)
}

func (st *streamer) setUp(up bool) {
	v := 0.0
	if up {
		v = 1
	}
	st.s.m.streamUp.Set(v)
	st.s.mu.Lock()
	st.s.status.Streaming = up
	st.s.mu.Unlock()
}

// ended handles the end of a stream goroutine.
func (st *streamer) ended(r streamResult) {
	st.mu.Lock()
	current := r.gen == st.gen
	st.mu.Unlock()
	if !current || !st.running {
		return
	}
	st.running = false
	st.setUp(false)
	o := st.s.o
	var wait time.Duration
	if errors.Is(r.err, ErrStreamUnsupported) {
		st.unsupportedAddr = st.target
		st.unsupportedUntil = o.Now().Add(o.StreamUnsupportedRetry)
		wait = o.StreamUnsupportedRetry
		st.s.log.Info("mesos master offers no event stream; polling only", "master", st.target, "err", r.err, "retry_in", wait)
	} else {
		if r.delivered || st.delivered || st.backoff == 0 {
			st.backoff = o.StreamBackoffMin
		} else {
			st.backoff = min(st.backoff*2, o.StreamBackoffMax)
		}
		wait = jitter(st.backoff)
		st.s.log.Warn("mesos event stream ended; polling until it is back", "master", st.target, "err", r.err, "retry_in", wait)
	}
	st.retryT.Reset(wait)
	st.retryOn = true
}

func (st *streamer) retry(ctx context.Context) {
	st.retryOn = false
	if st.running || st.leaderNow == "" {
		return
	}
	st.start(ctx, st.leaderNow)
}
