package mesos

import (
	"net/netip"
	"sort"
	"strconv"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
)

// Label keys of Mesos-DNS' "docker" and "mesos" IP sources.
const (
	dockerIPLabel = "Docker.NetworkSettings.IPAddress"
	mesosIPLabel  = "MesosContainerizer.NetworkSettings.IPAddress"
)

// HostsToResolve lists the host names (not IP literals) in the state's
// pids, framework host names and the leader's pid that a source resolves
// before translating, in a stable order without duplicates.
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
	if u, err := state.ParseUPID(st.Leader); err == nil {
		add(u.Host)
	}
	sort.Strings(out)
	return out
}

// Observe translates a Mesos state into the model's observation: pids
// parsed, ports expanded, each task's addresses taken per IP source from
// the status that Mesos-DNS and dcos-net read, health from the latest
// status. It does no I/O: host names are looked up in resolved. Items it
// cannot use are skipped or degraded and listed in Problems.
func Observe(st *state.State, resolved map[string][]netip.Addr) *model.MesosObservation {
	o := &model.MesosObservation{HostIPs: resolved}
	if o.HostIPs == nil {
		o.HostIPs = map[string][]netip.Addr{}
	}
	problem := func(item, field, reason string) {
		o.Problems = append(o.Problems, model.Problem{Item: item, Field: field, Reason: reason})
	}
	addrs := func(host string) []netip.Addr {
		if host == "" {
			return nil
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			return []netip.Addr{ip.Unmap()}
		}
		return o.HostIPs[host]
	}
	o.Leader = parseLeader(st.Leader)

	seen := make(map[string]bool, len(st.Slaves))
	o.Agents = make([]model.Agent, 0, len(st.Slaves))
	for _, sl := range st.Slaves {
		// Items are named only when a problem is reported: at 100,000
		// tasks quoting every name costs as much as the rest of Observe.
		item := func() string { return "agent " + strconv.Quote(sl.ID) }
		if sl.ID == "" {
			problem(item(), "id", "empty agent id")
			continue
		}
		if seen[sl.ID] {
			problem(item(), "id", "duplicate agent id; first one kept")
			continue
		}
		seen[sl.ID] = true
		a := model.Agent{ID: sl.ID, PID: sl.PID, Hostname: sl.Hostname}
		u, err := state.ParseUPID(sl.PID)
		if err != nil {
			// Mesos-DNS panicked (no pid) or failed the whole reload (bad
			// pid); the agent is kept so its tasks still resolve by their
			// own IPs, but it has no address of its own.
			problem(item(), "pid", err.Error())
		} else {
			a.Host = u.Host
			p, _ := strconv.ParseUint(u.Port, 10, 16)
			a.Port = uint16(p)
			a.Addrs = addrs(u.Host)
		}
		o.Agents = append(o.Agents, a)
	}

	n := 0
	for _, f := range st.Frameworks {
		n += len(f.Tasks)
	}
	o.Tasks = make([]model.Task, 0, n)
	o.Frameworks = make([]model.Framework, 0, len(st.Frameworks))
	for _, f := range st.Frameworks {
		fw := model.Framework{ID: f.ID, Name: f.Name, PID: f.PID, Hostname: f.Hostname, WebUIURL: f.WebUIURL,
			Active: f.Active == nil || *f.Active}
		item := "framework " + strconv.Quote(f.Name)
		if f.PID != "" {
			u, err := state.ParseUPID(f.PID)
			if err != nil {
				problem(item, "pid", err.Error())
			} else {
				fw.Host = u.Host
				p, _ := strconv.ParseUint(u.Port, 10, 16)
				fw.Port, fw.HasPort = uint16(p), true
			}
		} else {
			fw.Host = f.Hostname
		}
		fw.Addrs = addrs(fw.Host)
		fi := len(o.Frameworks)
		fw.First = len(o.Tasks)
		for i := range f.Tasks {
			o.Tasks = append(o.Tasks, observeTask(&f.Tasks[i], fi, f.Name, problem))
		}
		fw.End = len(o.Tasks)
		o.Frameworks = append(o.Frameworks, fw)
	}
	return o
}

func observeTask(t *state.Task, fi int, fname string, report func(item, field, reason string)) model.Task {
	problem := func(field, reason string) {
		report("task "+strconv.Quote(t.ID)+" of framework "+strconv.Quote(fname), field, reason)
	}
	task := model.Task{
		ID:        t.ID,
		Name:      t.Name,
		Framework: fi,
		AgentID:   t.SlaveID,
		Agent:     -1,
		Labels:    labels(t.Labels),
	}
	st, ok := model.ParseTaskState(t.State)
	if !ok && t.State != "" {
		problem("state", "unknown task state "+strconv.Quote(t.State))
	}
	task.State = st
	if d := t.Discovery; d != nil {
		md := &model.Discovery{Name: d.Name}
		if d.Ports != nil {
			md.Ports = make([]model.DiscoveryPort, len(d.Ports.Ports))
			for i, p := range d.Ports.Ports {
				md.Ports[i] = model.DiscoveryPort{Number: p.Number, Name: p.Name, Protocol: p.Protocol}
				if p.Labels != nil {
					md.Ports[i].Labels = labels(p.Labels.Labels)
				}
			}
		}
		task.Discovery = md
	}
	ranges, err := state.ParsePorts(t.Resources.Ports)
	if err != nil {
		problem("resources.ports", err.Error())
	}
	n := 0
	for _, r := range ranges {
		if r.End >= r.Begin && r.End-r.Begin <= 65535 {
			n += int(r.End-r.Begin) + 1
		}
	}
	if n > 0 {
		task.Ports = make([]uint64, 0, n)
	}
	for _, r := range ranges {
		if r.End < r.Begin || r.End-r.Begin > 65535 {
			problem("resources.ports", "range "+strconv.FormatUint(r.Begin, 10)+"-"+strconv.FormatUint(r.End, 10)+" skipped")
			continue
		}
		for p := r.Begin; p <= r.End; p++ {
			task.Ports = append(task.Ports, p)
		}
	}
	if c := t.Container; c != nil {
		task.Container = c.Type
		if c.Docker != nil {
			task.PortMappings = appendMappings(task.PortMappings, c.Docker.PortMappings)
		}
		for _, ni := range c.NetworkInfos {
			task.PortMappings = appendMappings(task.PortMappings, ni.PortMappings)
		}
	}
	task.MesosHealthCheck = t.HealthCheck != nil

	// Mesos-DNS reads addresses from the newest TASK_RUNNING status (on a
	// tie the earlier entry); dcos-net from the newest status of any state
	// (on a tie the later entry, as Mesos appends).
	var running, latest *state.Status
	for i := range t.Statuses {
		s := &t.Statuses[i]
		if s.State == "TASK_RUNNING" && (running == nil || s.Timestamp > running.Timestamp) {
			running = s
		}
		if latest == nil || s.Timestamp >= latest.Timestamp {
			latest = s
		}
	}
	if latest != nil {
		task.MesosHealthy = latest.Healthy
		if cs := latest.ContainerStatus; cs != nil {
			for _, ni := range cs.NetworkInfos {
				task.StatusPortMappings = appendMappings(task.StatusPortMappings, ni.PortMappings)
			}
			task.IPs = netInfoIPs(nil, cs.NetworkInfos)
		}
	}
	if running != nil {
		switch {
		case running == latest:
			// The common case: the running status is the latest; the
			// model's address lists are read-only, so one serves both.
			task.NetInfoIPs = task.IPs
		case running.ContainerStatus != nil:
			task.NetInfoIPs = netInfoIPs(nil, running.ContainerStatus.NetworkInfos)
		}
		for _, l := range running.Labels {
			switch l.Key {
			case dockerIPLabel:
				if ip, ok := parseIP(l.Value); ok {
					task.DockerIPs = append(task.DockerIPs, ip)
				}
			case mesosIPLabel:
				if ip, ok := parseIP(l.Value); ok {
					task.MesosIPs = append(task.MesosIPs, ip)
				}
			}
		}
	}
	if len(task.IPs) == 0 {
		task.IPs = task.NetInfoIPs
	}
	return task
}

// netInfoIPs appends the addresses of network infos: each one's
// ip_addresses, or the legacy single ip_address when it has none.
// Addresses that do not parse, or carry a zone, are dropped.
func netInfoIPs(buf []netip.Addr, nis []state.NetworkInfo) []netip.Addr {
	for _, ni := range nis {
		if len(ni.IPAddresses) > 0 {
			for _, a := range ni.IPAddresses {
				if ip, ok := parseIP(a.IPAddress); ok {
					buf = append(buf, ip)
				}
			}
		} else if ip, ok := parseIP(ni.IPAddress); ok {
			buf = append(buf, ip)
		}
	}
	return buf
}

func parseIP(s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

func labels(ls []state.Label) []model.Label {
	if len(ls) == 0 {
		return nil
	}
	out := make([]model.Label, len(ls))
	for i, l := range ls {
		out[i] = model.Label{Key: l.Key, Value: l.Value}
	}
	return out
}

func appendMappings(dst []model.PortMapping, pms []state.PortMapping) []model.PortMapping {
	for _, pm := range pms {
		dst = append(dst, model.PortMapping{HostPort: pm.HostPort, ContainerPort: pm.ContainerPort, Protocol: pm.Protocol})
	}
	return dst
}

func parseLeader(raw string) model.Leader {
	l := model.Leader{Raw: raw}
	u, err := state.ParseUPID(raw)
	if err != nil {
		return l
	}
	p, _ := strconv.ParseUint(u.Port, 10, 16)
	l.Host, l.Port, l.OK = u.Host, uint16(p), true
	return l
}
