package haproxy_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/edge"
)

// wrkFailures reads wrk's summary: requests, and every kind of failure
// it reports (socket errors, non-2xx/3xx answers).
func wrkFailures(t *testing.T, out string) (requests, failures int) {
	t.Helper()
	m := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no request count in wrk's output:\n%s", out)
	}
	requests, _ = strconv.Atoi(m[1])
	if m := regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`).FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			failures += n
		}
	}
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindStringSubmatch(out); m != nil {
		n, _ := strconv.Atoi(m[1])
		failures += n
	}
	return requests, failures
}

// TestEngineZeroFailuresUnderLoad: under a bounded wrk load through :80,
// 20 redeploys (two new tasks in, the two old ones drained out) and
// scalings (one task more, one task less) of an app fail no request, and
// HAProxy is never reloaded: every change goes through the runtime API.
func TestEngineZeroFailuresUnderLoad(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed (Debian package wrk, in the Makefile's TEST_DEBS)")
	}
	r := newEngineRig(t)
	n := 0
	type backend struct {
		srv *httptest.Server
		hp  string
	}
	start := func() backend {
		n++
		name := fmt.Sprintf("task%d", n)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, name) }))
		t.Cleanup(srv.Close)
		return backend{srv, strings.TrimPrefix(srv.URL, "http://")}
	}
	vhost := map[string]string{"HAPROXY_0_VHOST": "web.example.com"}
	apply := func(bs []backend) {
		hps := make([]string, len(bs))
		for i, b := range bs {
			hps[i] = b.hp
		}
		r.apply(webApp("/web", 10001, vhost, hps...))
	}
	servers := func() int {
		c := 0
		for _, row := range r.e.Stats() {
			if row.PxName == "web_10001" && row.Type == edge.StatServer {
				c++
			}
		}
		return c
	}
	// stopDrained stops old tasks once the engine has deleted their
	// servers (their last session ended), as zdd kills drained tasks.
	stopDrained := func(old []backend, want int) {
		deadline := time.Now().Add(60 * time.Second)
		for servers() != want {
			if time.Now().After(deadline) {
				t.Fatalf("web_10001 has %d servers, want %d", servers(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, b := range old {
			b.srv.Close()
		}
	}
	cur := []backend{start(), start()}
	apply(cur)
	r.eventually("web.example.com", "task1", "task2")
	reloads := r.counter("sextant_edge_haproxy_reloads_total", "")

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	wrkOut := make(chan string, 1)
	go func() {
		out, _ := exec.CommandContext(ctx, wrk, "-t1", "-c8", "-d25s", "--timeout", "10s",
			"-H", "Host: web.example.com", "http://"+r.addr(80)+"/").CombinedOutput()
		wrkOut <- string(out)
	}()
	time.Sleep(time.Second)
	for i := range 20 {
		switch i % 4 {
		case 0, 2: // redeploy: two new tasks, then the old ones out
			next := []backend{start(), start()}
			apply(append(append([]backend{}, cur...), next...))
			apply(next)
			stopDrained(cur, len(next))
			cur = next
		case 1: // scale up
			cur = append(cur, start())
			apply(cur)
		case 3: // scale down
			old := cur[len(cur)-1]
			cur = cur[:len(cur)-1]
			apply(cur)
			stopDrained([]backend{old}, len(cur))
		}
		time.Sleep(300 * time.Millisecond)
	}
	out := <-wrkOut
	requests, failures := wrkFailures(t, out)
	t.Logf("wrk: %d requests, %d failed, over 20 changes\n%s", requests, failures, out)
	if requests == 0 || failures != 0 {
		t.Fatalf("%d of %d requests failed", failures, requests)
	}
	if got := r.counter("sextant_edge_haproxy_reloads_total", ""); got != reloads {
		t.Fatalf("HAProxy reloaded %v times during the changes, want 0", got-reloads)
	}
	if got := r.counter("sextant_edge_haproxy_applies_total", "runtime"); got < 20 {
		t.Fatalf("%v runtime applies, want at least 20", got)
	}
}
