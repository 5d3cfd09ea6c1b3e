package admin_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/admin"
)

type fakeEngine struct {
	cur      *edge.Generation
	reloaded int
	fail     bool
}

func (f *fakeEngine) Apply(context.Context, *edge.Generation) error { return nil }
func (f *fakeEngine) Reload(context.Context) error {
	if f.fail {
		return errors.New("no")
	}
	f.reloaded++
	return nil
}
func (f *fakeEngine) Current() *edge.Generation { return f.cur }
func (f *fakeEngine) Pids() []int               { return []int{2117, 1050} }
func (f *fakeEngine) Close() error              { return nil }
func (f *fakeEngine) Stats() []edge.StatRow {
	return []edge.StatRow{
		{PxName: "web_10000", SvName: "FRONTEND", Type: edge.StatFrontend, Status: "OPEN", Scur: 3, Mode: "http"},
		{PxName: "web_10000", SvName: "10_0_0_1_31000", Type: edge.StatServer, Status: "MAINT", Weight: 1, Act: 1,
			Addr: "10.0.0.1:31000", Mode: "http"},
		{PxName: "web_10000", SvName: "BACKEND", Type: edge.StatBackend, Status: "UP", Weight: 1, Mode: "http"},
	}
}

func TestEndpoints(t *testing.T) {
	cfg := &edge.Config{Problems: []edge.Problem{{App: "/bad", Index: 0, Label: "HAPROXY_0_PORT", Reason: "not an integer"}}}
	eng := &fakeEngine{cur: &edge.Generation{Config: cfg, HAProxyCfg: "global\n", DomainMap: "a.com web_10000\n",
		AppMap: "/web web_10000\n"}}
	resyncs := 0
	srv := httptest.NewServer(admin.Handler(admin.Options{Engine: eng, Resync: func() error { resyncs++; return nil }}))
	defer srv.Close()
	get := func(method, path string) (int, string, string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	for _, tc := range []struct {
		method, path string
		code         int
		ctype, body  string
	}{
		{"GET", "/_haproxy_health_check", 200, "text/html", admin.HealthBody},
		{"GET", "/_haproxy_getconfig", 200, "text/plain", "global\n"},
		{"GET", "/_haproxy_getvhostmap", 200, "text/plain", "a.com web_10000\n"},
		{"GET", "/_haproxy_getappmap", 200, "text/plain", "/web web_10000\n"},
		{"GET", "/_haproxy_getpids", 200, "text/plain", "2117 1050"},
		{"POST", "/_mlb_signal/hup", 200, "text/plain", "Sent SIGHUP signal to marathon-lb"},
		{"GET", "/_mlb_signal/usr1", 200, "text/plain", "Sent SIGUSR1 signal to marathon-lb"},
		{"GET", "/haproxy?nostats", 404, "", ""},
	} {
		code, ctype, body := get(tc.method, tc.path)
		if code != tc.code || (tc.ctype != "" && !strings.HasPrefix(ctype, tc.ctype)) || (tc.body != "" && body != tc.body) {
			t.Errorf("%s %s: %d %q %q, want %d %q %q", tc.method, tc.path, code, ctype, body, tc.code, tc.ctype, tc.body)
		}
	}
	if resyncs != 1 || eng.reloaded != 1 {
		t.Errorf("resyncs %d reloads %d, want 1 and 1", resyncs, eng.reloaded)
	}
	eng.fail = true
	if code, _, body := get("GET", "/_mlb_signal/usr1"); code != 500 || !strings.HasPrefix(body, "Failed to send SIGUSR1") {
		t.Errorf("failed usr1: %d %q", code, body)
	}

	_, ctype, csv := get("GET", "/haproxy?stats;csv")
	lines := strings.Split(csv, "\n")
	if ctype != "text/csv" || !strings.HasPrefix(lines[0], "# pxname,svname,qcur,qmax,scur,") || len(lines) != 6 || lines[5] != "" {
		t.Fatalf("csv %q", csv)
	}
	for _, l := range lines[1:4] {
		if n := strings.Count(l, ","); n != len(edge.StatColumns) {
			t.Errorf("row %q has %d commas, want %d", l, n, len(edge.StatColumns))
		}
	}
	if !strings.HasPrefix(lines[2], "web_10000,10_0_0_1_31000,0,0,0,0,,0,0,0,,,0,0,0,,,MAINT,1,1,0,") {
		t.Errorf("server row %q", lines[2])
	}
	if _, _, page := get("GET", "/haproxy?stats"); !strings.Contains(page, "10_0_0_1_31000") {
		t.Errorf("stats page lacks the server: %q", page)
	}
	if _, _, m := get("GET", "/metrics"); !strings.Contains(m, `haproxy_server_status{proxy="web_10000",server="10_0_0_1_31000"} 0`) ||
		!strings.Contains(m, `haproxy_frontend_current_sessions{proxy="web_10000"} 3`) {
		t.Errorf("metrics:\n%s", m)
	}
	if _, _, p := get("GET", "/_sextant_problems"); !strings.Contains(p, `"label":"HAPROXY_0_PORT"`) {
		t.Errorf("problems %q", p)
	}
}

func TestHUPWithoutResync(t *testing.T) {
	srv := httptest.NewServer(admin.Handler(admin.Options{Engine: &fakeEngine{}}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/_mlb_signal/hup")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "Failed to send SIGHUP signal to marathon-lb (exit code 1). Is marathon-lb running in 'poll' mode?"
	if resp.StatusCode != 500 || string(b) != want {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
	// Before a first generation, the bodies are empty.
	resp, _ = http.Get(srv.URL + "/_haproxy_getconfig")
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(b) != 0 {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
}
