package operator

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	v1 "github.com/sextantdc/sextant/internal/mesos/operator/v1"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

// ordered is a map that remembers insertion order; replacing a value keeps
// its position, as a master's lists do.
type ordered[T any] struct {
	m     map[string]*entry[T]
	order []string
}

type entry[T any] struct {
	v   T
	pos int
}

func (o *ordered[T]) reset() {
	o.m = make(map[string]*entry[T])
	o.order = o.order[:0]
}

func (o *ordered[T]) put(id string, v T) {
	if e, ok := o.m[id]; ok {
		e.v = v
		return
	}
	o.m[id] = &entry[T]{v: v, pos: len(o.order)}
	o.order = append(o.order, id)
}

func (o *ordered[T]) get(id string) (*T, bool) {
	e, ok := o.m[id]
	if !ok {
		return nil, false
	}
	return &e.v, true
}

func (o *ordered[T]) del(id string) bool {
	if _, ok := o.m[id]; !ok {
		return false
	}
	delete(o.m, id)
	// Compact once the order list is mostly holes, keeping deletes O(1)
	// amortised.
	if len(o.order) > 64 && len(o.order) > 2*len(o.m) {
		live := o.order[:0]
		for i, id := range o.order {
			if e, ok := o.m[id]; ok && e.pos == i {
				e.pos = len(live)
				live = append(live, id)
			}
		}
		o.order = live
	}
	return true
}

func (o *ordered[T]) len() int { return len(o.m) }

func (o *ordered[T]) each(fn func(v *T)) {
	for i, id := range o.order {
		if e, ok := o.m[id]; ok && e.pos == i {
			fn(&e.v)
		}
	}
}

// taskKey identifies a task: ids are unique within a framework only.
func taskKey(fw, id string) string { return fw + "\x00" + id }

// model is the consumer's view of a master, kept in v0 shapes and updated
// by operator events as §A.7.7 of the operator API notes describes.
type model struct {
	log        *slog.Logger
	master     *v1.MasterInfo
	agents     ordered[state.Slave]
	frameworks ordered[state.Framework]
	tasks      ordered[state.Task]
	// heartbeat is the master's heartbeat interval; 0 when it sends none.
	heartbeat  time.Duration
	subscribed bool
	unknown    map[string]bool
	skipped    int // items or events that could not be decoded
}

func newModel(log *slog.Logger, master *v1.MasterInfo) *model {
	m := &model{log: log, master: master, unknown: map[string]bool{}}
	m.agents.reset()
	m.frameworks.reset()
	m.tasks.reset()
	return m
}

// subscribedRaw is SUBSCRIBED with its lists left undecoded, so that one
// bad item costs that item (or only a part of it) instead of failing the
// whole snapshot. Lists that are not lists still fail it: a model without
// its tasks would be worse than none (the source then polls).
type subscribedRaw struct {
	GetState struct {
		GetTasks struct {
			Tasks            []json.RawMessage `json:"tasks"`
			UnreachableTasks []json.RawMessage `json:"unreachable_tasks"`
		} `json:"get_tasks"`
		GetFrameworks struct {
			Frameworks []json.RawMessage `json:"frameworks"`
		} `json:"get_frameworks"`
		GetAgents struct {
			Agents []json.RawMessage `json:"agents"`
		} `json:"get_agents"`
	} `json:"get_state"`
	HeartbeatIntervalSeconds json.RawMessage `json:"heartbeat_interval_seconds"`
}

// applyRecord decodes one event record and applies it. It reports the
// event type and whether the model changed. A record that is not a valid
// event is an error; the caller skips it and keeps the stream.
func (m *model) applyRecord(rec []byte) (string, bool, error) {
	var head struct {
		Type       string          `json:"type"`
		Subscribed json.RawMessage `json:"subscribed"`
	}
	if err := json.Unmarshal(rec, &head); err != nil {
		m.skipped++
		return "", false, fmt.Errorf("event: %w", err)
	}
	if head.Type == v1.EventSubscribed {
		err := m.applySubscribed(head.Subscribed)
		return head.Type, err == nil, err
	}
	if head.Type == v1.EventHeartbeat {
		return head.Type, false, nil
	}
	var ev v1.Event
	if err := json.Unmarshal(rec, &ev); err != nil {
		// rec is valid JSON (head decoded), so this is a value of the wrong
		// type, or one that v1.Float64 rejects: find what is still usable.
		changed, err := m.applyTolerant(head.Type, rec, err)
		return head.Type, changed, err
	}
	changed, err := m.apply(&ev)
	return ev.Type, changed, err
}

func (m *model) applySubscribed(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		m.skipped++
		return fmt.Errorf("event SUBSCRIBED: no subscribed payload")
	}
	var s subscribedRaw
	if err := json.Unmarshal(raw, &s); err != nil {
		m.skipped++
		return fmt.Errorf("event SUBSCRIBED: %w", err)
	}
	m.reset()
	m.subscribed = true
	m.heartbeat = 0
	m.setHeartbeat(s.HeartbeatIntervalSeconds)
	gs := &s.GetState
	for i, b := range gs.GetAgents.Agents {
		if a, ok := m.decodeAgent(at("get_agents.agents", i), b); ok {
			m.addAgent(&a)
		}
	}
	for i, b := range gs.GetFrameworks.Frameworks {
		if f, ok := m.decodeFramework(at("get_frameworks.frameworks", i), b); ok {
			m.addFramework(&f)
		}
	}
	m.addTaskList("get_tasks.tasks", gs.GetTasks.Tasks)
	m.addTaskList("get_tasks.unreachable_tasks", gs.GetTasks.UnreachableTasks)
	return nil
}

func at(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

func (m *model) addTaskList(field string, list []json.RawMessage) {
	for i, b := range list {
		if t, ok := m.decodeTask(at(field, i), b); ok {
			m.addTask(&t)
		}
	}
}

func (m *model) addAgent(a *v1.Agent) bool {
	id := a.AgentInfo.ID.Str()
	if id == "" {
		m.skipped++
		m.log.Warn("skipping agent without agent_info.id", "hostname", a.AgentInfo.Hostname)
		return false
	}
	m.agents.put(id, v1.AgentToV0(a))
	return true
}

func (m *model) addFramework(f *v1.Framework) bool {
	id := f.FrameworkInfo.ID.Str()
	if id == "" {
		m.skipped++
		m.log.Warn("skipping framework without framework_info.id", "name", f.FrameworkInfo.Name)
		return false
	}
	m.frameworks.put(id, v1.FrameworkToV0(f))
	return true
}

func (m *model) addTask(t *v1.Task) bool {
	if t.TaskID.Value == "" {
		m.skipped++
		m.log.Warn("skipping task without task_id", "name", t.Name)
		return false
	}
	k := taskKey(t.FrameworkID.Value, t.TaskID.Value)
	if v1.TerminalState(t.State) {
		return m.tasks.del(k)
	}
	m.tasks.put(k, v1.TaskToV0(t))
	return true
}

// apply applies a decoded event other than SUBSCRIBED.
func (m *model) apply(ev *v1.Event) (bool, error) {
	missing := func(key string) (bool, error) {
		m.skipped++
		return false, fmt.Errorf("event %s: no %s payload", ev.Type, key)
	}
	switch ev.Type {
	case v1.EventHeartbeat:
		return false, nil
	case v1.EventTaskAdded:
		if ev.TaskAdded == nil {
			return missing("task_added")
		}
		return m.addTask(&ev.TaskAdded.Task), nil
	case v1.EventTaskUpdated:
		if ev.TaskUpdated == nil {
			return missing("task_updated")
		}
		return m.updateTask(ev.TaskUpdated, true), nil
	case v1.EventAgentAdded:
		if ev.AgentAdded == nil {
			return missing("agent_added")
		}
		return m.addAgent(&ev.AgentAdded.Agent), nil
	case v1.EventAgentRemoved:
		if ev.AgentRemoved == nil {
			return missing("agent_removed")
		}
		return m.agents.del(ev.AgentRemoved.AgentID.Value), nil
	case v1.EventFrameworkAdded:
		if ev.FrameworkAdded == nil {
			return missing("framework_added")
		}
		return m.addFramework(&ev.FrameworkAdded.Framework), nil
	case v1.EventFrameworkUpdated:
		if ev.FrameworkUpdated == nil {
			return missing("framework_updated")
		}
		return m.addFramework(&ev.FrameworkUpdated.Framework), nil
	case v1.EventFrameworkRemoved:
		if ev.FrameworkRemoved == nil {
			return missing("framework_removed")
		}
		return m.frameworks.del(ev.FrameworkRemoved.FrameworkInfo.ID.Str()), nil
	default:
		if !m.unknown[ev.Type] && len(m.unknown) < 100 {
			m.unknown[ev.Type] = true
			m.log.Info("ignoring unknown operator event type", "type", ev.Type)
		}
		return false, nil
	}
}

// updateTask sets the task's state from the event's top-level state and,
// withStatus, keeps one status per consecutive state: a status with the
// same state as the last one replaces it, another is appended. Terminal
// tasks leave.
func (m *model) updateTask(u *v1.TaskUpdated, withStatus bool) bool {
	id := u.Status.TaskID.Value
	k := taskKey(u.FrameworkID.Value, id)
	t, ok := m.tasks.get(k)
	if !ok {
		// Unknown task (its TASK_ADDED was never seen): nothing to update,
		// and TASK_UPDATED lacks the name, labels and ports to add it.
		m.log.Debug("TASK_UPDATED for unknown task", "task", id)
		return false
	}
	st := u.State
	if st == "" {
		st = u.Status.State
	}
	if v1.TerminalState(st) {
		return m.tasks.del(k)
	}
	// Copy on write: earlier states handed out share the statuses slice.
	nt := *t
	nt.State = st
	if nt.SlaveID == "" {
		nt.SlaveID = u.Status.AgentID.Str()
	}
	if !withStatus {
		*t = nt
		return true
	}
	s := v1.StatusToV0(&u.Status)
	n := len(t.Statuses)
	if n > 0 && t.Statuses[n-1].State == s.State {
		nt.Statuses = make([]state.Status, n)
		copy(nt.Statuses, t.Statuses)
		nt.Statuses[n-1] = s
	} else {
		nt.Statuses = make([]state.Status, n+1)
		copy(nt.Statuses, t.Statuses)
		nt.Statuses[n] = s
	}
	*t = nt
	return true
}

// state renders the model as a complete v0 state. Tasks of a framework the
// model does not know (yet) are held back: v0 nests tasks under frameworks.
func (m *model) state() *state.State {
	st := &state.State{
		Slaves:     make([]state.Slave, 0, m.agents.len()),
		Frameworks: make([]state.Framework, 0, m.frameworks.len()),
	}
	if m.master != nil {
		v1.MasterToV0(m.master, st)
	}
	m.agents.each(func(a *state.Slave) { st.Slaves = append(st.Slaves, *a) })
	idx := make(map[string]int, m.frameworks.len())
	m.frameworks.each(func(f *state.Framework) {
		idx[f.ID] = len(st.Frameworks)
		fw := *f
		fw.Tasks = []state.Task{}
		st.Frameworks = append(st.Frameworks, fw)
	})
	m.tasks.each(func(t *state.Task) {
		if i, ok := idx[t.FrameworkID]; ok {
			st.Frameworks[i].Tasks = append(st.Frameworks[i].Tasks, *t)
		}
	})
	return st
}
