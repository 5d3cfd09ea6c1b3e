package master

import (
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A subscriber that stops reading is disconnected once its queue overflows,
// and the provider's changes keep flowing to the others.
func TestSlowSubscriberDisconnected(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := NewMemProvider(sampleState())
	h := NewHandler(p, Options{QueueSize: 2, HeartbeatInterval: time.Hour, Registerer: reg}, nil).(*handler)
	srv := httptest.NewServer(h)
	defer srv.Close()

	// The slow one: a raw connection that sends SUBSCRIBE and never reads.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"type":"SUBSCRIBE"}`
	fmt.Fprintf(conn, "POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)

	// A healthy one that reads everything.
	resp, rr := subscribe(t, srv.URL)
	defer resp.Body.Close()
	readEvents(t, rr, 2)
	waitSubscribers(t, h, 2)

	// Big task labels fill the slow client's socket buffers quickly.
	big := strings.Repeat("x", 256<<10)
	var tasks []state.Task
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; counterValue(t, reg, "sextant_mesos_api_subscribers_dropped_total", "slow") == 0; i++ {
		if time.Now().After(deadline) || i > 2000 {
			t.Fatal("slow subscriber never dropped")
		}
		tk := sampleTask(fmt.Sprintf("t%d", i), "TASK_STAGING", 31001)
		tk.Labels = []state.Label{{Key: "big", Value: big}}
		tasks = append(tasks[:0:0], tasks...)
		tasks = append(tasks, tk)
		p.Set(sampleState(tasks...))
		// The reader keeps up with every change.
		if ev := readEvents(t, rr, 1)[0]; ev.TaskAdded == nil || ev.TaskAdded.Task.TaskID.Value != tk.ID {
			t.Fatalf("healthy subscriber got %+v", ev.Type)
		}
	}
	// The dropped stream's handler returned even though its client never
	// read: the blocked write was cut short.
	waitSubscribers(t, h, 1)
}

func waitSubscribers(t *testing.T, h *handler, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.hub.mu.Lock()
		got := len(h.hub.subs)
		h.hub.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
