package haproxy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
)

// knownDifferences are the app sets (or set and flag set, "set|flags")
// whose output differs from marathon-lb's on purpose; each is explained
// in docs/compat/edge.md.
var knownDifferences = map[string]string{
	// marathon-lb raises KeyError: 'tasks' on a body fetched without
	// embed=apps.tasks; the edge sees apps without tasks.
	"marathon-docs-examples/app_list.json": "marathon-lb fails on a body without tasks",
	// One bad label stops marathon-lb's whole generation; the edge leaves
	// out only the service (or deployment group) at fault.
	"local/bad": "marathon-lb fails on the first bad label",
	// Certificates and bind options of a grouped vhost frontend come from
	// Python sets, whose order changes between runs; the edge sorts them.
	"local/labels|group-https-by-vhost": "grouped vhost certificates and bind options are sorted",
	"local/labels|grouped-map":          "grouped vhost certificates and bind options are sorted",
}

// withoutProblems are the sets also compared with marathon-lb on the
// body without their bad apps: marathon-lb reads every label of every
// app, served or not, before it filters, so one bad label anywhere stops
// it.
var withoutProblems = map[string]bool{"local/bad": true}

// withoutBadApps writes the body at path without the apps whose id
// starts with /bad, except those the edge serves (a template label is
// only bad where it is used: with --dont-bind-http-https a broken vhost
// template is never rendered).
func withoutBadApps(t *testing.T, path string, cfg *edge.Config) string {
	t.Helper()
	served := map[string]bool{}
	for _, s := range cfg.Services {
		served[s.AppID] = true
	}
	var keep []map[string]any
	for _, a := range readDefinitions(t, path) {
		if id, _ := a["id"].(string); !strings.HasPrefix(id, "/bad") || served[id] {
			keep = append(keep, a)
		}
	}
	return writeBody(t, keep)
}

// mlbRequest is one request to testdata/mlb_driver.py.
type mlbRequest struct {
	Apps              string            `json:"apps"`
	Groups            []string          `json:"groups"`
	BindHTTPHTTPS     bool              `json:"bind_http_https"`
	SSLCerts          *string           `json:"ssl_certs"`
	HAProxyMap        bool              `json:"haproxy_map"`
	GroupHTTPSByVhost bool              `json:"group_https_by_vhost"`
	HealthCheck       bool              `json:"health_check"`
	StrictMode        bool              `json:"strict_mode"`
	ConfigFile        string            `json:"config_file"`
	MinPort           int               `json:"min_port"`
	MaxPort           int               `json:"max_port"`
	Env               map[string]string `json:"env"`
	TemplatesDir      string            `json:"templates_dir"`
	Hosts             map[string]string `json:"hosts"`
}

type mlbResult struct {
	Config    string `json:"config"`
	DomainMap string `json:"domain_map"`
	AppMap    string `json:"app_map"`
	Error     string `json:"error"`
	Traceback string `json:"traceback"`
}

func request(body string, f flagSet, templates string) mlbRequest {
	o := f.opts
	r := mlbRequest{Apps: body, Groups: o.Groups, BindHTTPHTTPS: !o.DontBindHTTPHTTPS, HAProxyMap: o.HAProxyMap,
		GroupHTTPSByVhost: o.GroupHTTPSByVhost, HealthCheck: o.HealthCheck, StrictMode: o.StrictMode,
		ConfigFile: o.ConfigFile, MinPort: 10050, MaxPort: 10100, Env: f.env, TemplatesDir: templates, Hosts: hosts}
	if r.ConfigFile == "" {
		r.ConfigFile = edge.DefaultConfigFile
	}
	if len(o.SSLCerts) > 0 {
		s := strings.Join(o.SSLCerts, ",")
		r.SSLCerts = &s
	}
	switch {
	case o.NoServicePortAssignment:
		r.MinPort, r.MaxPort = 0, 0
	case o.ServicePorts != (edge.PortRange{}):
		r.MinPort, r.MaxPort = o.ServicePorts.Min, o.ServicePorts.Max
	}
	return r
}

// marathonLB finds the marathon-lb checkout ($MARATHON_LB_DIR) and a
// Python that can import it, or skips.
func marathonLB(t *testing.T) (python, dir string) {
	t.Helper()
	dir = os.Getenv("MARATHON_LB_DIR")
	if dir == "" {
		t.Skip("MARATHON_LB_DIR is not set: point it at a marathon-lb checkout to compare with marathon-lb " +
			"(see docs/compat/edge.md, \"Running the comparison\")")
	}
	if _, err := os.Stat(filepath.Join(dir, "marathon_lb.py")); err != nil {
		t.Skipf("MARATHON_LB_DIR=%s holds no marathon_lb.py: %v", dir, err)
	}
	candidates := []string{os.Getenv("MARATHON_LB_PYTHON"), "python3", "/usr/bin/python3"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		cmd := exec.Command(p, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import marathon_lb", dir)
		if cmd.Run() == nil {
			return p, dir
		}
	}
	t.Skip("no python3 can import marathon_lb (Debian: apt-get install python3-requests python3-six " +
		"python3-dateutil python3-pycurl python3-cryptography python3-jwt; or set MARATHON_LB_PYTHON)")
	return "", ""
}

func runMarathonLB(t *testing.T, python, dir string, reqs []mlbRequest) []mlbResult {
	t.Helper()
	in, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	driver, err := filepath.Abs(filepath.Join("testdata", "mlb_driver.py"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, driver)
	cmd.Env = append(os.Environ(), "MARATHON_LB_DIR="+dir, "PYTHONHASHSEED=0")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("marathon-lb driver: %v\n%s", err, stderr.String())
	}
	var res []mlbResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("marathon-lb driver output: %v", err)
	}
	return res
}

// TestSideBySide renders every app set under every flag set with the
// edge and with marathon-lb itself, and wants the same bytes: haproxy.cfg
// and both map bodies. Differences are allowed only where
// knownDifferences lists (and docs/compat/edge.md explains) them.
func TestSideBySide(t *testing.T) {
	python, dir := marathonLB(t)
	type job struct {
		set, flags string
		edge       haproxy.Output
	}
	var jobs []job
	var reqs []mlbRequest
	var counts tally
	for _, s := range appSets() {
		t.Run(s.name, func(t *testing.T) {
			body := s.body(t) // skips when the fixtures are absent
			abs, err := filepath.Abs(body)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range flagSets() {
				out, _ := generate(t, abs, f, haproxy.HAProxy20)
				jobs = append(jobs, job{set: s.name, flags: f.name, edge: out})
				reqs = append(reqs, request(abs, f, templatesDir(t, f)))
			}
			// The bodies and template directories live in this subtest's
			// temporary directories: marathon-lb runs before they go.
			batch := reqs[len(reqs)-len(flagSets()):]
			res := runMarathonLB(t, python, dir, batch)
			for i, r := range res {
				j := jobs[len(jobs)-len(res)+i]
				counts.compare(t, j.set, j.flags, j.edge, r)
			}
			if !withoutProblems[s.name] {
				return
			}
			// The edge leaves out what marathon-lb cannot take; the rest
			// must be what marathon-lb makes of the body without it.
			for i, f := range flagSets() {
				out, cfg := generate(t, abs, f, haproxy.HAProxy20)
				for _, p := range cfg.Problems {
					if !strings.HasPrefix(p.App, "/bad") {
						t.Errorf("%s with %s: a problem for a good app: %s", s.name, f.name, p)
					}
				}
				req := batch[i]
				req.Apps = withoutBadApps(t, abs, cfg)
				r := runMarathonLB(t, python, dir, []mlbRequest{req})[0]
				counts.compare(t, s.name+" without its problems", f.name, out, r)
			}
		})
	}
	t.Logf("side by side: %d identical, %d documented differences, %d unexpected (of %d)",
		counts.same, counts.known, counts.unexpected, counts.same+counts.known+counts.unexpected)
}

type tally struct{ same, known, unexpected int }

func (tally *tally) compare(t *testing.T, set, flags string, got haproxy.Output, want mlbResult) {
	t.Helper()
	same := want.Error == "" && got.Config == want.Config && got.DomainMap == want.DomainMap && got.AppMap == want.AppMap
	reason, known := knownDifferences[set]
	if !known {
		reason, known = knownDifferences[set+"|"+flags]
	}
	switch {
	case same && known:
		tally.same++
		t.Logf("%s with %s: identical, but listed as a known difference (%s)", set, flags, reason)
	case same:
		tally.same++
	case known:
		tally.known++
	default:
		tally.unexpected++
		if want.Error != "" {
			t.Errorf("%s with %s: marathon-lb failed: %s\n%s", set, flags, want.Error, want.Traceback)
			return
		}
		t.Errorf("%s with %s: the edge differs from marathon-lb (- marathon-lb, + edge):\n%s%s%s", set, flags,
			lineDiff(want.Config, got.Config), lineDiff(want.DomainMap, got.DomainMap), lineDiff(want.AppMap, got.AppMap))
	}
}

// lineDiff is a small line diff: the lines only one side has, in order,
// with a little context. Enough to read a template mismatch.
func lineDiff(a, b string) string {
	if a == b {
		return ""
	}
	x, y := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	// Longest common subsequence table.
	n, m := len(x), len(y)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+ " + strings.TrimSuffix(y[j], "\n") + "\n")
			j++
		default:
			out.WriteString("- " + strings.TrimSuffix(x[i], "\n") + "\n")
			i++
		}
	}
	return out.String()
}
