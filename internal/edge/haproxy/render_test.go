package haproxy_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
	"github.com/sextantdc/sextant/internal/model"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("HAPROXY_BACKEND_HEAD", "\r\nbackend {backend}\r\n  balance {balance}\r\n  mode {mode}\r")
	write("HAPROXY_FRONTEND_HEAD", "from the file")
	write("HAPROXY_NOT_A_TEMPLATE", "ignored")
	tm, err := haproxy.Load(haproxy.LoadOptions{Dir: dir, LookupEnv: env(map[string]string{
		"HAPROXY_FRONTEND_HEAD":          `from\nthe environment`,
		"HAPROXY_USERLIST_HEAD":          "", // empty: not an override
		"HAPROXY_GLOBAL_DEFAULT_OPTIONS": "",
	})})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name edge.Template
		want string
	}{
		{edge.BackendHead, "\nbackend {backend}\n  balance {balance}\n  mode {mode}\n"}, // read as Python text files are
		{edge.FrontendHead, "from\nthe environment"},                                    // the environment wins, \n unescaped
		{edge.UserlistHead, haproxy.Default().Text(edge.UserlistHead)},
	}
	for _, c := range cases {
		if got := tm.Text(c.name); got != c.want {
			t.Errorf("%s = %q, want %q", c.name, got, c.want)
		}
	}
	// Set but empty: one empty option line, as marathon-lb writes it.
	if head := tm.Text(edge.Head); !strings.Contains(head, "  timeout tarpit          60s\n  option            \nlisten stats") {
		t.Errorf("HAPROXY_GLOBAL_DEFAULT_OPTIONS=\"\" gives:\n%s", head)
	}
	opts, err := haproxy.Load(haproxy.LoadOptions{LookupEnv: env(map[string]string{
		"HAPROXY_GLOBAL_DEFAULT_OPTIONS": " redispatch,forwardfor ,dontlognull,redispatch"})})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(opts.Text(edge.Head), "  option            dontlognull\n  option            forwardfor\n"+
		"  option            redispatch\nlisten stats") {
		t.Errorf("options are not trimmed, de-duplicated and sorted:\n%s", opts.Text(edge.Head))
	}

	// A template file that exists but cannot be read is an error.
	if err := os.Mkdir(filepath.Join(dir, "HAPROXY_BACKEND_HTTP_OPTIONS"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := haproxy.Load(haproxy.LoadOptions{Dir: dir}); err == nil {
		t.Error("an unreadable template file is not an error")
	}
}

func TestHeadCheck(t *testing.T) {
	cfg, err := edge.Build(nil, edge.Options{Groups: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, head := range []string{
		"global\n  daemon\n  stats socket /x expose-fd listeners\n",
		"global\n  stats socket /x\n",
	} {
		_, err := haproxy.Render(cfg, haproxy.Default().With(edge.Head, head))
		if !errors.Is(err, haproxy.ErrHead) {
			t.Errorf("head %q: %v, want ErrHead", head, err)
		}
	}
	// "daemon" inside a word is fine (marathon-lb splits on whitespace).
	if _, err := haproxy.Render(cfg, haproxy.Default().With(edge.Head,
		"global\n  log-tag mydaemon\n  stats socket /x expose-fd listeners\n")); err != nil {
		t.Error(err)
	}
	// A global template that does not format fails the render.
	if _, err := haproxy.Render(cfg, haproxy.Default().With(edge.HTTPSFrontendHead, "{nope}")); err == nil {
		t.Error("a broken global template renders")
	}
}

// TestNoApps is marathon-lb's test_config_no_apps: the head and the
// three shared frontends.
func TestNoApps(t *testing.T) {
	cfg, err := edge.Build(nil, edge.Options{Groups: []string{"external"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := haproxy.Render(cfg, haproxy.Default())
	if err != nil {
		t.Fatal(err)
	}
	want := haproxy.Default().Text(edge.Head) + `
frontend marathon_http_in
  bind *:80
  mode http

frontend marathon_http_appid_in
  bind *:9091
  mode http

frontend marathon_https_in
  bind *:443 ssl crt /etc/ssl/cert.pem
  mode http
`
	if out.Config != want || out.DomainMap != "" || out.AppMap != "" {
		t.Errorf("got:\n%s", lineDiff(want, out.Config))
	}
}

// FuzzRender: whatever the labels, Build's configuration renders with
// the default templates (a label either works or leaves its service out).
func FuzzRender(f *testing.F) {
	f.Add("VHOST", "a.example.com,b.example.com", "PATH", "/x", "AUTH", "r:u:p", true)
	f.Add("HTTP_FRONTEND_ACL", "  acl {x}\n", "BACKEND_WEIGHT", "-1", "MODE", "tcp", false)
	f.Add("BACKEND_SERVER_OPTIONS", "{serverName:>40}{healthCheckOptions!r}", "STICKY", "y", "VHOST", "", true)
	f.Add("BACKEND_HEALTHCHECK_PORT_INDEX", "1", "PORT", "80", "REDIRECT_TO_HTTPS", "true", false)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string, grouped bool) {
		labels := map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_" + k1: v1, "HAPROXY_0_" + k2: v2,
			"HAPROXY_1_" + k3: v3, "HAPROXY_0_VHOST": "fuzz.example.com"}
		app := model.App{ID: "/fuzz", Labels: labels, Instances: 1,
			Ports:        []model.AppPort{{ServicePort: 10000, Protocol: "tcp"}, {ServicePort: 10001, Protocol: "tcp"}},
			HealthChecks: []model.HealthCheck{{Protocol: "HTTP", HasPortIndex: true, IntervalSeconds: 2, TimeoutSeconds: 10}},
			Tasks: []model.AppTask{{ID: "fuzz.1", Host: "10.0.0.1", State: model.TaskRunning, Ports: []uint16{31000, 31001},
				HealthResults: []model.HealthResult{{Alive: true}}}}}
		for _, o := range []edge.Options{
			{Groups: []string{"external"}, HealthCheck: true, GroupHTTPSByVhost: grouped},
			{Groups: []string{"*"}, HAProxyMap: true, GroupHTTPSByVhost: !grouped},
		} {
			cfg, err := edge.Build([]model.App{app}, o)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := haproxy.Render(cfg, haproxy.Default()); err != nil {
				t.Fatalf("labels %q: %v", labels, err)
			}
		}
	})
}
