package master

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/operator/recordio"
	v1 "github.com/sextantdc/sextant/internal/mesos/operator/v1"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

func ptrBool(b bool) *bool { return &b }

const (
	testMaster = "c3946a13-75b4-4d3c-9d0e-fc10038dca85"
	testAgent  = testMaster + "-S0"
	testFw     = testMaster + "-0000"
)

func sampleTask(id, st string, port uint32) state.Task {
	t := state.Task{
		ID: id, Name: "web.dev", FrameworkID: testFw, SlaveID: testAgent, State: st,
		Resources: state.Resources{CPUs: 0.1, Mem: 64, Ports: "[31001-31001, 31517-31517]"},
		Labels:    []state.Label{{Key: "HAPROXY_GROUP", Value: "external"}},
		Discovery: &state.Discovery{Visibility: "FRAMEWORK", Name: "web.dev", Ports: &state.Ports{Ports: []state.DiscoveryPort{
			{Number: port, Name: "http", Protocol: "tcp", Labels: &state.Labels{Labels: []state.Label{{Key: "VIP_0", Value: "/web:80"}}}},
		}}},
	}
	if st != "TASK_STAGING" {
		t.Statuses = []state.Status{{
			State: st, Timestamp: 1700000000.123456,
			ContainerStatus: &state.ContainerStatus{NetworkInfos: []state.NetworkInfo{{
				IPAddresses: []state.IPAddress{{Protocol: "IPv4", IPAddress: "127.0.0.1"}},
			}}},
		}}
	}
	return t
}

func sampleState(tasks ...state.Task) *state.State {
	return &state.State{
		ID: testMaster, PID: "master@127.0.0.1:5050", Hostname: "127.0.0.1", Version: "1.11.0",
		Leader: "master@127.0.0.1:5050",
		Slaves: []state.Slave{{
			ID: testAgent, PID: "slave(1)@127.0.0.1:5051", Hostname: "127.0.0.1", Active: ptrBool(true),
			Resources:  &state.Resources{CPUs: 2, Mem: 1024, Ports: "[31000-32000]"},
			Attributes: map[string]any{"rack": "r1"},
		}},
		Frameworks: []state.Framework{{
			ID: testFw, Name: "marathon", Hostname: "127.0.0.1", Active: ptrBool(true),
			WebUIURL: "http://127.0.0.1:8080", Tasks: tasks,
		}},
	}
}

func post(t *testing.T, url, ctype, accept, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readBody(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newServer(t *testing.T, p Provider, o Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(p, o, nil))
	t.Cleanup(srv.Close)
	return srv
}

func TestGetHealth(t *testing.T) {
	srv := newServer(t, NewMemProvider(sampleState()), Options{})
	resp := post(t, srv.URL+"/api/v1", "application/json", "", `{"type":"GET_HEALTH"}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := readBody(t, resp); got != `{"type":"GET_HEALTH","get_health":{"healthy":true}}` {
		t.Fatalf("body %s", got)
	}
}

func TestCallErrors(t *testing.T) {
	srv := newServer(t, NewMemProvider(sampleState()), Options{})
	for _, tc := range []struct {
		name, ctype, accept, body string
		code                      int
		text                      string
	}{
		{"charset", "application/json; charset=utf-8", "", `{"type":"GET_HEALTH"}`, 415, "Expecting 'Content-Type' of application/json"},
		{"protobuf", "application/x-protobuf", "", "\x08\x01", 415, "Expecting 'Content-Type'"},
		{"no content type", "", "", `{"type":"GET_HEALTH"}`, 400, "Expecting 'Content-Type' to be present"},
		{"not json", "application/json", "", `{"type":`, 400, "Failed to parse body into JSON"},
		{"not object", "application/json", "", `[1]`, 400, "Failed to convert JSON into Call protobuf"},
		{"no type", "application/json", "", `{}`, 400, "Expecting 'type' to be present"},
		{"unknown type", "application/json", "", `{"type":"GET_EVERYTHING"}`, 400, "Expecting 'type' to be present"},
		{"type not string", "application/json", "", `{"type":7}`, 400, "Failed to convert JSON into Call protobuf"},
		{"accept protobuf", "application/json", "application/x-protobuf", `{"type":"GET_HEALTH"}`, 406, "Expecting 'Accept' to allow"},
		{"accept recordio", "application/json", "application/recordio", `{"type":"SUBSCRIBE"}`, 406, "Expecting 'Accept'"},
		{"accept q=0", "application/json", "application/json;q=0", `{"type":"GET_HEALTH"}`, 406, "Expecting 'Accept'"},
		{"unimplemented", "application/json", "", `{"type":"GET_FLAGS"}`, 501, "GET_FLAGS"},
		{"UNKNOWN", "application/json", "", `{"type":"UNKNOWN"}`, 501, "UNKNOWN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(t, srv.URL+"/api/v1", tc.ctype, tc.accept, tc.body)
			body := readBody(t, resp)
			if resp.StatusCode != tc.code || !strings.Contains(body, tc.text) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, body, tc.code, tc.text)
			}
		})
	}
	resp, err := http.Get(srv.URL + "/api/v1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET /api/v1: %d Allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	// Accept variants that admit JSON.
	for _, acc := range []string{"*/*", "application/*", "text/plain, application/json;q=0.5"} {
		resp := post(t, srv.URL+"/master/api/v1", "application/json", acc, `{"type":"GET_HEALTH"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("Accept %q: %d", acc, resp.StatusCode)
		}
	}
}

func TestAuthAndRedirect(t *testing.T) {
	srv := newServer(t, NewMemProvider(sampleState()), Options{
		Leader:       "10.0.0.12:5050",
		Authenticate: func(r *http.Request) bool { return r.Header.Get("Authorization") == "Basic eDp5" },
	})
	resp := post(t, srv.URL+"/api/v1", "application/json", "", `{"type":"GET_HEALTH"}`)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="mesos-master-readwrite"` {
		t.Fatalf("no credentials: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1?x=1", strings.NewReader(`{"type":"GET_HEALTH"}`))
	req.Header.Set("Authorization", "Basic eDp5")
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 307 || resp.Header.Get("Location") != "//10.0.0.12:5050/api/v1?x=1" {
		t.Fatalf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = cl.Get(srv.URL + "/master/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 307 || resp.Header.Get("Location") != "//10.0.0.12:5050" {
		t.Fatalf("/master/redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestLeaderRedirectToSelf(t *testing.T) {
	srv := newServer(t, NewMemProvider(sampleState()), Options{})
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Get(srv.URL + "/master/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 307 || resp.Header.Get("Location") != "//127.0.0.1:5050" {
		t.Fatalf("got %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestV0StateCachedAndGzip(t *testing.T) {
	p := NewMemProvider(sampleState(sampleTask("t1", "TASK_RUNNING", 31001)))
	srv := newServer(t, p, Options{})
	for _, path := range []string{"/master/state", "/state", "/master/state.json"} {
		resp, err := http.Get(srv.URL + path) // Go asks for gzip and inflates it
		if err != nil {
			t.Fatal(err)
		}
		st, skipped, err := state.Parse([]byte(readBody(t, resp)))
		resp.Body.Close()
		if err != nil || len(skipped) > 0 || !resp.Uncompressed {
			t.Fatalf("%s: %v, skipped %v (uncompressed=%v)", path, err, skipped, resp.Uncompressed)
		}
		if len(st.Frameworks) != 1 || len(st.Frameworks[0].Tasks) != 1 || st.Frameworks[0].Tasks[0].Resources.Ports != "[31001-31001, 31517-31517]" {
			t.Fatalf("%s: %+v", path, st)
		}
	}
	h := NewHandler(p, Options{}, nil).(*handler)
	a := h.current()
	if b := h.current(); a != b {
		t.Fatal("unchanged provider re-rendered")
	}
	p.Set(sampleState())
	if b := h.current(); a == b || len(b.st.Frameworks[0].Tasks) != 0 {
		t.Fatal("change not picked up")
	}
}

func TestSyncCallShapes(t *testing.T) {
	st := sampleState(sampleTask("t1", "TASK_RUNNING", 31001), sampleTask("t2", "TASK_FINISHED", 31002), sampleTask("t3", "TASK_UNREACHABLE", 31003))
	srv := newServer(t, NewMemProvider(st), Options{})
	call := func(typ string) map[string]any {
		t.Helper()
		resp := post(t, srv.URL+"/api/v1", "application/json", "application/json", `{"type":"`+typ+`"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", typ, resp.StatusCode)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(readBody(t, resp)), &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] != typ {
			t.Fatalf("type %v", m["type"])
		}
		return m
	}
	gs := call("GET_STATE")["get_state"].(map[string]any)
	for _, k := range []string{"get_tasks", "get_executors", "get_frameworks", "get_agents"} {
		if _, ok := gs[k]; !ok {
			t.Fatalf("GET_STATE lacks %s", k)
		}
	}
	tasks := call("GET_TASKS")["get_tasks"].(map[string]any)
	for k, n := range map[string]int{"tasks": 1, "completed_tasks": 1, "unreachable_tasks": 1} {
		if l, ok := tasks[k].([]any); !ok || len(l) != n {
			t.Fatalf("get_tasks.%s = %v", k, tasks[k])
		}
	}
	task := tasks["tasks"].([]any)[0].(map[string]any)
	if task["task_id"].(map[string]any)["value"] != "t1" || task["agent_id"].(map[string]any)["value"] != testAgent {
		t.Fatalf("ids: %v", task)
	}
	if _, ok := task["executor_id"]; ok {
		t.Fatal("command task has executor_id")
	}
	if l := task["labels"].(map[string]any)["labels"].([]any); len(l) != 1 {
		t.Fatalf("labels %v", task["labels"])
	}
	var ports map[string]any
	for _, r := range task["resources"].([]any) {
		if r.(map[string]any)["name"] == "ports" {
			ports = r.(map[string]any)
		}
	}
	if ports == nil || ports["type"] != "RANGES" || len(ports["ranges"].(map[string]any)["range"].([]any)) != 2 {
		t.Fatalf("ports %v", ports)
	}
	ag := call("GET_AGENTS")["get_agents"].(map[string]any)
	agent := ag["agents"].([]any)[0].(map[string]any)
	if agent["pid"] != "slave(1)@127.0.0.1:5051" || agent["agent_info"].(map[string]any)["port"] != 5051.0 {
		t.Fatalf("agent %v", agent)
	}
	if _, ok := agent["registered_time"].(map[string]any)["nanoseconds"]; !ok {
		t.Fatalf("registered_time %v", agent["registered_time"])
	}
	if _, ok := ag["recovered_agents"].([]any); !ok {
		t.Fatal("recovered_agents missing")
	}
	fw := call("GET_FRAMEWORKS")["get_frameworks"].(map[string]any)["frameworks"].([]any)[0].(map[string]any)
	if fw["framework_info"].(map[string]any)["name"] != "marathon" || fw["active"] != true {
		t.Fatalf("framework %v", fw)
	}
	mi := call("GET_MASTER")["get_master"].(map[string]any)["master_info"].(map[string]any)
	if mi["id"] != testMaster || mi["address"].(map[string]any)["ip"] != "127.0.0.1" || mi["ip"] != 16777343.0 {
		t.Fatalf("master_info %v", mi)
	}
	if call("GET_VERSION")["get_version"].(map[string]any)["version_info"].(map[string]any)["version"] != "1.11.0" {
		t.Fatal("version")
	}
	if ex := call("GET_EXECUTORS")["get_executors"].(map[string]any)["executors"].([]any); len(ex) != 0 {
		t.Fatal("executors")
	}
}

func TestGetStateGzip(t *testing.T) {
	srv := newServer(t, NewMemProvider(sampleState(sampleTask("t1", "TASK_RUNNING", 31001))), Options{})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1", strings.NewReader(`{"type":"GET_STATE"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	var r v1.Response
	if err := json.Unmarshal(b, &r); err != nil || r.GetState == nil || len(r.GetState.GetTasks.Tasks) != 1 {
		t.Fatalf("%v %s", err, b)
	}
}

// readEvents reads n records of a SUBSCRIBE stream.
func readEvents(t *testing.T, rr *recordio.Reader, n int) []v1.Event {
	t.Helper()
	var out []v1.Event
	for i := 0; i < n; i++ {
		rec, err := rr.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		var ev v1.Event
		if err := json.Unmarshal(rec, &ev); err != nil {
			t.Fatalf("record %d: %v: %s", i, err, rec)
		}
		out = append(out, ev)
	}
	return out
}

func subscribe(t *testing.T, url string) (*http.Response, *recordio.Reader) {
	t.Helper()
	resp := post(t, url+"/api/v1", "application/json", "", `{"type":"SUBSCRIBE"}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Content-Length") != "" {
		t.Fatalf("SUBSCRIBE: %d %v", resp.StatusCode, resp.Header)
	}
	return resp, recordio.NewReader(resp.Body, 0)
}

func TestSubscribeEventsInOrder(t *testing.T) {
	p := NewMemProvider(sampleState())
	srv := newServer(t, p, Options{HeartbeatInterval: time.Hour})
	resp, rr := subscribe(t, srv.URL)
	defer resp.Body.Close()

	evs := readEvents(t, rr, 2)
	if evs[0].Type != v1.EventSubscribed || evs[0].Subscribed == nil || evs[0].Subscribed.HeartbeatIntervalSeconds == nil ||
		*evs[0].Subscribed.HeartbeatIntervalSeconds != 3600 || len(evs[0].Subscribed.GetState.GetAgents.Agents) != 1 {
		t.Fatalf("first record %+v", evs[0])
	}
	if evs[1].Type != v1.EventHeartbeat {
		t.Fatalf("second record %s", evs[1].Type)
	}

	staging := sampleTask("t1", "TASK_STAGING", 31001)
	p.Set(sampleState(staging))
	ev := readEvents(t, rr, 1)[0]
	if ev.Type != v1.EventTaskAdded || ev.TaskAdded.Task.State != "TASK_STAGING" || ev.TaskAdded.Task.Name != "web.dev" ||
		ev.TaskAdded.Task.Discovery == nil || len(ev.TaskAdded.Task.Statuses) != 0 {
		t.Fatalf("TASK_ADDED %+v", ev)
	}
	running := sampleTask("t1", "TASK_RUNNING", 31001)
	p.Set(sampleState(running))
	ev = readEvents(t, rr, 1)[0]
	if ev.Type != v1.EventTaskUpdated || ev.TaskUpdated.State != "TASK_RUNNING" || ev.TaskUpdated.Status.TaskID.Value != "t1" ||
		ev.TaskUpdated.Status.ContainerStatus.NetworkInfos[0].IPAddresses[0].IPAddress != "127.0.0.1" ||
		ev.TaskUpdated.Status.Source != "SOURCE_EXECUTOR" || ev.TaskUpdated.Status.UUID == "" ||
		ev.TaskUpdated.FrameworkID.Value != testFw {
		t.Fatalf("TASK_UPDATED %+v", ev.TaskUpdated)
	}
	// Health flip while running: same state, replaced status, reason set.
	healthy := sampleTask("t1", "TASK_RUNNING", 31001)
	healthy.Statuses[0].Healthy = ptrBool(false)
	p.Set(sampleState(healthy))
	ev = readEvents(t, rr, 1)[0]
	if ev.Type != v1.EventTaskUpdated || ev.TaskUpdated.Status.Reason != reasonHealth || *ev.TaskUpdated.Status.Healthy {
		t.Fatalf("health TASK_UPDATED %+v", ev.TaskUpdated)
	}
	// Agent and framework leave after the task.
	p.Set(&state.State{})
	evs = readEvents(t, rr, 3)
	if evs[0].Type != v1.EventTaskUpdated || evs[0].TaskUpdated.State != "TASK_KILLED" ||
		evs[1].Type != v1.EventAgentRemoved || evs[1].AgentRemoved.AgentID.Value != testAgent ||
		evs[2].Type != v1.EventFrameworkRemoved || evs[2].FrameworkRemoved.FrameworkInfo.Name != "marathon" {
		t.Fatalf("removal events %+v %+v %+v", evs[0], evs[1], evs[2])
	}
	p.Set(sampleState())
	evs = readEvents(t, rr, 2)
	if evs[0].Type != v1.EventFrameworkAdded || evs[1].Type != v1.EventAgentAdded || evs[1].AgentAdded.Agent.AgentInfo.ID.Value != testAgent {
		t.Fatalf("re-add events %s %s", evs[0].Type, evs[1].Type)
	}
}

func TestHeartbeats(t *testing.T) {
	srv := newServer(t, NewMemProvider(sampleState()), Options{HeartbeatInterval: 20 * time.Millisecond})
	resp, rr := subscribe(t, srv.URL)
	defer resp.Body.Close()
	evs := readEvents(t, rr, 4)
	if *evs[0].Subscribed.HeartbeatIntervalSeconds != 0.02 {
		t.Fatalf("interval %v", *evs[0].Subscribed.HeartbeatIntervalSeconds)
	}
	for _, ev := range evs[1:] {
		if ev.Type != v1.EventHeartbeat {
			t.Fatalf("got %s, want HEARTBEAT", ev.Type)
		}
	}
}

func TestSubscribedWireBytes(t *testing.T) {
	srv := newServer(t, NewMemProvider(nil), Options{})
	resp := post(t, srv.URL+"/api/v1", "application/json", "", `{"type":"SUBSCRIBE"}`)
	defer resp.Body.Close()
	want := `{"type":"SUBSCRIBED","subscribed":{"get_state":{"get_tasks":{"tasks":[],"unreachable_tasks":[],"completed_tasks":[]},` +
		`"get_executors":{"executors":[]},"get_frameworks":{"frameworks":[],"completed_frameworks":[]},` +
		`"get_agents":{"agents":[],"recovered_agents":[]}},"heartbeat_interval_seconds":15.0}}`
	wire := string(recordio.Frame([]byte(want))) + "20\n{\"type\":\"HEARTBEAT\"}"
	buf := make([]byte, len(wire))
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	if string(buf) != wire {
		t.Fatalf("wire:\n%s\nwant:\n%s", buf, wire)
	}
}

func TestSubscriberCapEvictsOldest(t *testing.T) {
	srv := newServer(t, NewMemProvider(sampleState()), Options{MaxSubscribers: 1, HeartbeatInterval: time.Hour})
	r1, rr1 := subscribe(t, srv.URL)
	defer r1.Body.Close()
	readEvents(t, rr1, 2)
	r2, rr2 := subscribe(t, srv.URL)
	defer r2.Body.Close()
	readEvents(t, rr2, 2)
	if _, err := rr1.Next(); err == nil {
		t.Fatal("oldest stream still open")
	}
}

func TestVersionAndHealth(t *testing.T) {
	srv := newServer(t, NewMemProvider(nil), Options{Version: "1.9.0"})
	resp, err := http.Get(srv.URL + "/version")
	if err != nil {
		t.Fatal(err)
	}
	var vi v1.VersionInfo
	if err := json.NewDecoder(resp.Body).Decode(&vi); err != nil || vi.Version != "1.9.0" {
		t.Fatalf("%v %+v", err, vi)
	}
	resp.Body.Close()
	resp, err = http.Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	resp, err = http.Get(srv.URL + "/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatal(resp.Status)
	}
}

func TestHubStopsWhenIdle(t *testing.T) {
	p := NewMemProvider(sampleState())
	h := NewHandler(p, Options{}, nil).(*handler)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, rr := subscribe(t, srv.URL)
	readEvents(t, rr, 2)
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.hub.mu.Lock()
		idle := h.hub.run == nil && len(h.hub.subs) == 0
		h.hub.mu.Unlock()
		if idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("hub still running after the last subscriber left")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
