package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/testutil"
)

// upInstance is a running `sextant up` binary driven over HTTP only.
type upInstance struct {
	t        *testing.T
	proc     *testutil.Process
	stateDir string
	eps      map[string]string
}

func startUp(t *testing.T, stateDir string, extra ...string) *upInstance {
	t.Helper()
	bin := testutil.Binary(t)
	fa := func() string { return testutil.FreeAddr(t) }
	args := []string{"up", "--state-dir", stateDir, "--no-examples",
		"--marathon-addr", fa(), "--mesos-addr", fa(), "--dns-addr", fa(),
		"--mesos-dns-http-addr", fa(), "--node-dns-addr", fa(), "--net-api-addr", fa(),
		"--gateway-addr", fa(),
		"--max-tasks", "8",
		// On the host even as root: the VIPs on their 127.x mapping, no
		// address or rule added (the kernel planes run in a netns test).
		"--l4lb-loopback"}
	args = append(args, extra...)
	_ = os.Remove(filepath.Join(stateDir, "endpoints.json"))
	cmd := exec.Command(bin, args...)
	cmd.Stdout = io.Discard
	u := &upInstance{t: t, stateDir: stateDir, proc: testutil.StartProcess(t, cmd)}
	u.proc.Eventually(30*time.Second, "endpoints.json", func() bool {
		b, err := os.ReadFile(filepath.Join(stateDir, "endpoints.json"))
		return err == nil && json.Unmarshal(b, &u.eps) == nil
	})
	u.proc.Eventually(30*time.Second, "/ping", func() bool { return testutil.HTTPOK(u.eps["marathon"] + "/ping") })
	return u
}

// stop sends SIGTERM and waits; it fails the test if the process needs
// more than a generous bound.
func (u *upInstance) stop() {
	if _, stopped := u.proc.Stop(60 * time.Second); !stopped {
		u.t.Errorf("sextant up did not stop within 60s\n%s", u.proc.Log)
	}
}

func (u *upInstance) do(method, path, body string) (int, []byte) {
	u.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u.eps["marathon"]+path, rd)
	if err != nil {
		u.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type e2eTask struct {
	ID                 string `json:"id"`
	State              string `json:"state"`
	Ports              []int  `json:"ports"`
	HealthCheckResults []struct {
		Alive bool `json:"alive"`
	} `json:"healthCheckResults"`
}

func (u *upInstance) tasks(app string) []e2eTask {
	u.t.Helper()
	code, b := u.do("GET", "/v2/apps"+app+"/tasks", "")
	if code != 200 {
		return nil
	}
	var r struct {
		Tasks []e2eTask `json:"tasks"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		u.t.Fatalf("tasks: %v: %s", err, b)
	}
	return r.Tasks
}

func runningHealthy(ts []e2eTask, n int) bool {
	c := 0
	for _, t := range ts {
		if t.State == "TASK_RUNNING" && len(t.HealthCheckResults) > 0 && t.HealthCheckResults[0].Alive {
			c++
		}
	}
	return c == n && len(ts) == n
}

// digSRV returns the sorted target ports of an SRV name, or nil.
func digSRV(dig, server, name string) []int {
	out, err := testutil.Dig(dig, server, "+short", "+time=2", "+tries=1", name, "SRV")
	if err != nil {
		return nil
	}
	var ports []int
	for _, line := range testutil.DigShort(out) {
		if f := strings.Fields(line); len(f) == 4 {
			p, _ := strconv.Atoi(f[2])
			ports = append(ports, p)
		}
	}
	sort.Ints(ports)
	return ports
}

func digA(dig, server, name string) string {
	out, _ := testutil.Dig(dig, server, "+short", "+time=2", "+tries=1", name, "A")
	return strings.TrimSpace(out)
}

func taskPorts(ts []e2eTask) []int {
	var ps []int
	for _, t := range ts {
		if t.State == "TASK_RUNNING" {
			ps = append(ps, t.Ports...)
		}
	}
	sort.Ints(ps)
	return ps
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type sseEvent struct {
	Type string
	Data map[string]any
}

// sseClient reads /v2/events with a real HTTP client and checks the
// framing as it goes.
type sseClient struct {
	mu     sync.Mutex
	events []sseEvent
	errs   []string
}

func (s *sseClient) snapshot() ([]sseEvent, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sseEvent(nil), s.events...), append([]string(nil), s.errs...)
}

func startSSE(t *testing.T, ctx context.Context, base string) *sseClient {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v2/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if len(resp.TransferEncoding) != 0 {
		t.Errorf("events must not be chunked: %v", resp.TransferEncoding)
	}
	s := &sseClient{}
	go func() {
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		var typ string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			s.mu.Lock()
			if !strings.HasSuffix(line, "\r\n") {
				s.errs = append(s.errs, fmt.Sprintf("line not CRLF-terminated: %q", line))
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				var m map[string]any
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m); err != nil {
					s.errs = append(s.errs, "bad data: "+err.Error())
				} else if m["eventType"] != typ {
					s.errs = append(s.errs, fmt.Sprintf("eventType %v under event %s", m["eventType"], typ))
				} else {
					s.events = append(s.events, sseEvent{typ, m})
				}
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// operatorClient subscribes to the Mesos v1 operator API and records the
// event types and task states it sees.
type operatorClient struct {
	mu     sync.Mutex
	types  []string
	states map[string][]string // task id → states in order
}

func startOperator(t *testing.T, ctx context.Context, base string) *operatorClient {
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1", strings.NewReader(`{"type":"SUBSCRIBE"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %d", resp.StatusCode)
	}
	o := &operatorClient{states: map[string][]string{}}
	go func() {
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			n, err := strconv.Atoi(strings.TrimSpace(l))
			if err != nil || n < 0 || n > 64<<20 {
				return
			}
			rec := make([]byte, n)
			if _, err := io.ReadFull(br, rec); err != nil {
				return
			}
			var ev struct {
				Type      string `json:"type"`
				TaskAdded *struct {
					Task struct {
						TaskID struct {
							Value string `json:"value"`
						} `json:"task_id"`
						State string `json:"state"`
					} `json:"task"`
				} `json:"task_added"`
				TaskUpdated *struct {
					State  string `json:"state"`
					Status struct {
						TaskID struct {
							Value string `json:"value"`
						} `json:"task_id"`
					} `json:"status"`
				} `json:"task_updated"`
			}
			if json.Unmarshal(rec, &ev) != nil {
				continue
			}
			o.mu.Lock()
			o.types = append(o.types, ev.Type)
			if ev.TaskAdded != nil {
				id := ev.TaskAdded.Task.TaskID.Value
				o.states[id] = append(o.states[id], "ADDED:"+ev.TaskAdded.Task.State)
			}
			if ev.TaskUpdated != nil {
				id := ev.TaskUpdated.Status.TaskID.Value
				o.states[id] = append(o.states[id], ev.TaskUpdated.State)
			}
			o.mu.Unlock()
		}
	}()
	return o
}

func (o *operatorClient) get() ([]string, map[string][]string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := map[string][]string{}
	for k, v := range o.states {
		m[k] = append([]string(nil), v...)
	}
	return append([]string(nil), o.types...), m
}

func pidAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie has exited; only its exit status is left to reap.
	if i := bytes.LastIndexByte(b, ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
		return false
	}
	return true
}

func readPids(t *testing.T, dir string) map[string][]int {
	out := map[string][]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, x := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(x); err == nil {
				out[filepath.Base(f)] = append(out[filepath.Base(f)], p)
			}
		}
	}
	return out
}

// TestUpLifecycle deploys, scales, kills a task's process, and deletes an
// app, checking the Marathon API, DNS (dig), the SSE stream and the Mesos
// operator stream all follow.
func TestUpLifecycle(t *testing.T) {
	testutil.NeedTool(t, "python3")
	t.Parallel()
	u := startUp(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sse := startSSE(t, ctx, u.eps["marathon"])
	op := startOperator(t, ctx, u.eps["mesos"])
	dig, _ := exec.LookPath("dig")
	pidDir := t.TempDir()

	app := fmt.Sprintf(`{"id":"/e2e/web","cmd":"echo $$ > %s/$MESOS_TASK_ID; exec python3 -m http.server $PORT0 --bind 127.0.0.1",
		"instances":2,"cpus":0.1,"mem":32,"portDefinitions":[{"port":0,"name":"http","labels":{"VIP_0":"/e2e-web:80"}}],
		"healthChecks":[{"protocol":"HTTP","path":"/","portIndex":0,"gracePeriodSeconds":30,"intervalSeconds":1,"timeoutSeconds":2,"maxConsecutiveFailures":3}],
		"taskKillGracePeriodSeconds":1}`, pidDir)
	code, b := u.do("POST", "/v2/apps", app)
	if code != 201 {
		t.Fatalf("POST: %d %s", code, b)
	}
	if code, _ := u.do("POST", "/v2/apps", app); code != 409 {
		t.Fatalf("second POST: %d, want 409", code)
	}
	testutil.Eventually(t, 60*time.Second, "2 healthy tasks", func() bool { return runningHealthy(u.tasks("/e2e/web"), 2) })
	testutil.Eventually(t, 30*time.Second, "deployment finished", func() bool {
		_, b := u.do("GET", "/v2/deployments", "")
		return strings.TrimSpace(string(b)) == "[]"
	})

	checkDNS := func(what string) {
		if dig == "" {
			return
		}
		testutil.Eventually(t, 30*time.Second, "DNS "+what, func() bool {
			return equalInts(digSRV(dig, u.eps["dns"], "_web.e2e._tcp.marathon.mesos"), taskPorts(u.tasks("/e2e/web")))
		})
	}
	if dig != "" {
		testutil.Eventually(t, 30*time.Second, "A record", func() bool {
			return digA(dig, u.eps["dns"], "web.e2e.marathon.mesos") == "127.0.0.1"
		})
		// The node DNS role serves the VIP name from the port's VIP_0 label.
		if dd := u.eps["node_dns"]; dd != "" {
			testutil.Eventually(t, 30*time.Second, "VIP name", func() bool {
				return digA(dig, dd, "e2e-web.marathon.l4lb.thisdcos.directory") != ""
			})
		}
	} else {
		t.Log("dig not installed: DNS checks skipped")
	}
	checkDNS("after deploy")

	// Scale up (force: the deployment lock is Marathon's, tested below).
	if code, b := u.do("PUT", "/v2/apps/e2e/web", `{"instances":3}`); code != 200 {
		t.Fatalf("scale: %d %s", code, b)
	}
	testutil.Eventually(t, 60*time.Second, "3 healthy tasks", func() bool { return runningHealthy(u.tasks("/e2e/web"), 3) })
	checkDNS("after scale")

	// Kill one task's process from outside: it is replaced.
	before := u.tasks("/e2e/web")
	victim := before[0]
	pids := readPids(t, pidDir)
	if len(pids[victim.ID]) == 0 {
		t.Fatalf("no pid for %s", victim.ID)
	}
	if err := syscall.Kill(pids[victim.ID][0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 60*time.Second, "replacement", func() bool {
		ts := u.tasks("/e2e/web")
		for _, x := range ts {
			if x.ID == victim.ID {
				return false
			}
		}
		return runningHealthy(ts, 3)
	})
	checkDNS("after replacement")

	// Delete: tasks and names go.
	if code, b := u.do("DELETE", "/v2/apps/e2e/web", ""); code != 200 {
		t.Fatalf("DELETE: %d %s", code, b)
	}
	if code, _ := u.do("GET", "/v2/apps/e2e/web", ""); code != 404 {
		t.Fatalf("GET after delete: %d", code)
	}
	if dig != "" {
		testutil.Eventually(t, 30*time.Second, "names gone", func() bool {
			return len(digSRV(dig, u.eps["dns"], "_web.e2e._tcp.marathon.mesos")) == 0 &&
				digA(dig, u.eps["dns"], "web.e2e.marathon.mesos") == ""
		})
		if dd := u.eps["node_dns"]; dd != "" {
			testutil.Eventually(t, 30*time.Second, "VIP name gone", func() bool {
				return digA(dig, dd, "e2e-web.marathon.l4lb.thisdcos.directory") == ""
			})
		}
	}
	testutil.Eventually(t, 30*time.Second, "processes gone", func() bool {
		for _, ps := range readPids(t, pidDir) {
			for _, p := range ps {
				if pidAlive(p) {
					return false
				}
			}
		}
		return true
	})

	// The SSE client saw the story in order.
	var evs []sseEvent
	testutil.Eventually(t, 10*time.Second, "app_terminated_event", func() bool {
		var errs []string
		evs, errs = sse.snapshot()
		if len(errs) > 0 {
			t.Fatalf("SSE framing: %v", errs)
		}
		for _, e := range evs {
			if e.Type == "app_terminated_event" {
				return true
			}
		}
		return false
	})
	idx := func(pred func(sseEvent) bool) int {
		for i, e := range evs {
			if pred(e) {
				return i
			}
		}
		return -1
	}
	attached := idx(func(e sseEvent) bool { return e.Type == "event_stream_attached" })
	post := idx(func(e sseEvent) bool { return e.Type == "api_post_event" && e.Data["uri"] == "/v2/apps" })
	running := idx(func(e sseEvent) bool {
		return e.Type == "status_update_event" && e.Data["taskStatus"] == "TASK_RUNNING"
	})
	healthy := idx(func(e sseEvent) bool { return e.Type == "health_status_changed_event" && e.Data["alive"] == true })
	killed := idx(func(e sseEvent) bool {
		return e.Type == "status_update_event" && e.Data["taskId"] == victim.ID && e.Data["taskStatus"] == "TASK_FAILED"
	})
	success := idx(func(e sseEvent) bool { return e.Type == "deployment_success" })
	terminated := idx(func(e sseEvent) bool { return e.Type == "app_terminated_event" && e.Data["appId"] == "/e2e/web" })
	if !(attached == 0 && attached < post && post < running && running < healthy && healthy < success && success < killed && killed < terminated) {
		t.Fatalf("SSE order: attached %d post %d running %d healthy %d success %d killed %d terminated %d",
			attached, post, running, healthy, success, killed, terminated)
	}
	// Per task, states only move forward.
	seen := map[string]string{}
	rank := map[string]int{"TASK_STAGING": 0, "TASK_STARTING": 1, "TASK_RUNNING": 2, "TASK_KILLING": 3, "TASK_KILLED": 4, "TASK_FAILED": 4, "TASK_FINISHED": 4}
	for _, e := range evs {
		if e.Type != "status_update_event" {
			continue
		}
		id, st := e.Data["taskId"].(string), e.Data["taskStatus"].(string)
		if prev, ok := seen[id]; ok && rank[st] < rank[prev] {
			t.Errorf("task %s went from %s to %s", id, prev, st)
		}
		seen[id] = st
	}

	// The operator subscriber saw SUBSCRIBED first, then the tasks.
	types, states := op.get()
	if len(types) < 2 || types[0] != "SUBSCRIBED" {
		t.Fatalf("operator stream starts with %v", types)
	}
	st := states[victim.ID]
	if len(st) < 2 || st[0] != "ADDED:TASK_STAGING" || !containsStr(st, "TASK_RUNNING") {
		t.Fatalf("operator events for %s: %v", victim.ID, st)
	}
	testutil.Eventually(t, 10*time.Second, "terminal TASK_UPDATED", func() bool {
		_, states = op.get()
		return containsStr(states[victim.ID], "TASK_FAILED")
	})
}

func containsStr(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// TestUpFailingHealthCheck: a task whose HTTP check fails is killed after
// maxConsecutiveFailures+1 failures and replaced; a command that exits at
// once is relaunched with back-off; bad input gets Marathon's errors.
func TestUpFailingHealthCheckAndBadInput(t *testing.T) {
	testutil.NeedTool(t, "python3")
	t.Parallel()
	u := startUp(t, t.TempDir())
	code, b := u.do("POST", "/v2/apps", `{"id":"/sick","cmd":"exec python3 -m http.server $PORT0 --bind 127.0.0.1","cpus":0.1,
		"healthChecks":[{"protocol":"HTTP","path":"/nope","gracePeriodSeconds":0,"intervalSeconds":1,"timeoutSeconds":1,"maxConsecutiveFailures":1}],
		"taskKillGracePeriodSeconds":1}`)
	if code != 201 {
		t.Fatalf("POST: %d %s", code, b)
	}
	var first string
	testutil.Eventually(t, 30*time.Second, "first task", func() bool {
		ts := u.tasks("/sick")
		if len(ts) > 0 {
			first = ts[0].ID
		}
		return first != ""
	})
	testutil.Eventually(t, 60*time.Second, "unhealthy task replaced", func() bool {
		ts := u.tasks("/sick")
		return len(ts) == 1 && ts[0].ID != first
	})

	// A command that exits at once is throttled by back-off.
	code, b = u.do("POST", "/v2/apps", `{"id":"/flap","cmd":"exit 0","backoffSeconds":1,"backoffFactor":2,"portDefinitions":[]}`)
	if code != 201 {
		t.Fatalf("POST flap: %d %s", code, b)
	}
	testutil.Eventually(t, 30*time.Second, "back-off in /v2/queue", func() bool {
		_, b := u.do("GET", "/v2/queue", "")
		return strings.Contains(string(b), `"overdue":false`) && strings.Contains(string(b), `"/flap"`)
	})

	// Bad input.
	cases := []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"POST", "/v2/apps", `{"id":`, 400, `"message":"Invalid JSON"`},
		{"POST", "/v2/apps", ``, 400, `Please specify data in JSON format`},
		{"POST", "/v2/apps", `{"id":123}`, 422, `"path":"/id","errors":["error.expected.jsstring"]`},
		{"POST", "/v2/apps", `{"id":"/Dev/web","cmd":"sleep 1"}`, 422, `must fully match regular expression`},
		{"POST", "/v2/apps", `{"id":"/p","cmd":"sleep 1","portDefinitions":[{"port":1},{"port":1}]}`, 422, `Ports must be unique.`},
		{"GET", "/v2/apps/nope", ``, 404, `App '/nope' does not exist`},
		{"GET", "/v2/nothing", ``, 404, `URI not found`},
		{"DELETE", "/v2/apps/sick/tasks/sick.instance-x._app.1?scale=true&wipe=true", ``, 400, `You cannot use scale and wipe at the same time.`},
	}
	for _, c := range cases {
		code, b := u.do(c.method, c.path, c.body)
		if code != c.code || !strings.Contains(string(b), c.want) {
			t.Errorf("%s %s %s: %d %s, want %d %s", c.method, c.path, c.body, code, b, c.code, c.want)
		}
	}
	// A PUT while a deployment runs is locked; force overrides.
	u.do("POST", "/v2/apps", `{"id":"/busy","cmd":"sleep 300","instances":1,"healthChecks":[{"protocol":"COMMAND","command":{"value":"false"},"gracePeriodSeconds":300,"intervalSeconds":60}]}`)
	if code, b := u.do("PUT", "/v2/apps/busy", `{"instances":2}`); code != 409 || !strings.Contains(string(b), `"deployments":[{"id":`) {
		t.Errorf("locked PUT: %d %s", code, b)
	}
	if code, b := u.do("PUT", "/v2/apps/busy?force=true", `{"instances":0}`); code != 200 {
		t.Errorf("forced PUT: %d %s", code, b)
	}
	// A huge instance count neither crashes nor hangs: the runtime runs
	// what it has room for and queues the rest.
	start := time.Now()
	code, b = u.do("POST", "/v2/apps", `{"id":"/huge","cmd":"sleep 300","instances":2000000000,"portDefinitions":[],"cpus":0.01,"taskKillGracePeriodSeconds":0}`)
	if code != 201 || time.Since(start) > 10*time.Second {
		t.Fatalf("huge POST: %d after %v: %s", code, time.Since(start), b)
	}
	testutil.Eventually(t, 30*time.Second, "API answers with huge app queued", func() bool {
		code, b := u.do("GET", "/v2/queue", "")
		return code == 200 && strings.Contains(string(b), `"/huge"`)
	})
	if code, _ := u.do("DELETE", "/v2/apps/huge", ""); code != 200 {
		t.Fatalf("delete huge: %d", code)
	}
}

// TestUpRestartAndNoOrphans: apps persist across a restart, and stopping
// `sextant up` leaves no process behind, even one that ignores SIGTERM.
func TestUpRestartAndNoOrphans(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidDir := t.TempDir()
	u := startUp(t, dir)
	// The shell and its child both ignore SIGTERM (ignored signals are
	// inherited): only SIGKILL after the grace period stops them.
	app := fmt.Sprintf(`{"id":"/stubborn","cmd":"trap '' TERM; sleep 300 & echo $$ $! > %s/$MESOS_TASK_ID; wait; wait","instances":2,
		"cpus":0.1,"portDefinitions":[{"port":0}],"taskKillGracePeriodSeconds":1}`, pidDir)
	if code, b := u.do("POST", "/v2/apps", app); code != 201 {
		t.Fatalf("POST: %d %s", code, b)
	}
	waitPids := func(n int) map[string][]int {
		var pids map[string][]int
		testutil.Eventually(t, 30*time.Second, fmt.Sprintf("%d tasks with pids", n), func() bool {
			pids = readPids(t, pidDir)
			live := 0
			for _, ps := range pids {
				if len(ps) == 2 && pidAlive(ps[0]) && pidAlive(ps[1]) {
					live++
				}
			}
			return live == n
		})
		return pids
	}
	pids := waitPids(2)
	u.stop()
	if exited, err := u.proc.Exited(); !exited || err != nil {
		t.Fatalf("sextant up did not exit cleanly: %v\n%s", err, u.proc.Log)
	}
	assertGone(t, pids, "first run")
	if _, err := os.Stat(filepath.Join(dir, "endpoints.json")); !os.IsNotExist(err) {
		t.Errorf("endpoints.json outlives sextant up: %v", err)
	}
	for _, f := range mustGlob(t, filepath.Join(pidDir, "*")) {
		os.Remove(f)
	}

	// Restart with the same state directory: the app comes back.
	u2 := startUp(t, dir)
	code, b := u2.do("GET", "/v2/apps/stubborn", "")
	if code != 200 || !strings.Contains(string(b), `"instances":2`) {
		t.Fatalf("after restart: %d %s", code, b)
	}
	pids = waitPids(2)
	u2.stop()
	assertGone(t, pids, "second run")
}

// assertGone checks that every process is gone. A process SIGKILLed just
// before sextant exited may take a moment to be torn down on a loaded
// machine, so the check allows a few seconds, then names the survivor.
func assertGone(t *testing.T, pids map[string][]int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var alive []string
		for id, ps := range pids {
			for _, p := range ps {
				if pidAlive(p) {
					stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
					alive = append(alive, fmt.Sprintf("pid %d of task %s: %s", p, id, strings.TrimSpace(string(stat))))
				}
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: orphans survived shutdown:\n%s", what, strings.Join(alive, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustGlob(t *testing.T, p string) []string {
	m, err := filepath.Glob(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestUpPortInUse: a busy port is a clear error naming the flag.
func TestUpPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	bin := testutil.Binary(t)
	cmd := exec.Command(bin, "up", "--state-dir", t.TempDir(), "--no-examples", "--marathon-addr", testutil.FreeAddr(t),
		"--mesos-addr", ln.Addr().String(), "--dns-addr", testutil.FreeAddr(t), "--mesos-dns-http-addr", testutil.FreeAddr(t))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("want a failure, got success:\n%s", out)
	}
	if !strings.Contains(string(out), "--mesos-addr") {
		t.Fatalf("error must name the flag:\n%s", out)
	}
}

// TestAppCommand drives `sextant app` against a running `sextant up`,
// finding the API through endpoints.json in the state directory.
func TestAppCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	u := startUp(t, dir)
	bin := testutil.Binary(t)
	app := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"app", "--state-dir", dir}, args...)...).CombinedOutput()
		return string(out), err
	}
	f := filepath.Join(t.TempDir(), "hello.json")
	if err := os.WriteFile(f, []byte(`{"id":"/tools/hello","cmd":"echo hello from $MESOS_TASK_ID; echo oops >&2; exec sleep 300","cpus":0.01,"taskKillGracePeriodSeconds":0}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := app("add", f); err != nil || !strings.Contains(out, "created /tools/hello") {
		t.Fatalf("add: %v %s", err, out)
	}
	var taskID string
	testutil.Eventually(t, 30*time.Second, "task in app show --json", func() bool {
		out, err := app("show", "/tools/hello", "--json")
		if err != nil {
			return false
		}
		var r struct {
			App struct {
				Tasks []struct {
					ID    string `json:"id"`
					State string `json:"state"`
				} `json:"tasks"`
			} `json:"app"`
		}
		if json.Unmarshal([]byte(out), &r) != nil || len(r.App.Tasks) != 1 || r.App.Tasks[0].State != "TASK_RUNNING" {
			return false
		}
		taskID = r.App.Tasks[0].ID
		return true
	})
	// The runtime's metrics and health are on the Marathon address; the
	// health lists the sources behind the roles: Mesos and Marathon first,
	// then the node DNS role's items (gossip source).
	testutil.Eventually(t, 30*time.Second, "/health 200 with both sources ok, and /metrics", func() bool {
		h, err := http.Get(u.eps["marathon"] + "/health")
		if err != nil {
			return false
		}
		var body struct {
			Status  string `json:"status"`
			Sources []struct {
				Name, State string
			} `json:"sources"`
		}
		err = json.NewDecoder(h.Body).Decode(&body)
		h.Body.Close()
		if err != nil || h.StatusCode != 200 || body.Status != "ok" || len(body.Sources) < 2 ||
			body.Sources[0].Name != "mesos" || body.Sources[1].Name != "marathon" || body.Sources[0].State != "ok" || body.Sources[1].State != "ok" {
			return false
		}
		r2, err := http.Get(u.eps["marathon"] + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(r2.Body)
		r2.Body.Close()
		return strings.Contains(string(b), "sextant_runtime_tasks_launched_total")
	})
	if out, err := app("list"); err != nil || !strings.Contains(out, "/tools/hello") || !strings.Contains(out, "INSTANCES") {
		t.Fatalf("list: %v %s", err, out)
	}
	testutil.Eventually(t, 10*time.Second, "logs", func() bool {
		out, err := app("logs", taskID)
		errOut, err2 := app("logs", "--stream", "stderr", taskID)
		return err == nil && err2 == nil && strings.Contains(out, "hello from "+taskID) && strings.Contains(errOut, "oops")
	})
	// `sextant dig` finds the DNS role through endpoints.json too.
	testutil.Eventually(t, 30*time.Second, "sextant dig answers", func() bool {
		out, err := exec.Command(bin, "dig", "--state-dir", dir, "hello.tools.marathon.mesos").CombinedOutput()
		return err == nil && strings.Contains(string(out), "127.0.0.1")
	})
	if out, err := app("scale", "/tools/hello", "0", "--force"); err != nil || !strings.Contains(out, "scaled") {
		t.Fatalf("scale: %v %s", err, out)
	}
	if out, err := app("rm", "/tools/hello"); err != nil || !strings.Contains(out, "removed") {
		t.Fatalf("rm: %v %s", err, out)
	}
	if out, err := app("show", "/tools/hello"); err == nil || !strings.Contains(out, "does not exist") {
		t.Fatalf("show after rm: %v %s", err, out)
	}
}

// TestUpClosedLogAndHangup: a reader of sextant's log that goes away
// (`sextant up | head`) must not kill it, and a hang-up of its terminal
// stops it like SIGTERM: either way its tasks must not outlive it.
func TestUpClosedLogAndHangup(t *testing.T) {
	t.Parallel()
	dir, pidDir := t.TempDir(), t.TempDir()
	fa := func() string { return testutil.FreeAddr(t) }
	cmd := exec.Command(testutil.Binary(t), "up", "--state-dir", dir, "--no-examples", "--marathon-addr", fa(), "--mesos-addr", fa(),
		"--dns-addr", fa(), "--mesos-dns-http-addr", fa(), "--node-dns-addr", fa(), "--net-api-addr", fa(), "--gateway-addr", fa(), "--l4lb-loopback")
	cmd.Stdout = io.Discard
	logs, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	u := &upInstance{t: t, stateDir: dir, proc: testutil.StartProcess(t, cmd)}
	// Read the log until sextant is up, then stop reading for good.
	go func() { _, _ = io.Copy(io.Discard, logs) }()
	u.proc.Eventually(30*time.Second, "endpoints.json", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "endpoints.json"))
		return err == nil && json.Unmarshal(b, &u.eps) == nil && testutil.HTTPOK(u.eps["marathon"]+"/ping")
	})
	logs.Close()
	app := fmt.Sprintf(`{"id":"/quiet","cmd":"echo $$ > %s/$MESOS_TASK_ID; exec sleep 300","cpus":0.01,"portDefinitions":[],"taskKillGracePeriodSeconds":1}`, pidDir)
	if code, b := u.do("POST", "/v2/apps", app); code != 201 {
		t.Fatalf("POST: %d %s", code, b)
	}
	var pids map[string][]int
	u.proc.Eventually(30*time.Second, "the task's pid", func() bool {
		pids = readPids(t, pidDir)
		return len(pids) == 1
	})
	// The launch and the DNS reloads have written log lines by now; give
	// a few more a chance, then sextant must still answer.
	time.Sleep(2 * time.Second)
	if exited, err := u.proc.Exited(); exited {
		t.Fatalf("sextant up died once its log reader went away: %v", err)
	}
	if !testutil.HTTPOK(u.eps["marathon"] + "/ping") {
		t.Fatal("sextant up does not answer once its log reader went away")
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-u.proc.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("no exit 60s after SIGHUP")
	}
	if _, err := u.proc.Exited(); err != nil {
		t.Fatalf("exit after SIGHUP: %v", err)
	}
	assertGone(t, pids, "after SIGHUP")
}

// TestUpHealthAwareNames: an app whose HTTP health check starts failing
// leaves the node DNS answers and the Mesos-DNS role's .mesos answers
// within about a second of Marathon seeing it unhealthy, and comes back
// when healthy. Marathon's verdict reaches the model through the Marathon
// source (the Mesos state's health is turned off with --publish-health=false).
func TestUpHealthAwareNames(t *testing.T) {
	testutil.NeedTool(t, "python3")
	dig := testutil.NeedTool(t, "dig")
	t.Parallel()
	u := startUp(t, t.TempDir(), "--publish-health=false")
	www := t.TempDir()
	ok := filepath.Join(www, "ok")
	if err := os.WriteFile(ok, []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A high failure limit: the task stays, unhealthy, instead of being
	// replaced.
	code, b := u.do("POST", "/v2/apps", `{"id":"/flaky","cmd":"cd `+www+` && exec python3 -m http.server $PORT0 --bind 127.0.0.1",
		"cpus":0.1,"labels":{"HAPROXY_GROUP":"external"},"portDefinitions":[{"port":0,"name":"http"}],
		"healthChecks":[{"protocol":"HTTP","path":"/ok","portIndex":0,"gracePeriodSeconds":0,"intervalSeconds":1,"timeoutSeconds":1,"maxConsecutiveFailures":1000}],
		"taskKillGracePeriodSeconds":1}`)
	if code != 201 {
		t.Fatalf("POST: %d %s", code, b)
	}
	mesosName, nodeName := "flaky.marathon.mesos", "flaky.marathon.agentip.dcos.thisdcos.directory"
	answers := func() (mesos, node bool) {
		return digA(dig, u.eps["dns"], mesosName) != "", digA(dig, u.eps["node_dns"], nodeName) != ""
	}
	healthy := func(want bool) bool {
		ts := u.tasks("/flaky")
		return len(ts) == 1 && len(ts[0].HealthCheckResults) > 0 && ts[0].HealthCheckResults[0].Alive == want
	}
	testutil.Eventually(t, 60*time.Second, "healthy task in both DNS roles", func() bool {
		m, n := answers()
		return healthy(true) && m && n
	})

	// measure polls Marathon's verdict and both DNS roles; it returns how
	// long after Marathon reported the change the names followed.
	measure := func(what string, wantHealthy, wantAnswers bool) time.Duration {
		t.Helper()
		var seen time.Time
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if seen.IsZero() && healthy(wantHealthy) {
				seen = time.Now()
			}
			m, n := answers()
			if m == wantAnswers && n == wantAnswers {
				if seen.IsZero() {
					return 0 // the names followed before our poll saw the verdict
				}
				return time.Since(seen)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: names did not follow within 60s (Marathon saw it: %v)\n%s", what, !seen.IsZero(), u.proc.Log)
		return 0
	}
	if err := os.Remove(ok); err != nil {
		t.Fatal(err)
	}
	gone := measure("unhealthy", false, false)
	if err := os.WriteFile(ok, []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	back := measure("healthy again", true, true)
	t.Logf("names left %v and came back %v after Marathon's health verdict changed", gone, back)
	// The goal is one second; a loaded 2-core machine gets a generous
	// margin before this fails.
	if gone > 5*time.Second || back > 5*time.Second {
		t.Fatalf("names followed health after %v / %v, want about 1s", gone, back)
	}
}

// TestUpCrashLoopIsVisible: an app whose command exits at once restarts
// with back-off; its exits show in the log (app, task, exit code, next
// launch delay) and in `sextant app show` and `app list`, the state
// directory keeps a bounded number of its sandboxes, and another app runs
// on untouched.
func TestUpCrashLoopIsVisible(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	u := startUp(t, dir)
	bin := testutil.Binary(t)
	if code, b := u.do("POST", "/v2/apps", `{"id":"/steady","cmd":"exec sleep 300","cpus":0.01,"portDefinitions":[],"taskKillGracePeriodSeconds":0}`); code != 201 {
		t.Fatalf("POST steady: %d %s", code, b)
	}
	var steady string
	testutil.Eventually(t, 30*time.Second, "the steady task", func() bool {
		ts := u.tasks("/steady")
		if len(ts) == 1 && ts[0].State == "TASK_RUNNING" {
			steady = ts[0].ID
		}
		return steady != ""
	})
	if code, b := u.do("POST", "/v2/apps", `{"id":"/crashy","cmd":"exit 1","cpus":0.01,"portDefinitions":[],"backoffSeconds":1,"backoffFactor":1}`); code != 201 {
		t.Fatalf("POST crashy: %d %s", code, b)
	}
	failedRE := regexp.MustCompile(`sextant_runtime_tasks_terminal_total\{state="TASK_FAILED"\} (\d+)`)
	failed := func() int {
		resp, err := http.Get(u.eps["marathon"] + "/metrics")
		if err != nil {
			return 0
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := failedRE.FindSubmatch(b)
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	// More exits than the sandboxes kept per app (5).
	u.proc.Eventually(90*time.Second, "eight failed tasks", func() bool { return failed() >= 8 })

	lineRE := regexp.MustCompile(`level=WARN msg="task failed" .*app=/crashy task=crashy\.instance-\S+ state=TASK_FAILED exit_code=1 next_launch_in=(\S+)`)
	lines := lineRE.FindAllStringSubmatch(u.proc.Log.String(), -1)
	if len(lines) < 3 || lines[0][1] == "none" {
		t.Fatalf("want the exits in the log with the next launch delay:\n%s", u.proc.Log)
	}
	if len(lines) >= failed() {
		t.Errorf("%d log lines for %d exits: not rate-limited", len(lines), failed())
	}

	app := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"app", "--state-dir", dir}, args...)...).Output()
		if err != nil {
			t.Fatalf("app %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// The task lives for milliseconds of every second: a show that lands
	// on it sees no launch waiting, so look a few times.
	var show string
	lastExit := regexp.MustCompile(`(?m)^last exit: +\S+ \(\d+s ago\): task crashy\.instance-\S+ TASK_FAILED: Command exited with status 1$`)
	nextLaunch := regexp.MustCompile(`(?m)^next launch: +(in \d+s \(launch back-off\)|due now), 1 instance\(s\) waiting$`)
	deadline := time.Now().Add(30 * time.Second)
	for show = app("show", "/crashy"); !lastExit.MatchString(show) || !nextLaunch.MatchString(show); show = app("show", "/crashy") {
		if time.Now().After(deadline) {
			t.Fatalf("app show does not show the last exit and the delay:\n%s", show)
		}
		time.Sleep(200 * time.Millisecond)
	}
	list := app("list")
	if !regexp.MustCompile(`(?m)^/crashy .* exit 1, \d+s ago `).MatchString(list) || !strings.Contains(list, "LAST EXIT") || !strings.Contains(list, "DELAY") {
		t.Errorf("app list does not show the last exit:\n%s", list)
	}
	if !regexp.MustCompile(`(?m)^/steady .* - +- +exec sleep 300$`).MatchString(list) {
		t.Errorf("app list shows an exit of the steady app:\n%s", list)
	}

	// Bounded sandboxes: the last 5 finished, and at most one live.
	n := 0
	for _, e := range mustGlob(t, filepath.Join(dir, "tasks", "crashy.instance-*")) {
		if st, err := os.Stat(e); err == nil && st.IsDir() {
			n++
		}
	}
	if n == 0 || n > 6 {
		t.Errorf("%d sandboxes of /crashy after %d exits, want 1 to 6", n, failed())
	}
	if ts := u.tasks("/steady"); len(ts) != 1 || ts[0].ID != steady || ts[0].State != "TASK_RUNNING" {
		t.Errorf("the steady app was affected: %+v", ts)
	}
	if strings.Contains(u.proc.Log.String(), "app=/steady") {
		t.Errorf("the steady app's task was logged as ending:\n%s", u.proc.Log)
	}
}
