package model

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BuildOptions are the inputs of Build besides the observations.
type BuildOptions struct {
	Version uint64
	Now     time.Time
	// Sources are copied into Snapshot.Sources.
	Sources []SourceVersion
}

// Build merges the observations into a Snapshot. It does no I/O, never
// fails and does not modify the observations: unusable items are skipped
// or degraded and listed in Problems.
//
// What it computes, once, for every reader:
//   - per agent, its dcos-net address (Agent.IP);
//   - per task, its agent and agent address, its merged ports (NetPorts,
//     for running and killing tasks), the Marathon app and task behind it,
//     and its health merged from Mesos and Marathon;
//   - per Marathon task, its health verdict, its endpoints by network mode
//     and the Mesos task it is.
func Build(obs Observations, o BuildOptions) *Snapshot {
	s := &Snapshot{Version: o.Version, Built: o.Now, Sources: slices.Clone(o.Sources)}
	if m := obs.Mesos; m != nil {
		s.Leader = m.Leader
		s.Masters = m.Masters
		s.HostIPs = m.HostIPs
		s.Agents = slices.Clone(m.Agents)
		s.Frameworks = slices.Clone(m.Frameworks)
		s.Tasks = slices.Clone(m.Tasks)
		s.Problems = append(s.Problems, m.Problems...)
	}
	if s.HostIPs == nil {
		s.HostIPs = map[string][]netip.Addr{}
	}
	if obs.Items != nil {
		s.Items = obs.Items.Items
	}
	if obs.Overlay != nil {
		s.Overlay = obs.Overlay
		s.Problems = append(s.Problems, obs.Overlay.Problems...)
	}
	s.agentIdx = make(map[string]int, len(s.Agents))
	for i := range s.Agents {
		a := &s.Agents[i]
		if _, dup := s.agentIdx[a.ID]; dup {
			continue // the source reports duplicates; the first one wins
		}
		s.agentIdx[a.ID] = i
		if !a.IP.IsValid() {
			a.IP = s.agentIP(a)
		}
	}

	// Marathon's tasks by id, to join them with Mesos' tasks.
	type ref struct{ app, task int }
	var byTask map[string]ref
	if m := obs.Marathon; m != nil {
		s.Apps = slices.Clone(m.Apps)
		s.Problems = append(s.Problems, m.Problems...)
		s.appIdx = make(map[string]int, len(s.Apps))
		n := 0
		for i := range s.Apps {
			n += len(s.Apps[i].Tasks)
		}
		byTask = make(map[string]ref, n)
		for i := range s.Apps {
			a := &s.Apps[i]
			if _, dup := s.appIdx[a.ID]; dup {
				s.problem("app "+strconv.Quote(a.ID), "id", "duplicate app id; first one kept")
				continue
			}
			s.appIdx[a.ID] = i
			a.Tasks = slices.Clone(a.Tasks)
			for j := range a.Tasks {
				at := &a.Tasks[j]
				at.Mesos = -1
				at.Health = marathonHealth(at.HealthResults)
				byTask[at.ID] = ref{i, j}
			}
		}
	}

	for fi := range s.Frameworks {
		f := &s.Frameworks[fi]
		if f.First < 0 || f.End > len(s.Tasks) || f.First > f.End {
			// A source bug, not bad input; keep the snapshot usable.
			s.problem("framework "+strconv.Quote(f.Name), "tasks", "task range out of bounds; tasks dropped")
			f.First, f.End = 0, 0
			continue
		}
		for ti := f.First; ti < f.End; ti++ {
			s.Tasks[ti].Framework = fi
		}
	}
	for ti := range s.Tasks {
		t := &s.Tasks[ti]
		t.Agent = -1
		t.AgentIP = netip.Addr{}
		if i, ok := s.agentIdx[t.AgentID]; ok {
			t.Agent = i
			t.AgentIP = s.Agents[i].IP
		}
		t.App, t.AppTask = nil, nil
		if r, ok := byTask[t.ID]; ok {
			t.App = &s.Apps[r.app]
			t.AppTask = &s.Apps[r.app].Tasks[r.task]
			t.AppTask.Mesos = ti
		}
		t.Health, t.HealthChecked = taskHealth(t)
		if t.App == nil && !t.HealthChecked {
			// A task Marathon does not list yet (its event stream lags the
			// Mesos one by a refetch) is still its app's: with health checks
			// it serves once a result says so, not from its first second,
			// when its process may not listen yet.
			if a := s.appOfTaskID(t.ID); a != nil && len(a.HealthChecks) > 0 {
				t.HealthChecked = true
			}
		}
		t.NetPorts = nil
		if t.State == TaskRunning || t.State == TaskKilling {
			t.NetPorts = netPorts(t, func(field, reason string) { s.problem(s.TaskItem(t), field, reason) })
		}
	}
	for i := range s.Apps {
		a := &s.Apps[i]
		for j := range a.Tasks {
			at := &a.Tasks[j]
			at.Endpoints = s.endpoints(a, at)
		}
	}
	return s
}

// WithItems returns the snapshot prev with other cluster items: what
// Build would return for prev's observations and these items, without
// rebuilding the tasks (items change on their own, often, and are small).
// prev is not modified; the result shares everything else with it.
func WithItems(prev *Snapshot, items *ItemsObservation, o BuildOptions) *Snapshot {
	s := *prev
	s.Version, s.Built, s.Sources = o.Version, o.Now, slices.Clone(o.Sources)
	s.Items = nil
	if items != nil {
		s.Items = items.Items
	}
	return &s
}

// Item returns the cluster item with the given name.
func (s *Snapshot) Item(name string) (Item, bool) {
	i, ok := slices.BinarySearchFunc(s.Items, name, func(it Item, n string) int { return strings.Compare(it.Name, n) })
	if !ok {
		return Item{}, false
	}
	return s.Items[i], true
}

func (s *Snapshot) problem(item, field, reason string) {
	s.Problems = append(s.Problems, Problem{Item: item, Field: field, Reason: reason})
}

// agentIP is dcos-net's agent address: the first IPv4 address of the
// agent (from its pid, or its resolved host name), else its first address.
func (s *Snapshot) agentIP(a *Agent) netip.Addr {
	addrs := a.Addrs
	if len(addrs) == 0 && a.Hostname != "" {
		if ip, err := netip.ParseAddr(a.Hostname); err == nil {
			addrs = []netip.Addr{ip.Unmap()}
		} else {
			addrs = s.HostIPs[a.Hostname]
		}
	}
	for _, ip := range addrs {
		if ip.Is4() {
			return ip
		}
	}
	if len(addrs) > 0 {
		return addrs[0]
	}
	return netip.Addr{}
}

// marathonHealth: healthy when at least one result is alive (Marathon
// marks a task healthy when any of its checks succeeds, and marathon-lb
// reads results the same way since 2019), unhealthy when there are results
// and none is alive, unknown without results.
func marathonHealth(rs []HealthResult) Health {
	if len(rs) == 0 {
		return HealthUnknown
	}
	for _, r := range rs {
		if r.Alive {
			return Healthy
		}
	}
	return Unhealthy
}

// taskHealth merges Mesos' latest health report with Marathon's verdict:
// either one saying unhealthy wins (a failing check must take the task out
// of rotation whoever runs it), then either one saying healthy. The task is
// health-checked when Mesos runs a check or the Marathon app defines one.
func taskHealth(t *Task) (Health, bool) {
	mesos := HealthUnknown
	if t.MesosHealthy != nil {
		mesos = Unhealthy
		if *t.MesosHealthy {
			mesos = Healthy
		}
	}
	marathon := HealthUnknown
	checked := t.MesosHealthCheck
	if t.AppTask != nil {
		marathon = t.AppTask.Health
	}
	if t.App != nil && len(t.App.HealthChecks) > 0 {
		checked = true
	}
	switch {
	case mesos == Unhealthy || marathon == Unhealthy:
		return Unhealthy, checked
	case mesos == Healthy || marathon == Healthy:
		return Healthy, checked
	}
	return HealthUnknown, checked
}

// endpoints applies the §1.3 table: where each app port of a task is
// reached, by the app's network mode.
func (s *Snapshot) endpoints(a *App, t *AppTask) []Endpoint {
	if len(a.Ports) == 0 && len(t.Ports) == 0 {
		return nil
	}
	hostAddr := func() netip.Addr {
		if ip, err := netip.ParseAddr(t.Host); err == nil {
			return ip.Unmap()
		}
		if ag, ok := s.AgentByID(t.SlaveID); ok && ag.IP.IsValid() {
			return ag.IP
		}
		if as := s.HostIPs[t.Host]; len(as) > 0 {
			return as[0]
		}
		return netip.Addr{}
	}
	var out []Endpoint
	switch a.Network {
	case NetworkContainer:
		if len(t.IPAddresses) == 0 {
			return nil
		}
		ip := t.IPAddresses[0]
		for i, p := range a.Ports {
			if p.ContainerPort == 0 {
				continue
			}
			out = append(out, Endpoint{Index: i, Name: p.Name, Host: ip.String(), Addr: ip, Port: p.ContainerPort,
				ServicePort: p.ServicePort, Protocol: p.Protocol})
		}
	default: // host and bridge: the agent, at the allocated host ports
		addr := hostAddr()
		n := max(len(a.Ports), len(t.Ports))
		for i := range n {
			var ap AppPort
			if i < len(a.Ports) {
				ap = a.Ports[i]
			}
			port := uint16(0)
			switch {
			case i < len(t.Ports):
				port = t.Ports[i]
			case a.Network == NetworkHost:
				// No allocated ports reported: the definition's port,
				// which is the host port with requirePorts.
				port = ap.ServicePort
			}
			if port == 0 {
				continue
			}
			if ap.Protocol == "" {
				ap.Protocol = "tcp"
			}
			out = append(out, Endpoint{Index: i, Name: ap.Name, Host: t.Host, Addr: addr, Port: port,
				ServicePort: ap.ServicePort, Protocol: ap.Protocol})
		}
	}
	return out
}

// appOfTaskID is the Marathon app a task id names: "<app id, '/' as
// '_'>.instance-…" (or ".marathon-…"), or the legacy "<app id>.<uuid>";
// nil when no such app is known.
func (s *Snapshot) appOfTaskID(id string) *App {
	if s.appIdx == nil {
		return nil
	}
	safe := ""
	for _, sep := range []string{".instance-", ".marathon-"} {
		if i := strings.Index(id, sep); i > 0 {
			safe = id[:i]
			break
		}
	}
	if safe == "" {
		i := strings.LastIndexByte(id, '.')
		if i <= 0 {
			return nil
		}
		safe = id[:i]
	}
	if i, ok := s.appIdx["/"+strings.ReplaceAll(safe, "_", "/")]; ok {
		return &s.Apps[i]
	}
	return nil
}
