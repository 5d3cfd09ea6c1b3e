package master

import (
	"reflect"

	v1 "github.com/sextantdc/sextant/internal/mesos/operator/v1"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

// Reasons and sources the diff puts into synthesised statuses.
const (
	reasonHealth  = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
	sourceMaster  = "SOURCE_MASTER"
	stateStaging  = "TASK_STAGING"
	stateKilled   = "TASK_KILLED"
	removedReason = "task is no longer known to the master"
)

// taskKey identifies a task: ids are unique within a framework only.
func taskKey(fw, id string) string { return fw + "\x00" + id }

type taskRef struct {
	t  *state.Task
	fw string
}

func indexTasks(st *state.State) map[string]taskRef {
	m := make(map[string]taskRef)
	if st == nil {
		return m
	}
	for i := range st.Frameworks {
		f := &st.Frameworks[i]
		for j := range f.Tasks {
			t := &f.Tasks[j]
			m[taskKey(f.ID, t.ID)] = taskRef{t: t, fw: f.ID}
		}
	}
	return m
}

// diff derives the operator events that turn old into cur, in the order a
// consumer can apply them: frameworks and agents appear before the tasks
// that refer to them, and disappear after them.
//
//   - a framework id not in old → FRAMEWORK_ADDED; changed → FRAMEWORK_UPDATED;
//     gone → FRAMEWORK_REMOVED.
//   - an agent id not in old → AGENT_ADDED; changed → AGENT_ADDED again (the
//     event means insert-or-replace); gone → AGENT_REMOVED.
//   - a task id not in old → TASK_ADDED (state TASK_STAGING, no statuses, as a
//     launch is announced) followed by one TASK_UPDATED per status it already
//     has; statuses past the common prefix of old and new → one TASK_UPDATED
//     each; a state change without a new status → TASK_UPDATED repeating the
//     last status; a change of the task's other fields → TASK_ADDED with the
//     whole task (insert-or-replace). A non-terminal task that vanishes gets a
//     TASK_UPDATED to TASK_KILLED, so consumers drop it; a terminal one
//     vanishes silently, as Mesos moves it to completed_tasks.
//
// Every TASK_UPDATED carries the task's current state at top level.
func diff(old, cur *state.State, o v1.FromV0Options) []v1.Event {
	var evs []v1.Event
	if cur == nil {
		cur = &state.State{}
	}
	if old == nil {
		old = &state.State{}
	}
	oldFw := make(map[string]*state.Framework, len(old.Frameworks))
	for i := range old.Frameworks {
		oldFw[old.Frameworks[i].ID] = &old.Frameworks[i]
	}
	curFw := make(map[string]bool, len(cur.Frameworks))
	for i := range cur.Frameworks {
		f := &cur.Frameworks[i]
		curFw[f.ID] = true
		of, ok := oldFw[f.ID]
		switch {
		case !ok:
			fe := v1.FrameworkFromV0(f, o.Registered)
			evs = append(evs, v1.Event{Type: v1.EventFrameworkAdded, FrameworkAdded: &v1.FrameworkEvent{Framework: fe}})
		case !sameFramework(of, f):
			fe := v1.FrameworkFromV0(f, o.Registered)
			evs = append(evs, v1.Event{Type: v1.EventFrameworkUpdated, FrameworkUpdated: &v1.FrameworkEvent{Framework: fe}})
		}
	}

	version := cur.Version
	if version == "" {
		version = o.Version
	}
	oldAg := make(map[string]*state.Slave, len(old.Slaves))
	for i := range old.Slaves {
		oldAg[old.Slaves[i].ID] = &old.Slaves[i]
	}
	curAg := make(map[string]bool, len(cur.Slaves))
	for i := range cur.Slaves {
		a := &cur.Slaves[i]
		curAg[a.ID] = true
		if oa, ok := oldAg[a.ID]; ok && reflect.DeepEqual(oa, a) {
			continue
		}
		ag, _ := v1.AgentFromV0(a, version, o.Registered)
		evs = append(evs, v1.Event{Type: v1.EventAgentAdded, AgentAdded: &v1.AgentAdded{Agent: ag}})
	}

	oldTasks := indexTasks(old)
	seen := make(map[string]bool, len(oldTasks))
	for i := range cur.Frameworks {
		f := &cur.Frameworks[i]
		for j := range f.Tasks {
			t := &f.Tasks[j]
			k := taskKey(f.ID, t.ID)
			seen[k] = true
			evs = appendTaskEvents(evs, oldTasks[k].t, t, f.ID)
		}
	}
	// Vanished tasks, in old state order for determinism.
	for i := range old.Frameworks {
		f := &old.Frameworks[i]
		for j := range f.Tasks {
			t := &f.Tasks[j]
			k := taskKey(f.ID, t.ID)
			if seen[k] || v1.TerminalState(t.State) {
				continue
			}
			seen[k] = true
			st := v1.TaskStatus{
				TaskID:  v1.ID{Value: t.ID},
				State:   stateKilled,
				Source:  sourceMaster,
				Message: removedReason,
				AgentID: v1.NewID(t.SlaveID),
			}
			if o.Now != nil {
				ts := v1.Float64(float64(o.Now().UnixNano()) / 1e9)
				st.Timestamp = &ts
			}
			evs = append(evs, v1.Event{Type: v1.EventTaskUpdated, TaskUpdated: &v1.TaskUpdated{
				FrameworkID: v1.ID{Value: taskFramework(t, f.ID)}, Status: st, State: stateKilled,
			}})
		}
	}

	for i := range old.Slaves {
		id := old.Slaves[i].ID
		if !curAg[id] {
			curAg[id] = true // once per id even if old listed it twice
			evs = append(evs, v1.Event{Type: v1.EventAgentRemoved, AgentRemoved: &v1.AgentRemoved{AgentID: v1.ID{Value: id}}})
		}
	}
	for i := range old.Frameworks {
		f := &old.Frameworks[i]
		if !curFw[f.ID] {
			curFw[f.ID] = true
			fi := v1.FrameworkFromV0(f, o.Registered).FrameworkInfo
			evs = append(evs, v1.Event{Type: v1.EventFrameworkRemoved, FrameworkRemoved: &v1.FrameworkRemoved{FrameworkInfo: fi}})
		}
	}
	return evs
}

// taskFramework is the framework a task is reported under: the one that
// lists it (see v1.TaskFromV0).
func taskFramework(t *state.Task, fw string) string {
	if fw != "" {
		return fw
	}
	return t.FrameworkID
}

func sameFramework(a, b *state.Framework) bool {
	return a.Name == b.Name && a.Hostname == b.Hostname && a.WebUIURL == b.WebUIURL &&
		a.PID == b.PID && (a.Active == nil) == (b.Active == nil) && (a.Active == nil || *a.Active == *b.Active)
}

// sameTaskIdentity compares everything but state and statuses.
func sameTaskIdentity(a, b *state.Task) bool {
	x, y := *a, *b
	x.State, y.State = "", ""
	x.Statuses, y.Statuses = nil, nil
	return reflect.DeepEqual(&x, &y)
}

func updated(t *state.Task, fw string, s *state.Status, reason string) v1.Event {
	st := v1.StatusFromV0(t.ID, t.SlaveID, s)
	st.Reason = reason
	return v1.Event{Type: v1.EventTaskUpdated, TaskUpdated: &v1.TaskUpdated{
		FrameworkID: v1.ID{Value: fw}, Status: st, State: t.State,
	}}
}

func appendTaskEvents(evs []v1.Event, old, t *state.Task, enclosing string) []v1.Event {
	fw := taskFramework(t, enclosing)
	if old == nil {
		// A launch: announced staging and bare, then its history.
		bare := *t
		bare.Statuses = nil
		if len(t.Statuses) > 0 {
			bare.State = stateStaging
		}
		vt, _ := v1.TaskFromV0(&bare, fw)
		evs = append(evs, v1.Event{Type: v1.EventTaskAdded, TaskAdded: &v1.TaskAdded{Task: vt}})
		for i := range t.Statuses {
			evs = append(evs, updated(t, fw, &t.Statuses[i], ""))
		}
		return evs
	}
	if old == t {
		// Providers that share unchanged tasks between states skip the
		// deep comparison.
		return evs
	}
	if !sameTaskIdentity(old, t) {
		vt, _ := v1.TaskFromV0(t, fw)
		return append(evs, v1.Event{Type: v1.EventTaskAdded, TaskAdded: &v1.TaskAdded{Task: vt}})
	}
	k := 0
	for k < len(old.Statuses) && k < len(t.Statuses) && reflect.DeepEqual(&old.Statuses[k], &t.Statuses[k]) {
		k++
	}
	if k < len(t.Statuses) {
		for i := k; i < len(t.Statuses); i++ {
			reason := ""
			if i == k && k < len(old.Statuses) && old.Statuses[k].State == t.Statuses[k].State &&
				!sameHealth(old.Statuses[k].Healthy, t.Statuses[k].Healthy) {
				reason = reasonHealth
			}
			evs = append(evs, updated(t, fw, &t.Statuses[i], reason))
		}
		return evs
	}
	if old.State != t.State {
		if n := len(t.Statuses); n > 0 {
			return append(evs, updated(t, fw, &t.Statuses[n-1], ""))
		}
		st := v1.TaskStatus{TaskID: v1.ID{Value: t.ID}, State: t.State, Source: sourceMaster, AgentID: v1.NewID(t.SlaveID)}
		evs = append(evs, v1.Event{Type: v1.EventTaskUpdated, TaskUpdated: &v1.TaskUpdated{
			FrameworkID: v1.ID{Value: fw}, Status: st, State: t.State,
		}})
	}
	return evs
}

func sameHealth(a, b *bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
