// Package discover measures time to discoverability on `sextant up`: from
// the POST of an app to the first DNS answer naming its task, and from a
// task's death to the removal of its record. Run with
//
//	go test -run '^$' -bench Discovery -benchtime 1x ./bench/discover
//
// (SEXTANT_BIN selects the binary; SEXTANT_DISCOVER_RUNS the number of
// runs, default 50).
package discover

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/testutil"
)

type cluster struct {
	eps map[string]string
}

func startUp(b *testing.B) *cluster {
	bin := testutil.Binary(b)
	dir := b.TempDir()
	fa := func() string { return testutil.FreeAddr(b) }
	cmd := exec.Command(bin, "up", "--state-dir", dir, "--no-examples", "--marathon-addr", fa(),
		"--mesos-addr", fa(), "--dns-addr", fa(), "--mesos-dns-http-addr", fa(),
		"--node-dns-addr", fa(), "--net-api-addr", fa(), "--gateway-addr", fa(), "--log-level", "warn", "--l4lb-loopback")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	p := testutil.StartProcess(b, cmd)
	c := &cluster{}
	p.Eventually(30*time.Second, "endpoints.json", func() bool {
		raw, err := os.ReadFile(filepath.Join(dir, "endpoints.json"))
		return err == nil && json.Unmarshal(raw, &c.eps) == nil
	})
	return c
}

func (c *cluster) do(b *testing.B, method, path, body string) []byte {
	req, _ := http.NewRequest(method, c.eps["marathon"]+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
	}
	return out
}

// srvPorts asks the DNS role for an SRV name and returns the target ports.
func srvPorts(cl *dns.Client, server, name string) []uint16 {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeSRV)
	r, _, err := cl.Exchange(m, server)
	if err != nil || r == nil {
		return nil
	}
	var out []uint16
	for _, rr := range r.Answer {
		if s, ok := rr.(*dns.SRV); ok {
			out = append(out, s.Port)
		}
	}
	return out
}

func has(ps []uint16, p uint16) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

func pct(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p)
	return s[i]
}

func BenchmarkDiscovery(b *testing.B) {
	runs := 50
	if v, err := strconv.Atoi(os.Getenv("SEXTANT_DISCOVER_RUNS")); err == nil && v > 0 {
		runs = v
	}
	c := startUp(b)
	cl := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	pidDir := b.TempDir()
	var appear, vanish []time.Duration
	const poll = 2 * time.Millisecond
	const bound = 30 * time.Second
	b.ResetTimer()
	for i := 0; i < runs; i++ {
		id := fmt.Sprintf("/bench/d%d", i)
		name := fmt.Sprintf("_d%d.bench._tcp.marathon.mesos", i)
		app := fmt.Sprintf(`{"id":%q,"cmd":"echo $$ > %s/$MESOS_TASK_ID; exec sleep 600","cpus":0.01,"mem":8,
			"portDefinitions":[{"port":0,"name":"p"}],"taskKillGracePeriodSeconds":0,"backoffSeconds":30}`, id, pidDir)
		t0 := time.Now()
		c.do(b, "POST", "/v2/apps", app)
		var port uint16
		for time.Since(t0) < bound {
			if ps := srvPorts(cl, c.eps["dns"], name); len(ps) > 0 {
				port = ps[0]
				break
			}
			time.Sleep(poll)
		}
		if port == 0 {
			b.Fatalf("run %d: no DNS answer for %s within %v", i, name, bound)
		}
		appear = append(appear, time.Since(t0))

		// Kill the task's process from outside and wait for its record to go.
		var tasks struct {
			Tasks []struct {
				ID string `json:"id"`
			} `json:"tasks"`
		}
		_ = json.Unmarshal(c.do(b, "GET", "/v2/apps"+id+"/tasks", ""), &tasks)
		if len(tasks.Tasks) != 1 {
			b.Fatalf("run %d: %d tasks", i, len(tasks.Tasks))
		}
		var pid int
		testutil.Eventually(b, 10*time.Second, "pid file", func() bool {
			raw, err := os.ReadFile(filepath.Join(pidDir, tasks.Tasks[0].ID))
			pid, _ = strconv.Atoi(strings.TrimSpace(string(raw)))
			return err == nil && pid > 0
		})
		t1 := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		gone := false
		for time.Since(t1) < bound {
			if !has(srvPorts(cl, c.eps["dns"], name), port) {
				gone = true
				break
			}
			time.Sleep(poll)
		}
		if !gone {
			b.Fatalf("run %d: record still served %v after the task died", i, bound)
		}
		vanish = append(vanish, time.Since(t1))
		c.do(b, "DELETE", "/v2/apps"+id, "")
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(pct(appear, 0.5)), "appear-p50-ms")
	b.ReportMetric(ms(pct(appear, 0.99)), "appear-p99-ms")
	b.ReportMetric(ms(pct(vanish, 0.5)), "vanish-p50-ms")
	b.ReportMetric(ms(pct(vanish, 0.99)), "vanish-p99-ms")
	b.Logf("runs=%d appear p50=%v p99=%v max=%v; vanish p50=%v p99=%v max=%v", runs,
		pct(appear, 0.5), pct(appear, 0.99), pct(appear, 1), pct(vanish, 0.5), pct(vanish, 0.99), pct(vanish, 1))
}
