package state_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/testutil"
)

// Positions in fake.json (see ../shared/fixtures/mesos/README.md).
const (
	agent1    = "20140803-125133-3041283216-5050-2410-0"
	fwIPv6    = 0
	fwNoPID   = 2
	fwMara    = 3
	taskLiq   = 1 // marathon's liquor.store: four statuses
	taskCar   = 4 // marathon's car.store
	carID     = "car-store.43758382-562f-11e4-a088-c20493233aa5"
	liquorID  = "liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5"
	marathon  = `framework "marathon"`
	carItem   = `task "` + carID + `" of framework "marathon"`
	liqItem   = `task "` + liquorID + `" of framework "marathon"`
	agentItem = `agent "` + agent1 + `"`
)

func fakeState(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.Fixtures(t, "mesos"), "fake.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustParse parses a document that must decode without losses.
func mustParse(t *testing.T, b []byte) *state.State {
	t.Helper()
	st, skipped, err := state.Parse(b)
	if err != nil || len(skipped) != 0 {
		t.Fatalf("Parse: skipped %v, err %v", skipped, err)
	}
	return st
}

// withValue returns doc with the value at path (dot-separated object keys
// and array positions) set to the JSON text raw.
func withValue(t *testing.T, doc []byte, path, raw string) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber() // keeps every number exactly as written
	var root any
	if err := dec.Decode(&root); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("bad test value %s: %v", raw, err)
	}
	keys := strings.Split(path, ".")
	cur := root
	for i, k := range keys {
		last := i == len(keys)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[k] = v
			} else {
				cur = c[k]
			}
		case []any:
			n, err := strconv.Atoi(k)
			if err != nil || n >= len(c) {
				t.Fatalf("path %s: no element %s", path, k)
			}
			if last {
				c[n] = v
			} else {
				cur = c[n]
			}
		default:
			t.Fatalf("path %s: %s is inside a %T", path, k, cur)
		}
	}
	out, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffStates(t *testing.T, want, got *state.State) {
	t.Helper()
	if reflect.DeepEqual(want, got) {
		return
	}
	w, _ := json.MarshalIndent(want, "", " ")
	g, _ := json.MarshalIndent(got, "", " ")
	wl, gl := strings.Split(string(w), "\n"), strings.Split(string(g), "\n")
	for i := range min(len(wl), len(gl)) {
		if wl[i] != gl[i] {
			t.Fatalf("state differs from the clean parse at line %d:\nwant %s\ngot  %s", i+1, wl[i], gl[i])
		}
	}
	t.Fatalf("state differs from the clean parse (%d vs %d lines; or only in nil vs empty)", len(wl), len(gl))
}

func TestParseSkipsBadItems(t *testing.T) {
	clean := fakeState(t)
	mustParse(t, clean)

	dropAgent := func(i int) func(*state.State) {
		return func(s *state.State) { s.Slaves = slices.Delete(s.Slaves, i, i+1) }
	}
	dropFramework := func(i int) func(*state.State) {
		return func(s *state.State) { s.Frameworks = slices.Delete(s.Frameworks, i, i+1) }
	}
	dropTask := func(f, j int) func(*state.State) {
		return func(s *state.State) { s.Frameworks[f].Tasks = slices.Delete(s.Frameworks[f].Tasks, j, j+1) }
	}
	dropStatus := func(f, j, k int) func(*state.State) {
		return func(s *state.State) {
			t := &s.Frameworks[f].Tasks[j]
			t.Statuses = slices.Delete(t.Statuses, k, k+1)
		}
	}
	agent := func(edit func(*state.Slave)) func(*state.State) {
		return func(s *state.State) { edit(&s.Slaves[1]) }
	}
	fw := func(edit func(*state.Framework)) func(*state.State) {
		return func(s *state.State) { edit(&s.Frameworks[fwMara]) }
	}
	car := func(edit func(*state.Task)) func(*state.State) {
		return func(s *state.State) { edit(&s.Frameworks[fwMara].Tasks[taskCar]) }
	}
	same := func(*state.State) {}
	const (
		agentPath  = "slaves.1"
		maraPath   = "frameworks.3"
		carPath    = "frameworks.3.tasks.4"
		liqStatus2 = "frameworks.3.tasks.1.statuses.2"
	)

	cases := []struct {
		name  string
		path  string
		value string
		want  func(*state.State)
		skip  *state.Skipped // Reason is only checked to be there
	}{
		// Agents.
		{"agent not an object", agentPath, `"S1"`, dropAgent(1),
			&state.Skipped{Kind: state.KindAgent, Item: "agent slaves[1]"}},
		{"agent id number", agentPath + ".id", `42`, dropAgent(1),
			&state.Skipped{Kind: state.KindAgent, Item: "agent slaves[1]", Field: "id"}},
		{"agent id object", agentPath + ".id", `{"value":"x"}`, dropAgent(1),
			&state.Skipped{Kind: state.KindAgent, Item: "agent slaves[1]", Field: "id"}},
		{"agent pid array", agentPath + ".pid", `["slave(1)@1.2.3.11:5051"]`, agent(func(s *state.Slave) { s.PID = "" }),
			&state.Skipped{Kind: state.KindField, Item: agentItem, Field: "pid"}},
		{"agent hostname bool", agentPath + ".hostname", `true`, agent(func(s *state.Slave) { s.Hostname = "" }),
			&state.Skipped{Kind: state.KindField, Item: agentItem, Field: "hostname"}},
		{"agent active string", agentPath + ".active", `"yes"`, agent(func(s *state.Slave) { s.Active = nil }),
			&state.Skipped{Kind: state.KindField, Item: agentItem, Field: "active"}},
		{"agent attributes array", agentPath + ".attributes", `[1]`, agent(func(s *state.Slave) { s.Attributes = nil }),
			&state.Skipped{Kind: state.KindField, Item: agentItem, Field: "attributes"}},
		{"agent resources number", agentPath + ".resources.cpus", `"8"`, agent(func(s *state.Slave) { s.Resources.CPUs = 0 }),
			&state.Skipped{Kind: state.KindField, Item: agentItem, Field: "resources.cpus"}},
		{"agent resources array", agentPath + ".resources", `[8]`, agent(func(s *state.Slave) { s.Resources = nil }),
			&state.Skipped{Kind: state.KindField, Item: agentItem, Field: "resources"}},
		{"agent id null", agentPath + ".id", `null`, agent(func(s *state.Slave) { s.ID = "" }), nil},
		{"agent resources null", agentPath + ".resources", `null`, agent(func(s *state.Slave) { s.Resources = nil }), nil},

		// Frameworks.
		{"framework not an object", maraPath, `7`, dropFramework(fwMara),
			&state.Skipped{Kind: state.KindFramework, Item: "framework frameworks[3]"}},
		{"framework name number", maraPath + ".name", `1`, dropFramework(fwMara),
			&state.Skipped{Kind: state.KindFramework, Item: "framework frameworks[3]", Field: "name"}},
		{"framework id array", maraPath + ".id", `["x"]`, dropFramework(fwMara),
			&state.Skipped{Kind: state.KindFramework, Item: marathon, Field: "id"}},
		{"framework pid object", maraPath + ".pid", `{}`, fw(func(f *state.Framework) { f.PID = "" }),
			&state.Skipped{Kind: state.KindField, Item: marathon, Field: "pid"}},
		{"framework active number", maraPath + ".active", `1`, fw(func(f *state.Framework) { f.Active = nil }),
			&state.Skipped{Kind: state.KindField, Item: marathon, Field: "active"}},
		{"framework tasks object", maraPath + ".tasks", `{"0":{}}`, fw(func(f *state.Framework) { f.Tasks = nil }),
			&state.Skipped{Kind: state.KindField, Item: marathon, Field: "tasks"}},
		{"framework without tasks, pid number", "frameworks.2.hostname", `5`,
			func(s *state.State) { s.Frameworks[fwNoPID].Hostname = "" },
			&state.Skipped{Kind: state.KindField, Item: `framework "no pid"`, Field: "hostname"}},
		{"framework webui_url null", maraPath + ".webui_url", `null`, same, nil},
		{"framework tasks null", maraPath + ".tasks", `null`, fw(func(f *state.Framework) { f.Tasks = nil }), nil},

		// Tasks.
		{"task not an object", carPath, `"car"`, dropTask(fwMara, taskCar),
			&state.Skipped{Kind: state.KindTask, Item: `task tasks[4] of framework "marathon"`}},
		{"task id number", carPath + ".id", `4`, dropTask(fwMara, taskCar),
			&state.Skipped{Kind: state.KindTask, Item: `task tasks[4] of framework "marathon"`, Field: "id"}},
		{"task state object", carPath + ".state", `{"name":"TASK_RUNNING"}`, dropTask(fwMara, taskCar),
			&state.Skipped{Kind: state.KindTask, Item: carItem, Field: "state"}},
		{"task slave_id array", carPath + ".slave_id", `["S1"]`, dropTask(fwMara, taskCar),
			&state.Skipped{Kind: state.KindTask, Item: carItem, Field: "slave_id"}},
		{"task name bool", carPath + ".name", `false`, dropTask(fwMara, taskCar),
			&state.Skipped{Kind: state.KindTask, Item: carItem, Field: "name"}},
		{"task in the one-task framework", "frameworks.0.tasks.0.id", `[]`, dropTask(fwIPv6, 0),
			&state.Skipped{Kind: state.KindTask, Item: `task tasks[0] of framework "ipv6-framework"`, Field: "id"}},
		{"task executor_id number", carPath + ".executor_id", `0`, car(func(t *state.Task) { t.ExecutorID = "" }),
			&state.Skipped{Kind: state.KindField, Item: carItem, Field: "executor_id"}},
		{"task resources.ports number", carPath + ".resources.ports", `31364`, car(func(t *state.Task) { t.Resources.Ports = "" }),
			&state.Skipped{Kind: state.KindField, Item: carItem, Field: "resources.ports"}},
		{"task resources.mem string", carPath + ".resources.mem", `"1Gi"`, car(func(t *state.Task) { t.Resources.Mem = 0 }),
			&state.Skipped{Kind: state.KindField, Item: carItem, Field: "resources.mem"}},
		{"task resources string", carPath + ".resources", `"cpus:1"`, car(func(t *state.Task) { t.Resources = state.Resources{} }),
			&state.Skipped{Kind: state.KindField, Item: carItem, Field: "resources"}},
		{"task labels object", carPath + ".labels", `{"labels":[]}`, same,
			&state.Skipped{Kind: state.KindField, Item: carItem, Field: "labels"}},
		{"task label key number", carPath + ".labels", `[{"key":1,"value":"v"}]`, same,
			&state.Skipped{Kind: state.KindField, Item: carItem, Field: "labels.key"}},
		{"task discovery port number string", "frameworks.3.tasks.1.discovery.ports.ports.0.number", `"80"`,
			func(s *state.State) { s.Frameworks[fwMara].Tasks[taskLiq].Discovery = nil },
			&state.Skipped{Kind: state.KindField, Item: liqItem, Field: "discovery.ports.ports.number"}},
		{"task discovery string", carPath + ".discovery", `"none"`, same,
			&state.Skipped{Kind: state.KindField, Item: carItem, Field: "discovery"}},
		{"task container array", carPath + ".container", `[{"type":"DOCKER"}]`, same,
			&state.Skipped{Kind: state.KindField, Item: carItem, Field: "container"}},
		{"task health_check number", carPath + ".health_check", `1`, same,
			&state.Skipped{Kind: state.KindField, Item: carItem, Field: "health_check"}},
		{"task statuses object", carPath + ".statuses", `{}`, car(func(t *state.Task) { t.Statuses = nil }),
			&state.Skipped{Kind: state.KindField, Item: carItem, Field: "statuses"}},
		{"task labels null", carPath + ".labels", `null`, same, nil},
		{"task discovery null", "frameworks.3.tasks.1.discovery", `null`,
			func(s *state.State) { s.Frameworks[fwMara].Tasks[taskLiq].Discovery = nil }, nil},

		// Statuses.
		{"status not an object", liqStatus2, `"TASK_RUNNING"`, dropStatus(fwMara, taskLiq, 2),
			&state.Skipped{Kind: state.KindStatus, Item: liqItem, Field: "statuses[2]"}},
		{"status timestamp string", liqStatus2 + ".timestamp", `"1414913536"`, dropStatus(fwMara, taskLiq, 2),
			&state.Skipped{Kind: state.KindStatus, Item: liqItem, Field: "statuses[2].timestamp"}},
		{"status state number", liqStatus2 + ".state", `1`, dropStatus(fwMara, taskLiq, 2),
			&state.Skipped{Kind: state.KindStatus, Item: liqItem, Field: "statuses[2].state"}},
		{"status labels object", liqStatus2 + ".labels", `{}`, dropStatus(fwMara, taskLiq, 2),
			&state.Skipped{Kind: state.KindStatus, Item: liqItem, Field: "statuses[2].labels"}},
		{"status container_status array", "frameworks.0.tasks.0.statuses.0.container_status", `[]`, dropStatus(fwIPv6, 0, 0),
			&state.Skipped{Kind: state.KindStatus, Item: `task "toy-store.b8db9f73-562f-11e4-a088-c20493233aa5" of framework "ipv6-framework"`,
				Field: "statuses[0].container_status"}},
		{"status ip address number", "frameworks.0.tasks.0.statuses.0.container_status.network_infos.1.ip_addresses.0.ip_address", `12`,
			dropStatus(fwIPv6, 0, 0),
			&state.Skipped{Kind: state.KindStatus, Item: `task "toy-store.b8db9f73-562f-11e4-a088-c20493233aa5" of framework "ipv6-framework"`,
				Field: "statuses[0].container_status.network_infos.ip_addresses.ip_address"}},
		{"status healthy string", liqStatus2 + ".healthy", `"true"`, dropStatus(fwMara, taskLiq, 2),
			&state.Skipped{Kind: state.KindStatus, Item: liqItem, Field: "statuses[2].healthy"}},
		{"status timestamp null", liqStatus2 + ".timestamp", `null`,
			func(s *state.State) { s.Frameworks[fwMara].Tasks[taskLiq].Statuses[2].Timestamp = 0 }, nil},
		{"status null", liqStatus2, `null`,
			func(s *state.State) { s.Frameworks[fwMara].Tasks[taskLiq].Statuses[2] = state.Status{} }, nil},

		// Top level.
		{"leader number", "leader", `1`, func(s *state.State) { s.Leader = "" },
			&state.Skipped{Kind: state.KindField, Item: "master state", Field: "leader"}},
		{"version object", "version", `{"major":0}`, func(s *state.State) { s.Version = "" },
			&state.Skipped{Kind: state.KindField, Item: "master state", Field: "version"}},
		{"leader_info port string", "leader_info", `{"id":"m","port":"5050"}`, same,
			&state.Skipped{Kind: state.KindField, Item: "master state", Field: "leader_info.port"}},
		{"number out of range", "leader_info", `{"ip":4294967296}`, same,
			&state.Skipped{Kind: state.KindField, Item: "master state", Field: "leader_info.ip"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := mustParse(t, clean)
			c.want(want)
			got, skipped, err := state.Parse(withValue(t, clean, c.path, c.value))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var wantSkipped []state.Skipped
			if c.skip != nil {
				wantSkipped = []state.Skipped{*c.skip}
			}
			if len(skipped) != len(wantSkipped) {
				t.Fatalf("skipped %v, want %v", skipped, wantSkipped)
			}
			for i, s := range skipped {
				if s.Reason == "" {
					t.Errorf("skipped[%d] has no reason: %v", i, s)
				}
				s.Reason = ""
				if s != wantSkipped[i] {
					t.Errorf("skipped[%d] = %+v, want %+v", i, s, wantSkipped[i])
				}
			}
			diffStates(t, want, got)
		})
	}
}

// TestParseSkipsSeveral checks that losses in several places are all
// reported, in document order, and that nothing else is lost.
func TestParseSkipsSeveral(t *testing.T) {
	clean := fakeState(t)
	doc := withValue(t, clean, "leader", `["master@1.2.3.4:5050"]`)
	doc = withValue(t, doc, "slaves.1.id", `1`)
	doc = withValue(t, doc, "frameworks.3.tasks.4.slave_id", `2`)
	doc = withValue(t, doc, "frameworks.3.tasks.1.statuses.0.timestamp", `"now"`)
	doc = withValue(t, doc, "frameworks.3.tasks.1.statuses.3.timestamp", `"later"`)
	got, skipped, err := state.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := mustParse(t, clean)
	want.Leader = ""
	want.Slaves = slices.Delete(want.Slaves, 1, 2)
	mara := &want.Frameworks[fwMara]
	mara.Tasks[taskLiq].Statuses = mara.Tasks[taskLiq].Statuses[1:3]
	mara.Tasks = slices.Delete(mara.Tasks, taskCar, taskCar+1)
	diffStates(t, want, got)
	var fields []string
	for _, s := range skipped {
		fields = append(fields, string(s.Kind)+" "+s.Field)
	}
	wantFields := []string{"field leader", "agent id", "status statuses[0].timestamp", "status statuses[3].timestamp", "task slave_id"}
	if !slices.Equal(fields, wantFields) {
		t.Errorf("skipped %q, want %q", fields, wantFields)
	}
}

func TestParseSkippedReason(t *testing.T) {
	doc := []byte(`{"slaves":[],"frameworks":[{"id":"F","name":"marathon","tasks":[{"id":"t","name":"t","slave_id":"S","state":"TASK_RUNNING",
		"statuses":[{"state":"TASK_RUNNING","timestamp":"soon"}]}]}]}`)
	_, skipped, err := state.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := `task "t" of framework "marathon": statuses[0].timestamp: JSON string where a number is expected; status dropped`
	if len(skipped) != 1 || skipped[0].String() != want {
		t.Errorf("skipped = %v, want [%s]", skipped, want)
	}
}

func TestParseUnusableTopLevel(t *testing.T) {
	cases := []struct {
		name, doc, wantErr string
	}{
		{"empty", ``, "unexpected end of JSON input"},
		{"truncated", `{"slaves":[`, "unexpected end of JSON input"},
		{"html", `<html>502</html>`, "invalid character"},
		{"trailing garbage", `{} {}`, "invalid character"},
		{"null", ` null `, "not an object"},
		{"array", `[{"slaves":[]}]`, "JSON array, not an object"},
		{"string", `"state"`, "JSON string, not an object"},
		{"number", `3`, "JSON number, not an object"},
		{"slaves number", `{"slaves":3,"frameworks":[]}`, "slaves is a JSON number, not an array"},
		{"slaves object", `{"slaves":{"S1":{}}}`, "slaves is a JSON object, not an array"},
		{"frameworks string", `{"slaves":[],"frameworks":"marathon"}`, "frameworks is a JSON string, not an array"},
		{"frameworks bad too", `{"leader":1,"frameworks":true}`, "frameworks is a JSON bool, not an array"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, skipped, err := state.Parse([]byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want one containing %q", c.doc, err, c.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "mesos state: ") {
				t.Errorf("error %q does not say what it is about", err)
			}
			if st != nil || skipped != nil {
				t.Errorf("Parse(%q) = %v, %v with the error", c.doc, st, skipped)
			}
		})
	}
}

func TestParseUsableTopLevel(t *testing.T) {
	cases := []struct {
		name, doc string
		want      state.State
	}{
		{"empty object", `{}`, state.State{}},
		{"null lists", `{"slaves":null,"frameworks":null}`, state.State{}},
		{"empty lists", ` {"leader":"master@1.2.3.4:5050","slaves":[],"frameworks":[]}`,
			state.State{Leader: "master@1.2.3.4:5050", Slaves: []state.Slave{}, Frameworks: []state.Framework{}}},
		{"every item bad", `{"slaves":[1],"frameworks":[2]}`,
			state.State{Slaves: []state.Slave{}, Frameworks: []state.Framework{}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, _, err := state.Parse([]byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			diffStates(t, &c.want, st)
		})
	}
}

// FuzzParse: Parse never panics, an error comes alone, every loss is
// described, and whatever it returns is clean: encoded again, it parses
// without error or loss to a state that encodes the same.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"leader":"master@1.2.3.4:5050","slaves":[{"id":"S1","pid":"slave(1)@1.2.3.4:5051","resources":{"ports":"[1-2]"}}],` +
		`"frameworks":[{"id":"F","name":"marathon","tasks":[{"id":"t.1","name":"t","slave_id":"S1","state":"TASK_RUNNING",` +
		`"labels":[{"key":"k","value":"v"}],"statuses":[{"state":"TASK_RUNNING","timestamp":1.5}]}]}]}`))
	f.Add([]byte(`{"leader":7,"slaves":[{"id":1},{"id":"S2","pid":[]},"x",null],"frameworks":[{"name":"m","id":"F","tasks":[` +
		`{"id":"a","name":"a","slave_id":"S2","state":"TASK_RUNNING","resources":{"cpus":"1","ports":5},"discovery":[],` +
		`"statuses":[{"timestamp":"x"},{"state":"TASK_RUNNING","container_status":{"network_infos":[{"ip_addresses":{}}]}}]},` +
		`{"id":{},"state":"TASK_RUNNING"}]},{"name":3},{"name":"n","id":"G","tasks":{}}]}`))
	f.Add([]byte(`{"slaves":{}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"leader_info":{"ip":-1,"port":1e99,"address":{"port":"x"}},"slaves":[{"ID":"a","id":1}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		st, skipped, err := state.Parse(doc)
		if err != nil {
			if st != nil || skipped != nil {
				t.Fatalf("error %v came with a state or losses", err)
			}
			return
		}
		for _, s := range skipped {
			switch s.Kind {
			case state.KindAgent, state.KindFramework, state.KindTask, state.KindStatus, state.KindField:
			default:
				t.Fatalf("loss of unknown kind: %+v", s)
			}
			if s.Item == "" || s.Reason == "" {
				t.Fatalf("loss not described: %+v", s)
			}
		}
		again, err := json.Marshal(st)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		st2, skipped2, err := state.Parse(again)
		if err != nil || len(skipped2) != 0 {
			t.Fatalf("re-parse of %s: skipped %v, err %v", again, skipped2, err)
		}
		// Not DeepEqual: empty lists under omitempty come back nil.
		if again2, _ := json.Marshal(st2); !bytes.Equal(again, again2) {
			t.Fatalf("re-parse differs:\n%s\n%s", again, again2)
		}
	})
}
