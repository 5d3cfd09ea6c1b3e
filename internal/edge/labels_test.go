package edge

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/edge/pystr"
	"github.com/sextantdc/sextant/internal/model"
)

func parse(labels map[string]string, n int) (*service, []labelError) {
	s := &service{index: n, bindAddr: "*", balance: "roundrobin", enabled: true, templates: map[string]string{}}
	errs := applyLabels(serviceLabels(), labels, s)
	return s, errs
}

func TestServiceLabels(t *testing.T) {
	cases := []struct {
		name   string
		labels map[string]string
		check  func(*service) bool
		err    string // the label that fails, if one does
	}{
		{"defaults", nil, func(s *service) bool {
			return s.bindAddr == "*" && s.balance == "roundrobin" && s.enabled && !s.hasMode && !s.hasHostname &&
				s.weight == 0 && s.auth == nil
		}, ""},
		{"vhost lower-cased, raw list", map[string]string{"HAPROXY_0_VHOST": "A.Example.com,B.example.COM"},
			func(s *service) bool { return s.hostname == "a.example.com,b.example.com" && s.hasHostname }, ""},
		{"empty vhost is set but falsy", map[string]string{"HAPROXY_0_VHOST": ""},
			func(s *service) bool { return s.hasHostname && s.hostname == "" }, ""},
		{"other index ignored", map[string]string{"HAPROXY_1_VHOST": "x", "HAPROXY_00_VHOST": "y", "HAPROXY_VHOST": "z"},
			func(s *service) bool { return !s.hasHostname }, ""},
		{"booleans", map[string]string{"HAPROXY_0_STICKY": "YES", "HAPROXY_0_REDIRECT_TO_HTTPS": "t",
			"HAPROXY_0_USE_HSTS": "1", "HAPROXY_0_ENABLED": "no"},
			func(s *service) bool { return s.sticky && s.redirectToHTTPS && !s.useHSTS && !s.enabled }, ""},
		{"path raises a zero weight", map[string]string{"HAPROXY_0_PATH": "/api"},
			func(s *service) bool { return s.weight == 1 && s.path == "/api" }, ""},
		{"an empty path too", map[string]string{"HAPROXY_0_PATH": ""},
			func(s *service) bool { return s.weight == 1 }, ""},
		{"weight is read before path", map[string]string{"HAPROXY_0_PATH": "/api", "HAPROXY_0_BACKEND_WEIGHT": "-1"},
			func(s *service) bool { return s.weight == -1 }, ""},
		{"explicit zero weight with a path", map[string]string{"HAPROXY_0_PATH": "/a", "HAPROXY_0_BACKEND_WEIGHT": "0"},
			func(s *service) bool { return s.weight == 1 }, ""},
		{"port as int()", map[string]string{"HAPROXY_0_PORT": " +8_080\n"},
			func(s *service) bool { return s.port == 8080 }, ""},
		{"port not an int", map[string]string{"HAPROXY_0_PORT": "80.0"}, nil, "HAPROXY_0_PORT"},
		{"port out of range", map[string]string{"HAPROXY_0_PORT": "0"}, nil, "HAPROXY_0_PORT"},
		{"weight not an int", map[string]string{"HAPROXY_0_BACKEND_WEIGHT": "high"}, nil, "HAPROXY_0_BACKEND_WEIGHT"},
		{"port index", map[string]string{"HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX": "-1"},
			func(s *service) bool { return s.hasHCPortIndex && s.hcPortIndex == -1 }, ""},
		{"auth", map[string]string{"HAPROXY_0_AUTH": "My Realm:bob:$6$x$y"},
			func(s *service) bool { return *s.auth == Auth{"My Realm", "bob", "$6$x$y"} }, ""},
		{"auth with three colons", map[string]string{"HAPROXY_0_AUTH": "a:b:c:d"}, nil, "HAPROXY_0_AUTH"},
		{"mode lower-cased", map[string]string{"HAPROXY_0_MODE": "HTTP"},
			func(s *service) bool { return s.mode == "http" && s.hasMode }, ""},
		{"groups split, not trimmed", map[string]string{"HAPROXY_0_GROUP": "a, b,"},
			func(s *service) bool { return slices.Equal(s.groups, []string{"a", " b", ""}) && s.hasGroups }, ""},
		{"bind", map[string]string{"HAPROXY_0_BIND_ADDR": "10.0.0.1", "HAPROXY_0_BIND_OPTIONS": "",
			"HAPROXY_0_SSL_CERT": "/c.pem"},
			func(s *service) bool {
				return s.bindAddr == "10.0.0.1" && s.hasBindOptions && s.bindOptions == "" && s.sslCert == "/c.pem"
			}, ""},
		{"paths", map[string]string{"HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH": "/p", "HAPROXY_0_HTTP_BACKEND_REVPROXY_PATH": "/r",
			"HAPROXY_0_HTTP_BACKEND_REDIR": "/h", "HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL": "10.0.0.0/8 1.2.3.4"},
			func(s *service) bool {
				return s.proxyPass == "/p" && s.revProxy == "/r" && s.redirect == "/h" && s.networkAllowed == "10.0.0.0/8 1.2.3.4"
			}, ""},
		{"template labels, CRLF normalised", map[string]string{"HAPROXY_0_BACKEND_HEAD": "a\r\nb\r", "HAPROXY_0_FRONTEND_HEAD": ""},
			func(s *service) bool {
				return s.templates["BACKEND_HEAD"] == "a\nb\r" && s.templates["FRONTEND_HEAD"] == "" && len(s.templates) == 2
			}, ""},
		{"HTTP_BACKEND_REDIR is a path, not a template", map[string]string{"HAPROXY_0_HTTP_BACKEND_REDIR": "/x"},
			func(s *service) bool { return len(s.templates) == 0 }, ""},
		{"map and unused template labels are not read", map[string]string{"HAPROXY_0_MAP_HTTP_FRONTEND_ACL": "x",
			"HAPROXY_0_HTTPS_FRONTEND_AUTH_ACL_ONLY": "y", "HAPROXY_0_HEAD": "z", "HAPROXY_0_UNKNOWN": "w"},
			func(s *service) bool { return len(s.templates) == 0 }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, errs := parse(c.labels, 0)
			if c.err != "" {
				if len(errs) != 1 || errs[0].label != c.err {
					t.Fatalf("errors %v, want one for %s", errs, c.err)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("errors %v", errs)
			}
			if !c.check(s) {
				t.Errorf("labels %v gave %+v", c.labels, *s)
			}
		})
	}
}

// TestLabelOrder: marathon-lb applies labels sorted by name, which is
// what makes BACKEND_WEIGHT precede PATH.
func TestLabelOrder(t *testing.T) {
	specs := serviceLabels()
	if !slices.IsSortedFunc(specs, func(a, b labelSpec) int { return strings.Compare(a.name, b.name) }) {
		t.Error("labels are not applied in name order")
	}
	if i, j := slices.IndexFunc(specs, func(s labelSpec) bool { return s.name == "BACKEND_WEIGHT" }),
		slices.IndexFunc(specs, func(s labelSpec) bool { return s.name == "PATH" }); i < 0 || j < 0 || i > j {
		t.Errorf("BACKEND_WEIGHT at %d, PATH at %d", i, j)
	}
}

// labelNames are the label suffixes the fuzzer picks from.
func labelNames() []string {
	var out []string
	for _, s := range serviceLabels() {
		out = append(out, s.name)
	}
	return append(out, "GROUP", "DEPLOYMENT_GROUP", "DEPLOYMENT_STARTED_AT", "DEPLOYMENT_NEW_INSTANCES",
		"DEPLOYMENT_TARGET_INSTANCES")
}

// FuzzLabels: any label values either leave out their service with a
// problem naming the label, or produce a configuration whose every rule
// the default templates render; nothing panics. Parsed integers are what
// int() reads.
func FuzzLabels(f *testing.F) {
	f.Add(uint8(0), "web.example.com", uint8(1), "/api", "external")
	f.Add(uint8(30), "{backend} {x}", uint8(3), "-1", "*")
	f.Add(uint8(4), "realm:user:pw", uint8(10), "80", "external,internal")
	f.Add(uint8(12), "  server {serverName}{{}}", uint8(25), "a,b,", "")
	f.Add(uint8(2), "2016-02-01T14:13:42.499089", uint8(40), "1", "external")
	names := labelNames()
	f.Fuzz(func(t *testing.T, k1 uint8, v1 string, k2 uint8, v2 string, group string) {
		n1, n2 := names[int(k1)%len(names)], names[int(k2)%len(names)]
		key := func(n string) string {
			if strings.HasPrefix(n, "DEPLOYMENT_") || n == "GROUP" && k1%2 == 0 {
				return "HAPROXY_" + n
			}
			return "HAPROXY_0_" + n
		}
		labels := map[string]string{"HAPROXY_GROUP": group, key(n1): v1, key(n2): v2}
		app := func(id string, port uint16, lb map[string]string) model.App {
			return model.App{ID: id, Labels: lb, Instances: 1, Ports: []model.AppPort{{ServicePort: port, Protocol: "tcp"}},
				HealthChecks: []model.HealthCheck{{Protocol: "HTTP", HasPortIndex: true, IntervalSeconds: 2, TimeoutSeconds: 10,
					MaxConsecutiveFailures: 3}},
				Tasks: []model.AppTask{{ID: id[1:] + ".1", Host: "10.0.0.1", State: model.TaskRunning, Ports: []uint16{31000},
					HealthResults: []model.HealthResult{{Alive: true}}}}}
		}
		apps := []model.App{app("/a", 10000, labels), app("/b", 10001, maps(labels))}
		for _, o := range []Options{
			{Groups: []string{"external", "*"}[k2%2:], HealthCheck: true},
			{Groups: []string{"*"}, HAProxyMap: true, GroupHTTPSByVhost: k1%2 == 0},
		} {
			cfg, err := Build(apps, o)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range cfg.Problems {
				if p.App != "/a" && p.App != "/b" && !strings.HasPrefix(p.App, "/") {
					t.Fatalf("problem for an unknown app: %s", p)
				}
			}
			for _, s := range cfg.Services {
				if s.Port < 1 || s.Port > 65535 {
					t.Fatalf("service port %d", s.Port)
				}
				if v, ok := s.labelValue(labels, "PORT"); ok && s.AppID == "/a" {
					if n, err := pystr.ParseInt(v); err != nil || n != s.Port {
						t.Fatalf("PORT %q served as %d (%v)", v, s.Port, err)
					}
				}
				if s.Auth != nil && strings.Count(s.Auth.Realm+s.Auth.User+s.Auth.Password, ":") > 0 {
					t.Fatalf("auth %+v", s.Auth)
				}
			}
			checkRenders(t, cfg)
		}
	})
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s Service) labelValue(labels map[string]string, name string) (string, bool) {
	v, ok := labels[labelKey(s.Index, name)]
	return v, ok
}

// checkRenders formats every rule with its override, or checks that a
// rule without one names a known template: a configuration Build returns
// never fails in the renderer because of a label.
func checkRenders(t *testing.T, cfg *Config) {
	t.Helper()
	var all []Rule
	add := func(bs []Block) {
		for _, b := range bs {
			all = append(all, b.Rules...)
		}
	}
	add(cfg.Userlists)
	if cfg.HTTP != nil {
		add(cfg.HTTP.Blocks)
	}
	add(cfg.AppID.Blocks)
	if cfg.HTTPS != nil {
		add(cfg.HTTPS.Blocks)
	}
	for _, v := range cfg.Vhosts {
		add(v.Blocks)
	}
	for _, s := range cfg.Services {
		all = append(all, s.Frontend...)
		all = append(all, s.Backend...)
	}
	for _, r := range all {
		info, ok := r.Template.Info()
		if !ok {
			t.Fatalf("rule with unknown template %q", r.Template)
		}
		for _, x := range []*Rule{&r, r.Nested} {
			if x == nil || !x.HasOverride || info.Literal {
				continue
			}
			tmpl := x.Override
			if i, _ := x.Template.Info(); i.Trim {
				tmpl = pystr.Strip(tmpl)
			}
			if _, err := pystr.Format(tmpl, x.Args); err != nil {
				t.Fatalf("%s: override %q does not format: %v", x.Template, x.Override, err)
			}
		}
	}
}

func ExampleProblem_String() {
	fmt.Println(Problem{App: "/web", Index: 0, Label: "HAPROXY_0_PORT", Reason: `"abc" is not an integer`})
	// Output: app "/web" service port 0 label HAPROXY_0_PORT: "abc" is not an integer
}
