package vip

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
)

// Label is one VIP label as declared: where it came from and its raw value.
type Label struct {
	// Key is the label key ("VIP_0", "vip", "VIP_PORT1", …).
	Key string
	// Value is the VIP spec; for legacy task labels without the
	// "tcp://"/"udp://" prefix.
	Value string
}

// Port is one task port after dcos-net's merge of port mappings, legacy
// port resources and discovery ports (§B.1).
type Port struct {
	Name     string
	Protocol Protocol
	// Port is the container (or plain) port, when HasPort.
	Port    uint32
	HasPort bool
	// HostPort is the agent's port, when HasHostPort.
	HostPort    uint32
	HasHostPort bool
	// VIPs are the VIP labels of the port, sorted by value then key.
	VIPs []Label
}

// TaskState is a task's state as dcos-net classifies it.
type TaskState uint8

// Task states (dcos_net_mesos_listener).
const (
	Preparing TaskState = iota
	Running
	Killing
	Terminal
)

// StateOf classifies a Mesos task state.
func StateOf(s string) TaskState {
	switch s {
	case "TASK_RUNNING":
		return Running
	case "TASK_KILLING":
		return Killing
	case "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
		"TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR":
		return Terminal
	}
	return Preparing
}

// TaskItem names a task in problems: the Marathon app when known, then the
// task id and framework.
func TaskItem(snap *model.Snapshot, t *model.Task) string {
	s := "task " + strconv.Quote(t.ID) + " of framework " + strconv.Quote(snap.FrameworkOf(t).Name)
	if t.App != nil && t.App.ID != "" {
		s = "app " + strconv.Quote(t.App.ID) + " " + s
	}
	return s
}

// TaskIPs returns the task's IPs as dcos-net reads them: every
// network_infos[].ip_addresses[] of the latest status. When the latest
// status carries none (a TASK_KILLING update may omit the container
// status) the latest TASK_RUNNING status' IPs are used, so a draining task
// keeps its backends at weight 0 rather than losing them.
func TaskIPs(t *model.Task) []netip.Addr {
	if st := t.LatestStatus(); st != nil && st.ContainerStatus != nil {
		var out []netip.Addr
		for _, ni := range st.ContainerStatus.NetworkInfos {
			for _, a := range ni.IPAddresses {
				if ip, err := netip.ParseAddr(a.IPAddress); err == nil && ip.Zone() == "" {
					out = append(out, ip.Unmap())
				}
			}
			if len(ni.IPAddresses) == 0 && ni.IPAddress != "" {
				if ip, err := netip.ParseAddr(ni.IPAddress); err == nil && ip.Zone() == "" {
					out = append(out, ip.Unmap())
				}
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return t.ContainerIPs()
}

// AgentIP returns the address dcos-net uses for a task's agent: the
// agent's first IPv4 address (from its pid, or its resolved host name),
// else its first address; false when the agent has none.
func AgentIP(snap *model.Snapshot, t *model.Task) (netip.Addr, bool) {
	a := snap.AgentOf(t)
	if a == nil {
		return netip.Addr{}, false
	}
	addrs := a.Addrs
	if len(addrs) == 0 && a.Hostname != "" {
		if ip, err := netip.ParseAddr(a.Hostname); err == nil {
			addrs = []netip.Addr{ip.Unmap()}
		} else {
			addrs = snap.HostIPs[a.Hostname]
		}
	}
	for _, ip := range addrs {
		if ip.Is4() {
			return ip, true
		}
	}
	if len(addrs) > 0 {
		return addrs[0], true
	}
	return netip.Addr{}, false
}

// TaskPorts merges a task's ports as dcos-net does (§B.1):
//   - port mappings (container network_infos, Docker port_mappings, or for
//     pods the latest status' network_infos) give {protocol, port,
//     host_port}; a mapping without a protocol is tcp, as Mesos treats it;
//   - legacy task labels VIP_PORT<n> ("tcp://spec" / "udp://spec") name the
//     n-th expanded port resource, taken as a host port;
//   - discovery ports with "VIP*"/"vip*" labels, the port's protocol (tcp or
//     udp, any case) and network-scope (host → host port, container or
//     absent → container port); number 0 is ignored;
//
// then port mappings are merged into the legacy ports and the result into
// the discovery ports when they share (protocol, port) or (protocol, host
// port), unioning VIP labels. When the task runs with host networking (its
// only IP is the agent IP) host ports become plain ports.
//
// Items that cannot be used are skipped and reported.
func TaskPorts(snap *model.Snapshot, t *model.Task, agentIP netip.Addr, taskIPs []netip.Addr) ([]Port, []model.Problem) {
	var probs []model.Problem
	problem := func(field, reason string) {
		probs = append(probs, model.Problem{Item: TaskItem(snap, t), Field: field, Reason: reason})
	}

	// Port mappings.
	pms := t.PortMappings
	pmField := "container.port_mappings"
	if len(pms) == 0 {
		if st := t.LatestStatus(); st != nil && st.ContainerStatus != nil {
			for _, ni := range st.ContainerStatus.NetworkInfos {
				pms = append(pms, ni.PortMappings...)
			}
			pmField = "statuses.container_status.network_infos.port_mappings"
		}
	}
	var mappings []Port
	for i, pm := range pms {
		proto := TCP
		if pm.Protocol != "" {
			p, err := ParseProtocol(pm.Protocol)
			if err != nil {
				problem(pmField+"["+strconv.Itoa(i)+"].protocol", err.Error())
				continue
			}
			proto = p
		}
		mappings = append(mappings, Port{Protocol: proto, Port: pm.ContainerPort, HasPort: true, HostPort: pm.HostPort, HasHostPort: true})
	}

	// Legacy VIP_PORT<n> task labels.
	var legacy []Port
	for _, l := range t.Labels {
		k := strings.ToLower(l.Key)
		if !strings.HasPrefix(k, "vip_port") {
			continue
		}
		field := "labels." + l.Key
		idx, err := strconv.Atoi(k[len("vip_port"):])
		if err != nil || idx < 0 {
			problem(field, "index after VIP_PORT is not a non-negative integer")
			continue
		}
		var proto Protocol
		var spec string
		switch {
		case strings.HasPrefix(l.Value, "tcp://"):
			proto, spec = TCP, l.Value[len("tcp://"):]
		case strings.HasPrefix(l.Value, "udp://"):
			proto, spec = UDP, l.Value[len("udp://"):]
		default:
			problem(field, "value "+strconv.Quote(l.Value)+" does not start with tcp:// or udp://")
			continue
		}
		if idx >= len(t.Ports) {
			problem(field, "port index "+strconv.Itoa(idx)+" but the task has "+strconv.Itoa(len(t.Ports))+" ports")
			continue
		}
		legacy = append(legacy, Port{Protocol: proto, HostPort: uint32(t.Ports[idx]), HasHostPort: true,
			VIPs: []Label{{Key: l.Key, Value: spec}}})
	}

	// Discovery ports.
	var disc []Port
	if t.Discovery != nil && t.Discovery.Ports != nil {
		for i, dp := range t.Discovery.Ports.Ports {
			field := "discovery.ports[" + strconv.Itoa(i) + "]"
			proto, err := ParseProtocol(dp.Protocol)
			if err != nil {
				problem(field+".protocol", err.Error())
				continue
			}
			p := Port{Name: dp.Name, Protocol: proto}
			if p.Name == "" {
				p.Name = "default"
			}
			scope, ok := portScope(dp.Labels)
			if !ok {
				problem(field+".labels.network-scope", "want exactly one of host or container")
				continue
			}
			if dp.Number == 0 {
				continue
			}
			if scope == "host" {
				p.HostPort, p.HasHostPort = dp.Number, true
			} else {
				p.Port, p.HasPort = dp.Number, true
			}
			if dp.Labels != nil {
				for _, l := range dp.Labels.Labels {
					// dcos-net matches the prefix case-sensitively: VIP… or vip….
					if strings.HasPrefix(l.Key, "VIP") || strings.HasPrefix(l.Key, "vip") {
						p.VIPs = append(p.VIPs, Label{Key: l.Key, Value: l.Value})
					}
				}
			}
			disc = append(disc, p)
		}
	}

	ports := mergePorts(mergePorts(mappings, legacy), disc)
	if len(taskIPs) == 1 && taskIPs[0] == agentIP {
		ports = relabelHostPorts(ports)
	}
	for i := range ports {
		ports[i].VIPs = sortLabels(ports[i].VIPs)
	}
	return ports, probs
}

// portScope reads the network-scope label: "" (absent), "host" or
// "container"; false for several values or another value.
func portScope(ls *state.Labels) (string, bool) {
	var vals []string
	if ls != nil {
		for _, l := range ls.Labels {
			if l.Key == "network-scope" {
				vals = append(vals, l.Value)
			}
		}
	}
	switch {
	case len(vals) == 0:
		return "", true
	case len(vals) == 1 && (vals[0] == "host" || vals[0] == "container"):
		return vals[0], true
	}
	return "", false
}

func matchPort(a, b *Port) bool {
	if a.Protocol != b.Protocol {
		return false
	}
	return (a.HasPort && b.HasPort && a.Port == b.Port) || (a.HasHostPort && b.HasHostPort && a.HostPort == b.HostPort)
}

// mergeInto merges a into b: a's fields win, VIP labels are unioned.
func mergeInto(b, a Port) Port {
	out := b
	if a.Name != "" {
		out.Name = a.Name
	}
	out.Protocol = a.Protocol
	if a.HasPort {
		out.Port, out.HasPort = a.Port, true
	}
	if a.HasHostPort {
		out.HostPort, out.HasHostPort = a.HostPort, true
	}
	out.VIPs = append(slices.Clone(b.VIPs), a.VIPs...)
	return out
}

// mergePorts folds each port of from into into: it merges with the first
// matching port there, or is added.
func mergePorts(from, into []Port) []Port {
	if len(from) == 0 {
		return into
	}
	acc := slices.Clone(into)
	for _, a := range from {
		merged := false
		for i := range acc {
			if matchPort(&a, &acc[i]) {
				acc[i] = mergeInto(acc[i], a)
				merged = true
				break
			}
		}
		if !merged {
			acc = append(acc, a)
		}
	}
	return acc
}

// relabelHostPorts turns host ports into plain ports and merges ports that
// then share (protocol, port): with host networking both are the same.
func relabelHostPorts(ports []Port) []Port {
	var out []Port
	for _, p := range ports {
		if p.HasHostPort {
			p.Port, p.HasPort = p.HostPort, true
			p.HostPort, p.HasHostPort = 0, false
		}
		i := slices.IndexFunc(out, func(q Port) bool { return q.Protocol == p.Protocol && q.HasPort == p.HasPort && q.Port == p.Port })
		if i < 0 {
			out = append(out, p)
			continue
		}
		out[i] = mergeInto(p, out[i])
	}
	return out
}

func sortLabels(ls []Label) []Label {
	slices.SortFunc(ls, func(a, b Label) int {
		return cmp.Or(cmp.Compare(a.Value, b.Value), cmp.Compare(a.Key, b.Key))
	})
	return slices.Compact(ls)
}
