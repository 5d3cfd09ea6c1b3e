package hub

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/obs"
)

// TestSourceHealthStates: each source state as /health and Check see it,
// on a fake clock: never delivered, fresh, stale within StaleAfter, stale
// past it, and fresh again after a good observation.
func TestSourceHealthStates(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at      time.Duration // since t0
		publish bool          // a good observation, fetched at `at`
		fail    string        // a failed fetch
	}
	for _, c := range []struct {
		name      string
		steps     []step
		now       time.Duration
		state     string
		age       time.Duration
		lastError string
		failing   string // substring; "" means not failing
	}{
		{name: "registered, never fetched", now: time.Second, state: obs.SourceNoData, failing: "no data yet"},
		{name: "never delivered, fetch failed", steps: []step{{at: time.Second, fail: "connection refused"}}, now: 2 * time.Second,
			state: obs.SourceNoData, lastError: "connection refused", failing: "no data yet: connection refused"},
		{name: "fresh", steps: []step{{at: time.Second, publish: true}}, now: 3 * time.Second, state: obs.SourceOK, age: 2 * time.Second},
		{name: "stale within the bound", steps: []step{{at: time.Second, publish: true}, {at: 5 * time.Second, fail: "EOF"}},
			now: 3*time.Second + 3*time.Second, state: obs.SourceStale, age: 5 * time.Second, lastError: "EOF"},
		{name: "stale at the bound", steps: []step{{at: time.Second, publish: true}, {at: 2 * time.Second, fail: "EOF"}},
			now: time.Second + 3*time.Minute, state: obs.SourceStale, age: 3 * time.Minute, lastError: "EOF"},
		{name: "stale past the bound", steps: []step{{at: time.Second, publish: true}, {at: 2 * time.Second, fail: "EOF"}},
			now: time.Second + 3*time.Minute + time.Millisecond, state: obs.SourceStale, age: 3*time.Minute + time.Millisecond,
			lastError: "EOF", failing: "stale since 2030-01-01T00:00:01Z (3m0s, longer than 3m0s): EOF"},
		{name: "fresh again", steps: []step{{at: time.Second, publish: true}, {at: 2 * time.Second, fail: "EOF"},
			{at: 4 * time.Minute, publish: true}}, now: 4*time.Minute + time.Second, state: obs.SourceOK, age: time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			var now atomic.Int64
			h := New(Options{Now: func() time.Time { return t0.Add(time.Duration(now.Load())) }})
			h.Register(Mesos)
			for _, s := range c.steps {
				now.Store(int64(s.at))
				if s.publish {
					h.PublishMesos(&model.MesosObservation{Fetched: t0.Add(s.at), From: "m:5050"})
				} else {
					h.Fail(Mesos, errors.New(s.fail))
				}
			}
			now.Store(int64(c.now))
			ss := h.SourceHealth()
			if len(ss) != 1 {
				t.Fatalf("%d sources", len(ss))
			}
			s := ss[0]
			if s.Name != Mesos || s.State != c.state || s.Age != c.age || s.LastError != c.lastError || s.StaleAfter != 3*time.Minute {
				t.Errorf("got %+v, want state %s age %v last error %q", s, c.state, c.age, c.lastError)
			}
			err := h.Check()
			switch {
			case c.failing == "" && (s.Failing != "" || err != nil):
				t.Errorf("failing %q, check %v; want healthy", s.Failing, err)
			case c.failing != "" && (!strings.Contains(s.Failing, c.failing) || err == nil || err.Error() != "mesos: "+s.Failing):
				t.Errorf("failing %q, check %v; want %q", s.Failing, err, c.failing)
			}
		})
	}
}

// TestSourceHealthOrderAndStaleAfter: sources come in snapshot order and
// carry the hub's StaleAfter.
func TestSourceHealthOrderAndStaleAfter(t *testing.T) {
	h := New(Options{StaleAfter: 3 * time.Second})
	h.Register(Marathon)
	h.Register(Mesos)
	ss := h.SourceHealth()
	if len(ss) != 2 || ss[0].Name != Mesos || ss[1].Name != Marathon || ss[0].StaleAfter != 3*time.Second {
		t.Fatalf("%+v", ss)
	}
}
