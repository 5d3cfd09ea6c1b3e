package runtime

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/sextantdc/sextant/internal/marathon"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

// identity is the cluster's stable ids, kept in the state directory so a
// restart is the same cluster to its consumers.
type identity struct {
	MasterID string `json:"master_id"`
}

func (i identity) frameworkID() string { return i.MasterID + "-0000" }
func (i identity) agentID() string     { return i.MasterID + "-S0" }

func loadIdentity(dir string) (identity, error) {
	p := filepath.Join(dir, "cluster.json")
	var id identity
	if b, err := os.ReadFile(p); err == nil {
		if json.Unmarshal(b, &id) == nil && id.MasterID != "" {
			return id, nil
		}
	}
	id.MasterID = marathon.NewUUID()
	b, _ := json.Marshal(id)
	if err := writeAtomic(p, b); err != nil {
		return id, fmt.Errorf("runtime: %w", err)
	}
	return id, nil
}

// State returns the current Mesos master state (the master.Provider
// contract): never modified after it is returned.
func (r *Runtime) State() *state.State { return r.st.Load() }

// Changed returns a channel closed at the next state change.
func (r *Runtime) Changed() <-chan struct{} {
	r.chMu.Lock()
	defer r.chMu.Unlock()
	return r.changed
}

// publishLocked renders a fresh state and signals the change.
func (r *Runtime) publishLocked() {
	r.st.Store(r.renderLocked())
	r.chMu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.chMu.Unlock()
}

func ipUint32(ip string) uint32 {
	p := net.ParseIP(ip).To4()
	if p == nil {
		return 0
	}
	// Mesos stores the address in network byte order in a uint32 read
	// as little-endian on x86: reproduce that value.
	return binary.LittleEndian.Uint32(p)
}

// terminalLinger is how long a task that ended stays in the Mesos state.
const terminalLinger = 2 * time.Second

func (r *Runtime) renderLocked() *state.State {
	host, portStr, _ := net.SplitHostPort(r.cfg.MesosAddr)
	mport, _ := strconv.Atoi(portStr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = r.cfg.IP
	}
	pid := "master@" + net.JoinHostPort(host, portStr)
	active := true
	st := &state.State{
		ID: r.ident.MasterID, PID: pid, Hostname: r.cfg.Hostname, Version: "1.11.0", Leader: pid,
		LeaderInfo: &state.MasterInfo{ID: r.ident.MasterID, IP: ipUint32(host), Port: mport, PID: pid, Hostname: r.cfg.Hostname,
			Version: "1.11.0", Address: &state.Address{Hostname: r.cfg.Hostname, IP: host, Port: mport}},
		Slaves: []state.Slave{{ID: r.ident.agentID(), PID: "slave(1)@" + net.JoinHostPort(r.cfg.IP, "5051"),
			Hostname: r.cfg.Hostname, Active: &active,
			Resources: &state.Resources{CPUs: float64(r.cfg.MaxTasks), Mem: 1 << 20, Disk: 1 << 20,
				Ports: fmt.Sprintf("[%d-%d]", r.cfg.PortMin, r.cfg.PortMax)}}},
	}
	fw := state.Framework{ID: r.ident.frameworkID(), Name: "marathon", PID: "scheduler-" + r.ident.MasterID + "@" + net.JoinHostPort(r.cfg.IP, "8080"),
		Hostname: r.cfg.Hostname, Active: &active, WebUIURL: r.cfg.MarathonURL, Tasks: []state.Task{}}
	var ts []*task
	for _, ar := range r.apps {
		for _, t := range ar.tasks {
			ts = append(ts, t)
		}
	}
	// Terminal tasks stay listed briefly so that pollers and diffing
	// stream servers see the terminal state before the task disappears
	// (Mesos moves them to completed_tasks).
	cut := time.Now().Add(-terminalLinger)
	for i := len(r.completed) - 1; i >= 0; i-- {
		t := r.completed[i]
		if len(t.statuses) == 0 || time.Unix(0, int64(t.statuses[len(t.statuses)-1].Timestamp*1e9)).Before(cut) {
			break
		}
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].id < ts[j].id })
	for _, t := range ts {
		fw.Tasks = append(fw.Tasks, r.mesosTask(t))
	}
	st.Frameworks = []state.Framework{fw}
	return st
}

func (r *Runtime) mesosTask(t *task) state.Task {
	a := t.app
	var ranges []state.PortRange
	for _, p := range t.ports {
		if p > 0 {
			ranges = append(ranges, state.PortRange{Begin: uint64(p), End: uint64(p)})
		}
	}
	res := state.Resources{CPUs: a.CPUs, Mem: a.Mem, Disk: a.Disk}
	if len(ranges) > 0 {
		res.Ports = state.FormatPorts(ranges)
	}
	mt := state.Task{ID: t.id, Name: marathon.TaskName(a.ID), FrameworkID: r.ident.frameworkID(), ExecutorID: "",
		SlaveID: r.ident.agentID(), State: t.state, Resources: res, Statuses: append([]state.Status(nil), t.statuses...),
		Labels: marathon.TaskLabels(a), Discovery: marathon.Discovery(a, t.ports)}
	if a.NetworkMode() != marathon.ModeHost {
		// One network info per requested network (the Mesos bridge for
		// container/bridge), with the port mappings that have a host port.
		c := &state.Container{Type: "MESOS"}
		for _, n := range a.Networks {
			name := n.Name
			if n.Mode == marathon.ModeBridge {
				name = "mesos-bridge"
			}
			ni := state.NetworkInfo{Name: name, IPAddresses: []state.IPAddress{{Protocol: "IPv4", IPAddress: t.ip}}}
			if len(n.Labels) > 0 {
				ni.Labels = &state.Labels{}
				for _, k := range sortedLabelKeys(n.Labels) {
					ni.Labels.Labels = append(ni.Labels.Labels, state.Label{Key: k, Value: n.Labels[k]})
				}
			}
			for i, pm := range a.Container.PortMappings {
				if i >= len(t.ports) || t.ports[i] == 0 {
					continue
				}
				if len(pm.NetworkNames) > 0 && n.Mode == marathon.ModeContainer && !containsName(pm.NetworkNames, n.Name) {
					continue
				}
				cp := pm.ContainerPort
				if cp == 0 {
					cp = t.ports[i]
				}
				ni.PortMappings = append(ni.PortMappings, state.PortMapping{HostPort: uint32(t.ports[i]), ContainerPort: uint32(cp), Protocol: pm.Protocol})
			}
			c.NetworkInfos = append(c.NetworkInfos, ni)
		}
		mt.Container = c
	}
	for _, hc := range a.HealthChecks {
		if hc.IsMesos() {
			typ := map[string]string{"MESOS_HTTP": "HTTP", "MESOS_HTTPS": "HTTP", "MESOS_TCP": "TCP", "COMMAND": "COMMAND"}[hc.Protocol]
			mt.HealthCheck = &state.HealthCheck{Type: typ}
			break
		}
	}
	return mt
}

func sortedLabelKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func containsName(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
