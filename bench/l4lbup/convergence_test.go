// Package l4lbup measures the VIP load balancer of `sextant up` end to
// end: from a task's death to the moment its VIP stops sending new
// connections to it, through the whole pipeline (the runtime's operator
// event stream, the Mesos source, the hub, the l4lb consumer, the plane's
// sync). Run as root:
//
//	go test -run '^$' -bench Convergence -benchtime 1x -v ./bench/l4lbup
//
// `sextant up` runs inside a network namespace the benchmark creates
// (only loopback), with the nftables plane, or the userspace plane with
// SEXTANT_L4LBUP_PLANE=userspace; SEXTANT_L4LBUP_RUNS sets the runs
// (default 5); SEXTANT_BIN the binary.
//
// Two figures per run: when /v1/vips stops listing the killed task as up
// (an upper bound: each poll spawns curl in the namespace), and the last
// new connection that failed after the kill (nftables sends a connection
// to a dead backend, which resets it; the userspace plane retries another
// backend, so its clients see no failure at all). The app's replacement
// task starts 5 s after the kill, after the probe: a task that has just
// started counts as serving until Marathon lists it with its health
// checks, and would get connections before it listens.
package l4lbup

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/testutil"
)

type upNS struct {
	b        *testing.B
	ns       string
	stateDir string
}

func (u *upNS) exec(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", u.ns}, args...)...)
}

func (u *upNS) curl(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	out, err := u.exec(ctx, append([]string{"curl", "-sS", "-f", "--max-time", fmt.Sprint(timeout.Seconds())}, args...)...).CombinedOutput()
	return string(out), err
}

type apiVIP struct {
	VIP     string   `json:"vip"`
	Listen  []string `json:"listen"`
	Backend []struct {
		TaskID string `json:"task_id"`
		State  string `json:"state"`
	} `json:"backend"`
}

func (u *upNS) vips() []apiVIP {
	out, err := u.curl(3*time.Second, "http://127.0.0.1:62080/v1/vips")
	if err != nil {
		return nil
	}
	var v []apiVIP
	_ = json.Unmarshal([]byte(out), &v)
	return v
}

// upTasks returns the task ids of the VIP's backends that are up.
func (u *upNS) upTasks() ([]string, string) {
	for _, v := range u.vips() {
		if !strings.HasPrefix(v.VIP, "conv.marathon.") || len(v.Listen) == 0 {
			continue
		}
		var ids []string
		for _, b := range v.Backend {
			if b.State == "up" {
				ids = append(ids, b.TaskID)
			}
		}
		slices.Sort(ids)
		return ids, v.Listen[0]
	}
	return nil, ""
}

func BenchmarkConvergence(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: a network namespace")
	}
	for _, tool := range []string{"ip", "curl", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("needs %s", tool)
		}
	}
	plane := os.Getenv("SEXTANT_L4LBUP_PLANE")
	if plane == "" {
		plane = "nftables"
	}
	runs := 5
	if n, err := strconv.Atoi(os.Getenv("SEXTANT_L4LBUP_RUNS")); err == nil && n > 0 {
		runs = n
	}
	bin := testutil.Binary(b)
	u := &upNS{b: b, ns: fmt.Sprintf("sxb-l4lbup-%d", rand.IntN(1_000_000)), stateDir: b.TempDir()}
	if out, err := exec.Command("ip", "netns", "add", u.ns).CombinedOutput(); err != nil {
		b.Skipf("ip netns add: %v %s", err, out)
	}
	b.Cleanup(func() { _ = exec.Command("ip", "netns", "del", u.ns).Run() })
	if out, err := exec.Command("ip", "netns", "exec", u.ns, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		b.Fatalf("lo up: %v %s", err, out)
	}
	p := testutil.StartProcess(b, u.exec(context.Background(), bin, "up", "--state-dir", u.stateDir, "--no-examples",
		"--l4lb-plane", plane, "--log-level", "info"))
	p.Eventually(60*time.Second, "Marathon", func() bool {
		_, err := u.curl(2*time.Second, "http://127.0.0.1:8080/ping")
		return err == nil
	})
	app := `{"id": "/conv", "cmd": "echo $MESOS_TASK_ID > id && exec python3 -m http.server $PORT0", "instances": 2,
  "cpus": 0.1, "mem": 32, "portDefinitions": [{"port": 0, "protocol": "tcp", "labels": {"VIP_0": "/conv:8080"}}],
  "healthChecks": [{"protocol": "HTTP", "path": "/id", "portIndex": 0, "gracePeriodSeconds": 10,
    "intervalSeconds": 1, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}], "taskKillGracePeriodSeconds": 1, "backoffSeconds": 5, "backoffFactor": 1, "maxLaunchDelaySeconds": 5}`
	if out, err := u.curl(10*time.Second, "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", app, "http://127.0.0.1:8080/v2/apps"); err != nil {
		b.Fatalf("POST app: %v %s", err, out)
	}

	var viaAPI, viaClient []time.Duration
	b.ResetTimer()
	for run := 0; run < runs; run++ {
		var ids []string
		var listen string
		p.Eventually(120*time.Second, "two backends up", func() bool {
			ids, listen = u.upTasks()
			return len(ids) == 2
		})
		victim := ids[rand.IntN(2)]
		raw, err := os.ReadFile(filepath.Join(u.stateDir, "tasks", victim, "pid"))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil || pid <= 1 {
			b.Fatalf("pid of %s: %v", victim, err)
		}
		// A client in the namespace opens a new connection every 5 ms and
		// prints the time of each failure, for 3 s.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		probe := u.exec(ctx, "python3", "-c", probeScript, listen, "3")
		probeOut := &strings.Builder{}
		probe.Stdout = probeOut
		if err := probe.Start(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		killed := time.Now()
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
			b.Fatalf("kill %d: %v", pid, err)
		}
		// The API's view: the victim no longer up.
		deadline := killed.Add(20 * time.Second)
		for time.Now().Before(deadline) {
			now, _ := u.upTasks()
			if !slices.Contains(now, victim) {
				viaAPI = append(viaAPI, time.Since(killed))
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		_ = probe.Wait()
		cancel()
		// The client's view: the last failed connection after the kill.
		last, probes, failed := time.Duration(0), "", 0
		kinds := map[string]int{}
		for _, line := range strings.Split(probeOut.String(), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if n, ok := strings.CutPrefix(f[0], "n="); ok {
				probes = n
				continue
			}
			failed++
			if len(f) > 1 {
				kinds[f[1]]++
			}
			if ns, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				if d := time.Unix(0, ns).Sub(killed); d > last {
					last = d
				}
			}
		}
		viaClient = append(viaClient, last)
		b.Logf("run %d: %s killed; /v1/vips dropped it after %v; %d of %s new connections in 3 s failed %v, the last %v after the kill",
			run, victim, viaAPI[len(viaAPI)-1], failed, probes, kinds, last)
	}
	b.StopTimer()
	if slices.Max(viaClient) > 0 {
		// Why connections still went to a dead backend: the plane's and the
		// balancer's warnings.
		for _, l := range strings.Split(p.Log.String(), "\n") {
			if strings.Contains(l, "l4lb") && (strings.Contains(l, "WARN") || strings.Contains(l, "ERROR")) {
				b.Log(l)
			}
		}
	}
	med := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	b.ReportMetric(float64(med(viaAPI).Milliseconds()), "ms-api-median")
	b.ReportMetric(float64(med(viaClient).Milliseconds()), "ms-client-median")
	b.ReportMetric(float64(slices.Max(viaClient).Milliseconds()), "ms-client-max")
	b.Logf("plane %s, %d runs: /v1/vips %v, client %v", plane, runs, viaAPI, viaClient)
}

// probeScript connects to argv[1] (host:port) every 5 ms for argv[2]
// seconds, each a new TCP connection sending an HTTP request, and prints
// the wall-clock time (ns) of each failure.
const probeScript = `
import socket, sys, time
host, port = sys.argv[1].rsplit(':', 1)
end = time.time() + float(sys.argv[2])
n = 0
while time.time() < end:
    n += 1
    t = time.time_ns()
    try:
        s = socket.create_connection((host, int(port)), timeout=1)
        s.sendall(b'GET /id HTTP/1.0\r\n\r\n')
        if not s.recv(64):
            raise OSError('empty')
        s.close()
    except OSError as e:
        print(t, type(e).__name__, flush=True)
    time.sleep(0.005)
print('n=%d' % n, flush=True)
`
