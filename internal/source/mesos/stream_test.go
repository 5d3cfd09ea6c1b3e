package mesos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
	tu "github.com/sextantdc/sextant/internal/testutil"
)

// fakeStream is a Streamer whose behaviour each test scripts.
type fakeStream struct {
	mu    sync.Mutex
	calls []string // base URLs, in call order
	run   func(ctx context.Context, call int, onState func(*state.State)) error
}

func (f *fakeStream) Stream(ctx context.Context, c *http.Client, baseURL string, onState func(*state.State)) error {
	if c == nil {
		return errors.New("no client")
	}
	f.mu.Lock()
	f.calls = append(f.calls, baseURL)
	n := len(f.calls)
	f.mu.Unlock()
	return f.run(ctx, n, onState)
}

func (f *fakeStream) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeStream) call(i int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[i]
}

func parsed(t testing.TB, b []byte) *state.State {
	t.Helper()
	var st state.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func TestStreamPreferredAndCoalesced(t *testing.T) {
	m := newMaster(t)
	m.set(testState(t, m.addr(), "polled"), 0)
	release := make(chan struct{})
	fs := &fakeStream{run: func(ctx context.Context, call int, onState func(*state.State)) error {
		// SUBSCRIBED, then a burst of 200 events in well under 20 ms each.
		onState(parsed(t, testState(t, m.addr(), "subscribed")))
		<-release
		for i := 1; i <= 200; i++ {
			onState(parsed(t, testState(t, m.addr(), fmt.Sprintf("event-%d", i))))
		}
		<-ctx.Done()
		return ctx.Err()
	}}
	h := run(t, Options{Masters: []string{m.addr()}, Streamer: fs})
	tu.Eventually(t, wait, "snapshot from SUBSCRIBED", func() bool { return h.rec.taskName() == "subscribed" })
	if got := fs.call(0); got != "http://"+m.addr() {
		t.Fatalf("stream base URL %q", got)
	}
	if !h.rec.streamed() {
		t.Fatal("last observation not marked as streamed")
	}
	if st := h.src.Status(); !st.Streaming || st.Stale {
		t.Fatalf("status %+v, want streaming", st)
	}
	before := h.rec.n()
	close(release)
	tu.Eventually(t, wait, "last event built", func() bool { return h.rec.taskName() == "event-200" })
	// 200 events must not make 200 builds. The burst takes a few ms, so a
	// handful of builds at 20 ms spacing is what coalescing allows; 50 is
	// far past that and far below one per event.
	if built := h.rec.n() - before; built > 50 {
		t.Fatalf("%d builds for 200 events: not coalesced", built)
	}
	// Versions stay consecutive across poll and stream builds.
	h.rec.mu.Lock()
	for i, s := range h.rec.snaps {
		if s.Version != uint64(i+1) {
			t.Errorf("snapshot %d has version %d", i, s.Version)
		}
	}
	h.rec.mu.Unlock()
	if got := h.gauge(t, "sextant_mesos_stream_up"); got != 1 {
		t.Fatalf("stream_up %v", got)
	}
	if fs.n() != 1 {
		t.Fatalf("%d stream calls, want 1", fs.n())
	}
	// Polling stays on as the safety net: a trigger still polls.
	reqs := m.requests.Load()
	h.src.Trigger()
	tu.Eventually(t, wait, "safety-net poll", func() bool { return m.requests.Load() > reqs && h.rec.taskName() == "polled" })
}

func TestStreamUnsupportedFallsBackToPolling(t *testing.T) {
	m := newMaster(t)
	m.set(testState(t, m.addr(), "polled"), 0)
	fs := &fakeStream{run: func(context.Context, int, func(*state.State)) error {
		return fmt.Errorf("POST /api/v1: 404: %w", ErrStreamUnsupported)
	}}
	h := run(t, Options{Masters: []string{m.addr()}, Streamer: fs, RefreshInterval: 30 * time.Millisecond,
		StreamBackoffMin: time.Millisecond, StreamBackoffMax: time.Millisecond})
	tu.Eventually(t, wait, "several polls", func() bool { return h.rec.n() >= 5 })
	if fs.n() != 1 {
		t.Fatalf("unsupported stream tried %d times; want once until the retry period", fs.n())
	}
	if st := h.src.Status(); st.Streaming {
		t.Fatal("status says streaming")
	}
	if !strings.Contains(h.logs.String(), "polling only") {
		t.Fatal("fallback not logged")
	}
}

func TestStreamRetriedWithBackoff(t *testing.T) {
	m := newMaster(t)
	m.set(testState(t, m.addr(), "polled"), 0)
	var fails atomic.Int64
	fs := &fakeStream{run: func(ctx context.Context, call int, onState func(*state.State)) error {
		if call <= 3 {
			fails.Add(1)
			return errors.New("connection reset by peer")
		}
		onState(parsed(t, testState(t, m.addr(), "streamed")))
		<-ctx.Done()
		return ctx.Err()
	}}
	h := run(t, Options{Masters: []string{m.addr()}, Streamer: fs,
		StreamBackoffMin: 5 * time.Millisecond, StreamBackoffMax: 20 * time.Millisecond})
	tu.Eventually(t, wait, "stream back after failures", func() bool { return h.rec.taskName() == "streamed" })
	if fails.Load() != 3 || fs.n() != 4 {
		t.Fatalf("fails %d calls %d", fails.Load(), fs.n())
	}
	if !strings.Contains(h.logs.String(), "event stream ended") {
		t.Fatal("stream failure not logged")
	}
}

func TestStreamFollowsLeaderMove(t *testing.T) {
	a, b := newMaster(t), newMaster(t)
	a.set(testState(t, a.addr(), "a"), 0)
	b.set(testState(t, b.addr(), "b"), 0)
	fs := &fakeStream{run: func(ctx context.Context, call int, onState func(*state.State)) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	h := run(t, Options{Masters: []string{a.addr(), b.addr()}, Streamer: fs})
	tu.Eventually(t, wait, "stream to a", func() bool { return fs.n() == 1 })
	// a stops answering: the next poll comes from b, and the stream moves.
	a.set(nil, http.StatusServiceUnavailable)
	h.src.Trigger()
	tu.Eventually(t, wait, "stream to b", func() bool { return fs.n() == 2 })
	if got := fs.call(1); got != "http://"+b.addr() {
		t.Fatalf("second stream to %q", got)
	}
}

func TestPollDuringStreamEventDoesNotFlap(t *testing.T) {
	m := newMaster(t)
	m.set(testState(t, m.addr(), "polled"), 0)
	inPoll, release := make(chan struct{}), make(chan struct{})
	var polls atomic.Int64
	m.check = func(*http.Request) int {
		if polls.Add(1) == 2 {
			close(inPoll)
			<-release
		}
		return 0
	}
	sendNew := make(chan struct{})
	fs := &fakeStream{run: func(ctx context.Context, call int, onState func(*state.State)) error {
		onState(parsed(t, testState(t, m.addr(), "subscribed")))
		<-sendNew
		onState(parsed(t, testState(t, m.addr(), "stream-new")))
		<-ctx.Done()
		return ctx.Err()
	}}
	h := run(t, Options{Masters: []string{m.addr()}, Streamer: fs})
	tu.Eventually(t, wait, "streaming", func() bool { return h.rec.taskName() == "subscribed" })
	m.set(testState(t, m.addr(), "polled-old"), 0)
	h.src.Trigger()
	<-inPoll
	close(sendNew) // the event arrives while the poll is in flight
	time.Sleep(50 * time.Millisecond)
	close(release)
	tu.Eventually(t, wait, "stream state built", func() bool { return h.rec.taskName() == "stream-new" })
	time.Sleep(100 * time.Millisecond)
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	for _, s := range h.rec.snaps {
		if s.Tasks[0].Name == "polled-old" {
			t.Fatal("the in-flight poll's older state was emitted next to a newer stream update")
		}
	}
	if last := h.rec.snaps[len(h.rec.snaps)-1]; last.Tasks[0].Name != "stream-new" {
		t.Fatalf("last snapshot %q", last.Tasks[0].Name)
	}
}

// TestFirstStreamWaitsAfterFirstPoll: the first subscription comes
// StreamDelay after the first poll was published, not with it, so its
// SUBSCRIBED state is not decoded while consumers build their first views.
func TestFirstStreamWaitsAfterFirstPoll(t *testing.T) {
	for _, tc := range []struct {
		name     string
		delay    time.Duration
		min, max time.Duration
	}{
		{"set", 300 * time.Millisecond, 300 * time.Millisecond, 10 * time.Second},
		{"right after the poll", -1, 0, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMaster(t)
			m.set(testState(t, m.addr(), "polled"), 0)
			started := make(chan time.Time, 4)
			fs := &fakeStream{run: func(ctx context.Context, call int, onState func(*state.State)) error {
				started <- time.Now()
				<-ctx.Done()
				return ctx.Err()
			}}
			h := run(t, Options{Masters: []string{m.addr()}, Streamer: fs, StreamDelay: tc.delay})
			tu.Eventually(t, wait, "first poll", func() bool { return h.rec.taskName() == "polled" })
			polled := time.Now()
			select {
			case at := <-started:
				if d := at.Sub(polled); d < tc.min-50*time.Millisecond || d > tc.max {
					t.Fatalf("stream started %v after the first poll, want %v–%v", d, tc.min, tc.max)
				}
			case <-time.After(tc.max):
				t.Fatal("no stream")
			}
		})
	}
}

// TestStreamKeepsPolledFrameworkPIDs: the operator API has no framework
// pids, so a stream's frameworks take the pid of the last poll (by id)
// instead of losing their _framework._tcp names until the next poll.
func TestStreamKeepsPolledFrameworkPIDs(t *testing.T) {
	m := newMaster(t)
	m.set(testState(t, m.addr(), "polled"), 0)
	fs := &fakeStream{run: func(ctx context.Context, call int, onState func(*state.State)) error {
		st := parsed(t, testState(t, m.addr(), "subscribed"))
		st.Frameworks[0].PID = ""
		st.Frameworks = append(st.Frameworks, state.Framework{ID: "F2", Name: "new", Hostname: "n"})
		onState(st)
		<-ctx.Done()
		return ctx.Err()
	}}
	h := run(t, Options{Masters: []string{m.addr()}, Streamer: fs})
	tu.Eventually(t, wait, "snapshot from SUBSCRIBED", func() bool { return h.rec.taskName() == "subscribed" })
	s := h.rec.lastSnap()
	if len(s.Frameworks) != 2 {
		t.Fatalf("%d frameworks", len(s.Frameworks))
	}
	if f := s.Frameworks[0]; f.PID != "scheduler-1@10.0.0.9:1234" || !f.HasPort || f.Port != 1234 {
		t.Fatalf("framework F1 %+v: want the polled pid", f)
	}
	if f := s.Frameworks[1]; f.PID != "" || f.HasPort {
		t.Fatalf("framework F2 %+v: no poll saw it, no pid", f)
	}
}
