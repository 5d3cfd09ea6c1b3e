package marathon

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/testutil"
)

func mustErr(t *testing.T, body string) *Error {
	t.Helper()
	_, err := Decode([]byte(body))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Decode(%s): want *Error, got %v", body, err)
	}
	return e
}

func violationsOf(e *Error) map[string][]string {
	out := map[string][]string{}
	if vs, ok := e.Details.([]Violation); ok {
		for _, v := range vs {
			out[v.Path] = v.Errors
		}
	}
	return out
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		message    string
		path, msg  string // one expected violation (substring of msg)
	}{
		{"empty", "", 400, "Please specify data in JSON format", "", ""},
		{"truncated", `{"id":`, 400, "Invalid JSON", "", ""},
		{"trailing", `{"id":"a","cmd":"sleep 1"} x`, 400, "Invalid JSON", "", ""},
		{"not object", `[1]`, 422, "Invalid JSON", "/", "error.expected.jsobject"},
		{"id number", `{"id":123}`, 422, "Invalid JSON", "/id", "error.expected.jsstring"},
		{"id missing", `{"cmd":"sleep 1"}`, 422, "Invalid JSON", "/id", "error.path.missing"},
		{"uppercase id", `{"id":"/Dev/web","cmd":"sleep 1"}`, 422, "Object is not valid", "/id", "must fully match regular expression '^(([a-z0-9]|"},
		{"underscore id", `{"id":"a_b","cmd":"sleep 1"}`, 422, "Object is not valid", "/id", "must fully match"},
		{"reserved", `{"id":"/a/restart","cmd":"sleep 1"}`, 422, "Object is not valid", "/id", "reserved keywords"},
		{"root", `{"id":"/","cmd":"sleep 1"}`, 422, "Object is not valid", "/", "must not be root"},
		{"no cmd", `{"id":"a"}`, 422, "Object is not valid", "/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."},
		{"one char cmd", `{"id":"a","cmd":"x"}`, 422, "Object is not valid", "/cmd", "must not be an empty string"},
		{"instances string", `{"id":"a","cmd":"sleep 1","instances":"2"}`, 422, "Invalid JSON", "/instances", "error.expected.jsnumber"},
		{"instances fraction", `{"id":"a","cmd":"sleep 1","instances":1.5}`, 422, "Invalid JSON", "/instances", "error.expected.int"},
		{"instances huge", `{"id":"a","cmd":"sleep 1","instances":1e40}`, 422, "Invalid JSON", "/instances", "error.expected.int"},
		{"negative instances", `{"id":"a","cmd":"sleep 1","instances":-1}`, 422, "Object is not valid", "/instances", "expected 0 or more"},
		{"label not string", `{"id":"a","cmd":"sleep 1","labels":{"x":1}}`, 422, "Invalid JSON", "/labels/x", "error.expected.jsstring"},
		{"port range", `{"id":"a","cmd":"sleep 1","portDefinitions":[{"port":70000}]}`, 422, "Object is not valid", "/portDefinitions(0)/port", "between 0 and 65535"},
		{"dup port", `{"id":"a","cmd":"sleep 1","portDefinitions":[{"port":80},{"port":80}]}`, 422, "Object is not valid", "/portDefinitions", "Ports must be unique."},
		{"dup name", `{"id":"a","cmd":"sleep 1","portDefinitions":[{"name":"x"},{"name":"x"}]}`, 422, "Object is not valid", "/portDefinitions", "Port names must be unique."},
		{"bad protocol", `{"id":"a","cmd":"sleep 1","portDefinitions":[{"protocol":"sctp"}]}`, 422, "Object is not valid", "/portDefinitions(0)/protocol", "is not one of"},
		{"ports and defs", `{"id":"a","cmd":"sleep 1","ports":[0],"portDefinitions":[]}`, 422, "Invalid JSON", "/", "cannot specify both ports and port definitions"},
		{"hc port index", `{"id":"a","cmd":"sleep 1","portDefinitions":[],"healthChecks":[{"protocol":"HTTP"}]}`, 422, "Object is not valid", "/healthChecks(0)", "Health check port indices must address an element of the ports array or container port mappings."},
		{"hc protocol", `{"id":"a","cmd":"sleep 1","healthChecks":[{"protocol":"FTP"}]}`, 422, "Invalid JSON", "/healthChecks(0)/protocol", "error.expected.validenumvalue"},
		{"two mesos checks", `{"id":"a","cmd":"sleep 1","healthChecks":[{"protocol":"MESOS_TCP"},{"protocol":"MESOS_HTTP"}]}`, 422, "Object is not valid", "/", "AppDefinition can contain at most one Mesos health check"},
		{"upgrade", `{"id":"a","cmd":"sleep 1","upgradeStrategy":{"minimumHealthCapacity":2}}`, 422, "Object is not valid", "/upgradeStrategy/minimumHealthCapacity", "is greater than 1"},
		{"mixed networks", `{"id":"a","cmd":"sleep 1","networks":[{"mode":"host"},{"mode":"container/bridge"}]}`, 422, "Object is not valid", "/networks", "May specify a single host network"},
		{"container no name", `{"id":"a","cmd":"sleep 1","networks":[{}]}`, 422, "Object is not valid", "/networks(0)", "Network name must be specified when container network is selected."},
		{"mappings on host", `{"id":"a","cmd":"sleep 1","container":{"type":"MESOS","portMappings":[{"containerPort":80}]}}`, 422, "Object is not valid", "/", "portMappings are not allowed with host-networking"},
		{"gpus", `{"id":"a","cmd":"sleep 1","gpus":1}`, 422, "Object is not valid", "/gpus", "GPU"},
		{"backoff factor", `{"id":"a","cmd":"sleep 1","backoffFactor":0.5}`, 422, "Object is not valid", "/backoffFactor", "expected 1.0 or more"},
		{"constraint op", `{"id":"a","cmd":"sleep 1","constraints":[["hostname","NEAR"]]}`, 422, "Object is not valid", "/constraints(0)", "Constraint operator"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := mustErr(t, c.body)
			if e.Status != c.status || e.Message != c.message {
				t.Fatalf("got %d %q (%v), want %d %q", e.Status, e.Message, e, c.status, c.message)
			}
			if c.status == 400 {
				if _, ok := e.Details.(string); !ok {
					t.Fatalf("400 details must be a string, got %T", e.Details)
				}
				return
			}
			got := violationsOf(e)[c.path]
			if !strings.Contains(strings.Join(got, "|"), c.msg) {
				t.Fatalf("path %s: got %q, want %q; all: %v", c.path, got, c.msg, e)
			}
			b, _ := json.Marshal(e.Body())
			if !strings.Contains(string(b), `"details":[{"path":`) {
				t.Fatalf("body shape: %s", b)
			}
		})
	}
}

func TestDecodeDefaultsAndUnknownFields(t *testing.T) {
	a, err := Decode([]byte(`{"id":"dev//web/","cmd":"sleep 100","frobnicate":{"x":1},"tasksRunning":3,"fetch":[{"uri":"http://x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "/dev/web" || a.Instances != 1 || a.CPUs != 1 || a.Mem != 128 || a.BackoffFactor != 1.15 || a.MaxLaunchDelaySeconds != 300 {
		t.Fatalf("defaults: %+v", a)
	}
	if len(a.PortDefinitions) != 1 || a.PortDefinitions[0].Name != "default" || a.PortDefinitions[0].Protocol != "tcp" {
		t.Fatalf("default port definitions: %+v", a.PortDefinitions)
	}
	if a.NetworkMode() != ModeHost {
		t.Fatal(a.Networks)
	}
	b, _ := json.Marshal(a)
	if strings.Contains(string(b), "frobnicate") || !strings.Contains(string(b), `"fetch":[{"uri":"http://x"}]`) {
		t.Fatalf("unknown fields must be dropped, known pass-through kept: %s", b)
	}
	// Empty port list stays empty.
	a, err = Decode([]byte(`{"id":"a","cmd":"sleep 1","portDefinitions":[]}`))
	if err != nil || len(a.PortDefinitions) != 0 {
		t.Fatalf("%v %+v", err, a)
	}
	// Nulls are absent.
	a, err = Decode([]byte(`{"id":"a","cmd":"sleep 1","portDefinitions":null,"labels":null,"instances":null}`))
	if err != nil || len(a.PortDefinitions) != 1 || a.Instances != 1 {
		t.Fatalf("%v %+v", err, a)
	}
	// Huge instances are accepted (the runtime launches what it can).
	a, err = Decode([]byte(`{"id":"a","cmd":"sleep 1","instances":2000000000}`))
	if err != nil || a.Instances != 2000000000 {
		t.Fatalf("%v", err)
	}
}

func TestLegacyMigration(t *testing.T) {
	a, err := Decode([]byte(`{"id":"a","cmd":"sleep 1","ports":[0,8080]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.PortDefinitions) != 2 || a.PortDefinitions[1].Port != 8080 {
		t.Fatalf("%+v", a.PortDefinitions)
	}
	a, err = Decode([]byte(`{"id":"a","cmd":"sleep 1","container":{"type":"DOCKER","docker":{"image":"nginx","network":"BRIDGE","portMappings":[{"containerPort":80,"hostPort":0,"name":"http"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.NetworkMode() != ModeBridge || len(a.Container.PortMappings) != 1 || a.Container.PortMappings[0].ContainerPort != 80 || len(a.PortDefinitions) != 0 {
		t.Fatalf("%+v %+v", a.Networks, a.Container)
	}
	a, err = Decode([]byte(`{"id":"a","cmd":"sleep 1","ipAddress":{"networkName":"dcos","discovery":{"ports":[{"number":8080,"name":"rest","protocol":"tcp"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.NetworkMode() != ModeContainer || a.Networks[0].Name != "dcos" || a.Container.PortMappings[0].HostPort != nil {
		t.Fatalf("%+v %+v", a.Networks, a.Container)
	}
}

func TestFixtureApps(t *testing.T) {
	dir := testutil.Fixtures(t, "marathon")
	files, _ := filepath.Glob(filepath.Join(dir, "marathon-lb-ci", "backends", "*.json"))
	files = append(files, filepath.Join(dir, "marathon-lb-tests", "1-nginx-marathon1.5.json"), filepath.Join(dir, "marathon-lb-tests", "1-nginx.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Decode(b)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if a.Labels["HAPROXY_GROUP"] != "external" {
			t.Errorf("%s: labels %v", filepath.Base(f), a.Labels)
		}
	}
	// The docs example mixes legacy and new fields: Marathon rejects it.
	b, err := os.ReadFile(filepath.Join(dir, "marathon-docs-examples", "app.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b); err == nil {
		t.Fatal("app.json mixes ipAddress and portDefinitions: want an error")
	}
}

func TestIDs(t *testing.T) {
	if TaskName("/dev/web") != "web.dev" || TaskName("/a/b/c") != "c.b.a" || SafeID("/dev/web") != "dev_web" {
		t.Fatal("names")
	}
	if CanonicalID("dev/./x/../web/") != "/dev/web" {
		t.Fatal(CanonicalID("dev/./x/../web/"))
	}
	inst := NewInstanceID("/dev/web")
	tid := TaskID(inst, 1)
	p, err := ParseTaskID(tid)
	if err != nil || p.AppID != "/dev/web" || p.InstanceID != inst {
		t.Fatalf("%s → %+v %v", tid, p, err)
	}
	if !strings.HasPrefix(tid, "dev_web.instance-") || !strings.HasSuffix(tid, "._app.1") {
		t.Fatal(tid)
	}
	uuid := strings.TrimPrefix(inst, "dev_web.instance-")
	if len(uuid) != 36 || uuid[14] != '1' {
		t.Fatalf("want a version 1 uuid: %s", uuid)
	}
	p, err = ParseTaskID("dev_web.4a7b1f6e-93c2-11ee-9f4a-0242ac110002")
	if err != nil || p.AppID != "/dev/web" {
		t.Fatal(p, err)
	}
	if _, err := ParseTaskID("nodots"); err == nil {
		t.Fatal("want error")
	}
}

func envMap(l []string) map[string]string {
	m := map[string]string{}
	for _, kv := range l {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func TestEnvExamples(t *testing.T) {
	a, err := Decode([]byte(`{"id":"/dev/web","cmd":"sleep 1","cpus":0.1,"mem":64,
		"portDefinitions":[{"port":10000,"name":"http"},{"port":10001,"name":"admin"}],
		"labels":{"HAPROXY_GROUP":"external","my.label":"x"},"env":{"HOST":"override","S":{"secret":"s"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	e := envMap(Env(a, EnvInput{TaskID: "t1", Host: "node", Ports: TaskPorts{31001, 31517}}))
	want := map[string]string{"PORT0": "31001", "PORT1": "31517", "PORT": "31001", "PORTS": "31001,31517",
		"PORT_10000": "31001", "PORT_10001": "31517", "PORT_HTTP": "31001", "PORT_ADMIN": "31517",
		"HOST": "override", "MARATHON_APP_ID": "/dev/web", "MARATHON_APP_RESOURCE_CPUS": "0.1",
		"MARATHON_APP_RESOURCE_MEM": "64.0", "MARATHON_APP_RESOURCE_DISK": "0.0", "MARATHON_APP_RESOURCE_GPUS": "0",
		"MARATHON_APP_LABELS": "HAPROXY_GROUP MY_LABEL", "MARATHON_APP_LABEL_HAPROXY_GROUP": "external",
		"MARATHON_APP_LABEL_MY_LABEL": "x", "MESOS_TASK_ID": "t1"}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("%s = %q, want %q", k, e[k], v)
		}
	}
	if _, ok := e["S"]; ok {
		t.Error("secret env must not be set")
	}
	b, _ := Decode([]byte(`{"id":"/b","cmd":"sleep 1","networks":[{"mode":"container/bridge"}],"container":{"type":"MESOS","portMappings":[{"containerPort":80,"hostPort":0,"name":"http"}]}}`))
	e = envMap(Env(b, EnvInput{Ports: TaskPorts{31005}}))
	for k, v := range map[string]string{"PORT0": "31005", "PORT": "31005", "PORTS": "31005", "PORT_80": "31005", "PORT_HTTP": "31005"} {
		if e[k] != v {
			t.Errorf("bridge %s = %q, want %q", k, e[k], v)
		}
	}
	o, _ := Decode([]byte(`{"id":"/o","cmd":"sleep 1","networks":[{"name":"dcos"}],"container":{"type":"MESOS","portMappings":[{"containerPort":8080,"name":"web"}]}}`))
	e = envMap(Env(o, EnvInput{Ports: TaskPorts{0}, Rand: rand.New(rand.NewPCG(1, 2))}))
	if e["PORT0"] != "8080" || e["PORT_8080"] != "8080" || e["PORT_WEB"] != "8080" || e["PORTS"] != "" {
		t.Errorf("overlay env: %v", e)
	}
	if _, ok := e["PORT"]; ok {
		t.Error("overlay: PORT must be unset")
	}
}

func TestDiscovery(t *testing.T) {
	a, _ := Decode([]byte(`{"id":"/dev/web","cmd":"sleep 1","portDefinitions":[{"port":0,"name":"http","labels":{"VIP_0":"/web:80"}},{"protocol":"udp,tcp"}]}`))
	d := Discovery(a, TaskPorts{31001, 31002})
	b, _ := json.Marshal(d)
	want := `{"visibility":"FRAMEWORK","name":"web.dev","ports":{"ports":[{"number":31001,"name":"http","protocol":"tcp","labels":{"labels":[{"key":"VIP_0","value":"/web:80"}]}},{"number":31002,"protocol":"udp"},{"number":31002,"protocol":"tcp"}]}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	c, _ := Decode([]byte(`{"id":"/dev/web","cmd":"sleep 1","networks":[{"mode":"container","name":"dcos"}],"container":{"type":"MESOS","portMappings":[{"containerPort":80,"name":"http","labels":{"VIP_0":"/web:80"}}]}}`))
	b, _ = json.Marshal(Discovery(c, TaskPorts{0}))
	want = `{"visibility":"FRAMEWORK","name":"web.dev","ports":{"ports":[{"number":80,"name":"http","protocol":"tcp","labels":{"labels":[{"key":"VIP_0","value":"/web:80"},{"key":"network-scope","value":"container"},{"key":"network-name","value":"dcos"}]}}]}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func TestMergeUpdate(t *testing.T) {
	a, _ := Decode([]byte(`{"id":"/a","cmd":"sleep 1","labels":{"x":"y"},"instances":2}`))
	v, _ := ParseJSON([]byte(`{"instances":5,"id":"/ignored"}`))
	m, err := MergeUpdate(a, v.(map[string]any))
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromValue(m)
	if err != nil || b.Instances != 5 || b.Labels["x"] != "y" || b.ID != "/a" {
		t.Fatalf("%v %+v", err, b)
	}
	v, _ = ParseJSON([]byte(`{"args":["sleep","2"]}`))
	m, _ = MergeUpdate(a, v.(map[string]any))
	if b, err = FromValue(m); err != nil || b.Cmd != "" {
		t.Fatalf("args must replace cmd: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"id":"a","cmd":"sleep 1"}`, `{"id":123}`, `{"id":`, ``, `[]`, `null`,
		`{"id":"/dev/web","cmd":"x y","portDefinitions":[{"port":0,"labels":{"VIP_0":"/a:1"}}],"healthChecks":[{"protocol":"TCP"}]}`,
		`{"id":"b","cmd":"ab","ipAddress":{"networkName":"dcos","discovery":{"ports":[{"number":1}]}}}`,
		`{"id":"c","cmd":"ab","container":{"docker":{"network":"BRIDGE","portMappings":[{"hostPort":0}]}}}`,
		`{"id":"d","cmd":"ab","env":{"A":{"secret":"x"}},"instances":1e3,"ports":[1,2]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Decode(b)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 || e.Message == "" {
				t.Fatalf("error without Marathon shape: %v", err)
			}
			return
		}
		// A valid app round-trips through its own output and derives
		// without panicking.
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(out); err != nil {
			t.Fatalf("output does not decode: %v\n%s", err, out)
		}
		ports := make(TaskPorts, a.PortCount())
		_ = Env(a, EnvInput{Ports: ports})
		_ = Discovery(a, ports)
	})
}

func FuzzParseTaskID(f *testing.F) {
	for _, s := range []string{"dev_web.instance-4a7b1f6e-93c2-11ee-9f4a-0242ac110002._app.1", "a.marathon-x_app", "a.b", ".", "", "x.instance-._app"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		p, err := ParseTaskID(id)
		if err == nil && !strings.HasPrefix(p.AppID, "/") {
			t.Fatalf("%q: app id %q is not absolute", id, p.AppID)
		}
	})
}
