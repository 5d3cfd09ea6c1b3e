package v1

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// Resource names with a v0 total.
const (
	resCPUs  = "cpus"
	resMem   = "mem"
	resDisk  = "disk"
	resGPUs  = "gpus"
	resPorts = "ports"
)

// ---------------------------------------------------------------------------
// v0 → v1 (serving)

// FromV0Options carries what a v0 state does not hold but v1 shapes need.
type FromV0Options struct {
	// Version is the Mesos version reported for agents when the state
	// names none.
	Version string
	// Registered is reported as the registration time of every agent and
	// framework (v0 /master/state as modelled here keeps no times).
	Registered time.Time
	// Now stamps statuses the converter has to invent; nil leaves them
	// without a timestamp.
	Now func() time.Time
}

// TimeOf converts a time to a TimeInfo.
func TimeOf(t time.Time) *TimeInfo {
	if t.IsZero() {
		return nil
	}
	return &TimeInfo{Nanoseconds: t.UnixNano()}
}

// FromV0 converts a whole v0 state into the GET_STATE shape. Tasks in a
// terminal state are listed as completed and TASK_UNREACHABLE ones as
// unreachable, as a master lists them once acknowledged. Items whose
// resources cannot be converted keep the convertible part; the problems
// are returned so the caller can log them.
func FromV0(st *state.State, o FromV0Options) (*GetState, []error) {
	var errs []error
	gs := &GetState{
		GetTasks:      GetTasks{Tasks: []Task{}, UnreachableTasks: []Task{}, CompletedTasks: []Task{}},
		GetExecutors:  GetExecutors{Executors: []Executor{}},
		GetFrameworks: GetFrameworks{Frameworks: []Framework{}, CompletedFrameworks: []Framework{}},
		GetAgents:     GetAgents{Agents: []Agent{}, RecoveredAgents: []AgentInfo{}},
	}
	if st == nil {
		return gs, nil
	}
	version := st.Version
	if version == "" {
		version = o.Version
	}
	for i := range st.Slaves {
		a, err := AgentFromV0(&st.Slaves[i], version, o.Registered)
		if err != nil {
			errs = append(errs, err)
		}
		gs.GetAgents.Agents = append(gs.GetAgents.Agents, a)
	}
	for i := range st.Frameworks {
		f := &st.Frameworks[i]
		gs.GetFrameworks.Frameworks = append(gs.GetFrameworks.Frameworks, FrameworkFromV0(f, o.Registered))
		for j := range f.Tasks {
			t, err := TaskFromV0(&f.Tasks[j], f.ID)
			if err != nil {
				errs = append(errs, err)
			}
			switch {
			case TerminalState(t.State):
				gs.GetTasks.CompletedTasks = append(gs.GetTasks.CompletedTasks, t)
			case t.State == "TASK_UNREACHABLE":
				gs.GetTasks.UnreachableTasks = append(gs.GetTasks.UnreachableTasks, t)
			default:
				gs.GetTasks.Tasks = append(gs.GetTasks.Tasks, t)
			}
		}
	}
	return gs, errs
}

// ResourcesFromV0 converts v0 resource totals into a Resource list. Zero
// scalars are left out; role "*" marks them unreserved. With allocated set
// each resource also carries allocation_info (task resources do).
func ResourcesFromV0(r *state.Resources, allocated bool) ([]Resource, error) {
	var out []Resource
	add := func(name string, v float64) {
		if v == 0 {
			return
		}
		out = append(out, Resource{Name: name, Type: "SCALAR", Scalar: &Scalar{Value: Float64(v)}})
	}
	add(resCPUs, r.CPUs)
	add(resMem, r.Mem)
	add(resDisk, r.Disk)
	add(resGPUs, r.GPUs)
	ranges, err := state.ParsePorts(r.Ports)
	if len(ranges) > 0 {
		rr := make([]Range, len(ranges))
		for i, pr := range ranges {
			rr[i] = Range{Begin: pr.Begin, End: pr.End}
		}
		out = append(out, Resource{Name: resPorts, Type: "RANGES", Ranges: &Ranges{Range: rr}})
	}
	for i := range out {
		out[i].Role = "*"
		if allocated {
			out[i].AllocationInfo = &AllocationInfo{Role: "*"}
		}
	}
	if err != nil {
		err = fmt.Errorf("resources.ports: %w", err)
	}
	return out, err
}

// StatusUUID derives a status update uuid (16 bytes, base64) from the
// status' identity, so the same status renders the same uuid in snapshots
// and events.
func StatusUUID(taskID string, s *state.Status) string {
	h := sha256.New()
	h.Write([]byte(taskID))
	h.Write([]byte{0})
	h.Write([]byte(s.State))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], math.Float64bits(s.Timestamp))
	h.Write(b[:])
	return base64.StdEncoding.EncodeToString(h.Sum(nil)[:16])
}

// StatusFromV0 converts one v0 status of a task.
func StatusFromV0(taskID, agentID string, s *state.Status) TaskStatus {
	ts := Float64(s.Timestamp)
	out := TaskStatus{
		TaskID:          ID{Value: taskID},
		State:           s.State,
		Source:          "SOURCE_EXECUTOR",
		AgentID:         NewID(agentID),
		Timestamp:       &ts,
		UUID:            StatusUUID(taskID, s),
		Healthy:         s.Healthy,
		ContainerStatus: s.ContainerStatus,
	}
	if len(s.Labels) > 0 {
		out.Labels = &Labels{Labels: s.Labels}
	}
	return out
}

// TaskFromV0 converts a v0 task listed under the framework frameworkID.
// That framework wins over the task's own framework_id should they differ
// (v0 consumers go by the nesting, and v1 has only the id); the task's own
// is used when frameworkID is empty. The resources error, if any, names
// the task.
func TaskFromV0(t *state.Task, frameworkID string) (Task, error) {
	fw := frameworkID
	if fw == "" {
		fw = t.FrameworkID
	}
	out := Task{
		Name:        t.Name,
		TaskID:      ID{Value: t.ID},
		FrameworkID: ID{Value: fw},
		ExecutorID:  NewID(t.ExecutorID),
		AgentID:     ID{Value: t.SlaveID},
		State:       t.State,
		Discovery:   t.Discovery,
		Container:   t.Container,
		HealthCheck: t.HealthCheck,
	}
	res, err := ResourcesFromV0(&t.Resources, true)
	out.Resources = res
	if len(t.Labels) > 0 {
		out.Labels = &Labels{Labels: t.Labels}
	}
	if len(t.Statuses) > 0 {
		out.Statuses = make([]TaskStatus, len(t.Statuses))
		for i := range t.Statuses {
			out.Statuses[i] = StatusFromV0(t.ID, t.SlaveID, &t.Statuses[i])
		}
		last := &out.Statuses[len(out.Statuses)-1]
		out.StatusUpdateState = last.State
		out.StatusUpdateUUID = last.UUID
	}
	if err != nil {
		err = fmt.Errorf("task %q: %w", t.ID, err)
	}
	return out, err
}

// AgentFromV0 converts a v0 agent. The agent's port comes from its pid.
func AgentFromV0(sl *state.Slave, version string, registered time.Time) (Agent, error) {
	a := Agent{
		AgentInfo: AgentInfo{Hostname: sl.Hostname, ID: NewID(sl.ID)},
		Active:    sl.Active == nil || *sl.Active,
		Version:   version,
		PID:       sl.PID,
		Capabilities: []Capability{
			{Type: "MULTI_ROLE"}, {Type: "HIERARCHICAL_ROLE"}, {Type: "RESERVATION_REFINEMENT"},
		},
		RegisteredTime: TimeOf(registered),
	}
	a.Deactivated = !a.Active
	if u, err := state.ParseUPID(sl.PID); err == nil {
		if p, err := strconv.Atoi(u.Port); err == nil {
			a.AgentInfo.Port = p
		}
		if a.AgentInfo.Hostname == "" {
			a.AgentInfo.Hostname = u.Host
		}
	}
	var err error
	if sl.Resources != nil {
		a.AgentInfo.Resources, err = ResourcesFromV0(sl.Resources, false)
		a.TotalResources = a.AgentInfo.Resources
		if err != nil {
			err = fmt.Errorf("agent %q: %w", sl.ID, err)
		}
	}
	a.AgentInfo.Attributes = AttributesFromV0(sl.Attributes)
	return a, err
}

// AttributesFromV0 converts the v0 attribute object (name → string or
// number) into attributes, sorted by name for a stable rendering.
func AttributesFromV0(m map[string]any) []Attribute {
	if len(m) == 0 {
		return nil
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]Attribute, 0, len(m))
	for _, k := range names {
		switch v := m[k].(type) {
		case float64:
			out = append(out, Attribute{Name: k, Type: "SCALAR", Scalar: &Scalar{Value: Float64(v)}})
		case string:
			out = append(out, Attribute{Name: k, Type: "TEXT", Text: &Text{Value: v}})
		default:
			out = append(out, Attribute{Name: k, Type: "TEXT", Text: &Text{Value: fmt.Sprint(v)}})
		}
	}
	return out
}

// FrameworkFromV0 converts a v0 framework (without its tasks). Sextant's
// frameworks are Marathon-like, so the capabilities Marathon registers with
// are reported.
func FrameworkFromV0(f *state.Framework, registered time.Time) Framework {
	active := f.Active == nil || *f.Active
	return Framework{
		FrameworkInfo: FrameworkInfo{
			User:            "root",
			Name:            f.Name,
			ID:              NewID(f.ID),
			FailoverTimeout: 604800,
			Checkpoint:      true,
			Roles:           []string{"*"},
			Hostname:        f.Hostname,
			WebUIURL:        f.WebUIURL,
			Capabilities: []Capability{
				{Type: "PARTITION_AWARE"}, {Type: "TASK_KILLING_STATE"}, {Type: "MULTI_ROLE"},
			},
		},
		Active:             active,
		Connected:          active,
		RegisteredTime:     TimeOf(registered),
		ReregisteredTime:   TimeOf(registered),
		AllocatedResources: []Resource{},
		OfferedResources:   []Resource{},
	}
}

// MasterFromV0 derives MasterInfo from a v0 state: leader_info when
// present, else the state's own id, pid, hostname and version.
func MasterFromV0(st *state.State, version string) MasterInfo {
	var mi MasterInfo
	if li := st.LeaderInfo; li != nil {
		mi = MasterInfo{ID: li.ID, IP: li.IP, Port: li.Port, PID: li.PID, Hostname: li.Hostname, Version: li.Version, Address: li.Address}
		if mi.Address != nil {
			a := *mi.Address
			mi.Address = &a
		}
	} else {
		mi = MasterInfo{ID: st.ID, PID: st.PID, Hostname: st.Hostname, Version: st.Version}
	}
	if mi.PID == "" {
		mi.PID = st.Leader
	}
	if mi.Version == "" {
		mi.Version = version
	}
	if u, err := state.ParseUPID(mi.PID); err == nil {
		if mi.Port == 0 {
			mi.Port, _ = strconv.Atoi(u.Port)
		}
		if mi.Hostname == "" {
			mi.Hostname = u.Host
		}
		if mi.Address == nil {
			mi.Address = &Address{Hostname: mi.Hostname, Port: mi.Port}
			if a, err := netip.ParseAddr(u.Host); err == nil {
				mi.Address.IP = a.String()
			}
		}
	}
	if mi.IP == 0 && mi.Address != nil {
		if a, err := netip.ParseAddr(mi.Address.IP); err == nil && a.Is4() {
			// Network-order bytes read as a little-endian integer, as
			// Mesos fills MasterInfo.ip.
			b := a.As4()
			mi.IP = binary.LittleEndian.Uint32(b[:])
		}
	}
	mi.Capabilities = []Capability{{Type: "AGENT_UPDATE"}, {Type: "AGENT_DRAINING"}, {Type: "QUOTA_V2"}}
	return mi
}

// ---------------------------------------------------------------------------
// v1 → v0 (consuming)

// ResourcesToV0 sums scalar resources and merges port ranges into the v0
// range string. Other resource names are dropped (v0 as modelled here keeps
// only these).
func ResourcesToV0(rs []Resource) state.Resources {
	var r state.Resources
	var ports []state.PortRange
	for i := range rs {
		x := &rs[i]
		switch x.Name {
		case resCPUs, resMem, resDisk, resGPUs:
			if x.Scalar == nil {
				continue
			}
			v := float64(x.Scalar.Value)
			switch x.Name {
			case resCPUs:
				r.CPUs += v
			case resMem:
				r.Mem += v
			case resDisk:
				r.Disk += v
			case resGPUs:
				r.GPUs += v
			}
		case resPorts:
			if x.Ranges == nil {
				continue
			}
			for _, rg := range x.Ranges.Range {
				ports = append(ports, state.PortRange{Begin: rg.Begin, End: rg.End})
			}
		}
	}
	if len(ports) > 0 {
		r.Ports = state.FormatPorts(ports)
	}
	return r
}

// StatusToV0 converts a status to the v0 status fields.
func StatusToV0(s *TaskStatus) state.Status {
	out := state.Status{
		State:           s.State,
		Healthy:         s.Healthy,
		ContainerStatus: s.ContainerStatus,
	}
	if s.Timestamp != nil {
		out.Timestamp = float64(*s.Timestamp)
	}
	if s.Labels != nil && len(s.Labels.Labels) > 0 {
		out.Labels = s.Labels.Labels
	}
	return out
}

// TaskToV0 converts a task to the v0 shape (ids flattened, labels bare,
// resources as totals with a ports range string).
func TaskToV0(t *Task) state.Task {
	out := state.Task{
		ID:          t.TaskID.Value,
		Name:        t.Name,
		FrameworkID: t.FrameworkID.Value,
		ExecutorID:  t.ExecutorID.Str(),
		SlaveID:     t.AgentID.Value,
		State:       t.State,
		Resources:   ResourcesToV0(t.Resources),
		Discovery:   t.Discovery,
		Container:   t.Container,
		HealthCheck: t.HealthCheck,
	}
	if t.Labels != nil && len(t.Labels.Labels) > 0 {
		out.Labels = t.Labels.Labels
	}
	if len(t.Statuses) > 0 {
		out.Statuses = make([]state.Status, len(t.Statuses))
		for i := range t.Statuses {
			out.Statuses[i] = StatusToV0(&t.Statuses[i])
		}
	}
	return out
}

// AgentToV0 converts an agent. v1 has no IP field: the pid carries it, so
// an agent without a pid gets "slave(1)@<hostname>:<port>" as Mesos names
// agents.
func AgentToV0(a *Agent) state.Slave {
	active := a.Active
	out := state.Slave{
		ID:         a.AgentInfo.ID.Str(),
		PID:        a.PID,
		Hostname:   a.AgentInfo.Hostname,
		Active:     &active,
		Attributes: AttributesToV0(a.AgentInfo.Attributes),
	}
	if out.PID == "" && a.AgentInfo.Hostname != "" {
		port := a.AgentInfo.Port
		if port == 0 {
			port = 5051
		}
		host := a.AgentInfo.Hostname
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		out.PID = "slave(1)@" + host + ":" + strconv.Itoa(port)
	}
	rs := a.AgentInfo.Resources
	if len(rs) == 0 {
		rs = a.TotalResources
	}
	if len(rs) > 0 {
		r := ResourcesToV0(rs)
		out.Resources = &r
	}
	return out
}

// AttributesToV0 converts attributes to the v0 object: TEXT as a string,
// SCALAR as a number, RANGES as a range string, SET as "{a,b}".
func AttributesToV0(as []Attribute) map[string]any {
	if len(as) == 0 {
		return nil
	}
	m := make(map[string]any, len(as))
	for i := range as {
		a := &as[i]
		switch {
		case a.Text != nil:
			m[a.Name] = a.Text.Value
		case a.Scalar != nil:
			m[a.Name] = float64(a.Scalar.Value)
		case a.Ranges != nil:
			prs := make([]state.PortRange, len(a.Ranges.Range))
			for j, r := range a.Ranges.Range {
				prs[j] = state.PortRange{Begin: r.Begin, End: r.End}
			}
			m[a.Name] = state.FormatPorts(prs)
		case a.Set != nil:
			m[a.Name] = "{" + strings.Join(a.Set.Item, ",") + "}"
		}
	}
	return m
}

// FrameworkToV0 converts a framework, without tasks. v1 does not carry the
// scheduler's pid, so PID stays empty and consumers use Hostname.
func FrameworkToV0(f *Framework) state.Framework {
	active := f.Active
	return state.Framework{
		ID:       f.FrameworkInfo.ID.Str(),
		Name:     f.FrameworkInfo.Name,
		Hostname: f.FrameworkInfo.Hostname,
		Active:   &active,
		WebUIURL: f.FrameworkInfo.WebUIURL,
	}
}

// MasterToV0 fills a v0 state's master fields from GET_MASTER's master
// info: the leader is this master (only leaders answer).
func MasterToV0(mi *MasterInfo, st *state.State) {
	st.ID = mi.ID
	st.PID = mi.PID
	st.Hostname = mi.Hostname
	st.Version = mi.Version
	st.Leader = mi.PID
	li := &state.MasterInfo{ID: mi.ID, IP: mi.IP, Port: mi.Port, PID: mi.PID, Hostname: mi.Hostname, Version: mi.Version}
	if mi.Address != nil {
		a := *mi.Address
		li.Address = &a
	}
	st.LeaderInfo = li
}
