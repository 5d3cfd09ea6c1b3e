package mesosagent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// agentDoc is an agent's /state as Mesos 1.x serves it (trimmed): a
// command-executor task with a VIP label and a container IP, a queued
// task, and a completed executor this source must not read.
const agentDoc = `{
 "id": "S1", "pid": "slave(1)@10.0.0.7:5051", "hostname": "agent-7",
 "frameworks": [{
  "id": "fw-1", "name": "marathon",
  "executors": [{
   "id": "web.1", "tasks": [{
    "id": "web.1", "name": "web", "framework_id": "fw-1", "executor_id": "", "slave_id": "S1",
    "state": "TASK_RUNNING",
    "discovery": {"visibility": "FRAMEWORK", "name": "web",
     "ports": {"ports": [{"number": 8080, "protocol": "tcp", "labels": {"labels": [{"key": "VIP_0", "value": "/web:80"}]}}]}},
    "statuses": [{"state": "TASK_RUNNING", "timestamp": 1.5,
     "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": "9.0.1.2"}]}]}}]
   }],
   "queued_tasks": [{"id": "web.2", "name": "web", "framework_id": "fw-1", "slave_id": "S1", "state": "TASK_STAGING"}],
   "completed_tasks": [{"id": "old.1", "name": "old", "framework_id": "fw-1", "slave_id": "S1", "state": "TASK_FINISHED"}]
  }],
  "completed_executors": [{"id": "old.1", "tasks": [{"id": "old.1", "name": "old", "slave_id": "S1", "state": "TASK_FINISHED"}]}]
 }]
}`

func TestParseAgentState(t *testing.T) {
	st, skipped, err := Parse([]byte(agentDoc))
	if err != nil || len(skipped) != 0 {
		t.Fatalf("Parse: %v, skipped %v", err, skipped)
	}
	if len(st.Slaves) != 1 || st.Slaves[0].ID != "S1" || st.Slaves[0].PID != "slave(1)@10.0.0.7:5051" {
		t.Fatalf("slaves: %+v", st.Slaves)
	}
	if len(st.Frameworks) != 1 || st.Frameworks[0].Name != "marathon" {
		t.Fatalf("frameworks: %+v", st.Frameworks)
	}
	ts := st.Frameworks[0].Tasks
	if len(ts) != 2 || ts[0].ID != "web.1" || ts[1].ID != "web.2" {
		t.Fatalf("tasks: %+v", ts)
	}
	if d := ts[0].Discovery; d == nil || d.Ports == nil || d.Ports.Ports[0].Labels.Labels[0].Value != "/web:80" {
		t.Fatalf("discovery: %+v", ts[0].Discovery)
	}
}

func TestParseBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		wantErr   string // "" = served
		skipped   string // a field a skipped item names
		tasks     int
	}{
		{name: "not JSON", doc: `{"id":`, wantErr: "mesos agent state"},
		{name: "not an object", doc: `[1]`, wantErr: "mesos agent state"},
		{name: "null", doc: `null`, wantErr: "not an object"},
		{name: "no id", doc: `{"frameworks":[]}`, wantErr: "id"},
		{name: "frameworks not a list", doc: `{"id":"S1","frameworks":{}}`, wantErr: "frameworks"},
		{name: "bad framework skipped", doc: `{"id":"S1","frameworks":[{"id":7},{"id":"f","name":"m","executors":[{"tasks":[{"id":"t","name":"t","slave_id":"S1","state":"TASK_RUNNING"}]}]}]}`,
			skipped: "frameworks", tasks: 1},
		{name: "bad executor skipped", doc: `{"id":"S1","frameworks":[{"id":"f","name":"m","executors":[{"tasks":{}},{"tasks":[{"id":"t","name":"t","slave_id":"S1","state":"TASK_RUNNING"}]}]}]}`,
			skipped: "executors", tasks: 1},
		{name: "bad task skipped", doc: `{"id":"S1","frameworks":[{"id":"f","name":"m","executors":[{"tasks":[{"id":7,"name":"t","state":"TASK_RUNNING"},{"id":"t","name":"t","slave_id":"S1","state":"TASK_RUNNING"}]}]}]}`,
			skipped: "id", tasks: 1},
		{name: "bad task field degraded", doc: `{"id":"S1","frameworks":[{"id":"f","name":"m","executors":[{"tasks":[{"id":"bad","name":"t","state":"TASK_RUNNING","discovery":{"ports":{"ports":[{"number":"x"}]}}},{"id":"t","name":"t","slave_id":"S1","state":"TASK_RUNNING"}]}]}]}`,
			skipped: "discovery", tasks: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, skipped, err := Parse([]byte(tc.doc))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, s := range skipped {
				found = found || strings.Contains(s.Field, tc.skipped)
			}
			if !found {
				t.Errorf("skipped %+v: none names %q", skipped, tc.skipped)
			}
			n := 0
			for _, f := range st.Frameworks {
				n += len(f.Tasks)
			}
			if n != tc.tasks {
				t.Errorf("%d tasks served, want %d", n, tc.tasks)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(agentDoc))
	f.Add([]byte(`{"id":"S1","frameworks":[{"id":"f","executors":[{"tasks":[{"id":1}]}]}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, _, err := Parse(b)
		if err == nil && (st == nil || len(st.Slaves) != 1) {
			t.Fatalf("no error but state %+v", st)
		}
	})
}

// The source serves each good state and keeps quiet on a bad one (the
// consumer keeps the last good state).
func TestSourcePolls(t *testing.T) {
	var body atomic.Value
	body.Store(agentDoc)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/state" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body.Load().(string)))
	}))
	defer srv.Close()
	got := make(chan *state.State, 100)
	s, err := New(Options{URL: srv.URL + "/", Interval: 20 * time.Millisecond, OnState: func(st *state.State, _ []state.Skipped) {
		select {
		case got <- st:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case st := <-got:
		if st.Slaves[0].ID != "S1" {
			t.Fatalf("state %+v", st)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no state")
	}
	body.Store(`{"id":`)
	time.Sleep(100 * time.Millisecond)
	for len(got) > 0 {
		<-got
	}
	time.Sleep(200 * time.Millisecond)
	if len(got) != 0 {
		t.Errorf("a bad document was handed on")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop")
	}
	if _, err := New(Options{URL: "10.0.0.1:5051", OnState: func(*state.State, []state.Skipped) {}}); err == nil {
		t.Error("a URL without scheme accepted")
	}
}
