package dcosdns

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/testutil"
)

// fakeMesos serves /master/state from a value the test changes. It has no
// operator API, so the masters poll.
type fakeMesos struct {
	*testutil.StateServer
	tasks []testTask
	mu    sync.Mutex
}

func newFakeMesos(t *testing.T) *fakeMesos {
	f := &fakeMesos{StateServer: testutil.NewStateServer(t)}
	f.set(t, nil)
	return f
}

func (f *fakeMesos) add(t *testing.T, task testTask) {
	f.mu.Lock()
	tasks := append(append([]testTask(nil), f.tasks...), task)
	f.mu.Unlock()
	f.set(t, tasks)
}

func (f *fakeMesos) set(t *testing.T, tasks []testTask) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tasks = tasks
	b, err := json.Marshal(testStateLeader(f.Leader(), tasks))
	if err != nil {
		t.Fatal(err)
	}
	f.Set(b)
}

// proc is one sextant process of the test cluster.
type proc struct {
	name   string
	cmd    *exec.Cmd
	dns    string
	api    string
	gossip string
	done   chan struct{}
	stderr *testutil.LogBuffer
}

// startProc runs `sextant <role> args…` and waits for its ready lines.
func startProc(t *testing.T, bin, name, role string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{}), stderr: &testutil.LogBuffer{}}
	p.cmd = exec.Command(bin, append([]string{role}, args...)...)
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	ready := testutil.ReadyLines(t, name, out, 30*time.Second, p.stderr.String)
	p.dns = strings.Split(ready["dns"], ",")[0]
	p.api = ready["api"]
	p.gossip = ready["gossip"]
	return p
}

func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// answers reports whether the node answers name with ip (over UDP).
func (p *proc) answers(name, ip string) bool {
	return testutil.AnswersA(&dns.Client{Timeout: 500 * time.Millisecond}, p.dns, name, ip)
}

func (p *proc) members(t *testing.T) []APINode {
	t.Helper()
	resp, err := http.Get("http://" + p.api + "/v1/nodes")
	if err != nil {
		t.Fatalf("%s /v1/nodes: %v", p.name, err)
	}
	defer resp.Body.Close()
	var out []APINode
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s /v1/nodes: %v", p.name, err)
	}
	return out
}

func writeKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(k)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func taskName(n string) string { return n + ".marathon.containerip.dcos.thisdcos.directory" }

// TestCluster runs three sextant processes on distinct loopback addresses
// (two masters, one agent) in one gossip cluster fed by a static Mesos
// master, and checks spec §0.6/§A.7 behaviour end to end.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	bin := testutil.Binary(t)
	mesos := newFakeMesos(t)
	key := writeKey(t)
	mesos.add(t, testTask{name: "web", ip: "9.0.1.2"})

	common := func(ip string) []string {
		return []string{"--dns-listen", ip + ":0", "--api-addr", ip + ":0", "--gossip-bind", ip + ":0", "--node-ip", ip,
			"--gossip-key-file", key, "--cluster-label", "test-cluster", "--gossip-fast", "--log-level", "debug"}
	}
	master := func(name, ip string, join ...string) *proc {
		args := append(common(ip), "--node-name", name, "--mesos", mesos.HostPort(), "--mesos-refresh", "100ms", "--no-stream",
			"--masters", "127.0.0.2,127.0.0.3")
		for _, j := range join {
			args = append(args, "--join", j)
		}
		return startProc(t, bin, name, "master", args...)
	}
	agent := func(name, ip string, join ...string) *proc {
		args := append(common(ip), "--node-name", name)
		for _, j := range join {
			args = append(args, "--join", j)
		}
		return startProc(t, bin, name, "agent", args...)
	}
	m1 := master("m1", "127.0.0.2")
	m2 := master("m2", "127.0.0.3", m1.gossip)
	a1 := agent("a1", "127.0.0.4", m1.gossip)
	all := []*proc{m1, m2, a1}
	defer func() {
		if t.Failed() {
			for _, p := range all {
				t.Logf("%s stderr:\n%s", p.name, p.stderr.String())
			}
		}
	}()

	waitAll := func(nodes []*proc, name, ip string, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for _, p := range nodes {
			testutil.Eventually(t, within, p.name+" answers "+name, func() bool { return p.answers(name, ip) })
		}
		return time.Since(start)
	}

	// 1. The leader (m1, lowest name) builds the zone; every node answers.
	waitAll(all, taskName("web"), "9.0.1.2", 20*time.Second)
	testutil.Eventually(t, 10*time.Second, "three members", func() bool { return len(a1.members(t)) == 3 })
	// The agent was given no master list: it follows the master members
	// (zk-1…5 cycle over 127.0.0.2 and .3).
	testutil.Eventually(t, 10*time.Second, "a1 zk zone from the gossip masters", func() bool {
		return a1.answers("zk-1.zk", "127.0.0.2") && a1.answers("zk-2.zk", "127.0.0.3") && a1.answers("zk-3.zk", "127.0.0.2")
	})

	// 2. A change spreads to every node (the figure is measured by the
	// benchmark; here the bound is generous for a loaded machine).
	mesos.add(t, testTask{name: "web2", ip: "9.0.1.3"})
	d := waitAll(all, taskName("web2"), "9.0.1.3", 10*time.Second)
	t.Logf("zone change answered by all three nodes after %v (includes the 100 ms poll)", d)

	// 3. Kill the leader: the others keep answering at once.
	m1.kill(syscall.SIGKILL)
	for _, p := range []*proc{m2, a1} {
		// A few tries only: a starved process may miss one 500 ms timeout.
		testutil.Eventually(t, 3*time.Second, p.name+" still answers after the leader died", func() bool {
			return p.answers(taskName("web"), "9.0.1.2")
		})
	}

	// 4. m2 takes over and its next change spreads.
	mesos.add(t, testTask{name: "web3", ip: "9.0.1.4"})
	d = waitAll([]*proc{m2, a1}, taskName("web3"), "9.0.1.4", 20*time.Second)
	t.Logf("new leader's change answered after %v (includes failure detection)", d)

	// 5. A restarted node catches up.
	a1.kill(syscall.SIGTERM)
	a1 = agent("a1", "127.0.0.4", m2.gossip)
	all = append(all, a1)
	waitAll([]*proc{a1}, taskName("web3"), "9.0.1.4", 10*time.Second)
	waitAll([]*proc{a1}, taskName("web"), "9.0.1.2", 10*time.Second)

	// 6. A node with another key cannot join: it sees only itself, the
	// cluster never lists it, and it has no cluster zones.
	x := startProc(t, bin, "x1", "agent", append(common("127.0.0.5"), "--node-name", "x1",
		"--gossip-key-file", writeKey(t), "--join", m2.gossip)...)
	all = append(all, x)
	time.Sleep(2 * time.Second)
	if ms := x.members(t); len(ms) != 1 {
		t.Fatalf("node with another key sees %v", ms)
	}
	for _, m := range m2.members(t) {
		if m.Hostname == "x1" {
			t.Fatal("cluster admitted a node with another key")
		}
	}
	if x.answers(taskName("web"), "9.0.1.2") {
		t.Fatal("node with another key got the cluster's zone")
	}
	// Clean shutdown on SIGTERM.
	m2.kill(syscall.SIGTERM)
	if code := m2.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("m2 exited with %d after SIGTERM:\n%s", code, m2.stderr.String())
	}
}
