package marathon

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
)

// goodApp is decoded next to every victim: whatever is wrong with the
// victim, it must come out exactly the same.
const goodApp = `{"id":"/good","version":"2024-01-01T00:00:00.000Z",
 "versionInfo":{"lastScalingAt":"2024-01-01T00:00:00.000Z","lastConfigChangeAt":"2023-12-31T00:00:00.000Z"},
 "labels":{"HAPROXY_GROUP":"external","HAPROXY_0_VHOST":"good.example"},"instances":1,"requirePorts":true,
 "networks":[{"mode":"host"}],
 "portDefinitions":[{"port":10000,"protocol":"tcp","name":"http","labels":{"VIP_0":"/good:80"}},{"port":10001,"protocol":"udp,tcp"}],
 "healthChecks":[{"protocol":"HTTP","path":"/health","portIndex":0,"gracePeriodSeconds":10,"intervalSeconds":5,"timeoutSeconds":2,"maxConsecutiveFailures":3,"delaySeconds":15,"ignoreHttp1xx":false}],
 "deployments":[],"cmd":null,"ipAddress":null,
 "tasks":[{"id":"good.1","appId":"/good","host":"10.0.0.1","slaveId":"S1","state":"TASK_RUNNING","ports":[10000,10001],
   "ipAddresses":[{"ipAddress":"10.0.0.1","protocol":"IPv4"}],"stagedAt":"s","startedAt":"t","version":"2024-01-01T00:00:00.000Z",
   "healthCheckResults":[{"alive":true,"consecutiveFailures":0,"firstSuccess":"a","lastSuccess":"b","lastFailure":null,"instanceId":"good.marathon-1"}]}]}`

// victimApp is a bridge app with something of every kind; each case of
// TestDecodeSkipsOnlyTheBadItem breaks one thing in it.
const victimApp = `{"id":"/victim","version":"v1","labels":{"A":"1","B":"2"},"instances":2,
 "container":{"type":"DOCKER","docker":{"image":"x"},"portMappings":[
   {"containerPort":80,"hostPort":0,"servicePort":10002,"protocol":"tcp","name":"http","labels":{"VIP_0":"/v:80"}},
   {"containerPort":81,"servicePort":10003,"protocol":"udp"}]},
 "networks":[{"mode":"container/bridge"}],
 "healthChecks":[{"protocol":"HTTP","path":"/h","portIndex":0,"intervalSeconds":5},{"protocol":"TCP","portIndex":1}],
 "readinessChecks":[{"name":"r","protocol":"HTTP","path":"/ready","portName":"http"}],
 "readinessCheckResults":[{"name":"r","taskId":"victim.1","ready":true}],
 "deployments":[{"id":"d-1"}],
 "tasks":[{"id":"victim.1","host":"10.0.0.2","state":"TASK_RUNNING","ports":[31001,31002],
   "ipAddresses":[{"ipAddress":"172.17.0.2","protocol":"IPv4"},{"ipAddress":"fd00::2","protocol":"IPv6"}],
   "healthCheckResults":[{"alive":true,"consecutiveFailures":0},{"alive":false,"consecutiveFailures":2}]},
  {"id":"victim.2","host":"10.0.0.3","state":"TASK_STAGING"}]}`

const legacyIPApp = `{"id":"/legacy","ipAddress":{"networkName":"dcos","labels":{"k":"v"},
 "discovery":{"ports":[{"number":8080,"name":"web","protocol":"tcp"},{"number":8081,"name":"admin","protocol":"tcp"}]}},
 "container":{"type":"MESOS"},
 "tasks":[{"id":"legacy.1","host":"10.0.0.4","state":"TASK_RUNNING","ipAddresses":[{"ipAddress":"9.0.0.4","protocol":"IPv4"}]}]}`

func parseJSON(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// del as a value removes the key.
type deleteMarker struct{}

var del = deleteMarker{}

// set changes the value at path (keys and indexes) in a parsed document.
func set(t testing.TB, doc any, val any, path ...any) {
	t.Helper()
	cur := doc
	for i, p := range path {
		last := i == len(path)-1
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("path %v: %T at %d is not an object", path, cur, i)
			}
			if last {
				if val == del {
					delete(m, k)
				} else {
					m[k] = val
				}
				return
			}
			cur = m[k]
		case int:
			l, ok := cur.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("path %v: no index %d", path, k)
			}
			if last {
				l[k] = val
				return
			}
			cur = l[k]
		}
	}
}

func apps(t testing.TB, docs ...any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"apps": docs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustDecode(t testing.TB, b []byte) ([]model.App, []problem) {
	t.Helper()
	as, ps, err := decodeApps(b)
	if err != nil {
		t.Fatal(err)
	}
	return as, ps
}

func findApp(as []model.App, id string) *model.App {
	for i := range as {
		if as[i].ID == id {
			return &as[i]
		}
	}
	return nil
}

func num(n int) json.Number { return json.Number(fmt.Sprint(n)) }

func TestDecodeBaseline(t *testing.T) {
	as, ps := mustDecode(t, apps(t, parseJSON(t, goodApp), parseJSON(t, victimApp), parseJSON(t, legacyIPApp)))
	if len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	if len(as) != 3 || as[0].ID != "/good" || as[1].ID != "/legacy" || as[2].ID != "/victim" {
		t.Fatalf("apps not sorted: %v", ids(as))
	}
	ready := true
	want := model.App{ID: "/victim", Version: "v1", Labels: map[string]string{"A": "1", "B": "2"}, Instances: 2,
		Network: model.NetworkBridge, Networks: []model.Network{{Mode: model.NetworkBridge}},
		Ports: []model.AppPort{
			{Name: "http", Protocol: "tcp", ServicePort: 10002, ContainerPort: 80, HostPort: 0, HasHostPort: true, Labels: map[string]string{"VIP_0": "/v:80"}},
			{Protocol: "udp", ServicePort: 10003, ContainerPort: 81, HasHostPort: true},
		},
		HealthChecks: []model.HealthCheck{
			{Protocol: "HTTP", Path: "/h", PortIndex: 0, HasPortIndex: true, GracePeriodSeconds: 300, IntervalSeconds: 5, TimeoutSeconds: 20, MaxConsecutiveFailures: 3, DelaySeconds: 15},
			{Protocol: "TCP", PortIndex: 1, HasPortIndex: true, GracePeriodSeconds: 300, IntervalSeconds: 60, TimeoutSeconds: 20, MaxConsecutiveFailures: 3, DelaySeconds: 15},
		},
		ReadinessChecks: []model.ReadinessCheck{{Name: "r", Protocol: "HTTP", Path: "/ready", PortName: "http", IntervalSeconds: 30, TimeoutSeconds: 10, HTTPStatusCodesForReady: []int{200}}},
		Deployments:     []string{"d-1"},
		Container:       "DOCKER",
		Tasks: []model.AppTask{
			{ID: "victim.1", Host: "10.0.0.2", State: model.TaskRunning, Ports: []uint16{31001, 31002},
				IPAddresses:   []netip.Addr{netip.MustParseAddr("172.17.0.2"), netip.MustParseAddr("fd00::2")},
				HealthResults: []model.HealthResult{{Alive: true}, {Alive: false, ConsecutiveFailures: 2}}, Ready: &ready},
			{ID: "victim.2", Host: "10.0.0.3", State: model.TaskStaging},
		},
	}
	if !reflect.DeepEqual(as[2], want) {
		t.Fatalf("victim:\n got %+v\nwant %+v", as[2], want)
	}
	lg := as[1]
	if lg.Network != model.NetworkContainer || len(lg.Networks) != 1 || lg.Networks[0].Name != "dcos" || lg.Networks[0].Labels["k"] != "v" ||
		len(lg.Ports) != 2 || lg.Ports[1].ContainerPort != 8081 || lg.Ports[1].ServicePort != 0 || lg.Ports[1].Name != "admin" || lg.Container != "MESOS" {
		t.Fatalf("legacy ipAddress app: %+v", lg)
	}
	g := as[0]
	if !g.RequirePorts || g.LastScalingAt != "2024-01-01T00:00:00.000Z" || g.LastConfigChangeAt != "2023-12-31T00:00:00.000Z" ||
		g.Ports[1].Protocol != "udp,tcp" || g.Ports[0].Labels["VIP_0"] != "/good:80" || g.Tasks[0].HealthResults[0].FirstSuccess != "a" ||
		g.Tasks[0].StagedAt != "s" || g.Tasks[0].SlaveID != "S1" {
		t.Fatalf("good app: %+v", g)
	}
}

func ids(as []model.App) []string {
	out := make([]string, len(as))
	for i := range as {
		out[i] = as[i].ID
	}
	return out
}

// TestDecodeSkipsOnlyTheBadItem breaks one item or field of the victim
// app per case and checks that exactly that is dropped, with a problem
// naming it, while the good app decodes exactly as before.
func TestDecodeSkipsOnlyTheBadItem(t *testing.T) {
	base, _ := mustDecode(t, apps(t, parseJSON(t, goodApp), parseJSON(t, victimApp), parseJSON(t, legacyIPApp)))
	baseVictim := *findApp(base, "/victim")
	cases := []struct {
		name   string
		victim string // the app to break: victim (default) or legacy
		mutate func(t *testing.T, a map[string]any)
		raw    any // replaces the victim as a whole when set
		kind   string
		item   string // substring of the problem's item; default the victim app
		field  string
		// check looks at the decoded victim; nil victim means it was skipped.
		check func(t *testing.T, v *model.App)
	}{
		{name: "app not an object", raw: num(5), kind: kindApp, item: "apps[1]", field: "apps[1]", check: gone},
		{name: "app id wrong type", mutate: func(t *testing.T, a map[string]any) { set(t, a, num(7), "id") }, kind: kindApp, item: "apps[1]", field: "id", check: gone},
		{name: "app id missing", mutate: func(t *testing.T, a map[string]any) { set(t, a, del, "id") }, kind: kindApp, item: "apps[1]", field: "id", check: gone},
		{name: "app id empty", mutate: func(t *testing.T, a map[string]any) { set(t, a, "", "id") }, kind: kindApp, item: "apps[1]", field: "id", check: gone},
		{name: "duplicate app id keeps the first", mutate: func(t *testing.T, a map[string]any) { set(t, a, "/good", "id") },
			kind: kindApp, item: `app "/good"`, field: "id", check: gone},
		{name: "label value wrong type", mutate: func(t *testing.T, a map[string]any) { set(t, a, num(2), "labels", "B") },
			kind: kindField, field: "labels.B", check: func(t *testing.T, v *model.App) {
				if !reflect.DeepEqual(v.Labels, map[string]string{"A": "1"}) {
					t.Fatalf("labels %v", v.Labels)
				}
			}},
		{name: "labels wrong type", mutate: func(t *testing.T, a map[string]any) { set(t, a, []any{"x"}, "labels") },
			kind: kindField, field: "labels", check: func(t *testing.T, v *model.App) { same(t, v, baseVictim, func(a *model.App) { a.Labels = nil }) }},
		{name: "instances wrong type", mutate: func(t *testing.T, a map[string]any) { set(t, a, "2", "instances") },
			kind: kindField, field: "instances", check: func(t *testing.T, v *model.App) { same(t, v, baseVictim, func(a *model.App) { a.Instances = 0 }) }},
		{name: "instances negative", mutate: func(t *testing.T, a map[string]any) { set(t, a, num(-1), "instances") },
			kind: kindField, field: "instances", check: func(t *testing.T, v *model.App) { same(t, v, baseVictim, func(a *model.App) { a.Instances = 0 }) }},
		{name: "version wrong type", mutate: func(t *testing.T, a map[string]any) { set(t, a, num(1), "version") },
			kind: kindField, field: "version", check: func(t *testing.T, v *model.App) { same(t, v, baseVictim, func(a *model.App) { a.Version = "" }) }},
		{name: "container type unknown", mutate: func(t *testing.T, a map[string]any) { set(t, a, "RKT", "container", "type") },
			kind: kindField, field: "container.type", check: func(t *testing.T, v *model.App) { same(t, v, baseVictim, func(a *model.App) { a.Container = "" }) }},
		{name: "docker network unknown", mutate: func(t *testing.T, a map[string]any) { set(t, a, "OVERLAY", "container", "docker", "network") },
			kind: kindField, field: "container.docker.network", check: func(t *testing.T, v *model.App) { same(t, v, baseVictim, nil) }},
		{name: "network mode unknown, another network left", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, []any{map[string]any{"mode": "container/weird"}, map[string]any{"mode": "container/bridge"}}, "networks")
		}, kind: kindField, field: "networks[0].mode", check: func(t *testing.T, v *model.App) { same(t, v, baseVictim, nil) }},
		{name: "network entry wrong type", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, []any{"bridge", map[string]any{"mode": "container/bridge"}}, "networks")
		}, kind: kindField, field: "networks[0]", check: func(t *testing.T, v *model.App) { same(t, v, baseVictim, nil) }},
		{name: "network mode wrong type", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, []any{map[string]any{"mode": num(1)}, map[string]any{"mode": "container/bridge"}}, "networks")
		}, kind: kindField, field: "networks[0].mode", check: func(t *testing.T, v *model.App) { same(t, v, baseVictim, nil) }},
		{name: "no usable network skips the app", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, []any{map[string]any{"mode": "overlay"}}, "networks")
		}, kind: kindApp, field: "networks", check: gone},
		{name: "container port out of range", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, num(70000), "container", "portMappings", 0, "containerPort")
		}, kind: kindField, field: "container.portMappings[0].containerPort", check: func(t *testing.T, v *model.App) {
			same(t, v, baseVictim, func(a *model.App) { a.Ports = slices.Clone(a.Ports); a.Ports[0].ContainerPort = 0 })
		}},
		{name: "host port negative", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, num(-1), "container", "portMappings", 0, "hostPort")
		}, kind: kindField, field: "container.portMappings[0].hostPort", check: func(t *testing.T, v *model.App) {
			// The field is gone; in bridge mode absent means Marathon's 0.
			same(t, v, baseVictim, nil)
		}},
		{name: "service port not an integer", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, json.Number("10002.5"), "container", "portMappings", 0, "servicePort")
		}, kind: kindField, field: "container.portMappings[0].servicePort", check: func(t *testing.T, v *model.App) {
			same(t, v, baseVictim, func(a *model.App) { a.Ports = slices.Clone(a.Ports); a.Ports[0].ServicePort = 0 })
		}},
		{name: "port mapping wrong type keeps the index", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, "81:81", "container", "portMappings", 0)
		}, kind: kindField, field: "container.portMappings[0]", check: func(t *testing.T, v *model.App) {
			same(t, v, baseVictim, func(a *model.App) { a.Ports = slices.Clone(a.Ports); a.Ports[0] = model.AppPort{Protocol: "tcp"} })
		}},
		{name: "port mapping protocol unknown", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, "sctp", "container", "portMappings", 1, "protocol")
		}, kind: kindField, field: "container.portMappings[1].protocol", check: func(t *testing.T, v *model.App) {
			same(t, v, baseVictim, func(a *model.App) { a.Ports = slices.Clone(a.Ports); a.Ports[1].Protocol = "tcp" })
		}},
		{name: "port mapping label wrong type", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, true, "container", "portMappings", 0, "labels", "VIP_0")
		}, kind: kindField, field: "container.portMappings[0].labels.VIP_0", check: func(t *testing.T, v *model.App) {
			same(t, v, baseVictim, func(a *model.App) { a.Ports = slices.Clone(a.Ports); a.Ports[0].Labels = nil })
		}},
		{name: "health check protocol unknown", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, "GRPC", "healthChecks", 0, "protocol")
		}, kind: kindField, field: "healthChecks[0].protocol", check: func(t *testing.T, v *model.App) {
			same(t, v, baseVictim, func(a *model.App) { a.HealthChecks = a.HealthChecks[1:] })
		}},
		{name: "health check wrong type", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, "http", "healthChecks", 1)
		}, kind: kindField, field: "healthChecks[1]", check: func(t *testing.T, v *model.App) {
			same(t, v, baseVictim, func(a *model.App) { a.HealthChecks = a.HealthChecks[:1] })
		}},
		{name: "health check port index negative", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, num(-1), "healthChecks", 1, "portIndex")
		}, kind: kindField, field: "healthChecks[1].portIndex", check: func(t *testing.T, v *model.App) {
			same(t, v, baseVictim, func(a *model.App) {
				a.HealthChecks = slices.Clone(a.HealthChecks)
				a.HealthChecks[1].PortIndex, a.HealthChecks[1].HasPortIndex = 0, false
			})
		}},
		{name: "health check interval wrong type", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, "5s", "healthChecks", 0, "intervalSeconds")
		}, kind: kindField, field: "healthChecks[0].intervalSeconds", check: func(t *testing.T, v *model.App) {
			same(t, v, baseVictim, func(a *model.App) {
				a.HealthChecks = slices.Clone(a.HealthChecks)
				a.HealthChecks[0].IntervalSeconds = 60
			})
		}},
		{name: "readiness check protocol unknown", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, "TCP", "readinessChecks", 0, "protocol")
		}, kind: kindField, field: "readinessChecks[0].protocol", check: func(t *testing.T, v *model.App) {
			same(t, v, baseVictim, func(a *model.App) { a.ReadinessChecks = nil })
		}},
		{name: "readiness result wrong type", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, "yes", "readinessCheckResults", 0, "ready")
		}, kind: kindField, field: "readinessCheckResults[0].ready", check: func(t *testing.T, v *model.App) {
			same(t, v, baseVictim, func(a *model.App) { a.Tasks = slices.Clone(a.Tasks); a.Tasks[0].Ready = nil })
		}},
		{name: "deployment wrong type", mutate: func(t *testing.T, a map[string]any) { set(t, a, num(1), "deployments", 0) },
			kind: kindField, field: "deployments[0]", check: func(t *testing.T, v *model.App) { same(t, v, baseVictim, func(a *model.App) { a.Deployments = nil }) }},
		{name: "task not an object", mutate: func(t *testing.T, a map[string]any) { set(t, a, "victim.2", "tasks", 1) },
			kind: kindTask, field: "tasks[1]", check: func(t *testing.T, v *model.App) { same(t, v, baseVictim, func(a *model.App) { a.Tasks = a.Tasks[:1] }) }},
		{name: "task id missing", mutate: func(t *testing.T, a map[string]any) { set(t, a, del, "tasks", 0, "id") },
			kind: kindTask, item: "task tasks[0] of", field: "tasks[0].id", check: func(t *testing.T, v *model.App) {
				same(t, v, baseVictim, func(a *model.App) { a.Tasks = a.Tasks[1:] })
			}},
		{name: "task id wrong type", mutate: func(t *testing.T, a map[string]any) { set(t, a, num(3), "tasks", 1, "id") },
			kind: kindTask, item: "task tasks[1] of", field: "tasks[1].id", check: func(t *testing.T, v *model.App) {
				same(t, v, baseVictim, func(a *model.App) { a.Tasks = a.Tasks[:1] })
			}},
		{name: "task id of another app", mutate: func(t *testing.T, a map[string]any) { set(t, a, "good.1", "tasks", 1, "id") },
			kind: kindTask, item: `task "good.1" of app "/victim"`, field: "tasks[1].id", check: func(t *testing.T, v *model.App) {
				same(t, v, baseVictim, func(a *model.App) { a.Tasks = a.Tasks[:1] })
			}},
		{name: "task state unknown keeps the task", mutate: func(t *testing.T, a map[string]any) { set(t, a, "TASK_DANCING", "tasks", 1, "state") },
			kind: kindField, item: `task "victim.2" of app "/victim"`, field: "tasks[1].state", check: func(t *testing.T, v *model.App) {
				same(t, v, baseVictim, func(a *model.App) { a.Tasks = slices.Clone(a.Tasks); a.Tasks[1].State = model.StateUnknown })
			}},
		{name: "task port out of range keeps the index", mutate: func(t *testing.T, a map[string]any) { set(t, a, num(70000), "tasks", 0, "ports", 0) },
			kind: kindField, item: `task "victim.1" of app "/victim"`, field: "tasks[0].ports[0]", check: func(t *testing.T, v *model.App) {
				same(t, v, baseVictim, func(a *model.App) { a.Tasks = slices.Clone(a.Tasks); a.Tasks[0].Ports = []uint16{0, 31002} })
			}},
		{name: "task port negative", mutate: func(t *testing.T, a map[string]any) { set(t, a, num(-31001), "tasks", 0, "ports", 1) },
			kind: kindField, field: "tasks[0].ports[1]", check: func(t *testing.T, v *model.App) {
				same(t, v, baseVictim, func(a *model.App) { a.Tasks = slices.Clone(a.Tasks); a.Tasks[0].Ports = []uint16{31001, 0} })
			}},
		{name: "task port wrong type", mutate: func(t *testing.T, a map[string]any) { set(t, a, "31001", "tasks", 0, "ports", 0) },
			kind: kindField, field: "tasks[0].ports[0]", check: func(t *testing.T, v *model.App) {
				same(t, v, baseVictim, func(a *model.App) { a.Tasks = slices.Clone(a.Tasks); a.Tasks[0].Ports = []uint16{0, 31002} })
			}},
		{name: "task host wrong type", mutate: func(t *testing.T, a map[string]any) { set(t, a, num(10), "tasks", 0, "host") },
			kind: kindField, field: "tasks[0].host", check: func(t *testing.T, v *model.App) {
				same(t, v, baseVictim, func(a *model.App) { a.Tasks = slices.Clone(a.Tasks); a.Tasks[0].Host = "" })
			}},
		{name: "bad ip address drops that address", mutate: func(t *testing.T, a map[string]any) { set(t, a, "fd00::zz", "tasks", 0, "ipAddresses", 1, "ipAddress") },
			kind: kindField, field: "tasks[0].ipAddresses[1].ipAddress", check: func(t *testing.T, v *model.App) {
				same(t, v, baseVictim, func(a *model.App) {
					a.Tasks = slices.Clone(a.Tasks)
					a.Tasks[0].IPAddresses = a.Tasks[0].IPAddresses[:1]
				})
			}},
		{name: "ip address wrong type", mutate: func(t *testing.T, a map[string]any) { set(t, a, num(1), "tasks", 0, "ipAddresses", 0, "ipAddress") },
			kind: kindField, field: "tasks[0].ipAddresses[0].ipAddress", check: func(t *testing.T, v *model.App) {
				same(t, v, baseVictim, func(a *model.App) {
					a.Tasks = slices.Clone(a.Tasks)
					a.Tasks[0].IPAddresses = a.Tasks[0].IPAddresses[1:]
				})
			}},
		{name: "health result alive wrong type", mutate: func(t *testing.T, a map[string]any) { set(t, a, "true", "tasks", 0, "healthCheckResults", 0, "alive") },
			kind: kindField, field: "tasks[0].healthCheckResults[0].alive", check: func(t *testing.T, v *model.App) {
				same(t, v, baseVictim, func(a *model.App) {
					a.Tasks = slices.Clone(a.Tasks)
					a.Tasks[0].HealthResults = a.Tasks[0].HealthResults[1:]
				})
			}},
		{name: "health result wrong type", mutate: func(t *testing.T, a map[string]any) { set(t, a, true, "tasks", 0, "healthCheckResults", 1) },
			kind: kindField, field: "tasks[0].healthCheckResults[1]", check: func(t *testing.T, v *model.App) {
				same(t, v, baseVictim, func(a *model.App) {
					a.Tasks = slices.Clone(a.Tasks)
					a.Tasks[0].HealthResults = a.Tasks[0].HealthResults[:1]
				})
			}},
		{name: "health result failures negative", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, num(-2), "tasks", 0, "healthCheckResults", 1, "consecutiveFailures")
		},
			kind: kindField, field: "tasks[0].healthCheckResults[1].consecutiveFailures", check: func(t *testing.T, v *model.App) {
				same(t, v, baseVictim, func(a *model.App) {
					a.Tasks = slices.Clone(a.Tasks)
					a.Tasks[0].HealthResults = []model.HealthResult{{Alive: true}, {}}
				})
			}},
		{name: "discovery port out of range", victim: "legacy", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, num(99999), "ipAddress", "discovery", "ports", 0, "number")
		}, kind: kindField, item: `app "/legacy"`, field: "ipAddress.discovery.ports[0].number", check: func(t *testing.T, v *model.App) {
			if v.Ports[0].ContainerPort != 0 || v.Ports[1].ContainerPort != 8081 {
				t.Fatalf("ports %+v", v.Ports)
			}
		}},
		{name: "ip address block wrong type", victim: "legacy", mutate: func(t *testing.T, a map[string]any) { set(t, a, "dcos", "ipAddress") },
			kind: kindField, item: `app "/legacy"`, field: "ipAddress", check: func(t *testing.T, v *model.App) {
				if v.Network != model.NetworkHost || len(v.Ports) != 0 {
					t.Fatalf("%+v", v)
				}
			}},
		{name: "ip address network name wrong type", victim: "legacy", mutate: func(t *testing.T, a map[string]any) { set(t, a, num(1), "ipAddress", "networkName") },
			kind: kindField, item: `app "/legacy"`, field: "ipAddress.networkName", check: func(t *testing.T, v *model.App) {
				if v.Network != model.NetworkContainer || v.Networks[0].Name != "" || len(v.Ports) != 2 {
					t.Fatalf("%+v", v)
				}
			}},
		{name: "port definition port out of range", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, del, "networks")
			set(t, a, del, "container")
			set(t, a, []any{map[string]any{"port": num(65536)}, map[string]any{"port": num(10005), "name": "b"}}, "portDefinitions")
		}, kind: kindField, field: "portDefinitions[0].port", check: func(t *testing.T, v *model.App) {
			want := []model.AppPort{{Protocol: "tcp"}, {Protocol: "tcp", ServicePort: 10005, Name: "b"}}
			if v.Network != model.NetworkHost || !reflect.DeepEqual(v.Ports, want) {
				t.Fatalf("%+v", v.Ports)
			}
		}},
		{name: "legacy ports entry wrong type", mutate: func(t *testing.T, a map[string]any) {
			set(t, a, del, "networks")
			set(t, a, del, "container")
			set(t, a, []any{"10004", num(10005)}, "ports")
		}, kind: kindField, field: "ports[0]", check: func(t *testing.T, v *model.App) {
			want := []model.AppPort{{Protocol: "tcp"}, {Protocol: "tcp", ServicePort: 10005}}
			if !reflect.DeepEqual(v.Ports, want) {
				t.Fatalf("%+v", v.Ports)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			victimID, src := "/victim", victimApp
			if tc.victim == "legacy" {
				victimID, src = "/legacy", legacyIPApp
			}
			var victim any = tc.raw
			if victim == nil {
				m := parseJSON(t, src)
				tc.mutate(t, m)
				victim = m
			}
			others := []any{parseJSON(t, legacyIPApp)}
			if tc.victim == "legacy" {
				others = []any{parseJSON(t, victimApp)}
			}
			as, ps := mustDecode(t, apps(t, append([]any{parseJSON(t, goodApp), victim}, others...)...))
			// Every other app decodes exactly as before.
			for _, b := range base {
				if b.ID == victimID {
					continue
				}
				got := findApp(as, b.ID)
				if got == nil || !reflect.DeepEqual(*got, b) {
					t.Fatalf("app %s changed:\n got %+v\nwant %+v", b.ID, got, b)
				}
			}
			item := tc.item
			if item == "" {
				item = appItem(victimID)
			}
			found := false
			for _, p := range ps {
				if p.Field == "" || p.Reason == "" || p.Item == "" {
					t.Fatalf("incomplete problem %+v", p)
				}
				if p.Kind == tc.kind && p.Field == tc.field && strings.Contains(p.Item, item) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %s problem at %s for %s in %v", tc.kind, tc.field, item, ps)
			}
			tc.check(t, findApp(as, victimID))
		})
	}
}

func gone(t *testing.T, v *model.App) {
	t.Helper()
	if v != nil && v.ID == "/victim" && v.Version == "v1" {
		t.Fatalf("victim was kept: %+v", v)
	}
}

// same checks v against the baseline victim changed by edit.
func same(t *testing.T, v *model.App, base model.App, edit func(*model.App)) {
	t.Helper()
	if v == nil {
		t.Fatal("victim was skipped")
	}
	want := base
	if edit != nil {
		edit(&want)
	}
	if !reflect.DeepEqual(*v, want) {
		t.Fatalf("victim:\n got %+v\nwant %+v", *v, want)
	}
}

func TestDecodeTopLevel(t *testing.T) {
	cases := []struct {
		name, body string
		err        string // "" for success
		apps       int
	}{
		{"not JSON", `<html>502 Bad Gateway</html>`, "not JSON", 0},
		{"truncated", `{"apps":[{"id":"/a"}`, "not JSON", 0},
		{"trailing content", `{"apps":[]} {"apps":[]}`, "content after", 0},
		{"empty body", ``, "not JSON", 0},
		{"array at the top", `[{"id":"/a"}]`, "top level is an array", 0},
		{"no apps", `{"app":{"id":"/a"}}`, "no apps array", 0},
		{"apps null", `{"apps":null}`, "no apps array", 0},
		{"apps not an array", `{"apps":{"id":"/a"}}`, "apps is an object", 0},
		{"empty list", `{"apps":[]}`, "", 0},
		{"null entries are absent", `{"apps":[null,{"id":"/a"}]}`, "", 1},
		{"unknown fields are ignored", `{"apps":[{"id":"/a","future":{"x":[1,2]}}],"meta":1}`, "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			as, _, err := decodeApps([]byte(tc.body))
			if tc.err == "" {
				if err != nil || len(as) != tc.apps {
					t.Fatalf("err %v, %d apps", err, len(as))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("want an error with %q, got %v", tc.err, err)
			}
		})
	}
}

func TestDecodeNetworks(t *testing.T) {
	cases := []struct {
		name     string
		app      string
		mode     model.NetworkMode
		networks []model.Network
		ports    []model.AppPort
	}{
		{"nothing is host", `{"id":"/a","portDefinitions":[{"port":10000}]}`, model.NetworkHost, nil,
			[]model.AppPort{{Protocol: "tcp", ServicePort: 10000}}},
		{"networks without mode is container", `{"id":"/a","networks":[{"name":"dcos"}],"container":{"portMappings":[{"containerPort":80}]}}`,
			model.NetworkContainer, []model.Network{{Mode: model.NetworkContainer, Name: "dcos"}},
			[]model.AppPort{{Protocol: "tcp", ContainerPort: 80}}},
		{"several container networks", `{"id":"/a","networks":[{"mode":"container","name":"a"},{"mode":"container","name":"b","labels":{"x":"y"}}],
			"container":{"type":"MESOS","portMappings":[{"containerPort":80,"hostPort":0,"networkNames":["a"]}]}}`,
			model.NetworkContainer, []model.Network{{Mode: model.NetworkContainer, Name: "a"}, {Mode: model.NetworkContainer, Name: "b", Labels: map[string]string{"x": "y"}}},
			[]model.AppPort{{Protocol: "tcp", ContainerPort: 80, HasHostPort: true, NetworkNames: []string{"a"}}}},
		{"docker BRIDGE with docker.portMappings", `{"id":"/a","container":{"docker":{"network":"BRIDGE","portMappings":[{"containerPort":80,"hostPort":0,"servicePort":10000}]}}}`,
			model.NetworkBridge, []model.Network{{Mode: model.NetworkBridge}},
			[]model.AppPort{{Protocol: "tcp", ContainerPort: 80, HasHostPort: true, ServicePort: 10000}}},
		{"docker USER with ipAddress names the network", `{"id":"/a","ipAddress":{"networkName":"dcos"},"container":{"docker":{"network":"USER","portMappings":[{"containerPort":80}]}}}`,
			model.NetworkContainer, []model.Network{{Mode: model.NetworkContainer, Name: "dcos"}},
			[]model.AppPort{{Protocol: "tcp", ContainerPort: 80}}},
		{"docker HOST", `{"id":"/a","container":{"docker":{"network":"HOST"}},"ports":[10000,10001]}`,
			model.NetworkHost, []model.Network{{Mode: model.NetworkHost}},
			[]model.AppPort{{Protocol: "tcp", ServicePort: 10000}, {Protocol: "tcp", ServicePort: 10001}}},
		{"empty ipAddress is no ipAddress", `{"id":"/a","ipAddress":{},"portDefinitions":[]}`, model.NetworkHost, nil, []model.AppPort{}},
		{"mesos-bridge ipAddress is bridge", `{"id":"/a","ipAddress":{"networkName":"mesos-bridge"}}`,
			model.NetworkBridge, []model.Network{{Mode: model.NetworkBridge}}, nil},
		{"networks override the legacy fields", `{"id":"/a","ipAddress":{"networkName":"dcos"},"container":{"docker":{"network":"USER"}},"networks":[{"mode":"container/bridge"}]}`,
			model.NetworkBridge, []model.Network{{Mode: model.NetworkBridge}}, nil},
		{"container.portMappings win over docker's", `{"id":"/a","networks":[{"mode":"container/bridge"}],"container":{"portMappings":[{"containerPort":1}],"docker":{"portMappings":[{"containerPort":2}]}}}`,
			model.NetworkBridge, []model.Network{{Mode: model.NetworkBridge}}, []model.AppPort{{Protocol: "tcp", ContainerPort: 1, HasHostPort: true}}},
		{"case-insensitive protocol", `{"id":"/a","portDefinitions":[{"port":1,"protocol":"UDP"},{"port":2,"protocol":"tcp,udp"}]}`,
			model.NetworkHost, nil, []model.AppPort{{Protocol: "udp", ServicePort: 1}, {Protocol: "udp,tcp", ServicePort: 2}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			as, ps := mustDecode(t, []byte(`{"apps":[`+tc.app+`]}`))
			if len(ps) != 0 {
				t.Fatalf("problems %v", ps)
			}
			a := as[0]
			if len(tc.ports) == 0 && len(a.Ports) == 0 {
				a.Ports = tc.ports
			}
			if a.Network != tc.mode || !reflect.DeepEqual(a.Networks, tc.networks) || !reflect.DeepEqual(a.Ports, tc.ports) {
				t.Fatalf("got %v %+v %+v\nwant %v %+v %+v", a.Network, a.Networks, a.Ports, tc.mode, tc.networks, tc.ports)
			}
		})
	}
}

// fixture reads a file of ../shared/fixtures/marathon, or skips.
func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.Fixtures(t, "marathon"), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// asAppList wraps an app definition (or a task list) into an apps
// response, so definitions decode like what Marathon would return.
func asAppList(t testing.TB, b []byte) []byte {
	t.Helper()
	m := parseJSON(t, string(b))
	if _, ok := m["apps"]; ok {
		return b
	}
	if ts, ok := m["tasks"]; ok && m["id"] == nil {
		return apps(t, map[string]any{"id": "/from-tasks", "tasks": ts})
	}
	return apps(t, m)
}

func TestFixtures(t *testing.T) {
	root := testutil.Fixtures(t, "marathon")
	var files []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if len(files) < 20 {
		t.Fatalf("only %d fixtures found: %v", len(files), files)
	}
	decoded := map[string][]model.App{}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			as, ps := mustDecode(t, asAppList(t, fixture(t, f)))
			if len(ps) != 0 {
				t.Fatalf("problems: %v", ps)
			}
			if len(as) == 0 {
				t.Fatal("no apps")
			}
			decoded[f] = as
		})
	}
	get := func(f string) []model.App {
		t.Helper()
		as, ok := decoded[f]
		if !ok {
			t.Fatalf("%s did not decode", f)
		}
		return as
	}

	t.Run("marathon15_apps", func(t *testing.T) {
		as := get("marathon-lb-tests/marathon15_apps.json")
		a := as[0]
		want := []model.AppPort{{Name: "test", Protocol: "tcp", ContainerPort: 80, HostPort: 0, HasHostPort: true, ServicePort: 10101}}
		if len(as) != 1 || a.ID != "/pywebserver" || a.Network != model.NetworkBridge || !reflect.DeepEqual(a.Ports, want) ||
			a.Labels["HAPROXY_GROUP"] != "external" || a.Labels["HAPROXY_0_VHOST"] != "myvhost.com" || len(a.HealthChecks) != 0 ||
			a.Version != "2017-07-19T17:34:41.967Z" || a.LastScalingAt != "2017-07-19T17:34:41.967Z" || a.Container != "DOCKER" {
			t.Fatalf("%+v", a)
		}
		tk := a.Tasks[0]
		if len(a.Tasks) != 1 || tk.State != model.TaskRunning || tk.Host != "10.0.2.148" || !slices.Equal(tk.Ports, []uint16{1565}) ||
			len(tk.IPAddresses) != 1 || tk.IPAddresses[0] != netip.MustParseAddr("172.17.0.2") {
			t.Fatalf("%+v", tk)
		}
		// Bridge: the agent and the host port, not the container IP.
		s := model.Build(model.Observations{Marathon: &model.MarathonObservation{Apps: as}}, model.BuildOptions{})
		ep := s.Apps[0].Tasks[0].Endpoints
		if len(ep) != 1 || ep[0].Host != "10.0.2.148" || ep[0].Port != 1565 || ep[0].ServicePort != 10101 || ep[0].Name != "test" {
			t.Fatalf("endpoints %+v", ep)
		}
	})
	t.Run("zdd_apps", func(t *testing.T) {
		as := get("marathon-lb-tests/zdd_apps.json")
		if len(as) != 2 || as[0].ID != "/nginx-blue" || as[1].ID != "/nginx-green" {
			t.Fatalf("%v", ids(as))
		}
		blue, green := as[0], as[1]
		hc := model.HealthCheck{Protocol: "HTTP", Path: "/", PortIndex: 0, HasPortIndex: true, GracePeriodSeconds: 15, IntervalSeconds: 3,
			TimeoutSeconds: 15, MaxConsecutiveFailures: 10, DelaySeconds: 15}
		if green.Instances != 3 || green.Labels["HAPROXY_DEPLOYMENT_STARTED_AT"] != "2016-02-01T14:13:42.499089" ||
			green.Labels["HAPROXY_DEPLOYMENT_TARGET_INSTANCES"] != "20" || green.Labels["HAPROXY_0_PORT"] != "10000" ||
			green.Network != model.NetworkBridge || len(green.Ports) != 1 || green.Ports[0].ServicePort != 10000 ||
			!reflect.DeepEqual(green.HealthChecks, []model.HealthCheck{hc}) || green.LastScalingAt != "2016-02-01T22:57:48.784Z" {
			t.Fatalf("green %+v", green)
		}
		var ports []uint16
		for _, tk := range green.Tasks {
			if tk.Host != "10.0.6.25" || len(tk.HealthResults) != 1 || !tk.HealthResults[0].Alive {
				t.Fatalf("green task %+v", tk)
			}
			ports = append(ports, tk.Ports...)
		}
		if !slices.Equal(ports, []uint16{16916, 31184, 23336}) {
			t.Fatalf("green ports %v", ports)
		}
		if blue.Instances != 1 || blue.Ports[0].ServicePort != 10001 || blue.Labels["HAPROXY_DEPLOYMENT_TARGET_INSTANCES"] != "3" ||
			len(blue.Tasks) != 1 || blue.Tasks[0].Host != "10.0.1.147" || blue.Tasks[0].Ports[0] != 25724 || !blue.Tasks[0].HealthResults[0].Alive {
			t.Fatalf("blue %+v", blue)
		}
	})
	t.Run("zdd_app_blue", func(t *testing.T) {
		for _, f := range []string{"marathon-lb-tests/zdd_app_blue.json", "marathon-lb-tests/zdd_app_blue_marathon1.5.json"} {
			as := get(f)
			a := as[0]
			var ports []uint16
			for _, tk := range a.Tasks {
				if tk.Host != "10.0.6.25" {
					t.Fatalf("%s: %+v", f, tk)
				}
				ports = append(ports, tk.Ports...)
			}
			if a.ID != "/nginx-green" || a.Instances != 3 || a.Network != model.NetworkBridge || a.Ports[0].ServicePort != 10000 ||
				a.Labels["HAPROXY_DEPLOYMENT_ALT_PORT"] != "10001" || !slices.Equal(ports, []uint16{16916, 31184, 23336}) {
				t.Fatalf("%s: %+v", f, a)
			}
		}
		if hc := get("marathon-lb-tests/zdd_app_blue_marathon1.5.json")[0].HealthChecks[0]; hc.Protocol != "MESOS_HTTP" || hc.DelaySeconds != 15 {
			t.Fatalf("%+v", hc)
		}
		// ≤1.4 tasks carry no state: unknown, and no problem.
		if st := get("marathon-lb-tests/zdd_app_blue.json")[0].Tasks[0].State; st != model.StateUnknown {
			t.Fatalf("state %v", st)
		}
	})
	t.Run("definitions", func(t *testing.T) {
		for _, f := range []string{"marathon-lb-tests/1-nginx.json", "marathon-lb-tests/1-nginx-marathon1.5.json"} {
			a := get(f)[0]
			if a.ID != "nginx" || a.Instances != 5 || a.Network != model.NetworkBridge || a.Ports[0].ServicePort != 10000 ||
				a.Ports[0].ContainerPort != 8080 || a.Labels["HAPROXY_DEPLOYMENT_GROUP"] != "nginx" || len(a.HealthChecks) != 1 {
				t.Fatalf("%s: %+v", f, a)
			}
		}
		if p := get("marathon-lb-tests/1-nginx-marathon1.5.json")[0].HealthChecks[0].Protocol; p != "MESOS_HTTP" {
			t.Fatal(p)
		}
	})
	t.Run("backends", func(t *testing.T) {
		cases := []struct {
			file      string
			mode      model.NetworkMode
			container string
			port      string
		}{
			{"backends/docker_bridge.json", model.NetworkBridge, "DOCKER", "10100"},
			{"backends/docker_ippc.json", model.NetworkContainer, "DOCKER", "10200"},
			{"backends/docker_host.json", model.NetworkHost, "DOCKER", "10300"},
			{"backends/ucr_host.json", model.NetworkHost, "MESOS", "10400"},
			{"backends/ucr_bridge.json", model.NetworkBridge, "MESOS", "10500"},
			{"backends/ucr_ippc.json", model.NetworkContainer, "MESOS", "10600"},
			{"backends_1.9/docker_bridge.json", model.NetworkBridge, "DOCKER", "10100"},
			// These definitions carry networks[] next to the ≤1.4 fields;
			// Marathon 1.4 drops networks[], so a real response never has
			// both. With both, networks[] wins (marathon-lb's order).
			{"backends_1.9/docker_host.json", model.NetworkBridge, "DOCKER", "10300"},
			{"backends_1.9/docker_ippc.json", model.NetworkBridge, "DOCKER", "10200"},
			{"backends_1.9/ucr_host.json", model.NetworkBridge, "MESOS", "10400"},
		}
		for _, tc := range cases {
			a := get("marathon-lb-ci/" + tc.file)[0]
			if a.Network != tc.mode || a.Container != tc.container || a.Labels["HAPROXY_0_PORT"] != tc.port || a.Instances != 4 ||
				a.Labels["HAPROXY_GROUP"] != "external" || a.Labels["HAPROXY_0_ENABLED"] != "true" {
				t.Fatalf("%s: %v %q %+v", tc.file, a.Network, a.Container, a.Labels)
			}
		}
		ippc := get("marathon-lb-ci/backends/docker_ippc.json")[0]
		if ippc.Networks[0].Name != "dcos" || ippc.Ports[0].ContainerPort != 80 || ippc.Ports[0].HasHostPort {
			t.Fatalf("%+v", ippc)
		}
		if v := get("marathon-lb-ci/backends/ucr_ippc.json")[0].Labels["HAPROXY_0_BACKEND_SERVER_OPTIONS"]; !strings.HasSuffix(v, "{otherOptions}\n") {
			t.Fatalf("multi-line label %q", v)
		}
		if p := get("marathon-lb-ci/backends/ucr_host.json")[0].Ports; len(p) != 1 || p[0].ServicePort != 10003 {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("docs examples", func(t *testing.T) {
		al := get("marathon-docs-examples/app_list.json")[0]
		if al.ID != "/myapp" || al.Network != model.NetworkHost || len(al.Ports) != 2 || al.Ports[1].ServicePort != 10015 ||
			!slices.Equal(al.Deployments, []string{"9538079c-3898-4e32-aa31-799bf9097f74"}) || al.Container != "" || al.Labels != nil {
			t.Fatalf("%+v", al)
		}
		// app.json mixes docker BRIDGE, ipAddress and portDefinitions:
		// BRIDGE wins over ipAddress (marathon-lb's order) and the
		// docker port mappings are the ports.
		a := get("marathon-docs-examples/app.json")[0]
		wantPort := model.AppPort{Name: "http", Protocol: "tcp", ContainerPort: 80, HasHostPort: true, ServicePort: 10019, Labels: map[string]string{"vip": "192.168.0.1:80"}}
		wantReady := model.ReadinessCheck{Name: "myReadyCheck", Protocol: "HTTP", Path: "/v1/plan", PortName: "http", IntervalSeconds: 10, TimeoutSeconds: 3, HTTPStatusCodesForReady: []int{200}}
		if a.ID != "/foo" || a.Network != model.NetworkBridge || !reflect.DeepEqual(a.Ports, []model.AppPort{wantPort}) ||
			a.HealthChecks[0].IntervalSeconds != 20 || a.HealthChecks[0].GracePeriodSeconds != 300 ||
			!reflect.DeepEqual(a.ReadinessChecks, []model.ReadinessCheck{wantReady}) || a.Labels["owner"] != "zeus" {
			t.Fatalf("%+v", a)
		}
		tk := get("marathon-docs-examples/app_tasks.json")[0].Tasks[0]
		if tk.State != model.TaskStaging || tk.Host != "srv7.hw.ca1.mesosphere.com" || tk.Ports[0] != 31756 || tk.SlaveID != "agent0" {
			t.Fatalf("%+v", tk)
		}
		ts := get("marathon-docs-examples/tasks.json")[0].Tasks
		if len(ts) != 2 || !slices.Equal(ts[0].ServicePorts, []uint16{10019}) || !slices.Equal(ts[1].ServicePorts, []uint16{5000}) {
			t.Fatalf("%+v", ts)
		}
	})
}

// TestFixtureEndpoints runs the marathon-lb CI definitions through
// model.Build with a task each, and checks where traffic goes (§1.3).
func TestFixtureEndpoints(t *testing.T) {
	task := map[string]any{"id": "t.1", "host": "10.0.0.5", "slaveId": "S1", "state": "TASK_RUNNING",
		"ports": []any{num(31005)}, "ipAddresses": []any{map[string]any{"ipAddress": "9.0.0.5", "protocol": "IPv4"}}}
	cases := []struct {
		file string
		want []model.Endpoint // Index, Host, Port, ServicePort, Protocol
	}{
		{"docker_bridge.json", []model.Endpoint{{Host: "10.0.0.5", Port: 31005, Protocol: "tcp"}}},
		{"ucr_bridge.json", []model.Endpoint{{Host: "10.0.0.5", Port: 31005, Protocol: "tcp"}}},
		{"docker_host.json", []model.Endpoint{{Host: "10.0.0.5", Port: 31005, Protocol: "tcp"}}},
		{"ucr_host.json", []model.Endpoint{{Host: "10.0.0.5", Port: 31005, ServicePort: 10003, Protocol: "tcp"}}},
		// Container mode: the container IP and the container port, never
		// the host port.
		{"docker_ippc.json", []model.Endpoint{{Host: "9.0.0.5", Port: 80, Protocol: "tcp"}}},
		// No port mappings: no endpoint (marathon-lb reaches it only
		// through its server-options template and auto-assigned ports).
		{"ucr_ippc.json", nil},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			def := parseJSON(t, string(fixture(t, "marathon-lb-ci/backends/"+tc.file)))
			def["tasks"] = []any{task}
			as, ps := mustDecode(t, apps(t, def))
			if len(ps) != 0 {
				t.Fatalf("problems %v", ps)
			}
			s := model.Build(model.Observations{Marathon: &model.MarathonObservation{Apps: as}}, model.BuildOptions{})
			got := s.Apps[0].Tasks[0].Endpoints
			for i := range got {
				got[i].Addr = netip.Addr{} // checked below
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("endpoints\n got %+v\nwant %+v", got, tc.want)
			}
			if len(tc.want) > 0 {
				if a := s.Apps[0].Tasks[0].Endpoints[0]; a.Host == "" {
					t.Fatal("no host")
				}
			}
		})
	}
}

// FuzzDecodeApps: the decoder never panics, nor does Build on what it
// returns; apps come out sorted and unique; every problem names its item
// and field.
func FuzzDecodeApps(f *testing.F) {
	f.Add([]byte(`{"apps":[` + goodApp + `,` + victimApp + `,` + legacyIPApp + `]}`))
	f.Add([]byte(`{"apps":[{"id":"/b"},{"id":"/a"},{"id":"/b"},5,null,{"id":7}]}`))
	f.Add([]byte(`{"apps":[{"id":"/x","networks":[{"mode":"?"}],"tasks":[{"id":"x.1","ports":[-1,"a",70000],"ipAddresses":[{"ipAddress":"::ffff:1.2.3.4"}]}]}]}`))
	f.Add([]byte(`{"apps":[{"id":"/x","container":{"docker":{"network":"USER","portMappings":[{"containerPort":1e3}]}},"ipAddress":{"networkName":"n"}}]}`))
	f.Add([]byte(`{"apps":{}}`))
	f.Add([]byte(`[]`))
	if dir := filepath.Join(testutil.RepoRoot(), "..", "shared", "fixtures", "marathon"); dirExists(dir) {
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".json") {
				if b, err := os.ReadFile(p); err == nil {
					f.Add(b)
				}
			}
			return nil
		})
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		as, ps, err := decodeApps(b)
		if err != nil {
			if as != nil || ps != nil {
				t.Fatal("a failed decode returned apps or problems")
			}
			return
		}
		for i := 1; i < len(as); i++ {
			if as[i-1].ID >= as[i].ID {
				t.Fatalf("apps not sorted and unique: %q then %q", as[i-1].ID, as[i].ID)
			}
		}
		seen := map[string]bool{}
		for _, a := range as {
			if a.ID == "" {
				t.Fatal("app without id")
			}
			for _, tk := range a.Tasks {
				if tk.ID == "" || seen[tk.ID] {
					t.Fatalf("task id %q empty or repeated", tk.ID)
				}
				seen[tk.ID] = true
			}
		}
		for _, p := range ps {
			if p.Item == "" || p.Field == "" || p.Reason == "" {
				t.Fatalf("problem without item, field or reason: %+v", p)
			}
			if p.Kind != kindApp && p.Kind != kindTask && p.Kind != kindField {
				t.Fatalf("problem kind %q", p.Kind)
			}
		}
		_ = model.Build(model.Observations{Marathon: &model.MarathonObservation{Apps: as}}, model.BuildOptions{})
	})
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
