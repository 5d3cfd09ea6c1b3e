package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/testutil"
)

// vipCluster is a `sextant up` driven only through commands (curl and
// `sextant vip list`), so that the same scenario runs inside a network
// namespace and as another user on the host.
type vipCluster struct {
	t        *testing.T
	bin      string
	stateDir string
	// in prefixes every command that talks to the cluster: `ip netns exec
	// NS`, or nothing.
	in       []string
	marathon string
	// nodeDNS is the node DNS role's address, for the l4lb name.
	nodeDNS string
	proc    *testutil.Process
}

func (c *vipCluster) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	full := append(append(append([]string{}, c.in...), name), args...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// run runs a short command in the cluster's network, bounded.
func (c *vipCluster) run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := c.cmd(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// get fetches url with curl: the body, or an error for anything but a
// 2xx answer within 3 s.
func (c *vipCluster) get(url string) (string, error) {
	return c.run("curl", "-sS", "-f", "--max-time", "3", url)
}

func (c *vipCluster) marathonDo(method, path, body string) (string, error) {
	args := []string{"-sS", "-f", "--max-time", "10", "-X", method, "-H", "Content-Type: application/json"}
	if body != "" {
		args = append(args, "--data-binary", body)
	}
	return c.run("curl", append(args, c.marathon+path)...)
}

var vipListLine = regexp.MustCompile(`(?m)^(\S+)\s+(tcp|udp)\s+(\S+)\s+(\S+)\s`)

// vipList runs `sextant vip list` and returns the plane line and, per VIP
// name:port, the CONNECT address it prints.
func (c *vipCluster) vipList() (plane string, connect map[string]string, out string) {
	out, _ = c.run(c.bin, "vip", "list", "--state-dir", c.stateDir)
	connect = map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(l, "plane: "); ok {
			plane = p
		}
	}
	for _, m := range vipListLine.FindAllStringSubmatch(out, -1) {
		if m[1] != "VIP" {
			connect[m[1]] = m[4]
		}
	}
	return plane, connect, out
}

// vipApp is an app of two instances behind VIP_0 name:port, each
// answering GET /id with its task id. The replacement of a killed task
// starts about a second later, while the requests run: it must get no
// connection before its health check passes.
func vipApp(id string, port int) string {
	return fmt.Sprintf(`{"id": "/%s", "cmd": "echo $MESOS_TASK_ID > id && exec python3 -m http.server $PORT0", "instances": 2,
  "cpus": 0.1, "mem": 32,
  "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "http", "labels": {"VIP_0": "/%s:%d"}}],
  "healthChecks": [{"protocol": "HTTP", "path": "/id", "portIndex": 0, "gracePeriodSeconds": 10,
    "intervalSeconds": 1, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}],
  "taskKillGracePeriodSeconds": 1}`, id, id, port)
}

// vipScenario is the done-when of the VIP issue: both instances answer at
// the address `sextant vip list` prints, with no DNS; one instance's
// process killed, every request from one second on succeeds; the app
// deleted, the VIP stops answering. wantPlane is the plane the cluster
// must report.
//
// byName, when set, runs once both instances answer, with the VIP's
// http://name:port/id URL.
func vipScenario(t *testing.T, c *vipCluster, app string, port int, wantPlane string, byName func(url string)) {
	name := app + ".marathon.l4lb.thisdcos.directory:" + strconv.Itoa(port)
	if out, err := c.marathonDo("POST", "/v2/apps", vipApp(app, port)); err != nil {
		t.Fatalf("creating the app: %v\n%s", err, out)
	}
	var addr, last string
	testutil.Eventually(t, 90*time.Second, "sextant vip list to print "+name+" with two backends up", func() bool {
		var plane string
		var connect map[string]string
		plane, connect, last = c.vipList()
		addr = connect[name]
		return strings.HasPrefix(plane, wantPlane) && addr != "" && addr != "-" && strings.Count(last, " up ") == 2
	})
	t.Logf("plane %s; sextant vip list:\n%s", wantPlane, last)
	url := "http://" + addr + "/id"

	// The VIP's name answers the address that carries the traffic.
	if _, err := exec.LookPath("dig"); err == nil {
		host, _, _ := strings.Cut(addr, ":")
		dnsHost, dnsPort, _ := strings.Cut(c.nodeDNS, ":")
		fqdn, _, _ := strings.Cut(name, ":")
		testutil.Eventually(t, 30*time.Second, fqdn+" to answer "+host, func() bool {
			out, _ := c.run("dig", "+short", "+time=2", "+tries=1", "@"+dnsHost, "-p", dnsPort, fqdn, "A")
			last = out
			return strings.TrimSpace(out) == host
		})
	}

	// Both instances answer at that address.
	seen := map[string]bool{}
	testutil.Eventually(t, 60*time.Second, "both instances answering "+url, func() bool {
		if body, err := c.get(url); err == nil {
			seen[strings.TrimSpace(body)] = true
		}
		return len(seen) == 2
	})
	if byName != nil {
		byName("http://" + name + "/id")
	}

	// Kill one instance's process (its whole process group, by the pid
	// the runtime wrote in its sandbox); from one second on, every request
	// succeeds.
	var victim string
	for id := range seen {
		victim = id
		break
	}
	b, err := os.ReadFile(filepath.Join(c.stateDir, "tasks", victim, "pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("pid of task %s: %q %v", victim, b, err)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing task %s (pid %d): %v", victim, pid, err)
	}
	killed := time.Now()
	time.Sleep(time.Second)
	var failures []string
	for i := 0; i < 30; i++ {
		if _, err := c.get(url); err != nil {
			failures = append(failures, fmt.Sprintf("request %d, %v after the kill: %v", i, time.Since(killed).Round(time.Millisecond), err))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(failures) > 0 {
		_, _, list := c.vipList()
		t.Errorf("%d of 30 requests failed from one second after killing %s:\n%s\nvip list:\n%s", len(failures), victim, strings.Join(failures, "\n"), list)
	}

	// Delete the app: the VIP stops answering.
	if out, err := c.marathonDo("DELETE", "/v2/apps/"+app+"?force=true", ""); err != nil {
		t.Fatalf("deleting the app: %v\n%s", err, out)
	}
	testutil.Eventually(t, 60*time.Second, url+" to stop answering", func() bool {
		_, err := c.get(url)
		return err != nil
	})
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

// startVIPUp starts `sextant up` (prefix: how: ip netns exec, setpriv) with
// extra flags and waits for its Marathon API.
func startVIPUp(t *testing.T, c *vipCluster, prefix []string, extra ...string) {
	t.Helper()
	args := append(append(append([]string{}, prefix...), c.bin, "up", "--state-dir", c.stateDir, "--no-examples"), extra...)
	_ = os.Remove(filepath.Join(c.stateDir, "endpoints.json"))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout = io.Discard
	c.proc = testutil.StartProcess(t, cmd)
	c.proc.Eventually(60*time.Second, "endpoints.json", func() bool {
		_, err := os.Stat(filepath.Join(c.stateDir, "endpoints.json"))
		return err == nil
	})
	c.proc.Eventually(30*time.Second, "Marathon /ping", func() bool {
		_, err := c.run("curl", "-sS", "-f", "--max-time", "2", c.marathon+"/ping")
		return err == nil
	})
}

// TestVIPInNetns is `sextant up` as root inside a network namespace the
// test creates, with only loopback: the VIP addresses (public address
// space) never leave it. It runs the nftables plane (the eBPF plane would
// attach to the host's root cgroup, beyond the namespace).
func TestVIPInNetns(t *testing.T) {
	if !testutil.IsRoot() {
		t.Skip("needs root: creates a network namespace")
	}
	needTools(t, "ip", "curl", "python3")
	bin := testutil.Binary(t)
	ns := fmt.Sprintf("sx-vip-%d-%d", os.Getpid(), rand.IntN(1_000_000))
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("removing netns %s: %v %s", ns, err, out)
		}
	})
	in := []string{"ip", "netns", "exec", ns}
	// The namespace's resolver: dnsmasq on 127.0.0.1 (started below).
	etc := filepath.Join("/etc/netns", ns)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(etc) })
	if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	// Only loopback, and no route to anywhere else.
	if out, _ := exec.Command("ip", "netns", "exec", ns, "ip", "-o", "link").CombinedOutput(); strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Fatalf("the namespace has more than lo:\n%s", out)
	}
	// The namespace is fresh: the default ports are free in it.
	c := &vipCluster{t: t, bin: bin, stateDir: t.TempDir(), in: in, marathon: "http://127.0.0.1:8080", nodeDNS: "127.0.0.1:1054"}
	startVIPUp(t, c, in, "--l4lb-plane", "nftables")
	t.Logf("plane: nftables (--l4lb-plane nftables)")
	vipScenario(t, c, "vipnetns", 8080, "nftables", func(url string) {
		// docs/l4lb.md's resolver recipe, in the namespace: dnsmasq on
		// 127.0.0.1:53 sends the cluster's domains to the node DNS role,
		// and the namespace's resolv.conf (ip netns exec mounts
		// /etc/netns/NS/resolv.conf) names dnsmasq.
		if _, err := exec.LookPath("dnsmasq"); err != nil {
			t.Logf("dnsmasq is not installed: the VIP by name through the host resolver is not tried")
			return
		}
		dm := exec.Command("ip", "netns", "exec", ns, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
			"--listen-address=127.0.0.1", "--bind-interfaces", "--port=53", "--pid-file=",
			"--server=/thisdcos.directory/127.0.0.1#1054", "--server=/mesos/127.0.0.1#1054")
		testutil.StartProcess(t, dm)
		var last string
		testutil.Eventually(t, 30*time.Second, "curl "+url+" through the namespace's resolver", func() bool {
			out, err := c.get(url)
			last = out
			return err == nil && strings.Contains(out, "vipnetns.")
		})
		t.Logf("curl %s: %s", url, strings.TrimSpace(last))
	})
}

// TestVIPRootless is the same scenario through the userspace plane
// without root: as the unprivileged user nobody (setpriv) when the test
// runs as root, else as the user running it. The VIP is reached at the
// 127.x address `sextant vip list` prints, on the host's loopback.
func TestVIPRootless(t *testing.T) {
	needTools(t, "curl", "python3")
	bin := testutil.Binary(t)
	dir, err := os.MkdirTemp("", "sx-vip-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var prefix []string
	how := "as the user running the test"
	if testutil.IsRoot() {
		needTools(t, "setpriv")
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Skipf("no user nobody: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		// nobody must reach the binary and own the state directory.
		nb := filepath.Join(dir, "sextant")
		src, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(nb, src, 0o755); err != nil {
			t.Fatal(err)
		}
		bin = nb
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		prefix = []string{"setpriv", "--reuid=" + u.Uid, "--regid=" + u.Gid, "--clear-groups", "--"}
		how = "as nobody (setpriv --reuid=" + u.Uid + ")"
		state := filepath.Join(dir, "state")
		if err := os.Mkdir(state, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(state, uid, gid); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Mkdir(filepath.Join(dir, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("running sextant up %s: the userspace plane on the 127.x mapping", how)
	fa := func() string { return testutil.FreeAddr(t) }
	marathonAddr, nodeDNS := fa(), fa()
	c := &vipCluster{t: t, bin: bin, stateDir: filepath.Join(dir, "state"), marathon: "http://" + marathonAddr, nodeDNS: nodeDNS}
	// Host ports away from the default range other clusters on this host
	// may use; the VIP port is one free on loopback now.
	startVIPUp(t, c, prefix, "--marathon-addr", marathonAddr, "--mesos-addr", fa(), "--dns-addr", fa(),
		"--mesos-dns-http-addr", fa(), "--node-dns-addr", nodeDNS, "--net-api-addr", fa(), "--host-ports", "33000-33999")
	vipScenario(t, c, "viprootless", testutil.FreePort(t), "userspace", nil)
}
