package model

import (
	"net/netip"
	"strconv"
	"time"
)

// Snapshot is one immutable view of the cluster.
type Snapshot struct {
	// Version increases by one for every snapshot a hub builds; it is
	// never derived from the wall clock.
	Version uint64
	// Built is when the snapshot was built.
	Built time.Time
	// Sources says which observation of each source went into the
	// snapshot, in a fixed order (mesos, marathon).
	Sources []SourceVersion

	Leader Leader
	// Masters is the Mesos source's master list (MesosObservation.Masters).
	Masters    []string
	Agents     []Agent
	Frameworks []Framework
	// Tasks holds every Mesos task in state order (frameworks in order,
	// each framework's tasks in order), whatever its state.
	Tasks []Task
	// Apps holds the Marathon apps, sorted by ID, each with Marathon's view
	// of its tasks.
	Apps []App
	// Items are the cluster-wide items this node holds (ItemsObservation),
	// sorted by name.
	Items []Item
	// HostIPs holds the addresses a source resolved for host names that
	// appear in pids (agents, frameworks, the leader). A host that did not
	// resolve is absent.
	HostIPs map[string][]netip.Addr
	// Problems lists items that were skipped or degraded, and why: those
	// the sources reported while decoding, then those of the build.
	Problems []Problem
	// Overlay is the overlay's allocations (nil without an overlay source).
	Overlay *OverlayObservation

	agentIdx map[string]int
	appIdx   map[string]int
}

// SourceVersion identifies the observation of one source in a snapshot.
type SourceVersion struct {
	Name string // "mesos", "marathon"
	// Version counts the observations the source published (0: none yet).
	Version uint64
	// Fetched is when the observation's input arrived.
	Fetched time.Time
	// From is the upstream it came from (a master or Marathon URL).
	From string
}

// Source returns the version of the named source's observation.
func (s *Snapshot) Source(name string) (SourceVersion, bool) {
	for _, v := range s.Sources {
		if v.Name == name {
			return v, true
		}
	}
	return SourceVersion{}, false
}

// Problem is an item of the input that could not be used as it was.
type Problem struct {
	Item   string // e.g. `agent "…-S1"`, `task "web.1234" of framework "marathon"`
	Field  string // the offending field, e.g. "pid", "resources.ports"
	Reason string
}

func (p Problem) String() string { return p.Item + ": " + p.Field + ": " + p.Reason }

// Leader is the leading Mesos master as the state names it
// ("master@ip:port"). It is the one leader every role reads state from;
// see docs/ARCHITECTURE.md for how it relates to the gossip leader.
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
	// IP is the address dcos-net uses for the agent: its first IPv4
	// address (from its pid, else its resolved host name, else its
	// hostname), else its first address; invalid when it has none.
	IP netip.Addr
}

// Framework is one registered framework.
type Framework struct {
	ID       string
	Name     string // raw, unsanitised
	PID      string
	Hostname string
	WebUIURL string
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

// Label is a key/value pair, in declaration order (Mesos labels may repeat
// a key).
type Label struct {
	Key   string
	Value string
}

// Discovery is a task's DiscoveryInfo, as Marathon sets it.
type Discovery struct {
	Name  string
	Ports []DiscoveryPort
}

// DiscoveryPort is one named port of a DiscoveryInfo.
type DiscoveryPort struct {
	Number   uint32
	Name     string
	Protocol string // raw: "tcp", "udp", any case, or ""
	Labels   []Label
}

// PortMapping maps a host port to a container port.
type PortMapping struct {
	HostPort      uint32
	ContainerPort uint32
	Protocol      string // raw, "" means tcp
}

// Task is one Mesos task. The fields above the line are what the Mesos
// source observed; those below are computed by Build.
type Task struct {
	ID      string
	Name    string
	AgentID string
	State   TaskState
	// Ports is the expansion of the task's port resources, low to high,
	// range by range.
	Ports  []uint64
	Labels []Label
	// Discovery is nil when the task has no DiscoveryInfo.
	Discovery *Discovery
	// PortMappings are the container's host→container port mappings
	// (Docker port_mappings or network_infos[].port_mappings);
	// StatusPortMappings those the latest status reports (pods).
	PortMappings       []PortMapping
	StatusPortMappings []PortMapping
	// Container is the ContainerInfo type ("MESOS", "DOCKER"), "" when
	// the task has no ContainerInfo. The L4LB substitutes port mappings
	// locally only for non-Docker containers.
	Container string
	// MesosHealthCheck is true when a Mesos-level health check is defined;
	// MesosHealthy is the health the latest status reports, if any.
	MesosHealthCheck bool
	MesosHealthy     *bool
	// Addresses by Mesos-DNS IP source, from the latest TASK_RUNNING
	// status: "netinfo" (network_infos ip addresses), "docker" and "mesos"
	// (the executors' IP labels). The "host" source is the agent's.
	NetInfoIPs, DockerIPs, MesosIPs []netip.Addr
	// IPs are the task's container IPs as dcos-net reads them: the latest
	// status' network_infos addresses, or when it carries none (a
	// TASK_KILLING update may omit the container status) NetInfoIPs.
	IPs []netip.Addr

	// ---- computed by Build ----

	// Framework is the index into Snapshot.Frameworks.
	Framework int
	// Agent is the index into Snapshot.Agents, or -1 when the task's agent
	// is not in the state (such a task gets no records).
	Agent int
	// AgentIP is the agent's dcos-net address (Agent.IP); invalid when the
	// agent is unknown or has no address.
	AgentIP netip.Addr
	// NetPorts are the task's ports after dcos-net's merge of port
	// mappings, legacy VIP_PORT labels and discovery ports, by network
	// mode (host ports, container ports or both).
	NetPorts []TaskPort
	// Health merges Mesos' and Marathon's health results; HealthChecked is
	// true when either defines a health check for the task.
	Health        Health
	HealthChecked bool
	// App is the Marathon app behind the task and AppTask Marathon's view
	// of it, when a Marathon source knows them.
	App     *App
	AppTask *AppTask
}

// Running reports whether the task's state is TASK_RUNNING.
func (t *Task) Running() bool { return t.State == TaskRunning }

// Serving reports whether the task should get traffic: it is running and
// either healthy or without any health check. A task that is killing,
// unhealthy, or health-checked with no result yet does not serve.
func (t *Task) Serving() bool {
	if t.State != TaskRunning {
		return false
	}
	if t.HealthChecked {
		return t.Health == Healthy
	}
	return t.Health != Unhealthy
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

// Health is a task's health.
type Health uint8

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

// AgentByID returns the agent with the given id.
func (s *Snapshot) AgentByID(id string) (*Agent, bool) {
	i, ok := s.agentIdx[id]
	if !ok {
		return nil, false
	}
	return &s.Agents[i], true
}

// App returns the Marathon app with the given id.
func (s *Snapshot) App(id string) (*App, bool) {
	i, ok := s.appIdx[id]
	if !ok {
		return nil, false
	}
	return &s.Apps[i], true
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

// TaskItem names a task in problems: the Marathon app when known, then the
// task id and framework.
func (s *Snapshot) TaskItem(t *Task) string {
	it := "task " + strconv.Quote(t.ID) + " of framework " + strconv.Quote(s.Frameworks[t.Framework].Name)
	if t.App != nil && t.App.ID != "" {
		it = "app " + strconv.Quote(t.App.ID) + " " + it
	}
	return it
}

// SameSources reports whether s was built from the same observations of
// the named sources as prev (and prev is not nil): a consumer that reads
// only those sources can skip s. Items-only snapshots, which the node DNS
// role's gossip produces often, are the common case.
func (s *Snapshot) SameSources(prev *Snapshot, sources ...string) bool {
	if prev == nil || len(s.Sources) == 0 {
		return false // no record of the inputs (built outside a hub)
	}
	for _, n := range sources {
		a, _ := s.Source(n)
		b, _ := prev.Source(n)
		if a.Version != b.Version {
			return false
		}
	}
	return true
}
