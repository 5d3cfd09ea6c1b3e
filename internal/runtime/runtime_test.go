package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/marathon"
	"github.com/sextantdc/sextant/internal/testutil"
)

func newRT(t *testing.T, dir string) (*Runtime, func()) {
	t.Helper()
	rt, err := New(Config{StateDir: dir, MaxTasks: 8, PublishHealth: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = rt.Run(ctx); close(done) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("runtime did not stop")
		}
	}
	t.Cleanup(stop)
	return rt, stop
}

func mustApp(t *testing.T, js string) *marathon.App {
	t.Helper()
	a, err := marathon.Decode([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBusOrderFilterAndSlowSubscriber(t *testing.T) {
	b := NewBus(4, nil)
	all := b.Subscribe(nil)
	only := b.Subscribe([]string{"b"})
	for i := 0; i < 3; i++ {
		b.Publish("a", map[string]any{"i": i})
	}
	b.Publish("b", nil)
	for i := 0; i < 3; i++ {
		ev := <-all.C
		var m map[string]any
		_ = json.Unmarshal(ev.Data, &m)
		if ev.Type != "a" || m["i"] != float64(i) || m["eventType"] != "a" || m["timestamp"] == nil {
			t.Fatalf("event %d: %s %s", i, ev.Type, ev.Data)
		}
	}
	if ev := <-only.C; ev.Type != "b" {
		t.Fatal(ev.Type)
	}
	// "all" still holds one event; five more overflow its queue of 4.
	for i := 0; i < 5; i++ {
		b.Publish("a", nil)
	}
	select {
	case <-all.Done():
	default:
		t.Fatal("slow subscriber must be dropped")
	}
	if b.Len() != 1 {
		t.Fatalf("subscribers: %d", b.Len())
	}
}

func TestPersistenceRoundTripAndBadFile(t *testing.T) {
	dir := t.TempDir()
	rt, stop := newRT(t, dir)
	if _, _, err := rt.CreateApp(mustApp(t, `{"id":"/a/b","cmd":"sleep 30","instances":0,"labels":{"x":"y"},"fetch":[{"uri":"http://example.invalid/x"}]}`), nil); err != nil {
		t.Fatal(err)
	}
	stop()
	rt2, _ := newRT(t, dir)
	a, ok := rt2.App("/a/b")
	if !ok || a.Labels["x"] != "y" || a.PortDefinitions[0].Port != 10000 || a.Passthrough["fetch"] == nil {
		t.Fatalf("%v %+v", ok, a)
	}
	if rt.ident != rt2.ident {
		t.Fatal("cluster identity must survive a restart")
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "apps.json"), []byte(`{"apps":[`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{StateDir: bad}); err == nil || !strings.Contains(err.Error(), "apps.json") {
		t.Fatalf("want an error naming apps.json, got %v", err)
	}
	// One bad app is skipped, the others load.
	mixed := t.TempDir()
	if err := os.WriteFile(filepath.Join(mixed, "apps.json"), []byte(`{"apps":[{"id":"/ok","cmd":"sleep 30","instances":0,"portDefinitions":[],"networks":[{"mode":"host"}],"upgradeStrategy":{"minimumHealthCapacity":1,"maximumOverCapacity":1},"backoffFactor":1.15},{"id":5},{"id":"/Bad","cmd":"sleep 1","backoffFactor":1.15}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rt3, err := New(Config{StateDir: mixed})
	if err != nil {
		t.Fatal(err)
	}
	if ids := rt3.AppIDs(); len(ids) != 1 || ids[0] != "/ok" {
		t.Fatalf("loaded %v", ids)
	}
}

func TestEnvPortsAndMesosState(t *testing.T) {
	rt, _ := newRT(t, t.TempDir())
	_, _, err := rt.CreateApp(mustApp(t, `{"id":"/dev/web","cmd":"env > env.txt; exec sleep 30","cpus":0.1,
		"labels":{"HAPROXY_GROUP":"external"},"portDefinitions":[{"port":0,"name":"http","labels":{"VIP_0":"/web:80"}},{"port":0,"protocol":"udp,tcp"}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var tid string
	testutil.Eventually(t, 20*time.Second, "running task", func() bool {
		ts, _ := rt.Tasks("/dev/web", []string{"running"}, false)
		if len(ts) == 1 {
			tid = ts[0]["id"].(string)
		}
		return tid != ""
	})
	dir, _ := rt.TaskSandbox(tid)
	var env string
	testutil.Eventually(t, 20*time.Second, "env.txt", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "env.txt"))
		env = string(b)
		return err == nil && strings.Contains(env, "PORTS=")
	})
	for _, want := range []string{"MESOS_TASK_ID=" + tid, "MARATHON_APP_ID=/dev/web", "PORT_HTTP=", "PORT_10000=", "PORT_10001=",
		"MARATHON_APP_LABELS=HAPROXY_GROUP", "MARATHON_APP_LABEL_HAPROXY_GROUP=external", "HOST=127.0.0.1", "MESOS_SANDBOX=" + dir} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s", want)
		}
	}
	st := rt.State()
	if st.Leader == "" || len(st.Slaves) != 1 || st.Frameworks[0].Name != "marathon" || len(st.Frameworks[0].Tasks) != 1 {
		t.Fatalf("state: %+v", st)
	}
	mt := st.Frameworks[0].Tasks[0]
	if mt.Name != "web.dev" || mt.State != "TASK_RUNNING" || len(mt.Discovery.Ports.Ports) != 3 ||
		mt.Discovery.Ports.Ports[0].Labels.Labels[0].Key != "VIP_0" || !strings.HasPrefix(mt.Resources.Ports, "[3") {
		t.Fatalf("task: %+v", mt)
	}
	last := mt.Statuses[len(mt.Statuses)-1]
	if last.State != "TASK_RUNNING" || last.ContainerStatus.NetworkInfos[0].IPAddresses[0].IPAddress != "127.0.0.1" {
		t.Fatalf("status: %+v", last)
	}
	// Images are refused with a clear 422.
	_, _, err = rt.CreateApp(mustApp(t, `{"id":"/img","container":{"type":"DOCKER","docker":{"image":"nginx"}}}`), nil)
	if me, ok := err.(*marathon.Error); !ok || me.Status != 422 {
		t.Fatalf("image app: %v", err)
	}
}

// TestHealthSemantics: a Marathon HTTP check against a server answering
// 500 kills the task on the (max+1)-th failure; 1xx with ignoreHttp1xx
// changes nothing.
func TestHealthSemantics(t *testing.T) {
	var code atomic.Int32
	var hits atomic.Int32
	code.Store(500)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*tcpAddr).Port
	rt, _ := newRT(t, t.TempDir())
	sub := rt.Bus().Subscribe([]string{"unhealthy_instance_kill_event", "failed_health_check_event"})
	_, _, err := rt.CreateApp(mustApp(t, `{"id":"/h","cmd":"exec sleep 60","portDefinitions":[],"taskKillGracePeriodSeconds":0,
		"healthChecks":[{"protocol":"HTTP","port":`+itoa(port)+`,"gracePeriodSeconds":0,"intervalSeconds":1,"timeoutSeconds":1,"maxConsecutiveFailures":2}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	failures := 0
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			if ev.Type == "failed_health_check_event" {
				failures++
				continue
			}
			if failures != 3 {
				t.Fatalf("killed after %d failures, want 3 (maxConsecutiveFailures 2 + 1)", failures)
			}
			return
		case <-deadline:
			t.Fatalf("no kill; %d failures, %d probes", failures, hits.Load())
		}
	}
}

func TestBackoff(t *testing.T) {
	rt, _ := newRT(t, t.TempDir())
	sub := rt.Bus().Subscribe([]string{"status_update_event"})
	start := time.Now()
	if _, _, err := rt.CreateApp(mustApp(t, `{"id":"/flap","cmd":"exit 0","portDefinitions":[],"backoffSeconds":1,"backoffFactor":2,"maxLaunchDelaySeconds":3}`), nil); err != nil {
		t.Fatal(err)
	}
	var launches []time.Duration
	deadline := time.After(30 * time.Second)
	for len(launches) < 4 {
		select {
		case ev := <-sub.C:
			if strings.Contains(string(ev.Data), `"taskStatus":"TASK_STAGING"`) {
				launches = append(launches, time.Since(start))
			}
		case <-deadline:
			t.Fatalf("launches: %v", launches)
		}
	}
	// Gaps ≈ 1 s, 2 s, then capped at 3 s; allow generous slack on a
	// loaded machine but require the growth.
	g1, g2, g3 := launches[1]-launches[0], launches[2]-launches[1], launches[3]-launches[2]
	if g1 < 900*time.Millisecond || g2 < 1900*time.Millisecond || g3 < 2900*time.Millisecond || g3 > 10*time.Second {
		t.Fatalf("gaps %v %v %v", g1, g2, g3)
	}
	testutil.Eventually(t, 10*time.Second, "back-off in the queue", func() bool {
		q := rt.Queue()
		if len(q) != 1 {
			return false
		}
		d := q[0]["delay"].(map[string]any)
		return d["overdue"] == false && d["timeLeftSeconds"].(int) > 0
	})
}

func TestAPIShapes(t *testing.T) {
	rt, _ := newRT(t, t.TempDir())
	srv := httptest.NewServer(NewAPI(rt, APIOptions{Heartbeat: 50 * time.Millisecond}))
	defer srv.Close()
	get := func(path, accept string) (int, string, http.Header) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = bufio.NewReader(resp.Body).WriteTo(b)
		return resp.StatusCode, b.String(), resp.Header
	}
	if c, b, _ := get("/ping", ""); c != 200 || b != "pong" {
		t.Fatalf("ping: %d %q", c, b)
	}
	if c, b, _ := get("/ping", "application/json"); c != 200 || b != `"pong"` {
		t.Fatalf("ping json: %d %q", c, b)
	}
	if c, _, _ := get("/v2/events", "application/json"); c != 405 {
		t.Fatalf("events without text/event-stream: %d", c)
	}
	resp, err := http.Post(srv.URL+"/v2/apps", "application/x-www-form-urlencoded", strings.NewReader(`{"id":"x","cmd":"sleep 1"}`))
	if err != nil || resp.StatusCode != 415 {
		t.Fatalf("form POST: %v %v", err, resp.StatusCode)
	}
	resp.Body.Close()
	resp, err = http.Post(srv.URL+"/v2/apps", "application/json", strings.NewReader(`{"id":"/dev/web","cmd":"sleep 30","healthChecks":[{"protocol":"COMMAND","command":{"value":"false"},"intervalSeconds":60}]}`))
	if err != nil || resp.StatusCode != 201 || resp.Header.Get("Marathon-Deployment-Id") == "" || !strings.HasSuffix(resp.Header.Get("Location"), "/dev/web") {
		t.Fatalf("create: %v %v %v", err, resp.StatusCode, resp.Header)
	}
	var created map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if pd := created["portDefinitions"].([]any)[0].(map[string]any); pd["port"] != float64(0) {
		t.Fatalf("POST answer must show the submitted service port 0: %v", pd)
	}
	c, b, _ := get("/v2/deployments", "")
	var deps []map[string]any
	if err := json.Unmarshal([]byte(b), &deps); c != 200 || err != nil || len(deps) != 1 || deps[0]["totalSteps"] != float64(2) ||
		deps[0]["currentStep"] != float64(2) || deps[0]["affectedApps"].([]any)[0] != "/dev/web" {
		t.Fatalf("deployments: %d %s", c, b)
	}
	c, b, _ = get("/v2/apps/dev/web", "")
	if c != 200 || !strings.Contains(b, `"port":10000`) || !strings.Contains(b, `"tasks":[`) {
		t.Fatalf("app: %d %s", c, b)
	}
	if c, b, _ := get("/v2/apps?label=HAPROXY_GROUP", ""); c != 200 || strings.Contains(b, "/dev/web") {
		t.Fatalf("label filter: %s", b)
	}
	// SSE heartbeat: a bare CRLF.
	req, _ := http.NewRequest("GET", srv.URL+"/v2/events?event_type=nothing", nil)
	req.Header.Set("Accept", "text/event-stream")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err = http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	if err != nil || line != "\r\n" {
		t.Fatalf("heartbeat: %q %v", line, err)
	}
}

type tcpAddr = net.TCPAddr

func itoa(i int) string { return strconv.Itoa(i) }

// TestRestartKeepsCapacity: a restart (new config version) with the
// default upgrade strategy starts new tasks before it kills old ones, so
// at least `instances` tasks run throughout.
func TestRestartKeepsCapacity(t *testing.T) {
	rt, _ := newRT(t, t.TempDir())
	if _, _, err := rt.CreateApp(mustApp(t, `{"id":"/r","cmd":"exec sleep 60","instances":2,"portDefinitions":[],"taskKillGracePeriodSeconds":0}`), nil); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "2 running", func() bool {
		ts, _ := rt.Tasks("/r", []string{"running"}, false)
		return len(ts) == 2 && len(rt.Deployments()) == 0
	})
	sub := rt.Bus().Subscribe([]string{"status_update_event", "deployment_success"})
	running := map[string]bool{}
	ts, _ := rt.Tasks("/r", nil, false)
	for _, x := range ts {
		running[x["id"].(string)] = true
	}
	if _, err := rt.RestartApp("/r", false); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.RestartApp("/r", false); err == nil {
		t.Fatal("a second restart during the deployment must be locked")
	}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			if ev.Type == "deployment_success" {
				ts, _ := rt.Tasks("/r", []string{"running"}, false)
				if len(ts) != 2 {
					t.Fatalf("after restart: %d running", len(ts))
				}
				for _, x := range ts {
					if running[x["id"].(string)] && len(running) > 0 {
						// Still one of the old ones?
						a, _ := rt.App("/r")
						if x["version"] != a.Version {
							t.Fatalf("old task %s survived the restart", x["id"])
						}
					}
				}
				return
			}
			var m map[string]any
			_ = json.Unmarshal(ev.Data, &m)
			id, st := m["taskId"].(string), m["taskStatus"].(string)
			switch st {
			case "TASK_RUNNING":
				running[id] = true
			case "TASK_KILLING", "TASK_KILLED", "TASK_FAILED", "TASK_FINISHED":
				if running[id] && len(running) < 3 {
					t.Fatalf("killed %s while only %d tasks ran", id, len(running))
				}
				delete(running, id)
			}
		case <-deadline:
			t.Fatal("restart did not finish")
		}
	}
}

// TestImpossiblePorts: a fixed host port held by another process keeps the
// app queued (like an agent that offers no such port) without failing the
// API; ports outside 0–65535 are refused at validation.
func TestImpossiblePorts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	rt, _ := newRT(t, t.TempDir())
	if _, _, err := rt.CreateApp(mustApp(t, `{"id":"/fixed","cmd":"exec sleep 60","requirePorts":true,"portDefinitions":[{"port":`+itoa(port)+`}]}`), nil); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "queued, not launched", func() bool {
		q := rt.Queue()
		return len(q) == 1 && q[0]["delay"].(map[string]any)["overdue"] == true
	})
	time.Sleep(500 * time.Millisecond)
	if ts, _ := rt.Tasks("/fixed", nil, false); len(ts) != 0 {
		t.Fatalf("no task can launch while the port is taken: %v", ts)
	}
	// Once the port is free the task starts on it.
	ln.Close()
	testutil.Eventually(t, 10*time.Second, "launch on the freed port", func() bool {
		ts, _ := rt.Tasks("/fixed", []string{"running"}, false)
		return len(ts) == 1 && ts[0]["ports"].([]int)[0] == port
	})
	if _, err := marathon.Decode([]byte(`{"id":"/x","cmd":"sleep 1","container":{"type":"MESOS","portMappings":[{"hostPort":70000}]},"networks":[{"mode":"container/bridge"}]}`)); err == nil {
		t.Fatal("hostPort 70000 must be refused")
	}
}

func TestAPIGroupsBulkVersions(t *testing.T) {
	rt, _ := newRT(t, t.TempDir())
	srv := httptest.NewServer(NewAPI(rt, APIOptions{}))
	defer srv.Close()
	req := func(method, path, body string) (int, string) {
		r, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = bufio.NewReader(resp.Body).WriteTo(b)
		return resp.StatusCode, b.String()
	}
	if c, b := req("PUT", "/v2/apps", `[{"id":"/g/a","cmd":"sleep 30","instances":0},{"id":"/g/b","cmd":"sleep 30","instances":0},{"id":"/h","cmd":"sleep 30","instances":0}]`); c != 200 || !strings.Contains(b, "deploymentId") {
		t.Fatalf("bulk: %d %s", c, b)
	}
	if c, b := req("GET", "/v2/apps/g/*", ""); c != 200 || !strings.Contains(b, `"/g/a"`) || !strings.Contains(b, `"/g/b"`) || strings.Contains(b, `"/h"`) {
		t.Fatalf("group: %d %s", c, b)
	}
	if c, b := req("GET", "/v2/apps/g/a/versions", ""); c != 200 || !strings.Contains(b, `"versions":["`) {
		t.Fatalf("versions: %d %s", c, b)
	}
	// An app id equal to an existing group is refused.
	if c, b := req("POST", "/v2/apps", `{"id":"/g","cmd":"sleep 30"}`); c != 422 || !strings.Contains(b, "Groups and Applications may not have the same identifier.") {
		t.Fatalf("group conflict: %d %s", c, b)
	}
	if c, b := req("PUT", "/v2/apps", `[{"id":"/g/a","cmd":"x"}]`); c != 422 {
		t.Fatalf("bad bulk item: %d %s", c, b)
	}
}

func TestLabelSelector(t *testing.T) {
	views := []map[string]any{
		{"id": "/a", "labels": map[string]any{"env": "prod", "tier": "web"}},
		{"id": "/b", "labels": map[string]any{"env": "dev"}},
		{"id": "/c", "labels": map[string]any{}},
	}
	ids := func(vs []map[string]any) string {
		var out []string
		for _, v := range vs {
			out = append(out, v["id"].(string))
		}
		return strings.Join(out, ",")
	}
	for sel, want := range map[string]string{
		"env": "/a,/b", "env==prod": "/a", "env!=prod": "/b,/c", "env in (dev, qa)": "/b",
		"env notin (dev)": "/a,/c", "env,tier": "/a", "env==prod,tier==db": "",
	} {
		if got := ids(filterLabels(views, sel)); got != want {
			t.Errorf("%q: got %q, want %q", sel, got, want)
		}
	}
}

func FuzzLabelSelector(f *testing.F) {
	for _, s := range []string{"a", "a==b", "a!=b", "a in (b,c)", "a notin (b)", "a,b==c", "(", ",,", "a in (b"} {
		f.Add(s)
	}
	views := []map[string]any{{"id": "/a", "labels": map[string]any{"a": "b"}}, {"id": "/b"}}
	f.Fuzz(func(t *testing.T, sel string) {
		out := filterLabels(views, sel)
		if len(out) > len(views) {
			t.Fatal("selector invented apps")
		}
	})
}

func TestBridgeAppMesosContainer(t *testing.T) {
	rt, _ := newRT(t, t.TempDir())
	if _, _, err := rt.CreateApp(mustApp(t, `{"id":"/br","cmd":"exec sleep 60","networks":[{"mode":"container/bridge"}],
		"container":{"type":"MESOS","portMappings":[{"containerPort":80,"hostPort":0,"name":"http","labels":{"VIP_0":"/br:80"}}]}}`), nil); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "bridge task running", func() bool {
		st := rt.State()
		return len(st.Frameworks[0].Tasks) == 1 && st.Frameworks[0].Tasks[0].State == "TASK_RUNNING"
	})
	mt := rt.State().Frameworks[0].Tasks[0]
	ni := mt.Container.NetworkInfos[0]
	hp := mt.Discovery.Ports.Ports[0].Number
	if ni.Name != "mesos-bridge" || len(ni.PortMappings) != 1 || ni.PortMappings[0].ContainerPort != 80 || ni.PortMappings[0].HostPort != hp || hp < 31000 {
		t.Fatalf("container: %+v discovery: %+v", mt.Container, mt.Discovery)
	}
	ls := mt.Discovery.Ports.Ports[0].Labels.Labels
	if len(ls) != 2 || ls[1].Key != "network-scope" || ls[1].Value != "host" {
		t.Fatalf("labels: %+v", ls)
	}
}

// TestMesosLevelChecks: COMMAND checks run next to the task with Mesos'
// semantics; their result is the `healthy` of a new TASK_RUNNING status.
func TestMesosLevelChecks(t *testing.T) {
	rt, _ := newRT(t, t.TempDir())
	if _, _, err := rt.CreateApp(mustApp(t, `{"id":"/ok","cmd":"exec sleep 60","portDefinitions":[],
		"healthChecks":[{"protocol":"COMMAND","command":{"value":"test -n \"$MESOS_TASK_ID\""},"delaySeconds":0,"gracePeriodSeconds":0,"intervalSeconds":1}]}`), nil); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "healthy status", func() bool {
		st := rt.State()
		if len(st.Frameworks[0].Tasks) != 1 {
			return false
		}
		mt := st.Frameworks[0].Tasks[0]
		last := mt.Statuses[len(mt.Statuses)-1]
		return mt.HealthCheck != nil && mt.HealthCheck.Type == "COMMAND" && last.State == "TASK_RUNNING" && last.Healthy != nil && *last.Healthy
	})
	sub := rt.Bus().Subscribe([]string{"unhealthy_instance_kill_event"})
	if _, _, err := rt.CreateApp(mustApp(t, `{"id":"/bad","cmd":"exec sleep 60","portDefinitions":[],"taskKillGracePeriodSeconds":0,
		"healthChecks":[{"protocol":"COMMAND","command":{"value":"false"},"delaySeconds":0,"gracePeriodSeconds":0,"intervalSeconds":1,"maxConsecutiveFailures":1}]}`), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.C:
	case <-time.After(20 * time.Second):
		t.Fatal("a failing Mesos-level check must kill the task after maxConsecutiveFailures failures")
	}
}
