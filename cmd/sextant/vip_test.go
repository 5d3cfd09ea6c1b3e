package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sextant vip list against a node API: the plane line, one line per VIP
// with where to connect, one per backend with its state; a bad element
// is skipped and named; --json prints the document as served.
func TestVIPList(t *testing.T) {
	doc := `[{"vip":"web.marathon.l4lb.thisdcos.directory:80","protocol":"tcp","addrs":["11.0.0.5"],"listen":["127.0.0.5:80"],
		"plane":"userspace","mode":"random","refused":2,
		"backend":[{"ip":"10.0.0.7","port":31000,"weight":1,"agent_ip":"10.0.0.7","task_id":"web.1","state":"up","connections":4},
		           {"ip":"10.0.0.8","port":31001,"weight":0,"agent_ip":"10.0.0.8","task_id":"web.2","state":"draining"}]},
		{"protocol":"tcp"},
		{"vip":"1.2.3.4:5000","protocol":"udp","backend":[{"ip":"10.0.0.9","port":5000}]}]`
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/vips", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(doc)) })
	mux.HandleFunc("GET /v1/l4lb", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"plane":"userspace","plane_info":"auto: not root"}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "endpoints.json"), []byte(`{"net_api":"`+srv.URL+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := runVIP(context.Background(), []string{"list", "--state-dir", dir}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	o := out.String()
	for _, want := range []string{
		`(?m)^plane: userspace \(auto: not root\)$`,
		`(?m)^VIP +PROTO +ADDRESS +CONNECT +MODE +REFUSED$`,
		`(?m)^web\.marathon\.l4lb\.thisdcos\.directory:80 +tcp +11\.0\.0\.5 +127\.0\.0\.5:80 +random +2$`,
		`(?m)^  10\.0\.0\.7:31000 +up +weight 1 +conns 4 active 0 failures 0 +agent 10\.0\.0\.7 +web\.1$`,
		`(?m)^  10\.0\.0\.8:31001 +draining +weight 0 .* web\.2$`,
		`(?m)^1\.2\.3\.4:5000 +udp +- +- +- +0$`,
	} {
		if !regexp.MustCompile(want).MatchString(o) {
			t.Errorf("output does not match %s:\n%s", want, o)
		}
	}
	// The VIP lines align with each other.
	lines := strings.Split(o, "\n")
	if strings.Index(lines[1], "PROTO") != strings.Index(lines[2], "tcp") || strings.Index(lines[2], "tcp") != strings.Index(lines[5], "udp") {
		t.Errorf("columns do not align:\n%s", o)
	}
	if !strings.Contains(errb.String(), "[1].vip: missing") || !strings.Contains(errb.String(), "from "+filepath.Join(dir, "endpoints.json")) {
		t.Errorf("stderr %q: want the skipped element and the file read", errb.String())
	}
	out.Reset()
	if err := runVIP(context.Background(), []string{"list", "--api", srv.URL, "--json"}, &out, &errb); err != nil || out.String() != doc {
		t.Errorf("--json: %v %q", err, out.String())
	}
	// A node without a load balancer (dcos-net, or --l4lb-plane off) still lists the document.
	mux2 := http.NewServeMux()
	mux2.HandleFunc("GET /v1/vips", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`[]`)) })
	srv2 := httptest.NewServer(mux2)
	defer srv2.Close()
	out.Reset()
	if err := runVIP(context.Background(), []string{"list", "--api", srv2.URL}, &out, &errb); err != nil || !strings.Contains(out.String(), "plane: none reported") {
		t.Errorf("no /v1/l4lb: %v %q", err, out.String())
	}
	for _, bad := range [][]string{{}, {"show"}, {"list", "extra"}} {
		if err := runVIP(context.Background(), bad, &out, &errb); err != errUsage {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
	if err := runVIP(context.Background(), []string{"list", "--state-dir", t.TempDir()}, &out, &errb); err == nil || !strings.Contains(err.Error(), "endpoints.json") {
		t.Errorf("no endpoints.json: %v", err)
	}
}
