package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/mesosdns/config"
	"github.com/sextantdc/sextant/internal/mesosdns/records"
	"github.com/sextantdc/sextant/internal/testutil"
)

func fixtureSet(t *testing.T) *records.RecordSet {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.Fixtures(t, "mesos"), "fake.zone.resolver-test-settings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var z struct{ As, AAAAs, SRVs map[string][]string }
	if err := json.Unmarshal(b, &z); err != nil {
		t.Fatal(err)
	}
	return &records.RecordSet{Domain: "mesos", A: z.As, AAAA: z.AAAAs, SRV: z.SRVs,
		Frameworks: []records.EnumFramework{
			{Name: "marathon", Tasks: []records.EnumTask{{Name: "nginx", ID: "nginx.1", Records: []records.EnumRecord{{Name: "nginx.marathon.mesos.", Host: "10.3.0.3", RType: "A"}}}}},
			{Name: "no pid"},
		}}
}

func newServer(t *testing.T, rs *records.RecordSet) *httptest.Server {
	t.Helper()
	cfg := config.Default()
	cfg.Masters = []string{"144.76.157.37:5050"}
	cfg.MesosAuthentication = "basic"
	cfg.MesosCredentials = config.Credentials{Principal: "p", Secret: "hunter2"}
	h := New(Options{
		Version:       "0.1.1",
		EnumerationOn: true,
		Records:       func() *records.RecordSet { return rs },
		Serial:        func() uint32 { return 1234 },
		Config:        cfg.PublicJSONWithSerial,
		AXFR:          AXFRInfo{TTL: 60, RefreshSeconds: 60, Mname: "ns1.mesos.", Rname: "root.ns1.mesos.", Domain: "mesos"},
		Status:        func() any { return map[string]any{"stale": false} },
		Metrics:       http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "m 1\n") }),
	})
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, s *httptest.Server, method, path, accept string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestFixtureHTTP is fixtures README §C.
func TestFixtureHTTP(t *testing.T) {
	s := newServer(t, fixtureSet(t))
	for _, c := range []struct {
		path, accept string
		code         int
		body         string
	}{
		{"/v1/version", "", 200, `{"Service":"Mesos-DNS","URL":"https://github.com/mesosphere/mesos-dns","Version":"0.1.1"}`},
		{"/v1/services/_leader._tcp.mesos.", "", 200, `[{"service":"_leader._tcp.mesos.","host":"leader.mesos.","ip":"1.2.3.4","port":"5050"}]`},
		{"/v1/services/_myservice._tcp.mesos.", "", 200, `[{"service":"","host":"","ip":"","port":""}]`},
		{"/v1/hosts/leader.mesos", "", 200, `[{"host":"leader.mesos.","ip":"1.2.3.4"}]`},
		{"/v1/services/_leader._tcp.mesos.", "application/json", 200, `[{"service":"_leader._tcp.mesos.","host":"leader.mesos.","ip":"1.2.3.4","port":"5050"}]`},
		{"/v1/hosts/LEADER.*.mesos", "*/*", 200, `[{"host":"leader.mesos.","ip":"1.2.3.4"}]`},
		{"/v1/hosts/nope.mesos", "text/html, application/json;q=0.9", 200, `[{"host":"","ip":""}]`},
		{"/v1/hosts/google.com", "", 200, `[{"host":"","ip":""}]`},
	} {
		code, ct, body := get(t, s, "GET", c.path, c.accept)
		if code != c.code || ct != "application/json" {
			t.Errorf("%s: %d %s", c.path, code, ct)
		}
		var got, want any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Errorf("%s: %v: %q", c.path, err, body)
			continue
		}
		_ = json.Unmarshal([]byte(c.body), &want)
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if string(gb) != string(wb) {
			t.Errorf("%s:\n got %s\nwant %s", c.path, gb, wb)
		}
	}
}

func TestPrettyPrinting(t *testing.T) {
	s := newServer(t, fixtureSet(t))
	_, _, body := get(t, s, "GET", "/v1/hosts/leader.mesos", "")
	want := "[\n  {\n   \"host\": \"leader.mesos.\",\n   \"ip\": \"1.2.3.4\"\n  }\n ]"
	if body != want {
		t.Fatalf("got %q\nwant %q", body, want)
	}
	_, _, body = get(t, s, "GET", "/v1/version", "")
	if !strings.HasPrefix(body, "{\n  \"Service\": \"Mesos-DNS\",") || !strings.HasSuffix(body, "\n }") {
		t.Fatalf("version body %q", body)
	}
}

func TestErrors(t *testing.T) {
	s := newServer(t, fixtureSet(t))
	for _, c := range []struct {
		method, path, accept string
		code                 int
		body                 string
	}{
		{"POST", "/v1/version", "", 405, "405: Method Not Allowed"},
		{"DELETE", "/v1/hosts/leader.mesos", "", 405, "405: Method Not Allowed"},
		{"GET", "/v2/nothing", "", 404, "404: Page Not Found"},
		{"GET", "/v1/hosts/", "", 404, "404: Page Not Found"},
		{"GET", "/v1/hosts/a/b/c", "", 404, "404: Page Not Found"},
		{"GET", "/v1/version", "text/plain", 406, "406: Not Acceptable"},
		{"GET", "/v1/hosts/leader.mesos/ports", "", 501, "To be implemented..."},
	} {
		code, _, body := get(t, s, c.method, c.path, c.accept)
		if code != c.code || body != c.body {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, code, body, c.code, c.body)
		}
	}
}

func TestConfigRedactsSecretAndShowsSerial(t *testing.T) {
	s := newServer(t, fixtureSet(t))
	code, _, body := get(t, s, "GET", "/v1/config", "")
	if code != 200 || strings.Contains(body, "hunter2") || !strings.Contains(body, `"SOASerial": 1234`) || !strings.HasPrefix(body, "{\n  \"RefreshSeconds\": 60,") {
		t.Fatalf("%d %s", code, body)
	}
}

func TestEnumerateAndAXFR(t *testing.T) {
	rs := fixtureSet(t)
	s := newServer(t, rs)
	_, _, body := get(t, s, "GET", "/v1/enumerate", "")
	var e struct {
		Frameworks []struct {
			Tasks []records.EnumTask `json:"tasks"`
			Name  string             `json:"name"`
		} `json:"frameworks"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Frameworks) != 2 || e.Frameworks[0].Tasks[0].Records[0].Host != "10.3.0.3" {
		t.Fatalf("%v %s", err, body)
	}
	if !strings.Contains(body, `"tasks": []`) || strings.Index(body, `"tasks"`) > strings.Index(body, `"name": "marathon"`) {
		t.Fatalf("framework without tasks must list \"tasks\": [] and tasks come before name: %s", body)
	}
	_, _, body = get(t, s, "GET", "/v1/axfr", "")
	var a struct {
		TTL            int32
		Serial         uint32
		RefreshSeconds int
		Mname, Rname   string
		Domain         string
		Records        struct{ As, AAAAs, SRVs map[string][]string }
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	if a.Serial != 1234 || a.Mname != "ns1.mesos." || len(a.Records.As) != len(rs.A) || len(a.Records.SRVs) != len(rs.SRV) {
		t.Fatalf("%+v", a)
	}

	empty := newServer(t, &records.RecordSet{Domain: "mesos"})
	_, _, body = get(t, empty, "GET", "/v1/enumerate", "")
	if body != "{\n  \"frameworks\": null\n }" {
		t.Fatalf("no frameworks: %q", body)
	}
	_, _, body = get(t, empty, "GET", "/v1/axfr", "")
	if !strings.Contains(body, "\"As\": {}") || !strings.Contains(body, "\"SRVs\": {}") {
		t.Fatalf("empty maps: %s", body)
	}
}

func TestEnumerationOff(t *testing.T) {
	s := httptest.NewServer(New(Options{}))
	defer s.Close()
	for _, p := range []string{"/v1/enumerate", "/v1/axfr", "/v1/status"} {
		if code, _, _ := get(t, s, "GET", p, ""); code != 404 {
			t.Errorf("%s: %d", p, code)
		}
	}
}

func TestMetricsAndStatus(t *testing.T) {
	s := newServer(t, fixtureSet(t))
	if code, _, body := get(t, s, "GET", "/metrics", "text/plain"); code != 200 || body != "m 1\n" {
		t.Errorf("metrics: %d %q", code, body)
	}
	if code, _, body := get(t, s, "GET", "/v1/status", ""); code != 200 || !strings.Contains(body, `"stale": false`) {
		t.Errorf("status: %d %q", code, body)
	}
}

func TestServicesWithAAAA(t *testing.T) {
	rs := &records.RecordSet{Domain: "mesos",
		A:    map[string][]string{"t.mesos.": {"10.0.0.1", "10.0.0.2"}},
		AAAA: map[string][]string{"t.mesos.": {"fd00::1"}},
		SRV:  map[string][]string{"_s._tcp.mesos.": {"t.mesos.:80", "gone.mesos.:81"}},
	}
	s := newServer(t, rs)
	_, _, body := get(t, s, "GET", "/v1/services/_S._tcp.mesos", "")
	var got []serviceJSON
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := []serviceJSON{{"_S._tcp.mesos", "t.mesos.", "10.0.0.1", "80"}, {"_S._tcp.mesos", "t.mesos.", "fd00::1", "80"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("%+v", got)
	}
}

// FuzzAPI: any method, path and Accept header gives one of the API's
// status codes, never a panic, and 200 replies are JSON.
func FuzzAPI(f *testing.F) {
	for _, p := range []string{"/v1/version", "/v1/config", "/v1/hosts/leader.mesos", "/v1/hosts/a/ports", "/v1/services/_x._tcp.mesos.", "/v1/enumerate", "/v1/axfr", "/v1/hosts/", "/v1//", "/metrics"} {
		f.Add("GET", p, "")
		f.Add("POST", p, "text/plain")
	}
	rs := &records.RecordSet{Domain: "mesos", A: map[string][]string{"a.mesos.": {"1.2.3.4", "not-an-ip"}},
		SRV: map[string][]string{"_x._tcp.mesos.": {"a.mesos.:80", "broken"}}}
	h := New(Options{EnumerationOn: true, Records: func() *records.RecordSet { return rs },
		Config: func(uint32) ([]byte, error) { return []byte(`{"a":1}`), nil }})
	f.Fuzz(func(t *testing.T, method, path, accept string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Method = method
		req.URL.Path = path
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case 200:
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %q: invalid JSON %q", method, path, w.Body.String())
			}
		case 404, 405, 406, 501:
		default:
			t.Fatalf("%s %q: status %d", method, path, w.Code)
		}
	})
}
