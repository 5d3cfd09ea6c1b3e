package edge

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"

	"github.com/sextantdc/sextant/internal/model"
)

// servicePorts are an app's service ports by index (marathon-lb's
// get_service_ports, spec §3.2): the service ports of its port mappings
// or port definitions, skipping ports without one; for an IP-per-task app
// Marathon gave none, ports assigned from the range. 0 marks an index
// whose assignment failed (the range is exhausted): the index counts, but
// has no service.
//
// The model keeps one port list per app (mappings in bridge and container
// mode, else definitions), which is what marathon-lb reads in every mode
// but one: a container-mode app whose mappings all lack a service port
// falls back to its port definitions in marathon-lb, and Marathon gives
// such apps none. A service port of 0 is no service port here (Marathon
// never reports 0 for an assigned port).
func (b *builder) servicePorts(a *app) []int {
	var out []int
	for _, p := range a.src.Ports {
		if p.ServicePort != 0 {
			out = append(out, int(p.ServicePort))
		}
	}
	if len(out) > 0 || a.src.Network != model.NetworkContainer || !b.assign.enabled || len(a.tasks) == 0 {
		return out
	}
	for _, tp := range b.taskPorts(a, a.tasks[0].t) {
		out = append(out, b.assign.port(a.id, tp))
	}
	return out
}

// taskPorts are the ports a task serves, by index (get_app_task_ports):
// host mode: the task's ports, else the definitions' ports; bridge: the
// task's ports, else the mappings' container ports; container mode: the
// container ports (discovery ports or mappings), never a host port. The
// model keeps mappings before discovery ports where marathon-lb prefers
// discovery ports; an app has one or the other.
func (b *builder) taskPorts(a *app, t *model.AppTask) []int {
	var out []int
	switch a.src.Network {
	case model.NetworkHost, model.NetworkBridge:
		for _, p := range t.Ports {
			out = append(out, int(p))
		}
		if len(out) > 0 {
			return out
		}
		for _, p := range a.src.Ports {
			switch {
			case a.src.Network == model.NetworkBridge && (p.HasHostPort || p.ContainerPort != 0):
				// A mapping (the decoder gives every bridge mapping a host
				// port): its container port.
				out = append(out, int(p.ContainerPort))
			case p.ServicePort != 0:
				out = append(out, int(p.ServicePort))
			}
		}
	default:
		// Container mode: the mappings' (or ≤1.4 discovery) container
		// ports, 0 included. Marathon gives a container-network app without
		// mappings a default one with container port 0, and marathon-lb
		// then routes to port 0 of the task's IP (its CI app ucr_ippc
		// overrides BACKEND_SERVER_OPTIONS to name port 80 for that reason).
		// Marathon allows no port definitions off the host network, so
		// these ports are mappings.
		for _, p := range a.src.Ports {
			out = append(out, int(p.ContainerPort))
		}
	}
	return out
}

// taskIP is where a task is reached: its first IP in container mode,
// else its agent's address.
func (b *builder) taskIP(a *app, t *model.AppTask) (string, bool) {
	if a.src.Network == model.NetworkContainer {
		if len(t.IPAddresses) == 0 {
			return "", false
		}
		return t.IPAddresses[0].String(), true
	}
	return b.o.resolve(t.Host)
}

// portAssigner is marathon-lb's ServicePortAssigner (spec §4.5): a
// deterministic service port per (app id, task port) from a range,
// cleared at every generation, so that every marathon-lb instance
// assigns the same ports for the same apps.
type portAssigner struct {
	enabled  bool
	min, max int
	byApp    map[assignKey]int
	used     map[int]bool
}

type assignKey struct {
	app  string
	port int
}

const maxClashes = 50

func newPortAssigner(r PortRange, enabled bool) portAssigner {
	return portAssigner{enabled: enabled, min: r.Min, max: r.Max, byApp: map[assignKey]int{}, used: map[int]bool{}}
}

func (p *portAssigner) port(app string, taskPort int) int {
	k := assignKey{app, taskPort}
	if got := p.byApp[k]; got != 0 {
		return got
	}
	size := p.max - p.min + 1
	port := 0
	if len(p.byApp) < size {
		for i := range maxClashes {
			sum := sha1.Sum([]byte(app + "-" + strconv.Itoa(taskPort) + "-" + strconv.Itoa(i)))
			h, _ := strconv.ParseUint(hex.EncodeToString(sum[:4]), 16, 64)
			if trial := p.min + int(h%uint64(size)); !p.used[trial] {
				port = trial
				break
			}
		}
		if port == 0 {
			for c := p.min; c <= p.max; c++ {
				if !p.used[c] {
					port = c
					break
				}
			}
		}
	}
	// An exhausted range records None, which is not kept: marathon-lb's
	// `get(key) or assign` tries again for the next index and fails again.
	p.byApp[k] = port
	if port != 0 {
		p.used[port] = true
	}
	return port
}
