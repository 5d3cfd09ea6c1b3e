package operator

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/sextantdc/sextant/internal/mesos/operator/v1"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

// After specEvents the model holds framework f-0001 "marathon", agent
// a-S3 and task dev_web.instance-1._app.1 (TASK_RUNNING, one status).
const (
	specTask = `dev_web.instance-1._app.1`
	goodTask = `{"name":"db","task_id":{"value":"db.1"},"framework_id":{"value":"f-0001"},"agent_id":{"value":"a-S3"},"state":"TASK_RUNNING",` +
		`"resources":[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31002,"end":31002}]}}]`
)

func specTaskOf(t *testing.T, st *state.State) *state.Task {
	t.Helper()
	for i := range st.Frameworks {
		for j := range st.Frameworks[i].Tasks {
			if st.Frameworks[i].Tasks[j].ID == specTask {
				return &st.Frameworks[i].Tasks[j]
			}
		}
	}
	return nil
}

func findTask(st *state.State, id string) *state.Task {
	for i := range st.Frameworks {
		for j := range st.Frameworks[i].Tasks {
			if st.Frameworks[i].Tasks[j].ID == id {
				return &st.Frameworks[i].Tasks[j]
			}
		}
	}
	return nil
}

// TestEventsWithBadValues: a value of the wrong type inside an event's
// item costs that item or only the bad part; the update it carries is
// still applied where that is meaningful.
func TestEventsWithBadValues(t *testing.T) {
	cases := []struct {
		name    string
		rec     string
		changed bool
		skipped int
		check   func(t *testing.T, st *state.State)
	}{
		{"task added with bad labels", `{"type":"TASK_ADDED","task_added":{"task":` + goodTask + `,"labels":{"labels":{}}}}}`, true, 1,
			func(t *testing.T, st *state.State) {
				tk := findTask(st, "db.1")
				if tk == nil || tk.Labels != nil || tk.Resources.Ports != "[31002-31002]" {
					t.Fatalf("task %+v, want it without labels and with its port", tk)
				}
			}},
		{"task added with one bad resource", `{"type":"TASK_ADDED","task_added":{"task":` + goodTask[:len(goodTask)-1] +
			`,{"name":"cpus","type":"SCALAR","scalar":{"value":{}}}]}}}`, true, 1,
			func(t *testing.T, st *state.State) {
				if tk := findTask(st, "db.1"); tk == nil || tk.Resources.Ports != "[31002-31002]" || tk.Resources.CPUs != 0 {
					t.Fatalf("task %+v, want the port and no cpus", tk)
				}
			}},
		{"task added with a bad status", `{"type":"TASK_ADDED","task_added":{"task":` + goodTask + `,"statuses":[{"state":"TASK_RUNNING","timestamp":[]},{"state":"TASK_RUNNING"}]}}}`, true, 1,
			func(t *testing.T, st *state.State) {
				if tk := findTask(st, "db.1"); tk == nil || len(tk.Statuses) != 1 {
					t.Fatalf("task %+v, want one status", tk)
				}
			}},
		{"task added with a bad id", `{"type":"TASK_ADDED","task_added":{"task":{"name":"x","task_id":{"value":7},"framework_id":{"value":"f-0001"}}}}`, false, 1,
			func(t *testing.T, st *state.State) {
				if n := len(st.Frameworks[0].Tasks); n != 1 {
					t.Fatalf("%d tasks", n)
				}
			}},
		{"task added with a bad state", `{"type":"TASK_ADDED","task_added":{"task":` + goodTask[:len(goodTask)-len(`,"resources":[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31002,"end":31002}]}}]`)] +
			`,"state":{"name":"x"}}}}`, false, 1,
			func(t *testing.T, st *state.State) {
				if findTask(st, "db.1") != nil {
					t.Fatal("task with a bad state added")
				}
			}},
		{"task killed, status unreadable", `{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"f-0001"},"status":{"task_id":{"value":"` + specTask +
			`"},"state":"TASK_KILLED","container_status":[]},"state":"TASK_KILLED"}}`, true, 1,
			func(t *testing.T, st *state.State) {
				if specTaskOf(t, st) != nil {
					t.Fatal("killed task still there")
				}
			}},
		{"task killing, bad timestamp", `{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"f-0001"},"status":{"task_id":{"value":"` + specTask +
			`"},"state":"TASK_KILLING","timestamp":"now"},"state":"TASK_KILLING"}}`, true, 1,
			func(t *testing.T, st *state.State) {
				tk := specTaskOf(t, st)
				if tk == nil || tk.State != "TASK_KILLING" || len(tk.Statuses) != 1 || tk.Statuses[0].State != "TASK_RUNNING" {
					t.Fatalf("task %+v, want TASK_KILLING with its old status", tk)
				}
			}},
		{"task update, bad top-level state", `{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"f-0001"},"status":{"task_id":{"value":"` + specTask +
			`"},"state":"TASK_KILLED"},"state":5}}`, true, 1,
			func(t *testing.T, st *state.State) {
				if specTaskOf(t, st) != nil {
					t.Fatal("the status's TASK_KILLED was not applied")
				}
			}},
		{"task update, bad task id", `{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"f-0001"},"status":{"task_id":{"value":1},"state":"TASK_KILLED"},"state":"TASK_KILLED"}}`, false, 1,
			func(t *testing.T, st *state.State) {
				if specTaskOf(t, st) == nil {
					t.Fatal("task gone")
				}
			}},
		{"agent added with a bad hostname", `{"type":"AGENT_ADDED","agent_added":{"agent":{"agent_info":{"hostname":[],"id":{"value":"a-S4"}},"active":true,"pid":"slave(1)@10.0.1.4:5051"}}}`, true, 1,
			func(t *testing.T, st *state.State) {
				if len(st.Slaves) != 2 || st.Slaves[1].ID != "a-S4" || st.Slaves[1].PID != "slave(1)@10.0.1.4:5051" {
					t.Fatalf("agents %+v", st.Slaves)
				}
			}},
		{"agent added with a bad active", `{"type":"AGENT_ADDED","agent_added":{"agent":{"agent_info":{"hostname":"h","id":{"value":"a-S4"}},"active":"yes"}}}`, true, 1,
			func(t *testing.T, st *state.State) {
				if len(st.Slaves) != 2 || st.Slaves[1].Active == nil || !*st.Slaves[1].Active {
					t.Fatalf("agents %+v", st.Slaves)
				}
			}},
		{"agent added with a bad id", `{"type":"AGENT_ADDED","agent_added":{"agent":{"agent_info":{"hostname":"h","id":"a-S4"}}}}`, false, 1,
			func(t *testing.T, st *state.State) {
				if len(st.Slaves) != 1 {
					t.Fatalf("agents %+v", st.Slaves)
				}
			}},
		{"agent removed with a bad id", `{"type":"AGENT_REMOVED","agent_removed":{"agent_id":"a-S3"}}`, false, 1,
			func(t *testing.T, st *state.State) {
				if len(st.Slaves) != 1 {
					t.Fatalf("agents %+v", st.Slaves)
				}
			}},
		{"framework updated with a bad webui_url", `{"type":"FRAMEWORK_UPDATED","framework_updated":{"framework":{"framework_info":{"user":"root","name":"marathon","id":{"value":"f-0001"},"hostname":"10.0.0.12","webui_url":8080},"active":true}}}`, true, 1,
			func(t *testing.T, st *state.State) {
				if len(st.Frameworks) != 1 || st.Frameworks[0].Hostname != "10.0.0.12" || len(st.Frameworks[0].Tasks) != 1 {
					t.Fatalf("frameworks %+v", st.Frameworks)
				}
			}},
		{"framework added with a bad name", `{"type":"FRAMEWORK_ADDED","framework_added":{"framework":{"framework_info":{"name":1,"id":{"value":"f-2"}}}}}`, false, 1,
			func(t *testing.T, st *state.State) {
				if len(st.Frameworks) != 1 {
					t.Fatalf("frameworks %+v", st.Frameworks)
				}
			}},
		{"framework removed with a bad name", `{"type":"FRAMEWORK_REMOVED","framework_removed":{"framework_info":{"name":["marathon"],"id":{"value":"f-0001"}}}}`, true, 0,
			func(t *testing.T, st *state.State) {
				if len(st.Frameworks) != 0 {
					t.Fatalf("frameworks %+v", st.Frameworks)
				}
			}},
		{"bad payload of another type", `{"type":"TASK_ADDED","task_added":{"task":` + goodTask + `}},"agent_added":7}`, true, 0,
			func(t *testing.T, st *state.State) {
				if findTask(st, "db.1") == nil {
					t.Fatal("task not added")
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !json.Valid([]byte(c.rec)) {
				t.Fatalf("test record is not JSON: %s", c.rec)
			}
			m := newTestModel()
			apply(t, m, specEvents...)
			_, changed, err := m.applyRecord([]byte(c.rec))
			if changed != c.changed {
				t.Errorf("changed = %v, want %v (err %v)", changed, c.changed, err)
			}
			if m.skipped != c.skipped {
				t.Errorf("skipped %d, want %d (err %v)", m.skipped, c.skipped, err)
			}
			c.check(t, m.state())
		})
	}
}

func TestSubscribedBadHeartbeat(t *testing.T) {
	m := newTestModel()
	sub := strings.Replace(specEvents[0], `"heartbeat_interval_seconds":15.0`, `"heartbeat_interval_seconds":{"seconds":15}`, 1)
	apply(t, m, sub)
	if !m.subscribed || m.heartbeat != 0 || m.skipped != 1 {
		t.Fatalf("subscribed %v heartbeat %v skipped %d", m.subscribed, m.heartbeat, m.skipped)
	}
}

// TestRawTypesMirrorTyped: a field of a v1 type missing from its raw twin
// would be lost, silently, whenever a bad value is elsewhere in the item.
func TestRawTypesMirrorTyped(t *testing.T) {
	names := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			out = append(out, name)
		}
		return out
	}
	for _, c := range []struct {
		name       string
		typed, raw any
	}{
		{"Task", v1.Task{}, rawTask{}},
		{"Agent", v1.Agent{}, rawAgent{}},
		{"AgentInfo", v1.AgentInfo{}, rawAgentInfo{}},
		{"Framework", v1.Framework{}, rawFramework{}},
		{"FrameworkInfo", v1.FrameworkInfo{}, rawFrameworkInfo{}},
		{"TaskUpdated", v1.TaskUpdated{}, rawTaskUpdated{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, want := names(c.raw), names(c.typed); !reflect.DeepEqual(got, want) {
				t.Errorf("raw twin has fields %q, typed struct %q", got, want)
			}
		})
	}
}
