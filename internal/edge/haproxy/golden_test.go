package haproxy_test

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
)

var update = flag.Bool("update", false, "rewrite testdata/golden")

// goldenFlags are the flag sets with golden files: for the fixtures the
// three layouts of the shared frontends, for the local sets the options
// that change which rules exist.
func goldenFlags(set string) []string {
	if strings.HasPrefix(set, "local/") {
		return []string{"default", "no-health-check", "haproxy-map", "group-https-by-vhost", "grouped-map",
			"dont-bind-http-https", "all-groups", "strict-mode"}
	}
	return []string{"default", "haproxy-map", "group-https-by-vhost"}
}

func flagsNamed(t *testing.T, name string) flagSet {
	t.Helper()
	for _, f := range flagSets() {
		if f.name == name {
			return f
		}
	}
	t.Fatalf("no flag set %q", name)
	return flagSet{}
}

// golden compares got with testdata/golden/name, or rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (- golden, + now; go test -update rewrites it):\n%s", name, lineDiff(string(want), got))
	}
}

// TestGolden renders every app set (fixtures and local sets) under the
// golden flag sets.
func TestGolden(t *testing.T) {
	golden(t, "head.golden", haproxy.Default().Text(edge.Head))
	for _, s := range appSets() {
		t.Run(s.name, func(t *testing.T) {
			body := s.body(t)
			for _, fl := range goldenFlags(s.name) {
				out, cfg := generate(t, body, flagsNamed(t, fl), haproxy.HAProxy20)
				golden(t, fileName(s.name, fl), dump(out, cfg))
			}
		})
	}
}

// TestFixtureExpectations checks the lines the fixtures' README (and the
// marathon-lb unit tests it summarises) expect.
func TestFixtureExpectations(t *testing.T) {
	cases := []struct {
		set, flags string
		// want are lines that must appear in this order (not necessarily
		// adjacent; a line may go on after a space); absent are prefixes
		// of lines that must not appear.
		want, absent []string
	}{
		{set: "marathon-lb-tests/marathon15_apps.json", flags: "default", want: []string{
			"frontend marathon_http_in",
			"  acl host_myvhost_com_pywebserver hdr(host) -i myvhost.com",
			"  use_backend pywebserver_10101 if host_myvhost_com_pywebserver",
			"frontend marathon_http_appid_in",
			"  acl app__pywebserver hdr(x-marathon-app-id) -i /pywebserver",
			"  use_backend pywebserver_10101 if app__pywebserver",
			"frontend marathon_https_in",
			"  bind *:443 ssl crt /etc/ssl/cert.pem",
			"  use_backend pywebserver_10101 if { ssl_fc_sni myvhost.com }",
			"frontend pywebserver_10101",
			"  bind *:10101",
			"  mode http",
			"  use_backend pywebserver_10101",
			"backend pywebserver_10101",
			"  balance roundrobin",
			"  mode http",
			"  option forwardfor",
			"  http-request set-header X-Forwarded-Port %[dst_port]",
			"  http-request add-header X-Forwarded-Proto https if { ssl_fc }",
			"  server 10_0_2_148_1565 10.0.2.148:1565 id 16827",
		}},
		{set: "marathon-lb-tests/zdd_apps.json", flags: "default", want: []string{
			"frontend marathon_http_in",
			"  mode http",
			"frontend marathon_http_appid_in",
			"  acl app__nginx hdr(x-marathon-app-id) -i /nginx",
			"  use_backend nginx_10000 if app__nginx",
			"frontend marathon_https_in",
			"frontend nginx_10000",
			"  bind *:10000",
			"  mode http",
			"backend nginx_10000",
			"  option  httpchk GET /",
			"  timeout check 15s",
			"  server 10_0_1_147_25724 10.0.1.147:25724 id 9975 check inter 3s fall 11",
			"  server 10_0_6_25_16916 10.0.6.25:16916 id 14685 check inter 3s fall 11",
			"  server 10_0_6_25_23336 10.0.6.25:23336 id 14676 check inter 3s fall 11",
			"  server 10_0_6_25_31184 10.0.6.25:31184 id 27565 check inter 3s fall 11 disabled",
		}, absent: []string{"frontend nginx_10001", "  acl host_"}},
		{set: "marathon-lb-tests/zdd_app_blue.json", flags: "default", want: []string{
			"  server 10_0_6_25_16916 10.0.6.25:16916",
			"  server 10_0_6_25_23336 10.0.6.25:23336",
			"  server 10_0_6_25_31184 10.0.6.25:31184",
		}},
		{set: "marathon-lb-tests/zdd_app_blue_marathon1.5.json", flags: "default", want: []string{
			"frontend nginx_10000",
			"  server 10_0_6_25_16916 10.0.6.25:16916",
			"  server 10_0_6_25_23336 10.0.6.25:23336",
			"  server 10_0_6_25_31184 10.0.6.25:31184",
		}},
	}
	for _, app := range []struct{ set, name, port string }{
		{"marathon-lb-ci/backends", "nginx-docker-bridge", "10100"},
		{"marathon-lb-ci/backends", "nginx-docker-ippc", "10200"},
		{"marathon-lb-ci/backends", "nginx-docker-host", "10300"},
		{"marathon-lb-ci/backends", "nginx-ucr-host", "10400"},
		{"marathon-lb-ci/backends", "nginx-ucr-bridge", "10500"},
		{"marathon-lb-ci/backends", "nginx-ucr-ippc", "10600"},
		{"marathon-lb-ci/backends_1.9", "nginx-docker-bridge", "10100"},
		{"marathon-lb-ci/backends_1.9", "nginx-docker-ippc", "10200"},
		{"marathon-lb-ci/backends_1.9", "nginx-docker-host", "10300"},
		{"marathon-lb-ci/backends_1.9", "nginx-ucr-host", "10400"},
	} {
		// ci/test_marathon_lb.py finds "<app name>…\n  bind <addr>:<port>"
		// in the config and wants HAPROXY_0_PORT there.
		cases = append(cases, struct {
			set, flags   string
			want, absent []string
		}{set: app.set, flags: "default", want: []string{
			"frontend " + app.name + "_" + app.port, "  bind *:" + app.port,
		}})
	}
	sets := map[string]appSet{}
	for _, s := range appSets() {
		sets[s.name] = s
	}
	for _, c := range cases {
		t.Run(c.set+"/"+app(c.want), func(t *testing.T) {
			out, _ := generate(t, sets[c.set].body(t), flagsNamed(t, c.flags), haproxy.HAProxy20)
			lines := strings.Split(out.Config, "\n")
			at := 0
			for _, w := range c.want {
				i := slices.IndexFunc(lines[at:], func(l string) bool { return l == w || strings.HasPrefix(l, w+" ") })
				if i < 0 {
					t.Errorf("%s: want %q after line %d", c.set, w, at)
					continue
				}
				at += i + 1
			}
			for _, a := range c.absent {
				if slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, a) }) {
					t.Errorf("%s: want no line starting %q", c.set, a)
				}
			}
			if t.Failed() {
				t.Logf("config:\n%s", out.Config[len(haproxy.Default().Text(edge.Head)):])
			}
		})
	}
}

func app(want []string) string {
	for _, w := range want {
		if strings.HasPrefix(w, "frontend ") && !strings.HasPrefix(w, "frontend marathon_") {
			return strings.TrimPrefix(w, "frontend ")
		}
	}
	return "config"
}
