package runtime

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sextantdc/sextant/internal/marathon"
	"github.com/sextantdc/sextant/internal/testutil"
)

func TestExitLogRateLimit(t *testing.T) {
	t0 := time.Unix(1_900_000_000, 0)
	type ev struct {
		at       time.Duration
		logged   bool
		unlogged int
	}
	for _, c := range []struct {
		name string
		evs  []ev
	}{
		{"a burst, then held back", []ev{{0, true, 0}, {100 * time.Millisecond, true, 0}, {200 * time.Millisecond, true, 0},
			{300 * time.Millisecond, false, 0}, {400 * time.Millisecond, false, 0}}},
		{"the next line counts the held-back exits", []ev{{0, true, 0}, {0, true, 0}, {0, true, 0}, {time.Second, false, 0},
			{2 * time.Second, false, 0}, {10 * time.Second, true, 2}}},
		{"exits further apart than the refill are all logged", []ev{{0, true, 0}, {0, true, 0}, {0, true, 0},
			{10 * time.Second, true, 0}, {20 * time.Second, true, 0}, {30 * time.Second, true, 0}}},
		{"the bucket refills to the burst only", []ev{{0, true, 0}, {time.Hour, true, 0}, {time.Hour, true, 0},
			{time.Hour, true, 0}, {time.Hour, false, 0}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var el exitLog
			for i, e := range c.evs {
				ok, n := el.allow(t0.Add(e.at))
				if ok != e.logged || n != e.unlogged {
					t.Fatalf("exit %d at %v: logged %v unlogged %d, want %v %d", i, e.at, ok, n, e.logged, e.unlogged)
				}
			}
		})
	}
}

// TestCrashLoopIsLoggedAndBounded: an app whose command exits at once
// restarts; its exits are logged with the exit code and the next launch
// delay, rate-limited, and only the last KeepSandboxes of its sandboxes
// stay. Another app runs on, untouched.
func TestCrashLoopIsLoggedAndBounded(t *testing.T) {
	dir := t.TempDir()
	logs := &testutil.LogBuffer{}
	rt, err := New(Config{StateDir: dir, MaxTasks: 8, KeepSandboxes: 2, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = rt.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	if _, _, err := rt.CreateApp(mustApp(t, `{"id":"/steady","cmd":"exec sleep 300","portDefinitions":[],"taskKillGracePeriodSeconds":0}`), nil); err != nil {
		t.Fatal(err)
	}
	// No back-off: the loop runs as fast as the runtime relaunches.
	if _, _, err := rt.CreateApp(mustApp(t, `{"id":"/crash","cmd":"exit 3","portDefinitions":[],"backoffSeconds":0}`), nil); err != nil {
		t.Fatal(err)
	}
	failed := func() float64 { return counterValue(t, rt, "TASK_FAILED") }
	testutil.Eventually(t, 60*time.Second, "ten failed tasks", func() bool { return failed() >= 10 })

	var steady string
	ts, _ := rt.Tasks("/steady", nil, false)
	if len(ts) != 1 || ts[0]["state"] != "TASK_RUNNING" {
		t.Fatalf("the other app: %v", ts)
	}
	steady = ts[0]["id"].(string)

	lines := regexp.MustCompile(`(?m)^.*msg="task failed" app=/crash task=crash\.instance-\S+ state=TASK_FAILED exit_code=3 next_launch_in=\S+.*$`).FindAllString(logs.String(), -1)
	if len(lines) < 3 {
		t.Fatalf("want at least the burst of 3 exit lines, got:\n%s", logs)
	}
	if float64(len(lines)) >= failed() {
		t.Errorf("%d lines for %v exits: not rate-limited", len(lines), failed())
	}
	if strings.Contains(logs.String(), "app=/steady") {
		t.Errorf("the steady app's task was logged as ending:\n%s", logs)
	}
	// Only the last KeepSandboxes finished ones (and a live one) remain.
	sandboxes := func(app string) int {
		n := 0
		es, _ := os.ReadDir(filepath.Join(dir, "tasks"))
		for _, e := range es {
			if p, err := marathon.ParseTaskID(e.Name()); err == nil && p.AppID == app {
				n++
			}
		}
		return n
	}
	if n := sandboxes("/crash"); n > 3 {
		t.Errorf("%d sandboxes of /crash, want at most 2 finished + 1 live", n)
	}
	if _, ok := rt.TaskSandbox(steady); !ok || sandboxes("/steady") != 1 {
		t.Errorf("the steady app's sandbox is gone")
	}
	v, _ := rt.AppView("/crash", ViewOptions{LastTaskFailure: true})
	if f, ok := v["lastTaskFailure"].(*taskFailure); !ok || f.Message != "Command exited with status 3" || f.State != "TASK_FAILED" {
		t.Errorf("lastTaskFailure: %#v", v["lastTaskFailure"])
	}
}

// TestPruneSandboxesPerApp: at start each app keeps its newest sandboxes
// from earlier runs, and those count towards the bound afterwards.
func TestPruneSandboxesPerApp(t *testing.T) {
	dir := t.TempDir()
	base := time.Now().Add(-time.Hour)
	mk := func(app string, i int) string {
		inst := marathon.NewInstanceID(app)
		p := filepath.Join(dir, "tasks", marathon.TaskID(inst, 1))
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		at := base.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var a, b []string
	for i := range 4 {
		a = append(a, mk("/a", i))
		b = append(b, mk("/group/b", i))
	}
	odd := filepath.Join(dir, "tasks", "not-a-task-id")
	if err := os.MkdirAll(odd, 0o755); err != nil {
		t.Fatal(err)
	}
	rt, err := New(Config{StateDir: dir, KeepSandboxes: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		kept bool
	}{{a[0], false}, {a[1], false}, {a[2], true}, {a[3], true}, {b[1], false}, {b[2], true}, {b[3], true}, {odd, true}} {
		if _, err := os.Stat(c.path); (err == nil) != c.kept {
			t.Errorf("%s: kept %v, want %v", filepath.Base(c.path), err == nil, c.kept)
		}
	}
	if got := rt.finished["/a"]; len(got) != 2 || got[0] != a[2] || got[1] != a[3] {
		t.Errorf("kept for /a, oldest first: %v", got)
	}
}

func counterValue(t *testing.T, rt *Runtime, state string) float64 {
	t.Helper()
	return promtest.ToFloat64(rt.m.terminal.WithLabelValues(state))
}
