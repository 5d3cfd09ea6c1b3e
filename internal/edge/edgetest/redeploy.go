package edgetest

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// RunRedeploys redeploys an app 20 times under a bounded wrk load — new
// tasks join the configuration, the old ones leave it and then stop
// gracefully, with scalings to one and three tasks on the way — and
// fails on any failed request: a socket error or a status other than
// 2xx/3xx.
func RunRedeploys(t *testing.T, f Factory) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk not installed (Debian package wrk)")
	}
	e := NewEnv(t, f)
	sp := FreePort(t)
	labels := map[string]string{"HAPROXY_0_VHOST": "load.example.com"}
	apply := func(bs []*Backend) { e.Apply(App("/load", sp, labels, Ports(bs...)...)) }
	live := []*Backend{StartBackend(t, "v0-0"), StartBackend(t, "v0-1")}
	apply(live)
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "load.example.com"}, "before the load", Routed("v0-0", "v0-1"))

	var out bytes.Buffer
	// Long enough for the redeploys on a loaded machine; stopped with
	// SIGINT (wrk then reports) once they are done.
	cmd := exec.Command(wrk, "-t1", "-c8", "-d90s", "-H", "Host: load.example.com", "http://"+e.Addrs.HTTP+"/")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	time.Sleep(500 * time.Millisecond)
	served := 0
	for i := 1; i <= 20; i++ {
		n := 2
		switch i % 5 {
		case 0:
			n = 3
		case 2:
			n = 1
		}
		var next []*Backend
		for k := range n {
			next = append(next, StartBackend(t, "v"+strconv.Itoa(i)+"-"+strconv.Itoa(k)))
		}
		apply(append(append([]*Backend{}, live...), next...))
		time.Sleep(100 * time.Millisecond)
		apply(next)
		time.Sleep(100 * time.Millisecond)
		for _, b := range live {
			b.Stop()
			served += int(b.Hits.Load())
		}
		live = next
	}
	time.Sleep(300 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	stopped = true
	report := out.String()
	t.Logf("wrk during 20 redeploys:\n%s", report)
	reqs, failed, err := parseWrk(report)
	if err != nil {
		t.Fatal(err)
	}
	if reqs == 0 || served == 0 {
		t.Fatalf("no load went through (wrk %d requests, old backends served %d)", reqs, served)
	}
	if failed != 0 {
		t.Errorf("%d failed requests of %d during the redeploys", failed, reqs)
	}
}

var (
	wrkTotal  = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads wrk's report: the requests made and those that failed
// (socket errors and non-2xx/3xx responses).
func parseWrk(s string) (int, int, error) {
	m := wrkTotal.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, fmt.Errorf("no request count in wrk's report:\n%s", s)
	}
	total, _ := strconv.Atoi(m[1])
	failed := 0
	if m := wrkNon2xx.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		failed += n
	}
	if m := wrkSocket.FindStringSubmatch(s); m != nil {
		for _, x := range m[1:] {
			n, _ := strconv.Atoi(x)
			failed += n
		}
	}
	return total, failed, nil
}
