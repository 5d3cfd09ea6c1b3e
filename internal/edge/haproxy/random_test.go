package haproxy_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
)

// TestTemplatesMatchMarathonLB compares every global template (the ones
// no app set renders too) with marathon-lb's ConfigTemplater, with and
// without environment and file overrides.
func TestTemplatesMatchMarathonLB(t *testing.T) {
	python, dir := marathonLB(t)
	tdir := t.TempDir()
	files := map[string]string{"HAPROXY_BACKEND_HEAD": "a\r\nb\rc\n", "HAPROXY_HTTPS_FRONTEND_AUTH_ACL_ONLY": "x"}
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(tdir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	envs := []map[string]string{
		{},
		{"HAPROXY_GLOBAL_DEFAULT_OPTIONS": "b, a,a", "HAPROXY_FRONTEND_HEAD": `x\ny`, "HAPROXY_HEAD": ""},
	}
	for _, e := range envs {
		script := `
import json, os, sys
sys.path.insert(0, sys.argv[1])
os.environ.update(json.loads(sys.argv[3]))
import config
t = config.ConfigTemplater(directory=sys.argv[2])
json.dump({k: v.value for k, v in t.t.items()}, sys.stdout)
`
		ej, _ := json.Marshal(e)
		out, err := exec.Command(python, "-c", script, dir, tdir, string(ej)).Output()
		if err != nil {
			t.Fatalf("ConfigTemplater: %v", err)
		}
		var want map[string]string
		if err := json.Unmarshal(out, &want); err != nil {
			t.Fatal(err)
		}
		got, err := haproxy.Load(haproxy.LoadOptions{Dir: tdir, LookupEnv: env(e)})
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != len(edge.Templates()) {
			t.Errorf("marathon-lb has %d templates, the catalogue %d", len(want), len(edge.Templates()))
		}
		for _, i := range edge.Templates() {
			if w, ok := want[string(i.Name)]; !ok || w != got.Text(i.Name) {
				t.Errorf("env %v: %s = %q, marathon-lb %q", e, i.Name, got.Text(i.Name), w)
			}
		}
	}
}

// TestSideBySideRandom generates app sets (seeded, so reproducible) with
// every label, network mode, health check, task state and blue/green
// pair in random combinations, all valid for marathon-lb, and wants the
// edge and marathon-lb to agree byte for byte under random flag sets.
// EDGE_RANDOM_SETS sets how many sets (default 150); EDGE_RANDOM_KEEP
// names a directory to keep the bodies of failing sets in.
func TestSideBySideRandom(t *testing.T) {
	python, dir := marathonLB(t)
	n := 150
	if v := os.Getenv("EDGE_RANDOM_SETS"); v != "" {
		fmt.Sscan(v, &n)
	}
	r := rand.New(rand.NewPCG(9, 0xed9e))
	var reqs []mlbRequest
	var outs []haproxy.Output
	var names []string
	var problems [][]edge.Problem
	flags := flagSets()
	for i := range n {
		body := writeBody(t, randomApps(r))
		f := flags[r.IntN(len(flags))]
		out, cfg := generate(t, body, f, haproxy.HAProxy20)
		problems = append(problems, cfg.Problems)
		reqs = append(reqs, request(body, f, templatesDir(t, f)))
		outs = append(outs, out)
		names = append(names, fmt.Sprintf("random set %d (%s) with %s", i, body, f.name))
	}
	res := runMarathonLB(t, python, dir, reqs)
	same, sorted, refused := 0, 0, 0
	for i, want := range res {
		got := outs[i]
		switch {
		case want.Error != "" && len(problems[i]) > 0:
			refused++ // both refuse (a health-check port index past the siblings' servers)
		case want.Error != "":
			t.Errorf("%s: marathon-lb failed, the edge did not: %s\n%s", names[i], want.Error, want.Traceback)
		case len(problems[i]) > 0:
			t.Errorf("%s: the edge left out what marathon-lb took: %v", names[i], problems[i])
		case got.Config == want.Config && got.DomainMap == want.DomainMap && got.AppMap == want.AppMap:
			same++
		case got.DomainMap == want.DomainMap && got.AppMap == want.AppMap && setOrder(got.Config) == setOrder(want.Config):
			// Python set order: a grouped vhost's certificates or bind
			// options, or servers that tie on (host, port).
			sorted++
		default:
			if keep := os.Getenv("EDGE_RANDOM_KEEP"); keep != "" {
				b, _ := os.ReadFile(reqs[i].Apps)
				p := filepath.Join(keep, fmt.Sprintf("random-%d.json", i))
				if err := os.WriteFile(p, b, 0o644); err == nil {
					names[i] += ", kept as " + p
				}
			}
			t.Errorf("%s: the edge differs from marathon-lb (- marathon-lb, + edge):\n%s%s%s", names[i],
				lineDiff(want.Config, got.Config), lineDiff(want.DomainMap, got.DomainMap), lineDiff(want.AppMap, got.AppMap))
		}
	}
	t.Logf("random side by side: %d of %d identical, %d differ only where marathon-lb writes a Python set "+
		"(grouped vhost certificates or bind options, servers that tie on host and port), %d refused by both",
		same, len(res), sorted, refused)
}

var groupedBind = regexp.MustCompile(`(?m)^(  bind abns@\S+ accept-proxy ssl )(.*)$`)

// checkPort is the per-server health-check port: with
// HAPROXY_{n}_BACKEND_HEALTHCHECK_PORT_INDEX it is the port of the
// sibling's server at the same position, so tied servers swap it too.
var checkPort = regexp.MustCompile(` port \d+`)

// setOrder undoes what marathon-lb writes in Python set order: it sorts
// the words of grouped vhost bind lines, and each run of server lines
// (without their check ports).
func setOrder(cfg string) string {
	cfg = groupedBind.ReplaceAllStringFunc(cfg, func(l string) string {
		m := groupedBind.FindStringSubmatch(l)
		w := strings.Fields(m[2])
		slices.Sort(w)
		return m[1] + strings.Join(w, " ")
	})
	lines := strings.Split(cfg, "\n")
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && strings.HasPrefix(lines[j], "  server ") {
			lines[j] = checkPort.ReplaceAllString(lines[j], "")
			j++
		}
		slices.Sort(lines[i:j])
		i = max(j, i+1)
	}
	return strings.Join(lines, "\n")
}

// randomApps is one random /v2/apps body, its apps sorted by id (the
// model sorts them; marathon-lb keeps API order, which only matters for
// the service ports it assigns to IP-per-task apps).
func randomApps(r *rand.Rand) []map[string]any {
	pick := func(l ...string) string { return l[r.IntN(len(l))] }
	chance := func(p float64) bool { return r.Float64() < p }
	ids := []string{"/web", "/api", "/a/b", "/a/b.c", "/shop/front-end", "/x", "/nginx-green", "/nginx-blue", "/z9"}
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	count := 1 + r.IntN(5)
	var apps []map[string]any
	vhosts := []string{"a.example.com", "b.example.com", "shared.example.com", "Mixed.Example.COM", "c.test"}
	hostsPool := []string{"10.0.0.1", "10.0.0.2", "10.0.1.7", "agent1", "agent2.example.com", "unresolvable.invalid"}
	for k := range count {
		id := ids[k]
		nPorts := 1 + r.IntN(3)
		mode := pick("host", "host", "bridge14", "bridge15", "container15", "ipaddress14", "user14")
		labels := map[string]any{}
		switch r.IntN(6) {
		case 0:
		case 1:
			labels["HAPROXY_GROUP"] = "internal"
		case 2:
			labels["HAPROXY_GROUP"] = "external,internal"
		default:
			labels["HAPROXY_GROUP"] = "external"
		}
		var ports []int
		for range nPorts {
			ports = append(ports, 10000+r.IntN(12))
		}
		for n := range nPorts {
			set := func(name, v string) { labels[fmt.Sprintf("HAPROXY_%d_%s", n, name)] = v }
			vhost := ""
			if chance(0.5) {
				vhost = pick(vhosts...)
				if chance(0.3) {
					vhost += "," + pick(vhosts...)
				}
				set("VHOST", vhost)
			}
			if chance(0.2) {
				set("GROUP", pick("external", "internal", "external,other"))
			}
			if chance(0.2) {
				set("PORT", fmt.Sprint(10100+r.IntN(20)))
			}
			if chance(0.3) {
				if vhost != "" {
					set("MODE", "http")
				} else {
					set("MODE", pick("http", "tcp", "HTTP"))
				}
			}
			if vhost != "" && chance(0.4) {
				set("PATH", pick("/api", "/static", "-i /x /y"))
			}
			if vhost != "" && chance(0.3) {
				set("REDIRECT_TO_HTTPS", pick("true", "false", "yes"))
			}
			if chance(0.2) {
				set("AUTH", pick("realm:alice:$6$salt$hash", "My Realm:bob:x"))
			}
			if chance(0.3) {
				set("BACKEND_WEIGHT", fmt.Sprint(r.IntN(5)-2))
			}
			for _, l := range [][]string{
				{"STICKY", "true", "false"}, {"USE_HSTS", "true"}, {"BALANCE", "leastconn", "source"},
				{"SSL_CERT", "/etc/ssl/site1.pem", "/etc/ssl/site2.pem"}, {"BIND_ADDR", "10.0.0.42", "0.0.0.0"},
				{"BIND_OPTIONS", "accept-proxy", "defer-accept"}, {"ENABLED", "true", "false"},
				{"HTTP_BACKEND_PROXYPASS_PATH", "/p"}, {"HTTP_BACKEND_REVPROXY_PATH", "/r"}, {"HTTP_BACKEND_REDIR", "/home"},
				{"BACKEND_NETWORK_ALLOWED_ACL", "10.0.0.0/8", "10.0.0.0/8 192.168.0.1"},
				{"BACKEND_HEALTHCHECK_PORT_INDEX", "0", "1", "-1", "9"},
			} {
				if chance(0.08) {
					set(l[0], pick(l[1:]...))
				}
			}
			if chance(0.1) {
				set("BACKEND_SERVER_OPTIONS", "  server {serverName} {host_ipv4}:{port} id {serverId}{cookieOptions}{healthCheckOptions}{otherOptions} # {host}\n")
			}
			if chance(0.1) {
				set("FRONTEND_HEAD", pick("", "\nfrontend {backend}\n  bind {bindAddr}:{servicePort}{sslCert}{bindOptions}\n  mode {mode}\n  # {servicePort:05d}\n"))
			}
			for _, l := range [][]string{
				{"HTTP_FRONTEND_ACL", "  acl host_{cleanedUpHostname} hdr_end(host) -i {hostname}\n  use_backend {backend} if host_{cleanedUpHostname}\n"},
				{"HTTPS_FRONTEND_ACL", "  use_backend {backend} if {{ ssl_fc_sni -i {hostname} }} # {appId}\n"},
				{"HTTP_FRONTEND_ACL_ONLY", "  acl host_{cleanedUpHostname} hdr_dom(host) -i {hostname}\n"},
				{"HTTP_FRONTEND_APPID_ACL", "  acl app_{cleanedUpAppId} hdr(x-marathon-app-id) -i {appId} # {hostname!r}\n  use_backend {backend} if app_{cleanedUpAppId}\n"},
				{"BACKEND_HEAD", "\nbackend {backend}\n  balance {balance}\n  mode {mode}\n  timeout server 60s\n"},
				{"USERLIST_HEAD", "\nuserlist user_{backend}\n  user {user} insecure-password {passwd}\n"},
				{"BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS", "  check inter {healthCheckIntervalSeconds}s fall {healthCheckFalls} # idx {healthCheckPortIndex} \n"},
				{"BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS", "", "  check port {healthCheckPort}\n"},
				{"BACKEND_HTTP_OPTIONS", "  option forwardfor\n"},
				{"BACKEND_STICKY_OPTIONS", "  cookie S insert\n"},
				{"BACKEND_REDIRECT_HTTP_TO_HTTPS", "  redirect scheme https code 302 if !{{ ssl_fc }} host_{cleanedUpHostname}\n"},
				{"FRONTEND_BACKEND_GLUE", "", "  default_backend {backend}\n"},
			} {
				if chance(0.04) {
					set(l[0], pick(l[1:]...))
				}
			}
			if chance(0.1) {
				set("BACKEND_HTTP_HEALTHCHECK_OPTIONS", "  option  httpchk GET {healthCheckPath}\n  timeout check {healthCheckTimeoutSeconds}s # {healthCheckPort}{healthCheckPortOptions}\n")
			}
		}
		if id == "/nginx-green" || id == "/nginx-blue" {
			labels["HAPROXY_DEPLOYMENT_GROUP"] = "nginx"
			labels["HAPROXY_DEPLOYMENT_STARTED_AT"] = map[string]string{"/nginx-green": "2016-02-01T14:13:42.499089",
				"/nginx-blue": "2016-02-01T14:57:54.371005"}[id]
		}
		var hcs []any
		for range r.IntN(3) {
			hc := map[string]any{"protocol": pick("HTTP", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_TCP", "HTTPS"),
				"gracePeriodSeconds": 30, "intervalSeconds": 1 + r.IntN(5), "timeoutSeconds": 5, "maxConsecutiveFailures": r.IntN(4),
				"delaySeconds": 15}
			switch r.IntN(4) {
			case 0:
				hc["port"] = 8000 + r.IntN(10)
			case 1:
			default:
				hc["portIndex"] = r.IntN(nPorts)
			}
			if chance(0.5) {
				hc["path"] = pick("/", "/health")
			}
			hcs = append(hcs, hc)
		}
		a := map[string]any{"id": id, "labels": labels, "instances": 0, "healthChecks": hcs,
			"version":     "2020-01-01T00:00:00.000Z",
			"versionInfo": map[string]any{"lastScalingAt": "2020-01-01T00:00:00.000Z", "lastConfigChangeAt": "2020-01-01T00:00:00.000Z"}}
		var mappings []any
		for i, p := range ports {
			m := map[string]any{"containerPort": 8080 + i, "protocol": "tcp"}
			if !chance(0.1) {
				m["servicePort"] = p
			}
			if mode != "container15" || chance(0.3) {
				m["hostPort"] = 0
			}
			mappings = append(mappings, m)
		}
		switch mode {
		case "host":
			var defs []any
			for _, p := range ports {
				defs = append(defs, map[string]any{"port": p, "protocol": "tcp"})
			}
			a["portDefinitions"], a["ports"] = defs, ports
		case "bridge14":
			// Marathon ≤1.4 mirrors the mappings' service ports in ports.
			a["container"] = map[string]any{"type": "DOCKER", "docker": map[string]any{"image": "x", "network": "BRIDGE", "portMappings": mappings}}
			var sps []any
			for _, m := range mappings {
				if sp, ok := m.(map[string]any)["servicePort"]; ok {
					sps = append(sps, sp)
				}
			}
			a["ports"] = sps
		case "bridge15":
			a["container"] = map[string]any{"type": "DOCKER", "portMappings": mappings, "docker": map[string]any{"image": "x"}}
			a["networks"] = []any{map[string]any{"mode": "container/bridge"}}
		case "user14":
			a["container"] = map[string]any{"type": "DOCKER", "docker": map[string]any{"image": "x", "network": "USER", "portMappings": mappings}}
			a["ipAddress"] = map[string]any{"networkName": "dcos"}
		case "container15":
			a["container"] = map[string]any{"type": "MESOS", "portMappings": mappings}
			a["networks"] = []any{map[string]any{"mode": "container", "name": "dcos"}}
		case "ipaddress14":
			var disc []any
			for i := range ports {
				disc = append(disc, map[string]any{"number": 80 + i, "protocol": "tcp", "name": fmt.Sprint("p", i)})
			}
			a["ipAddress"] = map[string]any{"networkName": "dcos", "discovery": map[string]any{"ports": disc}}
			a["portDefinitions"], a["ports"] = []any{}, []any{}
		}
		tasks := []any{}
		for j := range r.IntN(4) {
			t := map[string]any{"id": fmt.Sprintf("%s.%d-%d", strings.ReplaceAll(id[1:], "/", "_"), k, j), "appId": id,
				"host": pick(hostsPool...), "version": "2020-01-01T00:00:00.000Z"}
			if chance(0.8) {
				t["state"] = pick("TASK_RUNNING", "TASK_RUNNING", "TASK_RUNNING", "TASK_LOST", "TASK_STAGING", "TASK_KILLING", "TASK_UNREACHABLE")
			}
			var tp []any
			taskPorts := nPorts
			if chance(0.15) {
				taskPorts = r.IntN(nPorts + 1)
			}
			for i := range taskPorts {
				tp = append(tp, 31000+100*k+10*j+i)
			}
			if mode != "container15" && mode != "ipaddress14" && mode != "user14" || chance(0.2) {
				t["ports"] = tp
			}
			if mode != "host" || chance(0.3) {
				if chance(0.9) {
					t["ipAddresses"] = []any{map[string]any{"ipAddress": fmt.Sprintf("9.0.%d.%d", k, j+2), "protocol": "IPv4"}}
				}
			}
			if len(hcs) > 0 && chance(0.85) {
				var rs []any
				for range r.IntN(3) {
					rs = append(rs, map[string]any{"alive": chance(0.7), "consecutiveFailures": 0, "taskId": t["id"]})
				}
				t["healthCheckResults"] = rs
			}
			tasks = append(tasks, t)
		}
		a["tasks"] = tasks
		a["instances"] = len(tasks)
		apps = append(apps, a)
	}
	slices.SortFunc(apps, func(x, y map[string]any) int { return strings.Compare(x["id"].(string), y["id"].(string)) })
	return apps
}
