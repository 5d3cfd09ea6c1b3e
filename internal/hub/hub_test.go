package hub

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/model"
)

func mesosObs(tasks ...string) *model.MesosObservation {
	o := &model.MesosObservation{Agents: []model.Agent{{ID: "a"}}, Frameworks: []model.Framework{{Name: "marathon", End: len(tasks)}}}
	for _, id := range tasks {
		o.Tasks = append(o.Tasks, model.Task{ID: id, Name: id, AgentID: "a", State: model.TaskRunning})
	}
	return o
}

// run starts h and stops it at the end of the test.
func run(t *testing.T, h *Hub) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

func next(t *testing.T, sub *Subscription) *model.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("no snapshot: %v", err)
	}
	return s
}

func TestMergesSourcesAndVersions(t *testing.T) {
	h := New(Options{Settle: 5 * time.Second, Registerer: prometheus.NewRegistry()})
	h.Register(Mesos)
	h.Register(Marathon)
	sub := h.Subscribe()
	defer sub.Close()
	run(t, h)
	h.PublishMesos(mesosObs("web.1"))
	// Settle: the first build waits for Marathon.
	time.Sleep(50 * time.Millisecond)
	if h.Current() != nil {
		t.Fatal("built before every registered source delivered")
	}
	h.PublishMarathon(&model.MarathonObservation{Apps: []model.App{{ID: "/web", Tasks: []model.AppTask{{ID: "web.1"}}}}})
	s := next(t, sub)
	if s.Version != 1 || len(s.Tasks) != 1 || s.Tasks[0].App == nil || len(s.Sources) != 2 ||
		s.Sources[0].Name != Mesos || s.Sources[1].Name != Marathon {
		t.Fatalf("snapshot %+v", s)
	}
	// Items alone do not rebuild the tasks: the next snapshot shares them.
	h.PublishItems(&model.ItemsObservation{Items: []model.Item{{Name: "z", Version: 1, Payload: []byte("p")}}})
	s2 := next(t, sub)
	if s2.Version != 2 || &s2.Tasks[0] != &s.Tasks[0] || len(s2.Items) != 1 || !s2.SameSources(s, Mesos, Marathon) {
		t.Fatalf("items-only snapshot %+v", s2)
	}
	if it, ok := s2.Item("z"); !ok || string(it.Payload) != "p" {
		t.Fatal("Item lookup")
	}
	h.PublishMesos(mesosObs("web.1", "web.2"))
	s3 := next(t, sub)
	if len(s3.Tasks) != 2 || len(s3.Items) != 1 || s3.SameSources(s2, Mesos) {
		t.Fatalf("rebuild %+v", s3)
	}
}

func TestSettleTimesOut(t *testing.T) {
	h := New(Options{Settle: 100 * time.Millisecond})
	h.Register(Mesos)
	h.Register(Marathon) // never delivers
	sub := h.Subscribe()
	defer sub.Close()
	run(t, h)
	h.PublishMesos(mesosObs("a"))
	if s := next(t, sub); len(s.Tasks) != 1 || len(s.Sources) != 1 {
		t.Fatalf("snapshot after settle %+v", s)
	}
}

// A slow subscriber skips what it had no time for; nobody waits for it.
func TestLatestValueWins(t *testing.T) {
	h := New(Options{Settle: time.Millisecond})
	slow := h.Subscribe()
	defer slow.Close()
	fast := h.Subscribe()
	defer fast.Close()
	run(t, h)
	for i := range 200 {
		h.PublishMesos(mesosObs(strings.Repeat("t", i+1)))
	}
	deadline := time.Now().Add(10 * time.Second)
	var last *model.Snapshot
	for time.Now().Before(deadline) {
		last = next(t, fast)
		if last.Tasks[0].ID == strings.Repeat("t", 200) {
			break
		}
	}
	if last.Tasks[0].ID != strings.Repeat("t", 200) {
		t.Fatal("fast subscriber never saw the latest")
	}
	if s := next(t, slow); s.Tasks[0].ID != strings.Repeat("t", 200) {
		t.Fatalf("slow subscriber got %q, want the latest", s.Tasks[0].ID)
	}
	if v, _ := h.Current().Source(Mesos); v.Version != 200 {
		t.Fatalf("mesos observations counted %d", v.Version)
	}
}

func TestFailKeepsLastGoodAndCheckRule(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	h := New(Options{Settle: time.Millisecond, StaleAfter: time.Minute, Now: clock})
	h.Register(Mesos)
	tests := []struct {
		name    string
		do      func()
		state   string
		healthy bool
		errHas  string
	}{
		{"before anything", func() {}, "no-data", false, "no data yet"},
		{"failure before data", func() { h.Fail(Mesos, errors.New("connection refused")) }, "no-data", false, "connection refused"},
		{"first observation", func() { h.PublishMesos(mesosObs("a")) }, "ok", true, ""},
		{"failure: stale but within the limit", func() { advance(30 * time.Second); h.Fail(Mesos, errors.New("garbage")) }, "stale", true, ""},
		{"still failing past the limit", func() { advance(time.Minute); h.Fail(Mesos, errors.New("garbage")) }, "stale", false, "garbage"},
		{"recovered", func() { h.PublishMesos(mesosObs("a", "b")) }, "ok", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.do()
			src := h.Sources()
			if len(src) != 1 || src[0].State() != tc.state {
				t.Fatalf("sources %+v, want state %s", src, tc.state)
			}
			err := h.Check()
			if (err == nil) != tc.healthy || (err != nil && !strings.Contains(err.Error(), tc.errHas)) {
				t.Fatalf("check = %v, want healthy %v (%q)", err, tc.healthy, tc.errHas)
			}
		})
	}
}
