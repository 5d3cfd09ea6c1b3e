package gateway

import (
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/model"
)

func TestParseSRVAnswer(t *testing.T) {
	for body, want := range map[string]string{
		`[{"service":"_a._tcp.marathon.mesos","host":"a.marathon.mesos","ip":"10.0.0.5","port":"31005"}]`: "http://10.0.0.5:31005",
		`[{"ip":"10.0.0.5","port":"1"},{"ip":"10.0.0.6","port":"2"}]`:                                     "http://10.0.0.5:1",
		`[{"ip":"fd01::5","port":"80"}]`:                                                                  "http://[fd01::5]:80",
		`[{"service":"","host":"","ip":"","port":""}]`:                                                    "",
		`[]`:                                 "",
		`{`:                                  "error: Mesos-DNS answer",
		`{"ip":"10.0.0.5"}`:                  "error: Mesos-DNS answer",
		`[{"ip":"not-an-ip","port":"80"}]`:   "error: [0].ip",
		`[{"ip":"10.0.0.5","port":"99999"}]`: "error: [0].port",
		`[{"ip":"10.0.0.5","port":"x"}]`:     "error: [0].port",
	} {
		u, err := parseSRVAnswer([]byte(body))
		switch {
		case strings.HasPrefix(want, "error: "):
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(want, "error: ")) {
				t.Errorf("%s: %v %v, want an error naming %q", body, u, err, strings.TrimPrefix(want, "error: "))
			}
		case want == "":
			if u != nil || err != nil {
				t.Errorf("%s: %v %v, want not found", body, u, err)
			}
		default:
			if err != nil || u == nil || u.String() != want {
				t.Errorf("%s: %v %v, want %s", body, u, err, want)
			}
		}
	}
}

func FuzzParseSRVAnswer(f *testing.F) {
	f.Add(`[{"ip":"10.0.0.5","port":"31005"}]`)
	f.Add(`[{"ip":"","port":""}]`)
	f.Add(`[{"ip":"::1","port":"0"}]`)
	f.Fuzz(func(t *testing.T, body string) {
		u, err := parseSRVAnswer([]byte(body))
		if err == nil && u != nil && (u.Scheme != "http" || u.Host == "" || u.Path != "") {
			t.Fatalf("%q → %v", body, u)
		}
	})
}

// TestAppLabels: an app whose /service labels are missing or bad is
// skipped (never routed, never a crash), the others still route.
func TestAppLabels(t *testing.T) {
	task := model.AppTask{State: model.TaskRunning, Endpoints: []model.Endpoint{{Index: 0, Host: "10.0.0.5", Port: 31000}}}
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{LabelServiceScheme: "http", LabelServicePortIndex: "0"}, "http://10.0.0.5:31000"},
		{map[string]string{LabelServiceScheme: "https", LabelServicePortIndex: " 0 "}, "https://10.0.0.5:31000"},
		{map[string]string{LabelServiceScheme: "ftp", LabelServicePortIndex: "0"}, ""},
		{map[string]string{LabelServicePortIndex: "0"}, ""},
		{map[string]string{LabelServiceScheme: "http"}, ""},
		{map[string]string{LabelServiceScheme: "http", LabelServicePortIndex: "-1"}, ""},
		{map[string]string{LabelServiceScheme: "http", LabelServicePortIndex: "1"}, ""},
		{map[string]string{LabelServiceScheme: "http", LabelServicePortIndex: "zero"}, ""},
		{map[string]string{LabelServiceScheme: "http", LabelServicePortIndex: "99999999999999999999"}, ""},
	} {
		a := &model.App{ID: "/a", Labels: tc.labels, Tasks: []model.AppTask{task}}
		u, ok := appUpstream(a)
		got := ""
		if ok {
			got = u.String()
		}
		if got != tc.want {
			t.Errorf("%v: %q, want %q", tc.labels, got, tc.want)
		}
	}
	for v, off := range map[string]bool{"false": true, "False": true, " false ": true, "true": false, "": false, "no": false, "0": false} {
		if got := labelFalse(v, true); got != off {
			t.Errorf("labelFalse(%q) = %v", v, got)
		}
	}
}
