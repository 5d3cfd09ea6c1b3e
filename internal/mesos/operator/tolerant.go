package operator

import (
	"encoding/json"
	"fmt"
	"strconv"

	v1 "github.com/sextantdc/sextant/internal/mesos/operator/v1"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

// Tolerant decoding of the items the stream carries, with the rules of
// state.Parse for /master/state: a value of the wrong JSON type costs the
// item when the item is nothing without it (a task's id, framework, name,
// agent or state; an agent's id; a framework's id or name) and only that
// part otherwise (one status, one resource, labels, discovery, …). Every
// item is decoded typed first; the raw twins below are read only when that
// fails. Losses are logged and counted in model.skipped: the Stream
// contract hands out states only.

type rawTask struct {
	Name              json.RawMessage `json:"name"`
	TaskID            json.RawMessage `json:"task_id"`
	FrameworkID       json.RawMessage `json:"framework_id"`
	ExecutorID        json.RawMessage `json:"executor_id"`
	AgentID           json.RawMessage `json:"agent_id"`
	State             json.RawMessage `json:"state"`
	Resources         json.RawMessage `json:"resources"`
	Statuses          json.RawMessage `json:"statuses"`
	StatusUpdateState json.RawMessage `json:"status_update_state"`
	StatusUpdateUUID  json.RawMessage `json:"status_update_uuid"`
	Labels            json.RawMessage `json:"labels"`
	Discovery         json.RawMessage `json:"discovery"`
	Container         json.RawMessage `json:"container"`
	HealthCheck       json.RawMessage `json:"health_check"`
}

type rawAgentInfo struct {
	Hostname   json.RawMessage `json:"hostname"`
	Port       json.RawMessage `json:"port"`
	ID         json.RawMessage `json:"id"`
	Resources  json.RawMessage `json:"resources"`
	Attributes json.RawMessage `json:"attributes"`
}

type rawAgent struct {
	AgentInfo          json.RawMessage `json:"agent_info"`
	Active             json.RawMessage `json:"active"`
	Deactivated        json.RawMessage `json:"deactivated"`
	Version            json.RawMessage `json:"version"`
	PID                json.RawMessage `json:"pid"`
	RegisteredTime     json.RawMessage `json:"registered_time"`
	ReregisteredTime   json.RawMessage `json:"reregistered_time"`
	TotalResources     json.RawMessage `json:"total_resources"`
	AllocatedResources json.RawMessage `json:"allocated_resources"`
	OfferedResources   json.RawMessage `json:"offered_resources"`
	Capabilities       json.RawMessage `json:"capabilities"`
}

type rawFrameworkInfo struct {
	User            json.RawMessage `json:"user"`
	Name            json.RawMessage `json:"name"`
	ID              json.RawMessage `json:"id"`
	FailoverTimeout json.RawMessage `json:"failover_timeout"`
	Checkpoint      json.RawMessage `json:"checkpoint"`
	Roles           json.RawMessage `json:"roles"`
	Hostname        json.RawMessage `json:"hostname"`
	Principal       json.RawMessage `json:"principal"`
	WebUIURL        json.RawMessage `json:"webui_url"`
	Capabilities    json.RawMessage `json:"capabilities"`
	Labels          json.RawMessage `json:"labels"`
}

type rawFramework struct {
	FrameworkInfo      json.RawMessage `json:"framework_info"`
	Active             json.RawMessage `json:"active"`
	Connected          json.RawMessage `json:"connected"`
	Recovered          json.RawMessage `json:"recovered"`
	RegisteredTime     json.RawMessage `json:"registered_time"`
	ReregisteredTime   json.RawMessage `json:"reregistered_time"`
	AllocatedResources json.RawMessage `json:"allocated_resources"`
	OfferedResources   json.RawMessage `json:"offered_resources"`
}

type rawTaskUpdated struct {
	FrameworkID json.RawMessage `json:"framework_id"`
	Status      json.RawMessage `json:"status"`
	State       json.RawMessage `json:"state"`
}

// rawStatusHead is what an update needs of a status that does not decode.
type rawStatusHead struct {
	TaskID  json.RawMessage `json:"task_id"`
	State   json.RawMessage `json:"state"`
	AgentID json.RawMessage `json:"agent_id"`
}

// rawPayloads holds the payload of every event type that carries an item,
// undecoded.
type rawPayloads struct {
	TaskAdded *struct {
		Task json.RawMessage `json:"task"`
	} `json:"task_added"`
	TaskUpdated json.RawMessage `json:"task_updated"`
	AgentAdded  *struct {
		Agent json.RawMessage `json:"agent"`
	} `json:"agent_added"`
	AgentRemoved *struct {
		AgentID json.RawMessage `json:"agent_id"`
	} `json:"agent_removed"`
	FrameworkAdded *struct {
		Framework json.RawMessage `json:"framework"`
	} `json:"framework_added"`
	FrameworkUpdated *struct {
		Framework json.RawMessage `json:"framework"`
	} `json:"framework_updated"`
	FrameworkRemoved *struct {
		FrameworkInfo struct {
			ID json.RawMessage `json:"id"`
		} `json:"framework_info"`
	} `json:"framework_removed"`
}

func decode[T any](raw json.RawMessage, dst *T) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, dst)
}

// lose logs and counts one loss.
func (m *model) lose(s state.Skipped) {
	m.skipped++
	m.log.Warn("operator API item skipped", "kind", string(s.Kind), "item", s.Item, "field", s.Field, "reason", s.Reason)
}

// fieldOf decodes raw into dst; a bad value leaves dst zero and is
// reported as a dropped field.
func fieldOf[T any](m *model, item, name string, raw json.RawMessage, dst *T) {
	if err := decode(raw, dst); err != nil {
		var zero T
		*dst = zero
		m.lose(state.SkippedFor(state.KindField, item, name, err, name+" dropped"))
	}
}

// listOf decodes a list element by element, dropping the bad ones.
func listOf[T any](m *model, item, name string, raw json.RawMessage, kind state.Kind, lost string) []T {
	var elems []json.RawMessage
	if err := decode(raw, &elems); err != nil {
		m.lose(state.SkippedFor(state.KindField, item, name, err, name+" dropped"))
		return nil
	}
	var out []T
	for i, e := range elems {
		var v T
		if err := json.Unmarshal(e, &v); err != nil {
			m.lose(state.SkippedFor(kind, item, name+"["+strconv.Itoa(i)+"]", err, lost))
			continue
		}
		out = append(out, v)
	}
	return out
}

// frameworkItem names a framework by name when the model knows it.
func (m *model) frameworkItem(id string) string {
	if f, ok := m.frameworks.get(id); ok && f.Name != "" {
		return "framework " + strconv.Quote(f.Name)
	}
	return "framework id " + strconv.Quote(id)
}

// decodeTask decodes the task at where ("get_tasks.tasks[3]",
// "task_added.task").
func (m *model) decodeTask(where string, raw json.RawMessage) (v1.Task, bool) {
	var t v1.Task
	if json.Unmarshal(raw, &t) == nil {
		return t, true
	}
	t = v1.Task{}
	byPos := "task " + where
	var r rawTask
	if err := json.Unmarshal(raw, &r); err != nil {
		m.lose(state.SkippedFor(state.KindTask, byPos, "", err, "task skipped"))
		return v1.Task{}, false
	}
	if err := decode(r.TaskID, &t.TaskID); err != nil {
		m.lose(state.SkippedFor(state.KindTask, byPos, "task_id", err, "task skipped"))
		return v1.Task{}, false
	}
	if err := decode(r.FrameworkID, &t.FrameworkID); err != nil {
		m.lose(state.SkippedFor(state.KindTask, "task "+strconv.Quote(t.TaskID.Value), "framework_id", err, "task skipped"))
		return v1.Task{}, false
	}
	item := "task " + strconv.Quote(t.TaskID.Value) + " of " + m.frameworkItem(t.FrameworkID.Value)
	for _, req := range []struct {
		name string
		err  error
	}{
		{"name", decode(r.Name, &t.Name)},
		{"agent_id", decode(r.AgentID, &t.AgentID)},
		{"state", decode(r.State, &t.State)},
	} {
		if req.err != nil {
			m.lose(state.SkippedFor(state.KindTask, item, req.name, req.err, "task skipped"))
			return v1.Task{}, false
		}
	}
	fieldOf(m, item, "executor_id", r.ExecutorID, &t.ExecutorID)
	fieldOf(m, item, "status_update_state", r.StatusUpdateState, &t.StatusUpdateState)
	fieldOf(m, item, "status_update_uuid", r.StatusUpdateUUID, &t.StatusUpdateUUID)
	fieldOf(m, item, "labels", r.Labels, &t.Labels)
	fieldOf(m, item, "discovery", r.Discovery, &t.Discovery)
	fieldOf(m, item, "container", r.Container, &t.Container)
	fieldOf(m, item, "health_check", r.HealthCheck, &t.HealthCheck)
	// One resource is one thing (cpus, the ports ranges, …): a bad one
	// costs itself only.
	t.Resources = listOf[v1.Resource](m, item, "resources", r.Resources, state.KindField, "resource dropped")
	// A status is state and time together: a half-read one would mislead.
	t.Statuses = listOf[v1.TaskStatus](m, item, "statuses", r.Statuses, state.KindStatus, "status dropped")
	return t, true
}

// decodeAgent decodes the agent at where. It is nothing without its id;
// a bad "active" counts as active, what an agent is unless told otherwise.
func (m *model) decodeAgent(where string, raw json.RawMessage) (v1.Agent, bool) {
	var a v1.Agent
	if json.Unmarshal(raw, &a) == nil {
		return a, true
	}
	a = v1.Agent{}
	byPos := "agent " + where
	var r rawAgent
	var ri rawAgentInfo
	if err := json.Unmarshal(raw, &r); err != nil {
		m.lose(state.SkippedFor(state.KindAgent, byPos, "", err, "agent skipped"))
		return v1.Agent{}, false
	}
	if err := decode(r.AgentInfo, &ri); err != nil {
		m.lose(state.SkippedFor(state.KindAgent, byPos, "agent_info", err, "agent skipped"))
		return v1.Agent{}, false
	}
	if err := decode(ri.ID, &a.AgentInfo.ID); err != nil {
		m.lose(state.SkippedFor(state.KindAgent, byPos, "agent_info.id", err, "agent skipped"))
		return v1.Agent{}, false
	}
	item := "agent " + strconv.Quote(a.AgentInfo.ID.Str())
	fieldOf(m, item, "agent_info.hostname", ri.Hostname, &a.AgentInfo.Hostname)
	fieldOf(m, item, "agent_info.port", ri.Port, &a.AgentInfo.Port)
	a.AgentInfo.Resources = listOf[v1.Resource](m, item, "agent_info.resources", ri.Resources, state.KindField, "resource dropped")
	fieldOf(m, item, "agent_info.attributes", ri.Attributes, &a.AgentInfo.Attributes)
	if err := decode(r.Active, &a.Active); err != nil {
		a.Active = true
		m.lose(state.SkippedFor(state.KindField, item, "active", err, "taken as active"))
	}
	fieldOf(m, item, "deactivated", r.Deactivated, &a.Deactivated)
	fieldOf(m, item, "version", r.Version, &a.Version)
	fieldOf(m, item, "pid", r.PID, &a.PID)
	fieldOf(m, item, "registered_time", r.RegisteredTime, &a.RegisteredTime)
	fieldOf(m, item, "reregistered_time", r.ReregisteredTime, &a.ReregisteredTime)
	a.TotalResources = listOf[v1.Resource](m, item, "total_resources", r.TotalResources, state.KindField, "resource dropped")
	fieldOf(m, item, "allocated_resources", r.AllocatedResources, &a.AllocatedResources)
	fieldOf(m, item, "offered_resources", r.OfferedResources, &a.OfferedResources)
	fieldOf(m, item, "capabilities", r.Capabilities, &a.Capabilities)
	return a, true
}

// decodeFramework decodes the framework at where. Its id and name are what
// it is known by; a bad "active" counts as active.
func (m *model) decodeFramework(where string, raw json.RawMessage) (v1.Framework, bool) {
	var f v1.Framework
	if json.Unmarshal(raw, &f) == nil {
		return f, true
	}
	f = v1.Framework{}
	byPos := "framework " + where
	var r rawFramework
	var ri rawFrameworkInfo
	if err := json.Unmarshal(raw, &r); err != nil {
		m.lose(state.SkippedFor(state.KindFramework, byPos, "", err, "framework skipped"))
		return v1.Framework{}, false
	}
	if err := decode(r.FrameworkInfo, &ri); err != nil {
		m.lose(state.SkippedFor(state.KindFramework, byPos, "framework_info", err, "framework skipped"))
		return v1.Framework{}, false
	}
	fi := &f.FrameworkInfo
	if err := decode(ri.ID, &fi.ID); err != nil {
		m.lose(state.SkippedFor(state.KindFramework, byPos, "framework_info.id", err, "framework skipped"))
		return v1.Framework{}, false
	}
	item := "framework id " + strconv.Quote(fi.ID.Str())
	if err := decode(ri.Name, &fi.Name); err != nil {
		m.lose(state.SkippedFor(state.KindFramework, item, "framework_info.name", err, "framework skipped"))
		return v1.Framework{}, false
	}
	item = "framework " + strconv.Quote(fi.Name)
	fieldOf(m, item, "framework_info.user", ri.User, &fi.User)
	fieldOf(m, item, "framework_info.failover_timeout", ri.FailoverTimeout, &fi.FailoverTimeout)
	fieldOf(m, item, "framework_info.checkpoint", ri.Checkpoint, &fi.Checkpoint)
	fieldOf(m, item, "framework_info.roles", ri.Roles, &fi.Roles)
	fieldOf(m, item, "framework_info.hostname", ri.Hostname, &fi.Hostname)
	fieldOf(m, item, "framework_info.principal", ri.Principal, &fi.Principal)
	fieldOf(m, item, "framework_info.webui_url", ri.WebUIURL, &fi.WebUIURL)
	fieldOf(m, item, "framework_info.capabilities", ri.Capabilities, &fi.Capabilities)
	fieldOf(m, item, "framework_info.labels", ri.Labels, &fi.Labels)
	if err := decode(r.Active, &f.Active); err != nil {
		f.Active = true
		m.lose(state.SkippedFor(state.KindField, item, "active", err, "taken as active"))
	}
	fieldOf(m, item, "connected", r.Connected, &f.Connected)
	fieldOf(m, item, "recovered", r.Recovered, &f.Recovered)
	fieldOf(m, item, "registered_time", r.RegisteredTime, &f.RegisteredTime)
	fieldOf(m, item, "reregistered_time", r.ReregisteredTime, &f.ReregisteredTime)
	fieldOf(m, item, "allocated_resources", r.AllocatedResources, &f.AllocatedResources)
	fieldOf(m, item, "offered_resources", r.OfferedResources, &f.OfferedResources)
	return f, true
}

// applyTolerant applies an event whose typed decoding failed with err: the
// payload of its type is decoded item by item. It fails (the event is
// skipped) only when nothing usable is left: no payload, or no id to find
// the item by.
func (m *model) applyTolerant(typ string, rec []byte, err error) (bool, error) {
	// Errors are ignored: the record is valid JSON, so they are type
	// errors, and a payload of the wrong type is then left nil here (found
	// missing below if it is this event's) while the others are filled.
	var p rawPayloads
	_ = json.Unmarshal(rec, &p)
	missing := func(key string) (bool, error) {
		m.skipped++
		return false, fmt.Errorf("event %s: no %s payload", typ, key)
	}
	switch typ {
	case v1.EventTaskAdded:
		if p.TaskAdded == nil || len(p.TaskAdded.Task) == 0 {
			return missing("task_added")
		}
		t, ok := m.decodeTask("task_added.task", p.TaskAdded.Task)
		return ok && m.addTask(&t), nil
	case v1.EventTaskUpdated:
		if len(p.TaskUpdated) == 0 {
			return missing("task_updated")
		}
		return m.taskUpdatedTolerant(p.TaskUpdated)
	case v1.EventAgentAdded:
		if p.AgentAdded == nil || len(p.AgentAdded.Agent) == 0 {
			return missing("agent_added")
		}
		a, ok := m.decodeAgent("agent_added.agent", p.AgentAdded.Agent)
		return ok && m.addAgent(&a), nil
	case v1.EventFrameworkAdded, v1.EventFrameworkUpdated:
		fe, key := p.FrameworkAdded, "framework_added"
		if typ == v1.EventFrameworkUpdated {
			fe, key = p.FrameworkUpdated, "framework_updated"
		}
		if fe == nil || len(fe.Framework) == 0 {
			return missing(key)
		}
		f, ok := m.decodeFramework(key+".framework", fe.Framework)
		return ok && m.addFramework(&f), nil
	case v1.EventAgentRemoved:
		var id v1.ID
		if p.AgentRemoved == nil || decode(p.AgentRemoved.AgentID, &id) != nil {
			m.skipped++
			return false, fmt.Errorf("event %s: %w", typ, err)
		}
		return m.agents.del(id.Value), nil
	case v1.EventFrameworkRemoved:
		var id *v1.ID
		if p.FrameworkRemoved == nil || decode(p.FrameworkRemoved.FrameworkInfo.ID, &id) != nil {
			m.skipped++
			return false, fmt.Errorf("event %s: %w", typ, err)
		}
		return m.frameworks.del(id.Str()), nil
	}
	// A type without items of ours: the bad value was in a payload that
	// does not belong to it.
	return m.apply(&v1.Event{Type: typ})
}

// taskUpdatedTolerant applies a TASK_UPDATED that did not decode. A status
// that does not decode is dropped, but the task's new state is still
// applied: a lost transition (to TASK_KILLED, say) would keep serving the
// task until the next resubscribe.
func (m *model) taskUpdatedTolerant(raw json.RawMessage) (bool, error) {
	var r rawTaskUpdated
	var u v1.TaskUpdated
	if err := json.Unmarshal(raw, &r); err != nil {
		m.skipped++
		return false, fmt.Errorf("event %s: %w", v1.EventTaskUpdated, err)
	}
	if err := decode(r.FrameworkID, &u.FrameworkID); err != nil {
		m.skipped++
		return false, fmt.Errorf("event %s: framework_id: %w", v1.EventTaskUpdated, err)
	}
	stateErr := decode(r.State, &u.State)
	statusErr := decode(r.Status, &u.Status)
	if statusErr == nil {
		if stateErr != nil {
			u.State = "" // the status's state is used then
		}
	} else {
		u.Status = v1.TaskStatus{}
		var h rawStatusHead
		if err := decode(r.Status, &h); err != nil || decode(h.TaskID, &u.Status.TaskID) != nil {
			m.skipped++
			return false, fmt.Errorf("event %s: status: %w", v1.EventTaskUpdated, statusErr)
		}
		if stateErr != nil {
			u.State = ""
		}
		// Best effort: the state is the fallback for an absent top-level
		// one, the agent for a task that has none yet.
		if decode(h.State, &u.Status.State) != nil {
			u.Status.State = ""
		}
		if decode(h.AgentID, &u.Status.AgentID) != nil {
			u.Status.AgentID = nil
		}
	}
	item := "task " + strconv.Quote(u.Status.TaskID.Value) + " of " + m.frameworkItem(u.FrameworkID.Value)
	if stateErr != nil {
		m.lose(state.SkippedFor(state.KindField, item, "task_updated.state", stateErr, "the status's state used"))
	}
	if statusErr != nil {
		m.lose(state.SkippedFor(state.KindStatus, item, "task_updated.status", statusErr, "status dropped, state applied"))
	}
	return m.updateTask(&u, statusErr == nil), nil
}
