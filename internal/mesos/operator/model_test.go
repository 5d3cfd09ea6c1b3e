package operator

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// The event examples of the operator API notes (§A.7.4), one per line as on
// the wire, with the elided ids filled in.
var specEvents = []string{
	`{"type":"SUBSCRIBED","subscribed":{"get_state":{"get_tasks":{"tasks":[],"unreachable_tasks":[],"completed_tasks":[]},"get_executors":{"executors":[]},"get_frameworks":{"frameworks":[],"completed_frameworks":[]},"get_agents":{"agents":[],"recovered_agents":[]}},"heartbeat_interval_seconds":15.0}}`,
	`{"type":"HEARTBEAT"}`,
	`{"type":"FRAMEWORK_ADDED","framework_added":{"framework":{"framework_info":{"user":"root","name":"marathon","id":{"value":"f-0001"},"hostname":"10.0.0.11"},"active":true,"connected":true,"recovered":false}}}`,
	`{"type":"AGENT_ADDED","agent_added":{"agent":{"agent_info":{"hostname":"10.0.1.2","port":5051,"id":{"value":"a-S3"}},"active":true,"version":"1.11.0","pid":"slave(1)@10.0.1.2:5051"}}}`,
	`{"type":"TASK_ADDED","task_added":{"task":{"name":"web.dev","task_id":{"value":"dev_web.instance-1._app.1"},"framework_id":{"value":"f-0001"},"agent_id":{"value":"a-S3"},"state":"TASK_STAGING","resources":[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31001,"end":31001}]}}],"labels":{"labels":[{"key":"VIP_0","value":"/web:80"}]},"discovery":{"visibility":"FRAMEWORK","name":"web.dev","ports":{"ports":[{"number":31001,"name":"http","protocol":"tcp"}]}}}}}`,
	`{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"f-0001"},"status":{"task_id":{"value":"dev_web.instance-1._app.1"},"state":"TASK_RUNNING","source":"SOURCE_EXECUTOR","agent_id":{"value":"a-S3"},"timestamp":1700000000.123456,"uuid":"ycLTRBo8TjKFTrh4vsBERg==","container_status":{"network_infos":[{"ip_addresses":[{"protocol":"IPv4","ip_address":"10.0.1.2"}]}]}},"state":"TASK_RUNNING"}}`,
}

func newTestModel() *model { return newModel(slog.New(slog.DiscardHandler), nil) }

func apply(t *testing.T, m *model, recs ...string) {
	t.Helper()
	for _, r := range recs {
		if _, _, err := m.applyRecord([]byte(r)); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
	}
}

func TestSpecEvents(t *testing.T) {
	m := newTestModel()
	apply(t, m, specEvents...)
	if m.heartbeat.Seconds() != 15 {
		t.Fatalf("heartbeat %v", m.heartbeat)
	}
	st := m.state()
	if len(st.Slaves) != 1 || st.Slaves[0].PID != "slave(1)@10.0.1.2:5051" || len(st.Frameworks) != 1 || st.Frameworks[0].Name != "marathon" {
		t.Fatalf("%+v", st)
	}
	tk := st.Frameworks[0].Tasks[0]
	if tk.State != "TASK_RUNNING" || tk.Resources.Ports != "[31001-31001]" || tk.Labels[0].Key != "VIP_0" ||
		len(tk.Statuses) != 1 || tk.Statuses[0].ContainerStatus.NetworkInfos[0].IPAddresses[0].IPAddress != "10.0.1.2" {
		t.Fatalf("task %+v", tk)
	}

	// State comes from the top-level state, not the (lagging) status; a
	// same-state status replaces the last one.
	apply(t, m, `{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"f-0001"},"status":{"task_id":{"value":"dev_web.instance-1._app.1"},"state":"TASK_RUNNING","healthy":false,"timestamp":1700000001.0},"state":"TASK_KILLING"}}`)
	tk = m.state().Frameworks[0].Tasks[0]
	if tk.State != "TASK_KILLING" || len(tk.Statuses) != 1 || tk.Statuses[0].Healthy == nil || *tk.Statuses[0].Healthy {
		t.Fatalf("after health update %+v", tk)
	}
	before := m.state()
	apply(t, m, `{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"f-0001"},"status":{"task_id":{"value":"dev_web.instance-1._app.1"},"state":"TASK_KILLING"},"state":"TASK_KILLING"}}`)
	if n := len(m.state().Frameworks[0].Tasks[0].Statuses); n != 2 {
		t.Fatalf("statuses %d, want 2", n)
	}
	if n := len(before.Frameworks[0].Tasks[0].Statuses); n != 1 {
		t.Fatal("an earlier state was modified")
	}
	// Unknown task: ignored.
	apply(t, m, `{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"f-0001"},"status":{"task_id":{"value":"nope"},"state":"TASK_RUNNING"},"state":"TASK_RUNNING"}}`)
	// Terminal: removed.
	apply(t, m, `{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"f-0001"},"status":{"task_id":{"value":"dev_web.instance-1._app.1"},"state":"TASK_KILLED"},"state":"TASK_KILLED"}}`)
	if n := len(m.state().Frameworks[0].Tasks); n != 0 {
		t.Fatalf("%d tasks after TASK_KILLED", n)
	}
	apply(t, m,
		`{"type":"AGENT_REMOVED","agent_removed":{"agent_id":{"value":"a-S3"}}}`,
		`{"type":"FRAMEWORK_REMOVED","framework_removed":{"framework_info":{"user":"root","name":"marathon","id":{"value":"f-0001"}}}}`,
		`{"type":"SOMETHING_NEW","something_new":{}}`)
	if st := m.state(); len(st.Slaves) != 0 || len(st.Frameworks) != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestSubscribedSkipsBadItems(t *testing.T) {
	m := newTestModel()
	apply(t, m, `{"type":"SUBSCRIBED","subscribed":{"get_state":{
	  "get_agents":{"agents":[{"agent_info":{"hostname":"h","id":{"value":"a1"}},"active":true,"version":"1","pid":"slave(1)@1.2.3.4:5051"},
	                          {"agent_info":{"hostname":7},"active":true},
	                          {"agent_info":{"hostname":"noid"},"active":true}]},
	  "get_frameworks":{"frameworks":[{"framework_info":{"user":"u","name":"marathon","id":{"value":"f1"}},"active":true},"junk"]},
	  "get_tasks":{"tasks":[{"name":"ok","task_id":{"value":"t1"},"framework_id":{"value":"f1"},"agent_id":{"value":"a1"},"state":"TASK_RUNNING"},
	                        {"name":"bad","task_id":{"value":"t2"},"framework_id":{"value":"f1"},"agent_id":{"value":"a1"},"state":"TASK_RUNNING","statuses":[{"timestamp":"soon"}]},
	                        {"name":"worse","task_id":"t6","framework_id":{"value":"f1"},"agent_id":{"value":"a1"},"state":"TASK_RUNNING"},
	                        {"name":"orphan","task_id":{"value":"t3"},"framework_id":{"value":"f9"},"agent_id":{"value":"a1"},"state":"TASK_RUNNING"}],
	               "unreachable_tasks":[{"name":"u","task_id":{"value":"t4"},"framework_id":{"value":"f1"},"agent_id":{"value":"a1"},"state":"TASK_UNREACHABLE"}],
	               "completed_tasks":[{"name":"c","task_id":{"value":"t5"},"framework_id":{"value":"f1"},"agent_id":{"value":"a1"},"state":"TASK_FINISHED"}]}}}}`)
	st := m.state()
	if len(st.Slaves) != 1 || len(st.Frameworks) != 1 {
		t.Fatalf("%+v", st)
	}
	var ids []string
	for _, tk := range st.Frameworks[0].Tasks {
		ids = append(ids, tk.ID)
	}
	if strings.Join(ids, ",") != "t1,t2,t4" {
		t.Fatalf("tasks %v, want t1,t2,t4 (bad status dropped, bad id skipped, orphan held back, completed ignored)", ids)
	}
	if n := len(st.Frameworks[0].Tasks[1].Statuses); n != 0 {
		t.Fatalf("t2 has %d statuses, want its bad one dropped", n)
	}
	// The agent with a bad hostname (its field dropped, then skipped for
	// no id), the agent without an id, the junk framework, t2's status, t6.
	if m.skipped != 6 {
		t.Fatalf("skipped %d, want 6", m.skipped)
	}
	if m.heartbeat != 0 {
		t.Fatal("heartbeat without heartbeat_interval_seconds")
	}
	// The orphan's framework arrives: the task appears.
	apply(t, m, `{"type":"FRAMEWORK_ADDED","framework_added":{"framework":{"framework_info":{"user":"u","name":"other","id":{"value":"f9"}},"active":true}}}`)
	if st := m.state(); len(st.Frameworks) != 2 || len(st.Frameworks[1].Tasks) != 1 {
		t.Fatalf("%+v", st)
	}
}

func TestBadEvents(t *testing.T) {
	for _, rec := range []string{
		``, `[]`, `{"type":`, `{"type":"TASK_ADDED"}`, `{"type":"TASK_UPDATED","task_updated":null}`,
		`{"type":"AGENT_ADDED","agent_added":{"agent":{"agent_info":{"hostname":"h"}}}}`,
		`{"type":"TASK_ADDED","task_added":{"task":{"task_id":{"value":""}}}}`,
		`{"type":"TASK_ADDED","task_added":{"task":{"task_id":"flat"}}}`,
		`{"type":"SUBSCRIBED"}`, `{"type":"SUBSCRIBED","subscribed":[]}`,
		`{"type":"FRAMEWORK_ADDED"}`, `{"type":"FRAMEWORK_UPDATED"}`, `{"type":"FRAMEWORK_REMOVED"}`, `{"type":"AGENT_REMOVED"}`,
	} {
		m := newTestModel()
		apply(t, m, specEvents...)
		before, _ := json.Marshal(m.state())
		_, changed, err := m.applyRecord([]byte(rec))
		after, _ := json.Marshal(m.state())
		if changed || (err == nil && m.skipped == 0) {
			t.Errorf("%q: changed=%v err=%v skipped=%d", rec, changed, err, m.skipped)
		}
		if string(before) != string(after) {
			t.Errorf("%q changed the model", rec)
		}
	}
}

func TestOrderedCompaction(t *testing.T) {
	var o ordered[int]
	o.reset()
	for i := 0; i < 1000; i++ {
		o.put(string(rune('a'+i%26))+string(rune(i)), i)
	}
	n := 0
	for i := 0; i < 1000; i += 2 {
		if !o.del(string(rune('a'+i%26)) + string(rune(i))) {
			t.Fatal("del")
		}
	}
	// Re-adding a deleted key appends it once.
	o.put("a"+string(rune(0)), -1)
	var got []int
	o.each(func(v *int) { got = append(got, *v); n++ })
	if len(got) != 501 || got[len(got)-1] != -1 || got[0] != 1 || len(o.order) > 2*len(o.m)+64 {
		t.Fatalf("%d items, first %d last %d, order %d", len(got), got[0], got[len(got)-1], len(o.order))
	}
}

func FuzzApplyEvent(f *testing.F) {
	for _, e := range specEvents {
		f.Add([]byte(e))
	}
	f.Add([]byte(`{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"f-0001"},"status":{"task_id":{"value":"dev_web.instance-1._app.1"},"state":"TASK_KILLED"},"state":""}}`))
	f.Add([]byte(`{"type":"AGENT_REMOVED","agent_removed":{"agent_id":{"value":"a-S3"}}}`))
	f.Add([]byte(`{"type":"FRAMEWORK_REMOVED","framework_removed":{"framework_info":{"id":{"value":"f-0001"}}}}`))
	f.Add([]byte(`{"type":"SUBSCRIBED","subscribed":{"get_state":{"get_tasks":{"tasks":[{"task_id":{"value":"x"},"framework_id":{"value":"f"},"resources":[{"name":"ports","ranges":{"range":[{"begin":5,"end":1}]}}]}]}},"heartbeat_interval_seconds":-1}}`))
	f.Fuzz(func(t *testing.T, rec []byte) {
		m := newTestModel()
		for _, e := range specEvents {
			if _, _, err := m.applyRecord([]byte(e)); err != nil {
				t.Fatal(err)
			}
		}
		_, _, _ = m.applyRecord(rec)
		st := m.state()
		if _, err := json.Marshal(st); err != nil {
			t.Fatalf("state does not marshal: %v", err)
		}
		if m.heartbeat < 0 {
			t.Fatal("negative heartbeat")
		}
	})
}
