package obs

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

type fixedSources []SourceHealth

func (f fixedSources) SourceHealth() []SourceHealth { return f }

func ptr(f float64) *float64 { return &f }

// TestHealthSourceStates: the status code and body for each source state,
// and how checks combine with them.
func TestHealthSourceStates(t *testing.T) {
	last := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	errAt := last.Add(10 * time.Second)
	ok := SourceHealth{Name: "mesos", State: SourceOK, Age: 2 * time.Second, LastSuccess: last, StaleAfter: 3 * time.Minute}
	staleYoung := SourceHealth{Name: "mesos", State: SourceStale, Age: 12500 * time.Millisecond, LastSuccess: last,
		LastError: "connection refused", LastErrorTime: errAt, StaleAfter: 3 * time.Minute}
	staleOld := staleYoung
	staleOld.Age = 200 * time.Second
	staleOld.Failing = "stale for 3m20s, longer than 3m0s: connection refused"
	noData := SourceHealth{Name: "marathon", State: SourceNoData, LastError: "dial tcp: refused", LastErrorTime: errAt,
		StaleAfter: 3 * time.Minute, Failing: "no data yet: dial tcp: refused"}
	for _, c := range []struct {
		name    string
		sources []SourceHealth
		check   error
		code    int
		status  string
		want    []sourceJSON
	}{
		{name: "no sources", code: 200, status: "ok"},
		{name: "ok", sources: []SourceHealth{ok}, code: 200, status: "ok",
			want: []sourceJSON{{Name: "mesos", State: "ok", AgeSeconds: ptr(2), LastSuccess: "2030-01-02T03:04:05Z", StaleAfterSeconds: 180}}},
		{name: "stale within the bound", sources: []SourceHealth{staleYoung}, code: 200, status: "degraded",
			want: []sourceJSON{{Name: "mesos", State: "stale", AgeSeconds: ptr(12.5), LastSuccess: "2030-01-02T03:04:05Z",
				LastError: "connection refused", LastErrorTime: "2030-01-02T03:04:15Z", StaleAfterSeconds: 180}}},
		{name: "stale past the bound", sources: []SourceHealth{staleOld}, code: 503, status: "unhealthy",
			want: []sourceJSON{{Name: "mesos", State: "stale", AgeSeconds: ptr(200), LastSuccess: "2030-01-02T03:04:05Z",
				LastError: "connection refused", LastErrorTime: "2030-01-02T03:04:15Z", StaleAfterSeconds: 180, Error: staleOld.Failing}}},
		{name: "no data", sources: []SourceHealth{ok, noData}, code: 503, status: "unhealthy",
			want: []sourceJSON{
				{Name: "mesos", State: "ok", AgeSeconds: ptr(2), LastSuccess: "2030-01-02T03:04:05Z", StaleAfterSeconds: 180},
				{Name: "marathon", State: "no-data", LastError: "dial tcp: refused", LastErrorTime: "2030-01-02T03:04:15Z",
					StaleAfterSeconds: 180, Error: noData.Failing}}},
		{name: "a failing check wins over fresh sources", sources: []SourceHealth{ok}, check: errors.New("no records loaded yet"),
			code: 503, status: "unhealthy",
			want: []sourceJSON{{Name: "mesos", State: "ok", AgeSeconds: ptr(2), LastSuccess: "2030-01-02T03:04:05Z", StaleAfterSeconds: 180}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := &Health{}
			h.Add("role", func() error { return c.check })
			if c.sources != nil {
				h.SetSources(fixedSources(c.sources))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
			if rec.Code != c.code {
				t.Errorf("code %d, want %d", rec.Code, c.code)
			}
			var body struct {
				Status  string            `json:"status"`
				Checks  map[string]string `json:"checks"`
				Sources []sourceJSON      `json:"sources"`
				Time    string            `json:"time"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("%v: %s", err, rec.Body)
			}
			if body.Status != c.status || body.Time == "" {
				t.Errorf("status %q time %q, want %q", body.Status, body.Time, c.status)
			}
			wantCheck := "ok"
			if c.check != nil {
				wantCheck = c.check.Error()
			}
			if body.Checks["role"] != wantCheck {
				t.Errorf("checks %v", body.Checks)
			}
			if !reflect.DeepEqual(c.want, body.Sources) {
				t.Errorf("sources\n got %s\nwant %s", show(body.Sources), show(c.want))
			}
		})
	}
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestServeETag(t *testing.T) {
	body := []byte(`[{"vip":"1.2.3.4:80","protocol":"tcp","backend":[]}]` + "\n")
	tag := ETag(body)
	get := func(inm string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/vips", nil)
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		w := httptest.NewRecorder()
		ServeETag(w, r, body)
		return w
	}
	tests := []struct {
		inm  string
		want int
	}{
		{"", 200}, {tag, 304}, {"W/" + tag, 304}, {strings.Trim(tag, `"`), 304}, {`"other", ` + tag, 304},
		{"*", 304}, {`"other"`, 200}, {`W/"x"`, 200}, {",,", 200},
	}
	for _, tc := range tests {
		w := get(tc.inm)
		if w.Code != tc.want || w.Header().Get("ETag") != tag {
			t.Errorf("If-None-Match %q: %d etag %q, want %d %q", tc.inm, w.Code, w.Header().Get("ETag"), tc.want, tag)
		}
		if tc.want == 200 && w.Body.String() != string(body) {
			t.Errorf("If-None-Match %q: body %q", tc.inm, w.Body.String())
		}
	}
	if ETag([]byte("a")) == ETag([]byte("b")) {
		t.Error("different documents share a tag")
	}
}

func FuzzMatchETag(f *testing.F) {
	f.Add(`"abc", W/"def"`, `"abc"`)
	f.Add("*", `"x"`)
	f.Fuzz(func(t *testing.T, header, tag string) {
		if MatchETag(header, tag) && header == "" {
			t.Fatal("empty header matched")
		}
	})
}
