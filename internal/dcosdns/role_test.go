package dcosdns

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
	"github.com/sextantdc/sextant/internal/zonepub"
)

// vipSnapshot is testSnapshot plus a VIP label "/myapp:80" on web's port.
func vipSnapshot(version uint64) *model.Snapshot {
	st := testState([]testTask{{name: "web", ip: "9.0.1.2"}, {name: "db", ip: "9.0.1.3"}})
	t := &st.Frameworks[0].Tasks[0]
	t.Discovery = &state.Discovery{Name: "web", Ports: &state.Ports{Ports: []state.DiscoveryPort{{
		Number: 80, Name: "http", Protocol: "tcp",
		Labels: &state.Labels{Labels: []state.Label{{Key: "VIP_0", Value: "/myapp:80"}}},
	}}}}
	return modeltest.FromState(st, modeltest.Options{Version: version})
}

func getBody(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestRunStandalone runs the role in-process without gossip, fed by the
// zone builder (zonepub) through its Publisher: it answers the zones and
// serves the HTTP API.
func TestRunStandalone(t *testing.T) {
	snaps := make(chan *model.Snapshot, 1)
	readyc := make(chan Ready, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Role: RoleMaster, Listen: []string{"127.0.0.1:0"}, APIAddr: "127.0.0.1:0",
			UDPSockets: 1,
			Ready:      func(r Ready) { readyc <- r },
		})
	}()
	var r Ready
	select {
	case r = <-readyc:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	go func() {
		_ = zonepub.Run(ctx, snaps, r.Publisher, zonepub.Options{PublishInterval: 10 * time.Millisecond})
	}()
	api := "http://" + r.API
	// Before any snapshot: no cluster zone, /health says so.
	if code, _, body := getBody(t, api+"/health"); code != http.StatusServiceUnavailable || !strings.Contains(body, "dcos.thisdcos.directory") {
		t.Fatalf("health before zones: %d %s", code, body)
	}
	snaps <- vipSnapshot(1)
	answersA := func(name, ip string) bool {
		m, err := ask(t, r.DNS[0], "udp", name, dns.TypeA)
		if err != nil || len(m.Answer) == 0 {
			return false
		}
		a, ok := m.Answer[0].(*dns.A)
		return ok && a.A.String() == ip
	}
	testutil.Eventually(t, 10*time.Second, "task name answered", func() bool {
		return answersA("web.marathon.autoip.dcos.thisdcos.directory", "9.0.1.2")
	})
	// Each zone is published and installed on its own, so every zone gets
	// its own wait. §B.2/§B.3: /myapp:80 of framework marathon →
	// myapp.marathon.l4lb, 11.215.14.108 with the compiled default range.
	testutil.Eventually(t, 10*time.Second, "VIP name", func() bool {
		return answersA("myapp.marathon.l4lb.thisdcos.directory", "11.215.14.108")
	})
	if !answersA("myapp.marathon.dclb.thisdcos.directory", "11.215.14.108") {
		t.Fatal("dclb alias")
	}
	testutil.Eventually(t, 10*time.Second, "the Mesos-DNS mirror", func() bool {
		return answersA("web.marathon.mesos.thisdcos.directory", "9.0.1.2")
	})
	if !answersA("leader.dcos.thisdcos.directory", "10.0.0.1") {
		t.Fatal("leader.dcos.thisdcos.directory")
	}

	code, ct, body := getBody(t, api+"/v1/version")
	if code != 200 || ct != "application/json" || strings.TrimSpace(body) != `{"Service":"dcos-dns","Version":"0.0.1"}` {
		t.Fatalf("version: %d %s %s", code, ct, body)
	}
	_, _, body = getBody(t, api+"/v1/records")
	var recs []struct{ Name, Host, Rtype string }
	if err := json.Unmarshal([]byte(body), &recs); err != nil || !strings.Contains(body, "},\n{") {
		t.Fatalf("records: %v %s", err, body)
	}
	found := false
	for _, rec := range recs {
		if rec.Name == "web.marathon.containerip.dcos.thisdcos.directory" && rec.Host == "9.0.1.2" && rec.Rtype == "A" {
			found = true
		}
	}
	if !found {
		t.Fatalf("records lack the task: %s", body)
	}
	_, _, body = getBody(t, api+"/v1/hosts/myapp.marathon.l4lb.thisdcos.directory")
	if strings.TrimSpace(body) != `[{"host":"myapp.marathon.l4lb.thisdcos.directory","ip":"11.215.14.108"}]` {
		t.Fatalf("hosts: %s", body)
	}
	_, _, body = getBody(t, api+"/v1/hosts/nope.example")
	if strings.TrimSpace(body) != `[]` {
		t.Fatalf("hosts of an unknown name: %s", body)
	}
	_, _, body = getBody(t, api+"/v1/vips")
	var vips []struct {
		VIP      string `json:"vip"`
		Protocol string `json:"protocol"`
		Backend  []struct {
			IP   string `json:"ip"`
			Port int    `json:"port"`
		} `json:"backend"`
	}
	if err := json.Unmarshal([]byte(body), &vips); err != nil || len(vips) != 1 || vips[0].VIP != "myapp.marathon.l4lb.thisdcos.directory:80" ||
		vips[0].Protocol != "tcp" || len(vips[0].Backend) != 1 {
		t.Fatalf("vips: %v %s", err, body)
	}
	// The document's ETag: the same document is not sent twice.
	resp, err := http.Get(api + "/v1/vips")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", api+"/v1/vips", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("ETag") == "" || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("/v1/vips with If-None-Match its ETag %q: %d", resp.Header.Get("ETag"), resp.StatusCode)
	}
	if code, _, _ := getBody(t, api+"/v1/config"); code != http.StatusNotImplemented {
		t.Fatalf("/v1/config: %d", code)
	}
	if code, _, body := getBody(t, api+"/health"); code != 200 {
		t.Fatalf("health: %d %s", code, body)
	}
	_, _, body = getBody(t, api+"/metrics")
	for _, m := range []string{"dcos_dns_zone_records{zone=\"dcos.thisdcos.directory.\"}", "dcos_dns_queries_total", "dcos_dns_cache_hit_ratio"} {
		if !strings.Contains(body, m) {
			t.Fatalf("metrics lack %s", m)
		}
	}
	if code, _, _ := getBody(t, api+"/v1/metrics/overlay"); code != http.StatusNotFound {
		t.Fatal("unknown metrics registry")
	}

	// A newer snapshot without db replaces the zone as a whole.
	st := testState([]testTask{{name: "web", ip: "9.0.1.2"}})
	snaps <- modeltest.FromState(st, modeltest.Options{Version: 2})
	testutil.Eventually(t, 10*time.Second, "db removed", func() bool {
		m, err := ask(t, r.DNS[0], "udp", "db.marathon.autoip.dcos.thisdcos.directory", dns.TypeA)
		return err == nil && m.Rcode == dns.RcodeNameError
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRunBadListen(t *testing.T) {
	err := Run(t.Context(), Options{Listen: []string{"nope"}, APIAddr: ""})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("err %v", err)
	}
}
