// Package model is the cluster model every Sextant role reads: an immutable,
// versioned Snapshot of agents, frameworks and tasks, built by one pure
// function (Build) from what a source fetched.
//
// A Snapshot is never modified after Build returns; consumers derive their
// own indexed views from it and swap them atomically. Items that cannot be
// used (an agent without a pid, a task on an unknown agent, a bad port
// string) are skipped or degraded with a Problem naming the item, so one bad
// item never empties the cluster.
package model

import (
	"net/netip"
	"sort"
	"strconv"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// Re-exported wire types: the model keeps Mesos' own shapes for the parts
// that consumers interpret differently (Mesos-DNS, dcos-dns, l4lb each read
// labels and network infos by their own rules).
type (
	Label         = state.Label
	Labels        = state.Labels
	Discovery     = state.Discovery
	DiscoveryPort = state.DiscoveryPort
	NetworkInfo   = state.NetworkInfo
	PortMapping   = state.PortMapping
	PortRange     = state.PortRange
)

// TaskRunning is the only state that gets DNS records.
const TaskRunning = "TASK_RUNNING"

// Snapshot is one immutable view of the cluster.
type Snapshot struct {
	// Version increases by one for every snapshot a producer builds; it is
	// never derived from the wall clock.
	Version uint64
	// Source names the producer ("mesos", "mesos-stream", "runtime", …).
	Source string
	// Built is when the snapshot was built; Fetched when its input arrived.
	Built   time.Time
	Fetched time.Time

	Leader     Leader
	Agents     []Agent
	Frameworks []Framework
	// Tasks holds every task in state order (frameworks in order, each
	// framework's tasks in order), whatever its state.
	Tasks []Task
	// HostIPs holds the addresses a source resolved for host names that
	// appear in pids (agents, frameworks, the leader). A host that did not
	// resolve is absent.
	HostIPs map[string][]netip.Addr
	// Problems lists items that were skipped or degraded, and why.
	Problems []Problem

	agentIdx map[string]int
}

// Problem is an item of the input that could not be used as it was.
type Problem struct {
	Item   string // e.g. `agent "…-S1"`, `task "web.1234" of framework "marathon"`
	Field  string // the offending field, e.g. "pid", "resources.ports"
	Reason string
}

func (p Problem) String() string { return p.Item + ": " + p.Field + ": " + p.Reason }

// Leader is the leading master as the state names it ("master@ip:port").
type Leader struct {
	Raw  string
	Host string // IP literal or host name, no brackets
	Port uint16
	// OK is false when Raw did not parse; then no leader records exist.
	OK bool
}

// Agent is one Mesos agent.
type Agent struct {
	ID       string
	PID      string // raw UPID
	Hostname string
	Host     string // host part of PID (IP literal or name)
	Port     uint16
	// Addrs are the agent's IPs: Host itself when it is an IP literal,
	// otherwise what the source resolved (may be empty).
	Addrs []netip.Addr
}

// Framework is one registered framework.
type Framework struct {
	ID       string
	Name     string // raw, unsanitised
	PID      string
	Hostname string
	// Host and Port come from PID when present; otherwise Host is Hostname
	// and HasPort is false.
	Host    string
	Port    uint16
	HasPort bool
	Addrs   []netip.Addr
	Active  bool
	// First and End delimit this framework's tasks in Snapshot.Tasks.
	First, End int
}

// Task is one task.
type Task struct {
	ID        string
	Name      string
	Framework int // index into Snapshot.Frameworks
	AgentID   string
	// Agent is the index into Snapshot.Agents, or -1 when the task's agent
	// is not in the state (such a task gets no records).
	Agent int
	State string
	// PortsRaw is the v0 ports string; Ports its expansion, low to high,
	// range by range.
	PortsRaw string
	Ports    []uint64
	Statuses []state.Status
	Labels   []Label
	// Discovery is nil when the task has no DiscoveryInfo.
	Discovery *Discovery
	// PortMappings are the container's host→container port mappings
	// (Docker port_mappings or network_infos[].port_mappings).
	PortMappings []PortMapping
	// HasHealthCheck is true when a Mesos-level health check is defined.
	HasHealthCheck bool
	// ContainerType is the ContainerInfo type ("MESOS", "DOCKER"), "" when
	// the task has no ContainerInfo. The L4LB substitutes port mappings
	// locally only for non-Docker containers.
	ContainerType string
	// App is the Marathon app behind the task, when the source knows it.
	App *App
}

// App is what is known about the Marathon app that launched a task.
type App struct {
	ID     string // e.g. "/dev/web"
	Labels map[string]string
	// Version is the app version string, where known.
	Version string
}

// Health is a task's health as its latest status reports it.
type Health int

const (
	HealthUnknown Health = iota // no health check result
	Healthy
	Unhealthy
)

func (h Health) String() string {
	switch h {
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	}
	return "unknown"
}

// Agent returns the agent with the given id.
func (s *Snapshot) AgentByID(id string) (*Agent, bool) {
	i, ok := s.agentIdx[id]
	if !ok {
		return nil, false
	}
	return &s.Agents[i], true
}

// FrameworkOf returns the framework a task belongs to.
func (s *Snapshot) FrameworkOf(t *Task) *Framework { return &s.Frameworks[t.Framework] }

// AgentOf returns the agent a task runs on, or nil.
func (s *Snapshot) AgentOf(t *Task) *Agent {
	if t.Agent < 0 {
		return nil
	}
	return &s.Agents[t.Agent]
}

// FrameworkTasks returns a framework's tasks.
func (s *Snapshot) FrameworkTasks(f *Framework) []Task { return s.Tasks[f.First:f.End] }

// Running reports whether the task's state is exactly TASK_RUNNING.
func (t *Task) Running() bool { return t.State == TaskRunning }

// LatestRunningStatus returns, among statuses whose state is TASK_RUNNING,
// the one with the greatest timestamp (on ties the earlier entry), as
// Mesos-DNS chose it; nil if there is none.
func (t *Task) LatestRunningStatus() *state.Status {
	var best *state.Status
	for i := range t.Statuses {
		st := &t.Statuses[i]
		if st.State != TaskRunning {
			continue
		}
		if best == nil || st.Timestamp > best.Timestamp {
			best = st
		}
	}
	return best
}

// LatestStatus returns the status with the greatest timestamp (on ties the
// later entry, as Mesos appends), or nil.
func (t *Task) LatestStatus() *state.Status {
	var best *state.Status
	for i := range t.Statuses {
		st := &t.Statuses[i]
		if best == nil || st.Timestamp >= best.Timestamp {
			best = st
		}
	}
	return best
}

// Health reports the health carried by the latest status.
func (t *Task) Health() Health {
	st := t.LatestStatus()
	if st == nil || st.Healthy == nil {
		return HealthUnknown
	}
	if *st.Healthy {
		return Healthy
	}
	return Unhealthy
}

// ContainerIPs returns the IPs of the latest RUNNING status' network infos
// (ip_addresses, or the legacy ip_address), unparsed values dropped.
func (t *Task) ContainerIPs() []netip.Addr {
	st := t.LatestRunningStatus()
	if st == nil || st.ContainerStatus == nil {
		return nil
	}
	var out []netip.Addr
	for _, ni := range st.ContainerStatus.NetworkInfos {
		if len(ni.IPAddresses) > 0 {
			for _, a := range ni.IPAddresses {
				if ip, err := netip.ParseAddr(a.IPAddress); err == nil {
					out = append(out, ip.Unmap())
				}
			}
		} else if ni.IPAddress != "" {
			if ip, err := netip.ParseAddr(ni.IPAddress); err == nil {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// LabelValue returns the value of the first task label with the key.
func (t *Task) LabelValue(key string) (string, bool) {
	for _, l := range t.Labels {
		if l.Key == key {
			return l.Value, true
		}
	}
	return "", false
}

// HostsToResolve lists the host names (not IP literals) in the state's pids
// and framework host names that a source should resolve before Build, in a
// stable order without duplicates.
func HostsToResolve(st *state.State) []string {
	seen := map[string]bool{}
	var out []string
	add := func(h string) {
		if h == "" || seen[h] {
			return
		}
		if _, err := netip.ParseAddr(h); err == nil {
			return
		}
		seen[h] = true
		out = append(out, h)
	}
	for _, s := range st.Slaves {
		if u, err := state.ParseUPID(s.PID); err == nil {
			add(u.Host)
		}
	}
	for _, f := range st.Frameworks {
		if f.PID != "" {
			if u, err := state.ParseUPID(f.PID); err == nil {
				add(u.Host)
			}
		} else {
			add(f.Hostname)
		}
	}
	sort.Strings(out)
	return out
}

// BuildOptions are the inputs of Build besides the state itself.
type BuildOptions struct {
	Version uint64
	Source  string
	Now     time.Time
	Fetched time.Time
	// Resolved maps host names to the addresses the source looked up.
	Resolved map[string][]netip.Addr
	// Apps maps task ids to the Marathon app behind them, where known.
	Apps map[string]*App
}

// Build turns a fetched state into a Snapshot. It does no I/O and never
// fails: unusable items are skipped or degraded and listed in Problems.
func Build(st *state.State, o BuildOptions) *Snapshot {
	s := &Snapshot{
		Version:  o.Version,
		Source:   o.Source,
		Built:    o.Now,
		Fetched:  o.Fetched,
		HostIPs:  o.Resolved,
		agentIdx: make(map[string]int, len(st.Slaves)),
	}
	if s.HostIPs == nil {
		s.HostIPs = map[string][]netip.Addr{}
	}
	s.Leader = parseLeader(st.Leader)

	s.Agents = make([]Agent, 0, len(st.Slaves))
	for _, sl := range st.Slaves {
		item := "agent " + strconv.Quote(sl.ID)
		if sl.ID == "" {
			s.problem(item, "id", "empty agent id")
			continue
		}
		if _, dup := s.agentIdx[sl.ID]; dup {
			s.problem(item, "id", "duplicate agent id; first one kept")
			continue
		}
		a := Agent{ID: sl.ID, PID: sl.PID, Hostname: sl.Hostname}
		u, err := state.ParseUPID(sl.PID)
		if err != nil {
			// Mesos-DNS panicked (no pid) or failed the whole reload (bad
			// pid); the agent is kept so its tasks still resolve by their
			// own IPs, but it has no address of its own.
			s.problem(item, "pid", err.Error())
		} else {
			a.Host = u.Host
			p, _ := strconv.ParseUint(u.Port, 10, 16)
			a.Port = uint16(p)
			a.Addrs = s.addrs(u.Host)
		}
		s.agentIdx[sl.ID] = len(s.Agents)
		s.Agents = append(s.Agents, a)
	}

	n := 0
	for _, f := range st.Frameworks {
		n += len(f.Tasks)
	}
	s.Tasks = make([]Task, 0, n)
	s.Frameworks = make([]Framework, 0, len(st.Frameworks))
	for _, f := range st.Frameworks {
		fw := Framework{ID: f.ID, Name: f.Name, PID: f.PID, Hostname: f.Hostname, Active: f.Active == nil || *f.Active}
		item := "framework " + strconv.Quote(f.Name)
		if f.PID != "" {
			u, err := state.ParseUPID(f.PID)
			if err != nil {
				s.problem(item, "pid", err.Error())
			} else {
				fw.Host = u.Host
				p, _ := strconv.ParseUint(u.Port, 10, 16)
				fw.Port, fw.HasPort = uint16(p), true
			}
		} else {
			fw.Host = f.Hostname
		}
		fw.Addrs = s.addrs(fw.Host)
		fi := len(s.Frameworks)
		fw.First = len(s.Tasks)
		for i := range f.Tasks {
			s.addTask(fi, f.Name, &f.Tasks[i], o.Apps)
		}
		fw.End = len(s.Tasks)
		s.Frameworks = append(s.Frameworks, fw)
	}
	return s
}

func (s *Snapshot) addTask(fi int, fname string, t *state.Task, apps map[string]*App) {
	item := "task " + strconv.Quote(t.ID) + " of framework " + strconv.Quote(fname)
	task := Task{
		ID:        t.ID,
		Name:      t.Name,
		Framework: fi,
		AgentID:   t.SlaveID,
		Agent:     -1,
		State:     t.State,
		PortsRaw:  t.Resources.Ports,
		Statuses:  t.Statuses,
		Labels:    t.Labels,
		Discovery: t.Discovery,
	}
	if i, ok := s.agentIdx[t.SlaveID]; ok {
		task.Agent = i
	}
	ranges, err := state.ParsePorts(t.Resources.Ports)
	if err != nil {
		s.problem(item, "resources.ports", err.Error())
	}
	for _, r := range ranges {
		if r.End < r.Begin || r.End-r.Begin > 65535 {
			s.problem(item, "resources.ports", "range "+strconv.FormatUint(r.Begin, 10)+"-"+strconv.FormatUint(r.End, 10)+" skipped")
			continue
		}
		for p := r.Begin; p <= r.End; p++ {
			task.Ports = append(task.Ports, p)
		}
	}
	if c := t.Container; c != nil {
		task.ContainerType = c.Type
		if c.Docker != nil {
			task.PortMappings = append(task.PortMappings, c.Docker.PortMappings...)
		}
		for _, ni := range c.NetworkInfos {
			task.PortMappings = append(task.PortMappings, ni.PortMappings...)
		}
	}
	task.HasHealthCheck = t.HealthCheck != nil
	if apps != nil {
		task.App = apps[t.ID]
	}
	s.Tasks = append(s.Tasks, task)
}

func (s *Snapshot) problem(item, field, reason string) {
	s.Problems = append(s.Problems, Problem{Item: item, Field: field, Reason: reason})
}

// addrs returns host itself when it is an IP literal, else what was resolved.
func (s *Snapshot) addrs(host string) []netip.Addr {
	if host == "" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}
	}
	return s.HostIPs[host]
}

func parseLeader(raw string) Leader {
	l := Leader{Raw: raw}
	u, err := state.ParseUPID(raw)
	if err != nil {
		return l
	}
	p, _ := strconv.ParseUint(u.Port, 10, 16)
	l.Host, l.Port, l.OK = u.Host, uint16(p), true
	return l
}
