package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Kind says what Parse left out for one Skipped record.
type Kind string

// The kinds of Skipped records.
const (
	// KindAgent: one agent ("slaves[]" entry) was left out.
	KindAgent Kind = "agent"
	// KindFramework: one framework was left out together with its tasks.
	KindFramework Kind = "framework"
	// KindTask: one task was left out.
	KindTask Kind = "task"
	// KindStatus: one entry of a task's status history was left out.
	KindStatus Kind = "status"
	// KindField: one field was dropped (left at its zero value) and the item
	// holding it was kept.
	KindField Kind = "field"
)

// Skipped is a part of a state document that Parse left out because a value
// in it had the wrong JSON type (or was out of range for its Go type).
type Skipped struct {
	Kind Kind
	// Item names the item that held the bad value, as the model names it:
	// `agent "…-S1"`, `framework "marathon"`, `task "web.1" of framework
	// "marathon"`; by position (`agent slaves[3]`, `framework
	// frameworks[1]`, `task tasks[7] of framework "marathon"`) when its id
	// or name is itself unreadable; "master state" for top-level fields.
	Item string
	// Field is the dotted path of the bad value inside Item, e.g.
	// "statuses[2].timestamp", "resources.ports", "labels.key",
	// "discovery.ports.ports.number" (positions are given down to the unit
	// that was dropped, not inside it); "" when Item itself is not a JSON
	// object.
	Field string
	// Reason says what was wrong and what was left out.
	Reason string
}

func (s Skipped) String() string {
	if s.Field == "" {
		return s.Item + ": " + s.Reason
	}
	return s.Item + ": " + s.Field + ": " + s.Reason
}

// The raw* types mirror the typed ones field for field (same JSON names, so
// encoding/json matches keys exactly as it does for the typed structs:
// case-insensitively, the last duplicate winning) with each value left
// undecoded. Decoding into them cannot fail on a value's type, only on the
// object itself not being an object. TestRawTypesMirrorTyped keeps them in
// step with the typed structs: a field missing here would be silently
// lost on the tolerant path.

type rawState struct {
	ID         json.RawMessage   `json:"id"`
	PID        json.RawMessage   `json:"pid"`
	Hostname   json.RawMessage   `json:"hostname"`
	Version    json.RawMessage   `json:"version"`
	Leader     json.RawMessage   `json:"leader"`
	Slaves     []json.RawMessage `json:"slaves"`
	Frameworks []json.RawMessage `json:"frameworks"`
	LeaderInfo json.RawMessage   `json:"leader_info"`
}

type rawSlave struct {
	ID         json.RawMessage `json:"id"`
	PID        json.RawMessage `json:"pid"`
	Hostname   json.RawMessage `json:"hostname"`
	Active     json.RawMessage `json:"active"`
	Attributes json.RawMessage `json:"attributes"`
	Resources  json.RawMessage `json:"resources"`
}

type rawFramework struct {
	ID       json.RawMessage `json:"id"`
	Name     json.RawMessage `json:"name"`
	PID      json.RawMessage `json:"pid"`
	Hostname json.RawMessage `json:"hostname"`
	Active   json.RawMessage `json:"active"`
	WebUIURL json.RawMessage `json:"webui_url"`
	// Tasks is split right away: the list is most of the document.
	Tasks []json.RawMessage `json:"tasks"`
}

type rawTask struct {
	ID          json.RawMessage `json:"id"`
	Name        json.RawMessage `json:"name"`
	FrameworkID json.RawMessage `json:"framework_id"`
	ExecutorID  json.RawMessage `json:"executor_id"`
	SlaveID     json.RawMessage `json:"slave_id"`
	State       json.RawMessage `json:"state"`
	Resources   json.RawMessage `json:"resources"`
	Statuses    json.RawMessage `json:"statuses"`
	Labels      json.RawMessage `json:"labels"`
	Discovery   json.RawMessage `json:"discovery"`
	Container   json.RawMessage `json:"container"`
	HealthCheck json.RawMessage `json:"health_check"`
}

type rawResources struct {
	CPUs  json.RawMessage `json:"cpus"`
	Mem   json.RawMessage `json:"mem"`
	Disk  json.RawMessage `json:"disk"`
	GPUs  json.RawMessage `json:"gpus"`
	Ports json.RawMessage `json:"ports"`
}

const topItem = "master state"

// tolerant is one run of the slow path; it collects what it leaves out.
type tolerant struct {
	skipped []Skipped
}

// parseTolerant decodes b, known to be valid JSON that did not decode
// typed in one go, top level first, then item by item, then field by field
// for the items that fail.
func parseTolerant(b []byte) (*State, []Skipped, error) {
	var r rawState
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, nil, topLevelError(err)
	}
	d := &tolerant{}
	s := &State{}
	fieldOf(d, topItem, "id", r.ID, &s.ID)
	fieldOf(d, topItem, "pid", r.PID, &s.PID)
	fieldOf(d, topItem, "hostname", r.Hostname, &s.Hostname)
	fieldOf(d, topItem, "version", r.Version, &s.Version)
	fieldOf(d, topItem, "leader", r.Leader, &s.Leader)
	fieldOf(d, topItem, "leader_info", r.LeaderInfo, &s.LeaderInfo)
	// nil and empty lists stay apart, as on the fast path.
	if r.Slaves != nil {
		s.Slaves = make([]Slave, 0, len(r.Slaves))
	}
	for i, raw := range r.Slaves {
		if sl, ok := d.agent(i, raw); ok {
			s.Slaves = append(s.Slaves, sl)
		}
	}
	if r.Frameworks != nil {
		s.Frameworks = make([]Framework, 0, len(r.Frameworks))
	}
	for i, raw := range r.Frameworks {
		if f, ok := d.framework(i, raw); ok {
			s.Frameworks = append(s.Frameworks, f)
		}
	}
	return s, d.skipped, nil
}

// topLevelError explains why the document as a whole is unusable. A type
// error is not wrapped: it would only name the decoder's private types.
func topLevelError(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("mesos state: %w", err)
	}
	if te.Field == "" {
		return fmt.Errorf("mesos state: document is a JSON %s, not an object", te.Value)
	}
	return fmt.Errorf("mesos state: %s is a JSON %s, not an array", te.Field, te.Value)
}

func (d *tolerant) add(kind Kind, item, field string, err error, lost string) {
	d.skipped = append(d.skipped, SkippedFor(kind, item, field, err, lost))
}

// SkippedFor describes a loss in the terms Parse uses: field is the path
// of the value that failed to decode inside item (the decoder's own path to
// the bad value is appended), err is encoding/json's error, and lost says
// what was left out ("task skipped"). Decoders of other shapes of the same
// data, such as the v1 operator API, use it to report alike.
func SkippedFor(kind Kind, item, field string, err error, lost string) Skipped {
	path, why := explain(field, err)
	return Skipped{Kind: kind, Item: item, Field: path, Reason: why + "; " + lost}
}

// explain returns the path of the bad value (field plus where inside it the
// decoder stopped) and what was wrong with it.
func explain(field string, err error) (path, why string) {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return field, strings.TrimPrefix(err.Error(), "json: ")
	}
	path = field
	if te.Field != "" {
		if path != "" {
			path += "."
		}
		path += te.Field
	}
	if strings.HasPrefix(te.Value, "number ") {
		// A number that does not fit: "number 1.5", "number 4294967296".
		return path, "JSON " + te.Value + " does not fit " + te.Type.String()
	}
	return path, "JSON " + te.Value + " where " + expected(te.Type) + " is expected"
}

// expected names what a Go type takes in JSON terms; the Go names of the
// decoder's own types mean nothing to the reader of a log line.
func expected(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

// decode is json.Unmarshal that takes an absent value as fine.
func decode[T any](raw json.RawMessage, dst *T) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, dst)
}

// fieldOf decodes raw into dst; a bad value leaves dst at its zero value
// (encoding/json keeps whatever it decoded before the bad value) and is
// recorded as a dropped field.
func fieldOf[T any](d *tolerant, item, name string, raw json.RawMessage, dst *T) {
	if err := decode(raw, dst); err != nil {
		var zero T
		*dst = zero
		d.add(KindField, item, name, err, name+" dropped")
	}
}

// agent decodes slaves[i]. An agent is nothing without its id (tasks and
// records refer to it by id), so an unreadable id skips it; any other bad
// field is dropped alone.
func (d *tolerant) agent(i int, raw json.RawMessage) (Slave, bool) {
	var sl Slave
	if json.Unmarshal(raw, &sl) == nil {
		return sl, true
	}
	sl = Slave{}
	byPos := "agent slaves[" + strconv.Itoa(i) + "]"
	var r rawSlave
	if err := json.Unmarshal(raw, &r); err != nil {
		d.add(KindAgent, byPos, "", err, "agent skipped")
		return Slave{}, false
	}
	if err := decode(r.ID, &sl.ID); err != nil {
		d.add(KindAgent, byPos, "id", err, "agent skipped")
		return Slave{}, false
	}
	item := "agent " + strconv.Quote(sl.ID)
	fieldOf(d, item, "pid", r.PID, &sl.PID)
	fieldOf(d, item, "hostname", r.Hostname, &sl.Hostname)
	fieldOf(d, item, "active", r.Active, &sl.Active)
	fieldOf(d, item, "attributes", r.Attributes, &sl.Attributes)
	if len(r.Resources) > 0 {
		var res Resources
		if d.resources(item, r.Resources, &res) {
			sl.Resources = &res
		}
	}
	return sl, true
}

// resources decodes a resources object, dropping only the sub-fields that
// are bad. It reports false when the value was null or not an object at
// all (then *dst is left zero).
func (d *tolerant) resources(item string, raw json.RawMessage, dst *Resources) bool {
	if string(raw) == "null" {
		return false
	}
	if json.Unmarshal(raw, dst) == nil {
		return true
	}
	*dst = Resources{}
	var r rawResources
	if err := json.Unmarshal(raw, &r); err != nil {
		d.add(KindField, item, "resources", err, "resources dropped")
		return false
	}
	fieldOf(d, item, "resources.cpus", r.CPUs, &dst.CPUs)
	fieldOf(d, item, "resources.mem", r.Mem, &dst.Mem)
	fieldOf(d, item, "resources.disk", r.Disk, &dst.Disk)
	fieldOf(d, item, "resources.gpus", r.GPUs, &dst.GPUs)
	fieldOf(d, item, "resources.ports", r.Ports, &dst.Ports)
	return true
}

// framework decodes frameworks[i]. It goes field by field straight away:
// on the slow path the bad value is likely in a task, and the framework
// holding most tasks would otherwise be decoded twice. A framework is
// named by its name (records and the model go by it) and found by its id,
// so either unreadable skips it with its tasks; other bad fields are
// dropped alone, and a bad task skips that task only.
func (d *tolerant) framework(i int, raw json.RawMessage) (Framework, bool) {
	byPos := "framework frameworks[" + strconv.Itoa(i) + "]"
	const lost = "framework skipped with its tasks"
	var r rawFramework
	tasksErr := json.Unmarshal(raw, &r)
	if tasksErr != nil {
		// Only tasks can be of the wrong type in a rawFramework, and the
		// decoder fills in the other fields before it reports that.
		if te, ok := errors.AsType[*json.UnmarshalTypeError](tasksErr); !ok || te.Field != "tasks" {
			d.add(KindFramework, byPos, "", tasksErr, lost)
			return Framework{}, false
		}
		r.Tasks = nil
	}
	var f Framework
	if err := decode(r.Name, &f.Name); err != nil {
		d.add(KindFramework, byPos, "name", err, lost)
		return Framework{}, false
	}
	item := "framework " + strconv.Quote(f.Name)
	if err := decode(r.ID, &f.ID); err != nil {
		d.add(KindFramework, item, "id", err, lost)
		return Framework{}, false
	}
	fieldOf(d, item, "pid", r.PID, &f.PID)
	fieldOf(d, item, "hostname", r.Hostname, &f.Hostname)
	fieldOf(d, item, "active", r.Active, &f.Active)
	fieldOf(d, item, "webui_url", r.WebUIURL, &f.WebUIURL)
	if tasksErr != nil {
		d.add(KindField, item, "", tasksErr, "tasks dropped, framework kept without tasks")
		return f, true
	}
	if r.Tasks != nil {
		f.Tasks = make([]Task, 0, len(r.Tasks))
	}
	for j, raw := range r.Tasks {
		if t, ok := d.task(f.Name, j, raw); ok {
			f.Tasks = append(f.Tasks, t)
		}
	}
	return f, true
}

// task decodes tasks[j] of framework fw. Its id, name, state and agent are
// what records are made of, so any of them unreadable skips the task; a
// bad status drops that status; any other bad field is dropped alone.
func (d *tolerant) task(fw string, j int, raw json.RawMessage) (Task, bool) {
	var t Task
	if json.Unmarshal(raw, &t) == nil {
		return t, true
	}
	t = Task{}
	of := " of framework " + strconv.Quote(fw)
	byPos := "task tasks[" + strconv.Itoa(j) + "]" + of
	var r rawTask
	if err := json.Unmarshal(raw, &r); err != nil {
		d.add(KindTask, byPos, "", err, "task skipped")
		return Task{}, false
	}
	if err := decode(r.ID, &t.ID); err != nil {
		d.add(KindTask, byPos, "id", err, "task skipped")
		return Task{}, false
	}
	item := "task " + strconv.Quote(t.ID) + of
	for _, req := range []struct {
		name string
		raw  json.RawMessage
		dst  *string
	}{
		{"name", r.Name, &t.Name},
		{"slave_id", r.SlaveID, &t.SlaveID},
		{"state", r.State, &t.State},
	} {
		if err := decode(req.raw, req.dst); err != nil {
			d.add(KindTask, item, req.name, err, "task skipped")
			return Task{}, false
		}
	}
	fieldOf(d, item, "framework_id", r.FrameworkID, &t.FrameworkID)
	fieldOf(d, item, "executor_id", r.ExecutorID, &t.ExecutorID)
	if len(r.Resources) > 0 {
		d.resources(item, r.Resources, &t.Resources)
	}
	fieldOf(d, item, "labels", r.Labels, &t.Labels)
	fieldOf(d, item, "discovery", r.Discovery, &t.Discovery)
	fieldOf(d, item, "container", r.Container, &t.Container)
	fieldOf(d, item, "health_check", r.HealthCheck, &t.HealthCheck)
	var statuses []json.RawMessage
	if err := decode(r.Statuses, &statuses); err != nil {
		d.add(KindField, item, "statuses", err, "statuses dropped")
		return t, true
	}
	if statuses != nil {
		t.Statuses = make([]Status, 0, len(statuses))
	}
	for k, raw := range statuses {
		// A status is state and time together (they pick the latest one,
		// whose IPs are served): a half-read status would mislead, so a bad
		// value drops the whole entry.
		var st Status
		if err := json.Unmarshal(raw, &st); err != nil {
			d.add(KindStatus, item, "statuses["+strconv.Itoa(k)+"]", err, "status dropped")
			continue
		}
		t.Statuses = append(t.Statuses, st)
	}
	return t, true
}
