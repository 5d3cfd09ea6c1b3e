package haproxy_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
	"github.com/sextantdc/sextant/internal/source/marathon"
	"github.com/sextantdc/sextant/internal/testutil"
)

// appSet is one saved GET /v2/apps body the edge is tested on.
type appSet struct {
	name string
	// body returns the path of the body; it skips the test when the
	// fixtures are not there.
	body func(t *testing.T) string
}

// fixtureResponses are the fixtures that are /v2/apps responses, used as
// they are.
var fixtureResponses = []string{
	"marathon-lb-tests/marathon15_apps.json",
	"marathon-lb-tests/zdd_apps.json",
	"marathon-lb-tests/zdd_app_blue.json",
	"marathon-lb-tests/zdd_app_blue_marathon1.5.json",
	"marathon-docs-examples/app_list.json",
}

// fixtureDefinitions are app definitions (what is POSTed to Marathon);
// they are turned into the response Marathon gives once they run (see
// deploy), each set holding the definitions of one directory.
var fixtureDefinitions = []struct {
	name  string
	files []string
}{
	{"marathon-lb-tests/1-nginx.json", []string{"marathon-lb-tests/1-nginx.json"}},
	{"marathon-lb-tests/1-nginx-marathon1.5.json", []string{"marathon-lb-tests/1-nginx-marathon1.5.json"}},
	{"marathon-docs-examples/app.json", []string{"marathon-docs-examples/app.json"}},
	{"marathon-docs-examples/app_list.json+tasks", []string{"marathon-docs-examples/app_list.json"}},
	{"marathon-lb-ci/backends", []string{"docker_bridge.json", "docker_host.json", "docker_ippc.json", "ucr_bridge.json",
		"ucr_host.json", "ucr_ippc.json"}},
	{"marathon-lb-ci/backends_1.9", []string{"docker_bridge.json", "docker_host.json", "docker_ippc.json", "ucr_host.json"}},
}

// localSets are this package's own bodies (testdata/apps), written to
// exercise every label, the blue/green merge and the task filters.
var localSets = []string{"labels", "templates", "healthchecks", "ports", "bad"}

// hosts resolves the agent host names the local sets use, for both
// marathon-lb (the driver's table) and the edge (Options.Resolve).
var hosts = map[string]string{"agent1": "192.0.2.1", "agent2.example.com": "192.0.2.2"}

func resolve(h string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(hosts[h])
	return a, err == nil
}

func appSets() []appSet {
	var sets []appSet
	for _, f := range fixtureResponses {
		sets = append(sets, appSet{name: f, body: func(t *testing.T) string {
			return filepath.Join(testutil.Fixtures(t, "marathon"), f)
		}})
	}
	for _, d := range fixtureDefinitions {
		sets = append(sets, appSet{name: d.name, body: func(t *testing.T) string {
			dir := testutil.Fixtures(t, "marathon")
			var defs []map[string]any
			for _, f := range d.files {
				p := filepath.Join(dir, f)
				if !strings.Contains(f, "/") {
					p = filepath.Join(dir, d.name, f)
				}
				defs = append(defs, readDefinitions(t, p)...)
			}
			return writeBody(t, deploy(defs))
		}})
	}
	for _, n := range localSets {
		sets = append(sets, appSet{name: "local/" + n, body: func(*testing.T) string {
			return filepath.Join("testdata", "apps", n+".json")
		}})
	}
	return sets
}

// readDefinitions reads an app definition, or the apps of a /v2/apps
// body.
func readDefinitions(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if l, ok := doc["apps"].([]any); ok {
		var out []map[string]any
		for _, a := range l {
			out = append(out, a.(map[string]any))
		}
		return out
	}
	return []map[string]any{doc}
}

func writeBody(t *testing.T, apps []map[string]any) string {
	t.Helper()
	b, err := json.MarshalIndent(map[string]any{"apps": apps}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "apps.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// flagSet is one marathon-lb command line (and environment).
type flagSet struct {
	name string
	opts edge.Options
	// env are environment variables marathon-lb runs with (templates,
	// HAPROXY_GLOBAL_DEFAULT_OPTIONS, FRAMEWORK_NAME).
	env map[string]string
	// files are template files in the templates directory.
	files map[string]string
}

func groups(g ...string) edge.Options {
	return edge.Options{Groups: g, HealthCheck: true, Resolve: resolve}
}

func with(o edge.Options, f func(*edge.Options)) edge.Options { f(&o); return o }

// flagSets are the combinations every app set is compared on. The
// first is marathon-lb's container default (sse --health-check --group
// external).
func flagSets() []flagSet {
	ext := groups("external")
	return []flagSet{
		{name: "default", opts: ext},
		{name: "no-health-check", opts: with(ext, func(o *edge.Options) { o.HealthCheck = false })},
		{name: "haproxy-map", opts: with(ext, func(o *edge.Options) { o.HAProxyMap = true })},
		{name: "dont-bind-http-https", opts: with(ext, func(o *edge.Options) { o.DontBindHTTPHTTPS = true })},
		{name: "group-https-by-vhost", opts: with(ext, func(o *edge.Options) { o.GroupHTTPSByVhost = true })},
		{name: "grouped-map", opts: with(ext, func(o *edge.Options) { o.GroupHTTPSByVhost, o.HAProxyMap = true, true })},
		{name: "strict-mode", opts: with(ext, func(o *edge.Options) { o.StrictMode = true })},
		{name: "all-groups", opts: groups("*")},
		{name: "internal", opts: groups("internal", "other")},
		{name: "ssl-certs", opts: with(ext, func(o *edge.Options) {
			o.SSLCerts = edge.ParseSSLCerts("/etc/ssl/site1.pem,/etc/ssl/site2.pem")
		})},
		{name: "map-dir", opts: with(groups("*"), func(o *edge.Options) {
			o.HAProxyMap, o.ConfigFile = true, "/marathon-lb/haproxy.cfg"
		})},
		{name: "ports-off", opts: with(groups("*"), func(o *edge.Options) { o.NoServicePortAssignment = true })},
		{name: "ports-narrow", opts: with(groups("*"), func(o *edge.Options) { o.ServicePorts = edge.PortRange{Min: 11000, Max: 11001} })},
		{name: "framework-name", opts: with(groups("*"), func(o *edge.Options) { o.FrameworkName = "nginx-green" }),
			env: map[string]string{"FRAMEWORK_NAME": "nginx-green"}},
		{name: "env-templates", opts: ext, env: map[string]string{
			"HAPROXY_GLOBAL_DEFAULT_OPTIONS": " redispatch,forwardfor ,dontlognull,redispatch",
			"HAPROXY_HTTP_FRONTEND_HEAD":     `\nfrontend marathon_http_in\n  bind *:8080\n  mode http\n`,
			"HAPROXY_BACKEND_HEAD":           `\nbackend {backend}\n  balance {balance}\n  mode {mode}\n  timeout server 60s\n`,
		}},
		{name: "template-files", opts: ext, files: map[string]string{
			"HAPROXY_FRONTEND_HEAD":                    "\r\nfrontend {backend}\r\n  bind {bindAddr}:{servicePort}{sslCert}{bindOptions}\r\n  mode {mode}\r\n  option tcplog\r\n",
			"HAPROXY_BACKEND_SERVER_OPTIONS":           "  server {serverName} {host_ipv4}:{port} id {serverId}{cookieOptions}{healthCheckOptions}{otherOptions} maxconn 100\n",
			"HAPROXY_BACKEND_HTTP_HEALTHCHECK_OPTIONS": "  option  httpchk GET {healthCheckPath} HTTP/1.1\\r\\nHost:\\ {healthCheckPort}\n  timeout check {healthCheckTimeoutSeconds}s\n",
		}},
	}
}

// generate is the edge's output for one app set and flag set.
func generate(t *testing.T, body string, f flagSet, dialect haproxy.Dialect) (haproxy.Output, *edge.Config) {
	t.Helper()
	b, err := os.ReadFile(body)
	if err != nil {
		t.Fatal(err)
	}
	apps, _, err := marathon.DecodeApps(b)
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	cfg, err := edge.Build(apps, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := haproxy.Load(haproxy.LoadOptions{Dir: templatesDir(t, f), Dialect: dialect,
		LookupEnv: func(k string) (string, bool) { v, ok := f.env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	out, err := haproxy.Render(cfg, tm)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return out, cfg
}

// templatesDir writes the flag set's template files ("" when none).
func templatesDir(t *testing.T, f flagSet) string {
	t.Helper()
	if len(f.files) == 0 {
		return ""
	}
	dir := t.TempDir()
	for _, name := range slices.Sorted(maps.Keys(f.files)) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(f.files[name]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dump is one output as a golden file holds it: the config (the default
// HEAD, tested on its own, folded into one line), the maps, the
// problems.
func dump(out haproxy.Output, cfg *edge.Config) string {
	var b strings.Builder
	head := haproxy.Default().Text(edge.Head)
	c, folded := strings.CutPrefix(out.Config, head)
	if folded {
		b.WriteString("# default HAPROXY_HEAD\n")
	}
	b.WriteString(c)
	if out.DomainMap != "" || out.AppMap != "" {
		fmt.Fprintf(&b, "\n# domain2backend.map\n%s# app2backend.map\n%s", out.DomainMap, out.AppMap)
	}
	if len(cfg.Problems) > 0 {
		b.WriteString("\n# problems\n")
		for _, p := range cfg.Problems {
			b.WriteString(p.String() + "\n")
		}
	}
	return b.String()
}

// fileName turns a set and flag name into a golden file name.
func fileName(set, flags string) string {
	r := strings.NewReplacer("/", "_", "+", "_", ".json", "")
	return r.Replace(set) + "__" + flags + ".golden"
}
