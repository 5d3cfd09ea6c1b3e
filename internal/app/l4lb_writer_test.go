package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/testutil"
)

// fakeAgent serves a Mesos agent's /state with one running task whose
// port carries the VIP label spec.
func fakeAgent(t *testing.T, id, ip string, port int, spec string) *httptest.Server {
	t.Helper()
	task := state.Task{ID: id + ".task", Name: "svc", SlaveID: id, FrameworkID: "fw", State: "TASK_RUNNING",
		Discovery: &state.Discovery{Ports: &state.Ports{Ports: []state.DiscoveryPort{{Number: uint32(port), Protocol: "tcp", Labels: labels("VIP_0", spec)}}}},
		Statuses:  testutil.RunningStatuses(ip)}
	doc := map[string]any{"id": id, "pid": "slave(1)@" + ip + ":5051", "hostname": id,
		"frameworks": []any{map[string]any{"id": "fw", "name": "marathon",
			"executors": []any{map[string]any{"id": task.ID, "tasks": []state.Task{task}}}}}}
	body, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/state" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Per-writer backend sets (§0.6): the master's Mesos knows no task, each
// agent reads its own tasks from its local Mesos agent and gossips them
// under its own name; agent a's load balancer serves the union, and when
// agent b stops, b's backends disappear from a's table (not kept as
// "unreachable": they went with their writer).
func TestAgentL4LBPerWriterSets(t *testing.T) {
	pA := backendServer(t, "127.0.0.1:0", "a")
	pB := backendServer(t, "127.0.0.2:0", "b")
	vipPort := testutil.FreePort(t)
	spec := fmt.Sprintf("11.22.33.44:%d", vipPort)
	agentA := fakeAgent(t, "S1", "127.0.0.1", pA, spec)
	agentB := fakeAgent(t, "S2", "127.0.0.2", pB, spec)

	srv := testutil.NewStateServer(t)
	body, err := json.Marshal(&state.State{Leader: srv.Leader()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Set(body)

	c := startL4LBCluster(t, srv, agentA.URL, agentB.URL)

	listen := fmt.Sprintf("127.22.33.44:%d", vipPort)
	testutil.Eventually(t, 60*time.Second, "agent a serving the union of both writers' backends", func() bool {
		s := c.states()
		return s["127.0.0.1"] == "up" && s["127.0.0.2"] == "up"
	})
	reachesBoth(t, listen)

	c.stopB()
	testutil.Eventually(t, 60*time.Second, "agent b's backends gone with it", func() bool {
		s := c.states()
		_, hasB := s["127.0.0.2"]
		return !hasB && s["127.0.0.1"] == "up"
	})
	onlyReaches(t, listen, "a", 20)
}
