package master

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v1 "github.com/sextantdc/sextant/internal/mesos/operator/v1"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

func types(evs []v1.Event) string {
	var s []string
	for _, e := range evs {
		t := e.Type
		if e.TaskUpdated != nil {
			t += "(" + e.TaskUpdated.Status.State + "→" + e.TaskUpdated.State + ")"
		}
		if e.TaskAdded != nil {
			t += "(" + e.TaskAdded.Task.State + ")"
		}
		s = append(s, t)
	}
	return strings.Join(s, " ")
}

func TestDiff(t *testing.T) {
	o := v1.FromV0Options{Version: "1.11.0", Now: func() time.Time { return time.Unix(1700000000, 0) }}
	withHistory := sampleTask("t1", "TASK_RUNNING", 31001)
	withHistory.Statuses = append([]state.Status{{State: "TASK_STARTING", Timestamp: 1}}, withHistory.Statuses...)
	relabelled := sampleTask("t1", "TASK_RUNNING", 31001)
	relabelled.Labels = []state.Label{{Key: "new", Value: "label"}}
	noStatus := sampleTask("t1", "TASK_STAGING", 31001)
	noStatus.State = "TASK_KILLING"
	killing := sampleTask("t1", "TASK_RUNNING", 31001)
	killing.State = "TASK_KILLING"
	finished := sampleTask("t1", "TASK_FINISHED", 31001)
	renamed := sampleState()
	renamed.Frameworks[0].Name = "marathon-user"
	for _, tc := range []struct {
		name     string
		old, cur *state.State
		want     string
	}{
		{"nothing", sampleState(), sampleState(), ""},
		{"from nothing", nil, sampleState(), "FRAMEWORK_ADDED AGENT_ADDED"},
		{"launch", sampleState(), sampleState(sampleTask("t1", "TASK_STAGING", 31001)), "TASK_ADDED(TASK_STAGING)"},
		{"fresh task with history", sampleState(), sampleState(withHistory),
			"TASK_ADDED(TASK_STAGING) TASK_UPDATED(TASK_STARTING→TASK_RUNNING) TASK_UPDATED(TASK_RUNNING→TASK_RUNNING)"},
		{"running", sampleState(sampleTask("t1", "TASK_STAGING", 31001)), sampleState(sampleTask("t1", "TASK_RUNNING", 31001)),
			"TASK_UPDATED(TASK_RUNNING→TASK_RUNNING)"},
		{"state only", sampleState(sampleTask("t1", "TASK_RUNNING", 31001)), sampleState(killing), "TASK_UPDATED(TASK_RUNNING→TASK_KILLING)"},
		{"state only, no statuses", sampleState(sampleTask("t1", "TASK_STAGING", 31001)), sampleState(noStatus), "TASK_UPDATED(TASK_KILLING→TASK_KILLING)"},
		{"other fields", sampleState(sampleTask("t1", "TASK_RUNNING", 31001)), sampleState(relabelled), "TASK_ADDED(TASK_RUNNING)"},
		{"vanished running", sampleState(sampleTask("t1", "TASK_RUNNING", 31001)), sampleState(), "TASK_UPDATED(TASK_KILLED→TASK_KILLED)"},
		{"vanished terminal", sampleState(finished), sampleState(), ""},
		{"framework renamed", sampleState(), renamed, "FRAMEWORK_UPDATED"},
		{"everything gone", sampleState(sampleTask("t1", "TASK_RUNNING", 31001)), &state.State{},
			"TASK_UPDATED(TASK_KILLED→TASK_KILLED) AGENT_REMOVED FRAMEWORK_REMOVED"},
	} {
		if got := types(diff(tc.old, tc.cur, o)); got != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", tc.name, got, tc.want)
		}
	}
}

func BenchmarkDiff1000Tasks(b *testing.B) {
	var tasks []state.Task
	for i := 0; i < 1000; i++ {
		tasks = append(tasks, sampleTask("t"+string(rune('a'+i%26))+strings.Repeat("x", i%7)+string(rune(i)), "TASK_RUNNING", 31001))
	}
	old := sampleState(tasks...)
	cur := sampleState(append(append([]state.Task(nil), tasks...), sampleTask("new", "TASK_STAGING", 31001))...)
	o := v1.FromV0Options{}
	b.ReportAllocs()
	for b.Loop() {
		if n := len(diff(old, cur, o)); n != 1 {
			b.Fatal(n)
		}
	}
}

func BenchmarkMasterStateCached(b *testing.B) {
	var tasks []state.Task
	for i := 0; i < 1000; i++ {
		tasks = append(tasks, sampleTask("t"+strings.Repeat("x", i%7)+string(rune(1000+i)), "TASK_RUNNING", 31001))
	}
	h := NewHandler(NewMemProvider(sampleState(tasks...)), Options{}, nil)
	req := httptest.NewRequest("GET", "/master/state", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
