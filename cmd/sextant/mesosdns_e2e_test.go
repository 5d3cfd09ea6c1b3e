package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/testutil"
)

// mdnsMaster is a static Mesos master on loopback: it serves fake.json (the
// leader rewritten to itself), or garbage, or a state holding every item
// that crashed Mesos-DNS (spec §9).
type mdnsMaster struct {
	*testutil.StateServer
	good, crash []byte
}

func newMDNSMaster(t *testing.T) *mdnsMaster {
	t.Helper()
	m := &mdnsMaster{StateServer: testutil.NewStateServer(t)}
	m.good, _ = json.Marshal(testutil.FakeState(t, m.Leader()))

	// The crashing items: an agent without pid, an agent whose pid does
	// not parse, and a task whose port range has no "-".
	cs := testutil.FakeState(t, m.Leader())
	slaves := cs["slaves"].([]any)
	slaves = append(slaves,
		map[string]any{"id": "20140827-000744-3041283216-5050-2116-9", "hostname": "nopid.example"},
		map[string]any{"id": "20140827-000744-3041283216-5050-2116-8", "pid": "not a pid", "hostname": "badpid.example"})
	cs["slaves"] = slaves
	for _, f := range cs["frameworks"].([]any) {
		for _, tk := range f.(map[string]any)["tasks"].([]any) {
			task := tk.(map[string]any)
			if task["name"] == "reviewbot" {
				task["resources"].(map[string]any)["ports"] = "[31744]"
			}
		}
	}
	m.crash, _ = json.Marshal(cs)
	m.Set(m.good)
	return m
}

// startMesosDNS runs `sextant mesos-dns -config cfg` and waits for its
// first load: the listeners open at once, /health turns 200 once records
// are served.
func startMesosDNS(t *testing.T, cfg, base string, flags ...string) *testutil.Process {
	t.Helper()
	cfgFile := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartProcess(t, exec.Command(testutil.Binary(t), append([]string{"mesos-dns", "-config", cfgFile}, flags...)...))
	p.Eventually(60*time.Second, "the first load (/health 200)", func() bool { return testutil.HTTPOK(base + "/health") })
	return p
}

func TestMesosDNSEndToEnd(t *testing.T) {
	digPath := testutil.NeedTool(t, "dig")
	bin := testutil.Binary(t)
	m := newMDNSMaster(t)
	dnsPort, httpPort := testutil.FreePort(t), testutil.FreePort(t)
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnsPort)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	proc := startMesosDNS(t, fmt.Sprintf(`{
  "masters": [%q],
  "refreshSeconds": 1,
  "stateTimeoutSeconds": 5,
  "listener": "127.0.0.1",
  "port": %d,
  "httpListener": "127.0.0.1",
  "httpport": %d,
  "externalon": false,
  "IPSources": ["netinfo", "docker", "mesos", "host"],
  "email": "root.mesos-dns.mesos"
}`, m.HostPort(), dnsPort, httpPort), base, "-v=1", "-logtostderr=true")

	dig := func(args ...string) string {
		t.Helper()
		out, err := testutil.Dig(digPath, dnsAddr, append([]string{"+time=3", "+tries=2"}, args...)...)
		if err != nil {
			t.Fatalf("dig %v: %v\n%s", args, err, out)
		}
		return out
	}
	status := regexp.MustCompile(`status: ([A-Z]+)`)
	section := testutil.DigSection
	check := func(out, wantStatus string, wantFlagsAA bool, answer, authority, additional []string) {
		t.Helper()
		if s := status.FindStringSubmatch(out); s == nil || s[1] != wantStatus {
			t.Errorf("status %v, want %s\n%s", s, wantStatus, out)
		}
		if wantFlagsAA && !regexp.MustCompile(`flags: qr aa`).MatchString(out) {
			t.Errorf("no AA flag\n%s", out)
		}
		for name, want := range map[string][]string{"ANSWER": answer, "AUTHORITY": authority, "ADDITIONAL": additional} {
			got := section(out, name)
			if !mdnsSameSet(got, want) {
				t.Errorf("%s section\n got %q\nwant %q\n%s", name, got, want, out)
			}
		}
	}
	leaderIP := "127.0.0.1"
	soaRE := regexp.MustCompile(`^(\S+) 60 IN SOA ns1\.mesos\. root\.ns1\.mesos\. \d+ 60 600 86400 60$`)

	check(dig("liquor-store.marathon.mesos", "A"), "NOERROR", true,
		[]string{"liquor-store.marathon.mesos. 60 IN A 10.3.0.1", "liquor-store.marathon.mesos. 60 IN A 10.3.0.2"}, nil, nil)
	check(dig("toy-store.ipv6-framework.mesos", "AAAA"), "NOERROR", true,
		[]string{"toy-store.ipv6-framework.mesos. 60 IN AAAA fd01:b::1:8000:2"}, nil, nil)
	check(dig("_leader._tcp.mesos", "SRV"), "NOERROR", true,
		[]string{fmt.Sprintf("_leader._tcp.mesos. 60 IN SRV 0 1 %d leader.mesos.", m.Server().Listener.Addr().(*net.TCPAddr).Port)}, nil,
		[]string{"leader.mesos. 60 IN A " + leaderIP})
	check(dig("_car-store._udp.marathon.mesos", "SRV"), "NOERROR", true,
		[]string{"_car-store._udp.marathon.mesos. 60 IN SRV 0 1 31364 car-store-zinaz-0.marathon.slave.mesos.",
			"_car-store._udp.marathon.mesos. 60 IN SRV 0 1 31365 car-store-zinaz-0.marathon.slave.mesos."}, nil,
		[]string{"car-store-zinaz-0.marathon.slave.mesos. 60 IN A 1.2.3.11"})
	out := dig("mesos", "SOA")
	if s := section(out, "AUTHORITY"); len(s) != 1 || !soaRE.MatchString(s[0]) || section(out, "ANSWER") != nil {
		t.Errorf("SOA:\n%s", out)
	}
	check(dig("anything.mesos", "NS"), "NOERROR", true, nil, []string{"anything.mesos. 60 IN NS ns1.mesos."}, nil)
	out = dig("missing.mesos", "A")
	if s := section(out, "AUTHORITY"); len(s) != 1 || !strings.HasPrefix(s[0], "missing.mesos. 60 IN SOA") || !strings.Contains(out, "status: NXDOMAIN") {
		t.Errorf("NXDOMAIN:\n%s", out)
	}
	out = dig("chronos.marathon.mesos", "TXT")
	if !strings.Contains(out, "status: NOERROR") || section(out, "ANSWER") != nil || len(section(out, "AUTHORITY")) != 1 {
		t.Errorf("unknown type:\n%s", out)
	}
	out = dig("toy-store.ipv6-framework.mesos", "ANY")
	if len(section(out, "ANSWER")) != 3 || len(section(out, "AUTHORITY")) != 2 {
		t.Errorf("ANY:\n%s", out)
	}
	check(dig("cHrOnOs.MARATHON.mesoS", "A"), "NOERROR", true, []string{"chronos.marathon.mesos. 60 IN A 1.2.3.11"}, nil, nil)
	check(dig("+tcp", "liquor-store.marathon.slave.mesos", "A"), "NOERROR", true,
		[]string{"liquor-store.marathon.slave.mesos. 60 IN A 1.2.3.11", "liquor-store.marathon.slave.mesos. 60 IN A 1.2.3.12"}, nil, nil)
	if out := dig("example.com", "A"); !strings.Contains(out, "status: REFUSED") {
		t.Errorf("externalon=false must refuse:\n%s", out)
	}

	// sextant dig against the same server: readable and JSON output, and
	// the server taken from endpoints.json in the state dir.
	digOut, err := exec.Command(bin, "dig", "--server", dnsAddr, "_car-store._udp.marathon.mesos", "SRV").CombinedOutput()
	if err != nil || !strings.Contains(string(digOut), "status: NOERROR") || !strings.Contains(string(digOut), "31364 car-store-zinaz-0.marathon.slave.mesos.") {
		t.Errorf("sextant dig: %v\n%s", err, digOut)
	}
	stateDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(stateDir, "endpoints.json"), []byte(fmt.Sprintf(`{"dns":%q}`, dnsAddr)), 0o644); err != nil {
		t.Fatal(err)
	}
	digOut, err = exec.Command(bin, "dig", "leader.mesos", "--json", "--state-dir", stateDir).CombinedOutput()
	var dj struct {
		Status string
		Flags  []string
		Answer []struct{ Name, Type, Data string }
	}
	if err != nil || json.Unmarshal(digOut, &dj) != nil || dj.Status != "NOERROR" || len(dj.Answer) != 1 || dj.Answer[0].Data != leaderIP || dj.Answer[0].Type != "A" {
		t.Errorf("sextant dig --json: %v\n%s", err, digOut)
	}

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/v1/hosts/leader.mesos"); code != 200 || body != "[\n  {\n   \"host\": \"leader.mesos.\",\n   \"ip\": \""+leaderIP+"\"\n  }\n ]" {
		t.Errorf("hosts: %d %q", code, body)
	}
	if code, body := get("/v1/services/_car-store._udp.marathon.mesos."); code != 200 || strings.Count(body, `"ip": "1.2.3.11"`) != 2 {
		t.Errorf("services: %d %s", code, body)
	}
	if code, body := get("/v1/config"); code != 200 || !strings.Contains(body, `"Port": `+strconv.Itoa(dnsPort)) {
		t.Errorf("config: %d %s", code, body)
	}
	if code, _ := get("/v1/enumerate"); code != 200 {
		t.Errorf("enumerate: %d", code)
	}
	if code, body := get("/v1/nothing"); code != 404 || body != "404: Page Not Found" {
		t.Errorf("404: %d %q", code, body)
	}

	// Malformed JSON from the master: answers keep coming; the log and
	// /metrics show the failures.
	m.Set([]byte(`{"leader": "master@`))
	errorsRE := regexp.MustCompile(`sextant_mesos_refresh_total\{result="error"\} (\d+)`)
	refreshErrors := func() int {
		_, body := get("/metrics")
		s := errorsRE.FindStringSubmatch(body)
		if s == nil {
			return 0
		}
		n, _ := strconv.Atoi(s[1])
		return n
	}
	testutil.Eventually(t, 30*time.Second, "failed refreshes in /metrics", func() bool { return refreshErrors() >= 2 })
	check(dig("liquor-store.marathon.mesos", "A"), "NOERROR", true,
		[]string{"liquor-store.marathon.mesos. 60 IN A 10.3.0.1", "liquor-store.marathon.mesos. 60 IN A 10.3.0.2"}, nil, nil)
	if !strings.Contains(proc.Log.String(), "keeping last good state") {
		t.Errorf("the log does not say the old state is kept")
	}
	_, metrics := get("/metrics")
	if !strings.Contains(metrics, "sextant_mesos_snapshot_age_seconds") {
		t.Errorf("/metrics lacks the snapshot age")
	}
	if _, st := get("/v1/status"); !strings.Contains(st, `"Stale": true`) {
		t.Errorf("status does not show staleness: %s", st)
	}

	// The master goes away: the same.
	before := refreshErrors()
	m.Server().Listener.Close()
	m.Server().CloseClientConnections()
	testutil.Eventually(t, 30*time.Second, "refresh errors with the master gone", func() bool { return refreshErrors() >= before+2 })
	check(dig("+tcp", "chronos.marathon.mesos", "A"), "NOERROR", true, []string{"chronos.marathon.mesos. 60 IN A 1.2.3.11"}, nil, nil)

	// Stop with SIGTERM: exit 0, promptly.
	start := time.Now()
	if err, stopped := proc.Stop(20 * time.Second); err != nil || !stopped {
		t.Fatalf("exit after SIGTERM: %v (stopped within 20s: %v)", err, stopped)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to stop", d)
	}
}

// TestMesosDNSCrashingItems serves a state holding each item that made
// Mesos-DNS crash or fail the whole reload: the rest is served.
func TestMesosDNSCrashingItems(t *testing.T) {
	digPath := testutil.NeedTool(t, "dig")
	m := newMDNSMaster(t)
	m.Set(m.crash)
	dnsPort, httpPort := testutil.FreePort(t), testutil.FreePort(t)
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnsPort)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	// A host name in masters crashed record generation too.
	proc := startMesosDNS(t, fmt.Sprintf(`{"masters": [%q, "localhost:5050"], "refreshSeconds": 1, "listener": "127.0.0.1", "port": %d,
  "httpListener": "127.0.0.1", "httpport": %d, "externalon": false}`, m.HostPort(), dnsPort, httpPort), base)
	out, err := testutil.Dig(digPath, dnsAddr, "+short", "liquor-store.marathon.mesos", "A")
	// Default IPSources (netinfo, mesos, host): the agents' addresses.
	if err != nil || !mdnsSameSet(strings.Fields(out), []string{"1.2.3.11", "1.2.3.12"}) {
		t.Fatalf("%v: %s", err, out)
	}
	out, err = testutil.Dig(digPath, dnsAddr, "+short", "slave.mesos", "A")
	if err != nil || !mdnsSameSet(strings.Fields(out), []string{"1.2.3.10", "1.2.3.11", "1.2.3.12"}) {
		t.Fatalf("agents: %v: %s", err, out)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`sextant_mesos_snapshot_problems [1-9]`).Match(b) {
		t.Errorf("/metrics does not count the skipped items")
	}
	for _, want := range []string{"not a pid", "31744"} {
		if !strings.Contains(proc.Log.String(), want) {
			t.Errorf("log does not name %q", want)
		}
	}
}

func mdnsSameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, v := range seen {
		if v != 0 {
			return false
		}
	}
	return true
}

// TestMesosDNSCommandLine: -version, a bad config value (exit 1, the key
// named) and a missing file.
func TestMesosDNSCommandLine(t *testing.T) {
	bin := testutil.Binary(t)
	out, err := exec.Command(bin, "mesos-dns", "-version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Errorf("-version: %v %q", err, out)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"masters":["127.0.0.1:5050"],"refreshSeconds":0}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "mesos-dns", "-config", bad)
	out, err = cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(strings.ToLower(string(out)), "refreshseconds") {
		t.Errorf("bad refreshSeconds: %v\n%s", err, out)
	}
	cmd = exec.Command(bin, "mesos-dns", "-config", filepath.Join(dir, "missing.json"))
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "missing.json") {
		t.Errorf("missing file: %s", out)
	}
	cmd = exec.Command(bin, "mesos-dns", "-nonsense")
	_ = cmd.Run()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("unknown flag: exit %v", cmd.ProcessState)
	}
}
