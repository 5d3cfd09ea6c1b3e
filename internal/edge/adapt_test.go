package edge

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/model"
)

var update = flag.Bool("update", false, "rewrite the expected part of testdata/adapt/*.txt")

const separator = "\n----------\n"

// TestAdapt runs the cases of testdata/adapt: options, a separator, the
// apps (JSON, a short form of the model's App), a separator and the
// configuration's summary (see summary). Adding a case is adding a file;
// -update writes the summary part.
func TestAdapt(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "adapt", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.SplitN(string(b), separator, 3)
			if len(parts) < 2 {
				t.Fatalf("want options%sapps%ssummary", separator, separator)
			}
			o := parseOptions(t, parts[0])
			var apps []testApp
			if err := json.Unmarshal([]byte(parts[1]), &apps); err != nil {
				t.Fatalf("apps: %v", err)
			}
			cfg, err := Build(toModel(apps), o)
			if err != nil {
				t.Fatal(err)
			}
			got := summary(cfg)
			if *update {
				out := parts[0] + separator + strings.TrimRight(parts[1], "\n") + separator + got
				if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if len(parts) < 3 || parts[2] != got {
				want := ""
				if len(parts) == 3 {
					want = parts[2]
				}
				t.Errorf("summary differs (go test -update rewrites it)\n--- want\n%s--- got\n%s", want, got)
			}
		})
	}
}

// parseOptions reads "groups=a,b health-check haproxy-map …" lines; '#'
// starts a comment.
func parseOptions(t *testing.T, s string) Options {
	t.Helper()
	o := Options{Resolve: func(h string) (netip.Addr, bool) {
		a, err := netip.ParseAddr(map[string]string{"agent1": "1.1.1.1"}[h])
		return a, err == nil
	}}
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "groups":
				o.Groups = strings.Split(v, ",")
			case "health-check":
				o.HealthCheck = true
			case "strict-mode":
				o.StrictMode = true
			case "haproxy-map":
				o.HAProxyMap = true
			case "dont-bind-http-https":
				o.DontBindHTTPHTTPS = true
			case "group-https-by-vhost":
				o.GroupHTTPSByVhost = true
			case "ssl-certs":
				o.SSLCerts = ParseSSLCerts(v)
			default:
				t.Fatalf("unknown option %q", k)
			}
		}
	}
	return o
}

// testApp is the short form of an app in the cases.
type testApp struct {
	ID           string            `json:"id"`
	Labels       map[string]string `json:"labels"`
	Instances    int               `json:"instances"`
	Network      string            `json:"network"` // host (default), bridge, container
	ServicePorts []uint16          `json:"servicePorts"`
	HealthChecks []struct {
		Protocol  string `json:"protocol"`
		PortIndex *int   `json:"portIndex"`
		Port      int    `json:"port"`
		Path      string `json:"path"`
	} `json:"healthChecks"`
	LastScalingAt string `json:"lastScalingAt"`
	Tasks         []struct {
		ID      string   `json:"id"`
		Host    string   `json:"host"`
		Ports   []uint16 `json:"ports"`
		IP      string   `json:"ip"`
		State   string   `json:"state"`
		Healthy *bool    `json:"healthy"`
	} `json:"tasks"`
}

func toModel(in []testApp) []model.App {
	var out []model.App
	for _, a := range in {
		m := model.App{ID: a.ID, Labels: a.Labels, Instances: a.Instances, LastScalingAt: a.LastScalingAt}
		switch a.Network {
		case "bridge":
			m.Network = model.NetworkBridge
		case "container":
			m.Network = model.NetworkContainer
		}
		for i, p := range a.ServicePorts {
			m.Ports = append(m.Ports, model.AppPort{ServicePort: p, ContainerPort: uint16(8080 + i), Protocol: "tcp",
				HasHostPort: a.Network == "bridge"})
		}
		for _, h := range a.HealthChecks {
			hc := model.HealthCheck{Protocol: h.Protocol, Port: h.Port, Path: h.Path, IntervalSeconds: 2,
				TimeoutSeconds: 10, MaxConsecutiveFailures: 10, GracePeriodSeconds: 300}
			if h.PortIndex != nil {
				hc.PortIndex, hc.HasPortIndex = *h.PortIndex, true
			}
			m.HealthChecks = append(m.HealthChecks, hc)
		}
		for i, t := range a.Tasks {
			st := model.TaskRunning
			if t.State != "" {
				st, _ = model.ParseTaskState(t.State)
			}
			id := t.ID
			if id == "" {
				id = strings.TrimPrefix(a.ID, "/") + "." + strconv.Itoa(i)
			}
			at := model.AppTask{ID: id, Host: t.Host, Ports: t.Ports, State: st}
			if t.IP != "" {
				at.IPAddresses = []netip.Addr{netip.MustParseAddr(t.IP)}
			}
			if t.Healthy != nil {
				at.HealthResults = []model.HealthResult{{Alive: *t.Healthy}}
			}
			m.Tasks = append(m.Tasks, at)
		}
		out = append(out, m)
	}
	return out
}

// summary is the configuration without template text: services and
// servers, and for each section the templates its rules apply, with the
// arguments that name hosts, paths and backends.
func summary(c *Config) string {
	var b strings.Builder
	for _, s := range c.Services {
		fmt.Fprintf(&b, "service %s#%d %s port=%d mode=%s groups=%s weight=%d", s.AppID, s.Index, s.Name, s.Port,
			s.Mode, strings.Join(s.Groups, ","), s.Weight)
		if len(s.Vhosts) > 0 {
			fmt.Fprintf(&b, " vhosts=%s", strings.Join(s.Vhosts, ","))
		}
		if s.HealthCheck != nil {
			fmt.Fprintf(&b, " check=%s", s.HealthCheck.Protocol)
		}
		b.WriteString("\n")
		for _, sv := range s.Servers {
			fmt.Fprintf(&b, "  server %s %s:%d id=%d", sv.Name, sv.IP, sv.Port, sv.ID)
			if sv.Draining {
				b.WriteString(" draining")
			}
			b.WriteString("\n")
		}
		for _, r := range s.Backend {
			if r.Template != BackendServerOptions && r.Template != BackendHead {
				fmt.Fprintf(&b, "  backend %s\n", rule(r))
			}
		}
	}
	section := func(name string, bs []Block) {
		for _, bl := range bs {
			who := "-"
			if bl.Service >= 0 {
				who = c.Services[bl.Service].Name
			}
			for _, r := range bl.Rules {
				fmt.Fprintf(&b, "%s %s w=%d %s\n", name, who, bl.Weight, rule(r))
			}
		}
	}
	section("userlist", c.Userlists)
	if c.HTTP != nil {
		section("http", c.HTTP.Blocks)
	}
	section("appid", c.AppID.Blocks)
	if c.HTTPS != nil {
		section("https", c.HTTPS.Blocks)
	}
	for _, v := range c.Vhosts {
		fmt.Fprintf(&b, "vhost %s certs=%s opts=%q\n", v.Vhost, strings.Join(v.Certs, ","), strings.Join(v.BindOptions, "|"))
		section("  tls", v.Blocks)
	}
	for _, m := range c.DomainMap {
		fmt.Fprintf(&b, "domain-map %s %s\n", m.Key, m.Backend)
	}
	for _, m := range c.AppMap {
		fmt.Fprintf(&b, "app-map %s %s\n", m.Key, m.Backend)
	}
	for _, p := range c.Problems {
		fmt.Fprintf(&b, "problem %s\n", p)
	}
	return b.String()
}

func rule(r Rule) string {
	var parts []string
	for _, a := range r.Args {
		switch a.Name {
		case "hostname", "path", "realm", "host", "network_allowed":
			s, _ := a.Value.String()
			parts = append(parts, a.Name+"="+strconv.Quote(s))
		}
	}
	s := string(r.Template)
	if r.HasOverride {
		s += "(label)"
	}
	if len(parts) > 0 {
		s += " " + strings.Join(parts, " ")
	}
	return s
}
