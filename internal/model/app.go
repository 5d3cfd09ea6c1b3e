package model

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// NetworkMode is how a Marathon app's tasks are networked
// (../shared/spec/marathon-api.md §1.3).
type NetworkMode uint8

const (
	// NetworkHost: the task shares the agent's network; its ports are
	// host ports.
	NetworkHost NetworkMode = iota
	// NetworkBridge: container/bridge (Docker BRIDGE); host ports are
	// NATed to container ports on the agent.
	NetworkBridge
	// NetworkContainer: a named container network (overlay, CNI; Docker
	// USER; the old ipAddress form); the task has its own IP.
	NetworkContainer
)

func (m NetworkMode) String() string {
	switch m {
	case NetworkBridge:
		return "container/bridge"
	case NetworkContainer:
		return "container"
	}
	return "host"
}

// App is a Marathon app. The fields above the line are what the Marathon
// source observed; those below are computed by Build.
type App struct {
	ID      string // e.g. "/dev/web"
	Version string
	// LastScalingAt and LastConfigChangeAt are versionInfo's timestamps
	// (marathon-lb's blue/green merge reads them).
	LastScalingAt      string
	LastConfigChangeAt string
	Labels             map[string]string
	Instances          int
	// Network is the app's mode; Networks the requested networks (≥1.5
	// networks[], or one built from ≤1.4 ipAddress/docker.network).
	Network      NetworkMode
	Networks     []Network
	RequirePorts bool
	// Ports are the app's ports by index: portDefinitions (host mode) or
	// portMappings (bridge and container modes), or for ≤1.4 ipAddress
	// apps the discovery ports.
	Ports        []AppPort
	HealthChecks []HealthCheck
	// ReadinessChecks are only consulted during deployments.
	ReadinessChecks []ReadinessCheck
	// Deployments are the ids of deployments in progress.
	Deployments []string
	// Container is the containerizer ("DOCKER", "MESOS", "" for none).
	Container string
	Tasks     []AppTask
}

// Network is one network an app asks for.
type Network struct {
	Mode   NetworkMode
	Name   string // the container network's name ("dcos"); "" otherwise
	Labels map[string]string
}

// AppPort is one port of an app, by index.
type AppPort struct {
	Name string
	// Protocol is "tcp", "udp" or "udp,tcp" as Marathon writes it; "tcp"
	// when absent.
	Protocol string
	// ServicePort is the Marathon service port (0: none, as for ≤1.4
	// ipAddress apps).
	ServicePort uint16
	// ContainerPort is the port inside the container (bridge and container
	// modes); HostPort the requested host port, when HasHostPort (0 means
	// dynamic).
	ContainerPort uint16
	HostPort      uint16
	HasHostPort   bool
	Labels        map[string]string
	// NetworkNames restricts a mapping to these container networks.
	NetworkNames []string
}

// HealthCheck is one Marathon health check of an app definition.
type HealthCheck struct {
	// Protocol is HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS or
	// MESOS_TCP.
	Protocol string
	Path     string
	// PortIndex indexes the app's ports; Port is a literal port (0: use
	// PortIndex). HasPortIndex tells an explicit index 0 from none.
	PortIndex              int
	HasPortIndex           bool
	Port                   int
	Command                string
	GracePeriodSeconds     int
	IntervalSeconds        int
	TimeoutSeconds         int
	MaxConsecutiveFailures int
	DelaySeconds           int
	IgnoreHTTP1xx          bool
}

// ReadinessCheck is one Marathon readiness check.
type ReadinessCheck struct {
	Name                    string
	Protocol                string
	Path                    string
	PortName                string
	IntervalSeconds         int
	TimeoutSeconds          int
	HTTPStatusCodesForReady []int
}

// AppTask is Marathon's view of one task of an app.
type AppTask struct {
	ID      string
	Host    string // the agent's host name as registered with Mesos
	SlaveID string
	State   TaskState
	// Ports are the allocated host ports; ServicePorts the app's service
	// ports (filled by /v2/tasks only).
	Ports        []uint16
	ServicePorts []uint16
	IPAddresses  []netip.Addr
	StagedAt     string
	StartedAt    string
	Version      string
	// HealthResults has one entry per Marathon health check that has
	// produced a result; empty until the first probe and after every
	// Marathon leader change.
	HealthResults []HealthResult
	// Ready is the task's readiness check verdict, where one ran.
	Ready *bool

	// ---- computed by Build ----

	// Health is Marathon's verdict: healthy when at least one result is
	// alive (Marathon's and marathon-lb's rule), unhealthy when results
	// exist and none is, unknown without results.
	Health Health
	// Endpoints are where to send traffic for each of the app's ports, by
	// the app's network mode (§1.3); a port that has no endpoint for this
	// task is left out.
	Endpoints []Endpoint
	// Mesos is the index of the same task in Snapshot.Tasks, or -1.
	Mesos int
}

// HealthResult is one Marathon health check result.
type HealthResult struct {
	Alive               bool
	ConsecutiveFailures int
	FirstSuccess        string
	LastSuccess         string
	LastFailure         string
	LastFailureCause    string
}

// Endpoint is where one app port of one task is reached.
type Endpoint struct {
	// Index is the app port's index; Name its name.
	Index int
	Name  string
	// Host is the agent host (host and bridge modes) or the container IP
	// (container mode); Addr is its address when known (an IP literal, or
	// the agent's address from the Mesos state).
	Host string
	Addr netip.Addr
	Port uint16
	// ServicePort is the app port's service port (0: none).
	ServicePort uint16
	Protocol    string
}

// TaskPort is one task port after dcos-net's merge of port mappings,
// legacy port resources and discovery ports (dcos-net §B.1).
type TaskPort struct {
	Name     string
	Protocol Protocol
	// Port is the container (or plain) port, when HasPort.
	Port    uint32
	HasPort bool
	// HostPort is the agent's port, when HasHostPort.
	HostPort    uint32
	HasHostPort bool
	// VIPs are the VIP labels of the port, sorted by value then key.
	VIPs []VIPLabel
}

// VIPLabel is one VIP label as declared: where it came from and its raw
// value.
type VIPLabel struct {
	// Key is the label key ("VIP_0", "vip", "VIP_PORT1", …).
	Key string
	// Value is the VIP spec; for legacy task labels without the
	// "tcp://"/"udp://" prefix.
	Value string
}

// Protocol is a transport protocol of a port. The zero value is no
// protocol.
type Protocol uint8

// Protocols.
const (
	TCP Protocol = iota + 1
	UDP
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "protocol(" + strconv.Itoa(int(p)) + ")"
}

// ParseProtocol accepts "tcp" and "udp" in any case, as dcos-net does.
func ParseProtocol(s string) (Protocol, error) {
	switch {
	case strings.EqualFold(s, "tcp"):
		return TCP, nil
	case strings.EqualFold(s, "udp"):
		return UDP, nil
	}
	return 0, fmt.Errorf("protocol %q is neither tcp nor udp", s)
}
