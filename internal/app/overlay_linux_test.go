//go:build linux

package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/testutil"
)

// childEnv marks the test binary re-run inside its own network namespace.
const childEnv = "SEXTANT_OVERLAY_UP_CHILD"

// runInNetNS re-runs this test alone inside a new network namespace
// (unshare -n): `sextant up` with container networks creates a VXLAN
// device, bridges and routes for 9.0.0.0/8, which must never touch the
// machine's own namespace. The namespace ends with the child. It reports
// whether the caller is the child, which runs the test's body.
func runInNetNS(t *testing.T, mode string) bool {
	t.Helper()
	if os.Getenv(childEnv) != "" {
		return true
	}
	if !testutil.IsRoot() {
		t.Skip("needs root: the test runs sextant up in a network namespace of its own")
	}
	unshare := testutil.NeedTool(t, "unshare")
	testutil.NeedTool(t, "ip")
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3 (the app serves HTTP with it)")
	}
	args := []string{"-n", os.Args[0], "-test.run", "^" + t.Name() + "$", "-test.v"}
	if mode == "nobody" {
		// Loopback up as root, then the test as an unprivileged user.
		setpriv := testutil.NeedTool(t, "setpriv")
		args = []string{"-n", "sh", "-c", `ip link set lo up && exec "$@"`, "sh", setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
			os.Args[0], "-test.run", "^" + t.Name() + "$", "-test.v"}
	}
	cmd := exec.Command(unshare, args...)
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil || !bytes.Contains(out, []byte("--- PASS")) {
		t.Fatalf("child failed: %v", err)
	}
	return false
}

type upHarness struct {
	cancel context.CancelFunc
	done   chan error
	banner *syncBuf
	dir    string
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func startUp(t *testing.T, mode string, apps map[string]string) *upHarness {
	t.Helper()
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil && os.Geteuid() == 0 {
		t.Fatalf("lo up: %v %s", err, out)
	}
	dir := t.TempDir()
	appsDir := filepath.Join(dir, "apps")
	os.MkdirAll(appsDir, 0o755)
	for name, js := range apps {
		os.WriteFile(filepath.Join(appsDir, name+".json"), []byte(js), 0o644)
	}
	h := &upHarness{done: make(chan error, 1), banner: &syncBuf{}, dir: dir}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	f := UpConfig{StateDir: filepath.Join(dir, "state"), AppsDir: appsDir, MarathonAddr: "127.0.0.1:8080", MesosAddr: "127.0.0.1:5050",
		DNSAddr: "127.0.0.1:10053", MesosDNSHTTPAddr: "127.0.0.1:8123", NodeDNSAddr: "127.0.0.1:8053", NetAPIAddr: "127.0.0.1:62080",
		IP: "127.0.0.1", HostPorts: "31000-32000", MaxTasks: 16, ContainerNetworks: mode}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SEXTANT_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	go func() { h.done <- Up(ctx, f, h.banner, log) }()
	t.Cleanup(h.stop)
	testutil.Eventually(t, 60*time.Second, "the banner", func() bool {
		select {
		case err := <-h.done:
			h.cancel = nil
			t.Fatalf("up ended: %v", err)
		default:
		}
		return strings.Contains(h.banner.String(), "container nets")
	})
	return h
}

func (h *upHarness) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func lookupA(server, name string) []netip.Addr {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, err := dns.Exchange(m, server)
	if err != nil || r == nil {
		return nil
	}
	var out []netip.Addr
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			ip, _ := netip.AddrFromSlice(a.A)
			out = append(out, ip.Unmap())
		}
	}
	return out
}

const (
	overlayApp = `{"id":"/web","cmd":"exec python3 -m http.server 8000 --bind 0.0.0.0","networks":[{"mode":"container","name":"dcos"}]}`
	legacyApp  = `{"id":"/old","cmd":"exec python3 -m http.server 8000 --bind 0.0.0.0","ipAddress":{"networkName":"dcos"}}`
	hostApp    = `{"id":"/plain","cmd":"exec sleep 600"}`
)

// `sextant up` as root: tasks on the dcos overlay get a 9.x address of
// this node's block, DNS names it, the host reaches it, and stopping up
// removes the overlay's devices.
func TestUpContainerNetworks(t *testing.T) {
	if !runInNetNS(t, "auto") {
		return
	}
	h := startUp(t, "auto", map[string]string{"web": overlayApp, "old": legacyApp, "plain": hostApp})
	if b := h.banner.String(); !strings.Contains(b, "container nets   dcos 9.0.0.0/8 (") {
		t.Fatalf("banner:\n%s", b)
	}
	var web, old []netip.Addr
	testutil.Eventually(t, 60*time.Second, "containerip names", func() bool {
		web = lookupA("127.0.0.1:8053", "web.marathon.containerip.dcos.thisdcos.directory")
		old = lookupA("127.0.0.1:8053", "old.marathon.containerip.dcos.thisdcos.directory")
		return len(web) == 1 && len(old) == 1
	})
	block := netip.MustParsePrefix("9.0.0.0/25")
	if !block.Contains(web[0]) || !block.Contains(old[0]) || web[0] == old[0] {
		t.Fatalf("container IPs %v %v", web, old)
	}
	testutil.Eventually(t, 30*time.Second, "Mesos-DNS names the container IP (netinfo first)", func() bool {
		got := lookupA("127.0.0.1:10053", "web.marathon.mesos")
		return len(got) == 1 && got[0] == web[0]
	})
	for _, ip := range []netip.Addr{web[0], old[0]} {
		url := fmt.Sprintf("http://%s:8000/", ip)
		testutil.Eventually(t, 30*time.Second, "GET "+url, func() bool { return testutil.HTTPOK(url) })
	}
	var tasks struct {
		Tasks []struct {
			AppID       string `json:"appId"`
			IPAddresses []struct {
				IPAddress string `json:"ipAddress"`
			} `json:"ipAddresses"`
		} `json:"tasks"`
	}
	if err := getJSON("http://127.0.0.1:8080/v2/tasks", &tasks); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, tk := range tasks.Tasks {
		ip := tk.IPAddresses[0].IPAddress
		switch tk.AppID {
		case "/web", "/old":
			seen++
			if ip != web[0].String() && ip != old[0].String() {
				t.Errorf("%s ipAddresses %s", tk.AppID, ip)
			}
		case "/plain":
			seen++
			if ip != "127.0.0.1" {
				t.Errorf("host task at %s", ip)
			}
		}
	}
	if seen != 3 {
		t.Errorf("tasks %+v", tasks)
	}
	var st struct {
		Agents []struct {
			IP string `json:"ip"`
		} `json:"agents"`
	}
	if err := getJSON("http://127.0.0.1:5050/overlay-master/state", &st); err != nil || len(st.Agents) != 1 {
		t.Errorf("overlay master state %+v %v", st, err)
	}
	var health struct {
		Sources []struct {
			Name, State string
		} `json:"sources"`
	}
	testutil.Eventually(t, 30*time.Second, "the overlay source in /health", func() bool {
		if getJSON("http://127.0.0.1:8080/health", &health) != nil {
			return false
		}
		for _, s := range health.Sources {
			if s.Name == "overlay" && s.State == "ok" {
				return true
			}
		}
		return false
	})
	var notes struct {
		Notes map[string]string `json:"notes"`
	}
	if err := getJSON("http://127.0.0.1:8080/health", &notes); err != nil || notes.Notes["container-networks"] != "dcos 9.0.0.0/8 (this node: 9.0.0.0/25 on m-dcos)" {
		t.Errorf("/health notes %+v %v", notes, err)
	}
	h.stop()
	if out, _ := exec.Command("ip", "-d", "link", "show").CombinedOutput(); bytes.Contains(out, []byte("vtep1024")) || bytes.Contains(out, []byte("m-dcos")) {
		t.Errorf("devices left after up stopped:\n%s", out)
	}
	if out, err := exec.Command("nft", "list", "tables").CombinedOutput(); err == nil && bytes.Contains(out, []byte("sextant_overlay")) {
		t.Errorf("nftables tables left after up stopped:\n%s", out)
	}
}

// Without container networks (not root, or turned off) up still runs:
// the banner and /health say why, the overlay app fails with that reason
// and the other app runs.
func TestUpWithoutContainerNetworks(t *testing.T) {
	if !runInNetNS(t, "off") {
		return
	}
	upWithout(t, "off", "turned off")
}

func TestUpWithoutRoot(t *testing.T) {
	if !runInNetNS(t, "nobody") {
		return
	}
	if os.Geteuid() == 0 {
		t.Fatal("the child runs as root")
	}
	upWithout(t, "auto", "sextant up runs without root")
}

func upWithout(t *testing.T, mode, reason string) {
	h := startUp(t, mode, map[string]string{"web": overlayApp, "plain": hostApp})
	if b := h.banner.String(); !strings.Contains(b, "container nets   unavailable: "+reason) {
		t.Fatalf("banner:\n%s", b)
	}
	var health struct {
		Status string            `json:"status"`
		Notes  map[string]string `json:"notes"`
	}
	testutil.Eventually(t, 60*time.Second, "the host app runs and the overlay app fails with the reason", func() bool {
		if lookupA("127.0.0.1:8053", "plain.marathon.agentip.dcos.thisdcos.directory") == nil {
			return false
		}
		var app struct {
			App struct {
				LastTaskFailure *struct {
					Message string `json:"message"`
				} `json:"lastTaskFailure"`
			} `json:"app"`
		}
		if getJSON("http://127.0.0.1:8080/v2/apps/web?embed=app.lastTaskFailure", &app) != nil || app.App.LastTaskFailure == nil {
			return false
		}
		return strings.Contains(app.App.LastTaskFailure.Message, "container networks are unavailable: "+reason)
	})
	// The other roles (load balancer, edge, gateway) may still be
	// starting when the app fails: wait for them, then the note must stay.
	testutil.Eventually(t, 60*time.Second, "/health healthy with the container-networks note", func() bool {
		return getJSON("http://127.0.0.1:8080/health", &health) == nil && health.Status != "unhealthy"
	})
	if !strings.HasPrefix(health.Notes["container-networks"], "unavailable: "+reason) {
		t.Errorf("/health notes %+v", health)
	}
}

// Apps that never ask for a container network leave the namespace as it
// was: the overlay is set up with the first task on it.
func TestUpOverlayOnlyWhenAsked(t *testing.T) {
	if !runInNetNS(t, "lazy") {
		return
	}
	h := startUp(t, "auto", map[string]string{"plain": hostApp})
	testutil.Eventually(t, 60*time.Second, "the host app", func() bool {
		return lookupA("127.0.0.1:8053", "plain.marathon.agentip.dcos.thisdcos.directory") != nil
	})
	if b := h.banner.String(); !strings.Contains(b, "container nets   dcos 9.0.0.0/8 (set up with the first task on it)") {
		t.Errorf("banner:\n%s", b)
	}
	if out, _ := exec.Command("ip", "-d", "link", "show").CombinedOutput(); bytes.Contains(out, []byte("vtep1024")) {
		t.Errorf("overlay set up without a task asking:\n%s", out)
	}
}

// A vtep1024 that is not this up's (another overlay, or one left behind)
// is never taken over: the overlay app fails with the reason.
func TestUpLeavesAForeignVTEPAlone(t *testing.T) {
	if !runInNetNS(t, "busy") {
		return
	}
	exec.Command("ip", "link", "set", "lo", "up").Run()
	if out, err := exec.Command("ip", "link", "add", "vtep1024", "type", "vxlan", "id", "7", "dstport", "4789").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	startUp(t, "auto", map[string]string{"web": overlayApp, "plain": hostApp})
	testutil.Eventually(t, 60*time.Second, "the overlay app failing with the reason", func() bool {
		var app struct {
			App struct {
				LastTaskFailure *struct {
					Message string `json:"message"`
				} `json:"lastTaskFailure"`
			} `json:"app"`
		}
		return getJSON("http://127.0.0.1:8080/v2/apps/web?embed=app.lastTaskFailure", &app) == nil && app.App.LastTaskFailure != nil &&
			strings.Contains(app.App.LastTaskFailure.Message, "vtep1024 exists in this network namespace")
	})
	if out, _ := exec.Command("ip", "-d", "link", "show", "vtep1024").CombinedOutput(); !bytes.Contains(out, []byte("vxlan id 7")) {
		t.Errorf("the foreign vtep1024 was changed:\n%s", out)
	}
}

func TestContainerNetworksUnavailable(t *testing.T) {
	if r := containerNetworksUnavailable("off"); !strings.Contains(r, "off") {
		t.Error(r)
	}
	if r := containerNetworksUnavailable("sometimes"); !strings.Contains(r, "want auto or off") {
		t.Error(r)
	}
	if r := containerNetworksUnavailable("auto"); (os.Geteuid() == 0) != (r == "") {
		t.Errorf("auto as uid %d: %q", os.Geteuid(), r)
	}
}
