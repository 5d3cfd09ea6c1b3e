package model

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// netPorts merges a task's ports as dcos-net does (§B.1):
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
// Items that cannot be used are skipped and reported through problem.
func netPorts(t *Task, problem func(field, reason string)) []TaskPort {
	pms := t.PortMappings
	pmField := "container.port_mappings"
	if len(pms) == 0 {
		pms = t.StatusPortMappings
		pmField = "statuses.container_status.network_infos.port_mappings"
	}
	var mappings []TaskPort
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
		mappings = append(mappings, TaskPort{Protocol: proto, Port: pm.ContainerPort, HasPort: true, HostPort: pm.HostPort, HasHostPort: true})
	}

	var legacy []TaskPort
	for _, l := range t.Labels {
		if len(l.Key) < len("vip_port") || !strings.EqualFold(l.Key[:len("vip_port")], "vip_port") {
			continue
		}
		field := "labels." + l.Key
		idx, err := strconv.Atoi(l.Key[len("vip_port"):])
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
		legacy = append(legacy, TaskPort{Protocol: proto, HostPort: uint32(t.Ports[idx]), HasHostPort: true,
			VIPs: []VIPLabel{{Key: l.Key, Value: spec}}})
	}

	var disc []TaskPort
	if t.Discovery != nil {
		for i, dp := range t.Discovery.Ports {
			field := "discovery.ports[" + strconv.Itoa(i) + "]"
			proto, err := ParseProtocol(dp.Protocol)
			if err != nil {
				problem(field+".protocol", err.Error())
				continue
			}
			p := TaskPort{Name: dp.Name, Protocol: proto}
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
			for _, l := range dp.Labels {
				// dcos-net matches the prefix case-sensitively: VIP… or vip….
				if strings.HasPrefix(l.Key, "VIP") || strings.HasPrefix(l.Key, "vip") {
					p.VIPs = append(p.VIPs, VIPLabel{Key: l.Key, Value: l.Value})
				}
			}
			disc = append(disc, p)
		}
	}

	ports := mergePorts(mergePorts(mappings, legacy), disc)
	if len(t.IPs) == 1 && t.IPs[0] == t.AgentIP {
		ports = relabelHostPorts(ports)
	}
	for i := range ports {
		ports[i].VIPs = sortVIPLabels(ports[i].VIPs)
	}
	return ports
}

// portScope reads the network-scope label: "" (absent), "host" or
// "container"; false for several values or another value.
func portScope(ls []Label) (string, bool) {
	var vals []string
	for _, l := range ls {
		if l.Key == "network-scope" {
			vals = append(vals, l.Value)
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

func matchPort(a, b *TaskPort) bool {
	if a.Protocol != b.Protocol {
		return false
	}
	return (a.HasPort && b.HasPort && a.Port == b.Port) || (a.HasHostPort && b.HasHostPort && a.HostPort == b.HostPort)
}

// mergeInto merges a into b: a's fields win, VIP labels are unioned.
func mergeInto(b, a TaskPort) TaskPort {
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
func mergePorts(from, into []TaskPort) []TaskPort {
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
func relabelHostPorts(ports []TaskPort) []TaskPort {
	var out []TaskPort
	for _, p := range ports {
		if p.HasHostPort {
			p.Port, p.HasPort = p.HostPort, true
			p.HostPort, p.HasHostPort = 0, false
		}
		i := slices.IndexFunc(out, func(q TaskPort) bool { return q.Protocol == p.Protocol && q.HasPort == p.HasPort && q.Port == p.Port })
		if i < 0 {
			out = append(out, p)
			continue
		}
		out[i] = mergeInto(p, out[i])
	}
	return out
}

func sortVIPLabels(ls []VIPLabel) []VIPLabel {
	slices.SortFunc(ls, func(a, b VIPLabel) int {
		return cmp.Or(cmp.Compare(a.Value, b.Value), cmp.Compare(a.Key, b.Key))
	})
	return slices.Compact(ls)
}

// HasHostPort reports whether any of the task's merged ports is a host
// port (dcos-dns' autoip rule).
func (t *Task) HasHostPort() bool {
	for _, p := range t.NetPorts {
		if p.HasHostPort {
			return true
		}
	}
	return false
}

// HasVIPLabels reports whether the task declares any VIP label, valid or
// not (legacy VIP_PORT task labels, or VIP labels on discovery ports).
func (t *Task) HasVIPLabels() bool {
	for _, l := range t.Labels {
		if len(l.Key) >= 8 && (l.Key[:8] == "VIP_PORT" || l.Key[:8] == "vip_port") {
			return true
		}
	}
	if t.Discovery != nil {
		for _, p := range t.Discovery.Ports {
			for _, l := range p.Labels {
				if len(l.Key) >= 3 && (l.Key[:3] == "VIP" || l.Key[:3] == "vip") {
					return true
				}
			}
		}
	}
	return false
}
