// Package state holds the typed form of the Mesos master's v0 `/master/state`
// document: only the fields that Sextant's roles read, with the quirks of the
// v0 encoding (ports as a range string, bare label arrays, float timestamps).
//
// The same types are used to parse a real master's answer and to render the
// local runtime's own state, so both sides agree on the wire shape.
//
// Imports: the standard library and third-party modules only, no package of Sextant's.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// State is the subset of `/master/state` that Sextant reads.
type State struct {
	ID         string      `json:"id,omitempty"`
	PID        string      `json:"pid,omitempty"`
	Hostname   string      `json:"hostname,omitempty"`
	Version    string      `json:"version,omitempty"`
	Leader     string      `json:"leader"`
	Slaves     []Slave     `json:"slaves"`
	Frameworks []Framework `json:"frameworks"`
	// LeaderInfo is sent by Mesos ≥ 1.0; Mesos-DNS never read it.
	LeaderInfo *MasterInfo `json:"leader_info,omitempty"`
}

// MasterInfo is the master's self-description (leader_info).
type MasterInfo struct {
	ID       string   `json:"id,omitempty"`
	IP       uint32   `json:"ip,omitempty"`
	Port     int      `json:"port,omitempty"`
	PID      string   `json:"pid,omitempty"`
	Hostname string   `json:"hostname,omitempty"`
	Version  string   `json:"version,omitempty"`
	Address  *Address `json:"address,omitempty"`
}

// Address is Mesos' network address message.
type Address struct {
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
	Port     int    `json:"port,omitempty"`
}

// Slave is one agent ("slave" in v0).
type Slave struct {
	ID         string            `json:"id"`
	PID        string            `json:"pid"`
	Hostname   string            `json:"hostname"`
	Active     *bool             `json:"active,omitempty"`
	Attributes map[string]any    `json:"attributes,omitempty"`
	Resources  *Resources        `json:"resources,omitempty"`
	Extra      map[string]string `json:"-"`
}

// Framework is one registered framework with its tasks.
type Framework struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	PID      string `json:"pid,omitempty"`
	Hostname string `json:"hostname"`
	Active   *bool  `json:"active,omitempty"`
	WebUIURL string `json:"webui_url,omitempty"`
	Tasks    []Task `json:"tasks"`
}

// Task is one task in a framework's task list.
type Task struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	FrameworkID string       `json:"framework_id"`
	ExecutorID  string       `json:"executor_id"`
	SlaveID     string       `json:"slave_id"`
	State       string       `json:"state"`
	Resources   Resources    `json:"resources"`
	Statuses    []Status     `json:"statuses"`
	Labels      []Label      `json:"labels,omitempty"`
	Discovery   *Discovery   `json:"discovery,omitempty"`
	Container   *Container   `json:"container,omitempty"`
	HealthCheck *HealthCheck `json:"health_check,omitempty"`
}

// Resources holds a task's or agent's resource totals. Ports is the v0 range
// string, e.g. "[31000-31001, 31005-31005]".
type Resources struct {
	CPUs  float64 `json:"cpus"`
	Mem   float64 `json:"mem"`
	Disk  float64 `json:"disk"`
	GPUs  float64 `json:"gpus,omitempty"`
	Ports string  `json:"ports,omitempty"`
}

// Status is one entry of a task's status history.
type Status struct {
	State           string           `json:"state"`
	Timestamp       float64          `json:"timestamp"`
	Labels          []Label          `json:"labels,omitempty"`
	ContainerStatus *ContainerStatus `json:"container_status,omitempty"`
	Healthy         *bool            `json:"healthy,omitempty"`
}

// ContainerStatus carries the network infos that hold task IPs.
type ContainerStatus struct {
	NetworkInfos []NetworkInfo `json:"network_infos,omitempty"`
}

// NetworkInfo is one network a container is attached to.
type NetworkInfo struct {
	Name         string        `json:"name,omitempty"`
	IPAddresses  []IPAddress   `json:"ip_addresses,omitempty"`
	IPAddress    string        `json:"ip_address,omitempty"` // legacy single-address form
	Labels       *Labels       `json:"labels,omitempty"`
	PortMappings []PortMapping `json:"port_mappings,omitempty"`
}

// IPAddress is one address of a network info.
type IPAddress struct {
	Protocol  string `json:"protocol,omitempty"`
	IPAddress string `json:"ip_address"`
}

// PortMapping maps a host port to a container port.
type PortMapping struct {
	HostPort      uint32 `json:"host_port"`
	ContainerPort uint32 `json:"container_port"`
	Protocol      string `json:"protocol,omitempty"`
}

// Label is a key/value pair.
type Label struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Labels is the wrapped label list of protobuf messages ({"labels":[…]}).
type Labels struct {
	Labels []Label `json:"labels"`
}

// Discovery is Mesos' DiscoveryInfo.
type Discovery struct {
	Visibility string  `json:"visibility,omitempty"`
	Name       string  `json:"name,omitempty"`
	Ports      *Ports  `json:"ports,omitempty"`
	Labels     *Labels `json:"labels,omitempty"`
}

// Ports wraps the DiscoveryInfo port list.
type Ports struct {
	Ports []DiscoveryPort `json:"ports"`
}

// DiscoveryPort is one named port of a DiscoveryInfo.
type DiscoveryPort struct {
	Number     uint32  `json:"number"`
	Name       string  `json:"name,omitempty"`
	Protocol   string  `json:"protocol,omitempty"`
	Visibility string  `json:"visibility,omitempty"`
	Labels     *Labels `json:"labels,omitempty"`
}

// Container is the subset of ContainerInfo that carries networking.
type Container struct {
	Type         string        `json:"type,omitempty"`
	Docker       *Docker       `json:"docker,omitempty"`
	NetworkInfos []NetworkInfo `json:"network_infos,omitempty"`
}

// Docker is the Docker part of a ContainerInfo.
type Docker struct {
	Image        string        `json:"image,omitempty"`
	Network      string        `json:"network,omitempty"`
	PortMappings []PortMapping `json:"port_mappings,omitempty"`
}

// HealthCheck is the presence (and type) of a Mesos-level health check.
type HealthCheck struct {
	Type string `json:"type,omitempty"`
}

// Parse decodes a `/master/state` document.
//
// It fails only when the document as a whole is unusable: not JSON, not a
// JSON object, or "slaves" or "frameworks" neither an array nor null. The
// caller then keeps its last good state, as Mesos-DNS did for any error.
//
// A value of the wrong JSON type (or out of range for its field) inside one
// item costs that item or only that field, never the document; each loss is
// reported as a Skipped record and the rest decodes exactly as it would
// without the bad value:
//
//   - agent ("slaves[]"): unreadable (not an object, or a bad "id") skips the
//     agent; a bad pid, hostname, active or attributes drops that field; a
//     bad resources sub-field (cpus, mem, disk, gpus, ports) drops that
//     sub-field, resources that are not an object drop resources.
//   - framework: not an object, or a bad "name" or "id", skips it with all
//     its tasks; a bad pid, hostname, active or webui_url drops that field;
//     "tasks" not an array drops the tasks and keeps the framework; a bad
//     task skips that task only.
//   - task: not an object, or a bad "id", "name", "slave_id" or "state",
//     skips the task; any bad value inside one status drops that status;
//     "statuses" not an array drops the statuses; a bad framework_id,
//     executor_id, labels, discovery, container or health_check drops that
//     field; resources as for agents.
//   - top level: a bad id, pid, hostname, version, leader or leader_info
//     drops that field (no leader is the caller's error to report).
//
// null is never a bad value: it decodes to the zero value, as encoding/json
// does, and semantic checks (an empty id, a bad pid) are left to the model
// builder.
//
// Real states run to 50–90 MB, so the common case pays nothing for this:
// the document is decoded typed in one pass by a decoder that gives
// exactly what encoding/json gives (fast.go), with the strings that repeat
// across the document made once. Anything that decoder is not sure of
// (a syntax or type error among them) sends the document to encoding/json,
// and only when that reports a type error (encoding/json finishes the
// document and returns the first one) is it decoded again, item by item.
func Parse(b []byte) (*State, []Skipped, error) {
	if s, ok := parseFast(b); ok {
		return s, nil, nil
	}
	var s State
	err := json.Unmarshal(b, &s)
	if err == nil {
		if !isObject(b) {
			return nil, nil, errors.New("mesos state: document is JSON null, not an object")
		}
		return &s, nil, nil
	}
	if _, syntax := errors.AsType[*json.SyntaxError](err); syntax {
		return nil, nil, fmt.Errorf("mesos state: %w", err)
	}
	return parseTolerant(b)
}

// isObject reports whether valid JSON b is an object, by its first byte.
func isObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}

// PortRange is an inclusive range of ports.
type PortRange struct{ Begin, End uint64 }

// ParsePorts expands a v0 port range string such as
// "[31111-31111, 31115-31117]". Empty or "[]" yields no ports. Mesos-DNS
// skipped pieces with a non-numeric bound and panicked on a piece without
// '-'; here such a piece is reported and skipped, and the rest is kept.
func ParsePorts(s string) ([]PortRange, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "[]" {
		return nil, nil
	}
	l := strings.IndexByte(s, '[')
	if l < 0 {
		return nil, fmt.Errorf("ports %q: no '['", s)
	}
	rest := s[l+1:]
	r := strings.IndexByte(rest, ']')
	if r < 0 {
		return nil, fmt.Errorf("ports %q: no ']'", s)
	}
	rest = rest[:r]
	var out []PortRange
	var firstErr error
	for _, piece := range strings.Split(rest, ",") {
		piece = strings.TrimSpace(piece)
		if piece == "" {
			continue
		}
		lo, hi, ok := strings.Cut(piece, "-")
		if !ok {
			if firstErr == nil {
				firstErr = fmt.Errorf("ports %q: piece %q has no '-'", s, piece)
			}
			continue
		}
		b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
		e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
		if err1 != nil || err2 != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("ports %q: piece %q is not numeric", s, piece)
			}
			continue
		}
		out = append(out, PortRange{Begin: b, End: e})
	}
	return out, firstErr
}

// FormatPorts renders ranges in the v0 form "[a-b, c-d]".
func FormatPorts(rs []PortRange) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d-%d", r.Begin, r.End)
	}
	b.WriteByte(']')
	return b.String()
}

// UPID is a parsed libprocess process id "id@host:port".
type UPID struct {
	ID   string
	Host string
	Port string
}

// ParseUPID parses "slave(1)@1.2.3.4:5051" (also with an IPv6 host in
// brackets). Surrounding spaces and quotes are trimmed, as Mesos-DNS did.
// Unlike Mesos-DNS it does not resolve the host: name resolution is the
// source's job, so parsing stays pure.
func ParseUPID(s string) (UPID, error) {
	s = strings.Trim(s, " \"")
	id, hp, ok := strings.Cut(s, "@")
	if !ok || strings.Contains(hp, "@") {
		return UPID{}, fmt.Errorf("pid %q: want exactly one '@'", s)
	}
	hp = strings.Trim(hp, " \"")
	host, port, err := splitHostPort(hp)
	if err != nil {
		return UPID{}, fmt.Errorf("pid %q: %w", s, err)
	}
	return UPID{ID: strings.Trim(id, " \""), Host: host, Port: port}, nil
}

func splitHostPort(hp string) (host, port string, err error) {
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 || end+1 >= len(hp) || hp[end+1] != ':' {
			return "", "", fmt.Errorf("bad host:port %q", hp)
		}
		host, port = hp[1:end], hp[end+2:]
	} else {
		i := strings.LastIndexByte(hp, ':')
		if i < 0 {
			return "", "", fmt.Errorf("bad host:port %q: no port", hp)
		}
		host, port = hp[:i], hp[i+1:]
		if strings.Contains(host, ":") {
			return "", "", fmt.Errorf("bad host:port %q: IPv6 host needs brackets", hp)
		}
	}
	if host == "" {
		return "", "", fmt.Errorf("bad host:port %q: empty host", hp)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", "", fmt.Errorf("bad host:port %q: port is not a number 0-65535", hp)
	}
	_ = n
	return host, port, nil
}
