package runtime

import (
	"errors"
	"fmt"

	"github.com/sextantdc/sextant/internal/marathon"
)

// ContainerNetworks gives tasks that ask for a named container network
// (networks: [{mode: container, name: …}], or the old
// ipAddress.networkName) a network namespace of their own on it.
type ContainerNetworks interface {
	// Join creates the task's namespace on network and returns it.
	Join(taskID, network string) (Joined, error)
	// Leave removes the task's namespace and frees its address; a task
	// that never joined is no error.
	Leave(taskID string)
}

// Joined is a task's place on a container network.
type Joined struct {
	// IP is the task's address (its ipAddresses and network_infos).
	IP string
	// Enter runs start on a thread inside the task's namespace, so that a
	// process started there lives in it.
	Enter func(start func() error) error
}

// ErrNoContainerNetworks is the launch error of a task asking for a
// container network when the runtime has none.
var ErrNoContainerNetworks = errors.New("container networks are unavailable")

// containerNetwork is the name of the container network a task of a asks
// for, or "".
func containerNetwork(a *marathon.App) string {
	if a.NetworkMode() != marathon.ModeContainer {
		return ""
	}
	for _, n := range a.Networks {
		if n.Mode == marathon.ModeContainer && n.Name != "" {
			return n.Name
		}
	}
	return ""
}

// joinNetwork attaches t to its app's container network, if it asks for
// one; the error is the launch failure's message.
func (r *Runtime) joinNetwork(t *task) (*Joined, error) {
	name := containerNetwork(t.app)
	if name == "" {
		return nil, nil
	}
	if r.cfg.Networks == nil {
		reason := r.cfg.NetworksUnavailable
		if reason == "" {
			reason = "this runtime has none"
		}
		return nil, fmt.Errorf("network %q: %w: %s", name, ErrNoContainerNetworks, reason)
	}
	j, err := r.cfg.Networks.Join(t.id, name)
	if err != nil {
		return nil, fmt.Errorf("network %q: %w", name, err)
	}
	t.ip, t.network = j.IP, name
	return &j, nil
}

// leaveNetwork releases t's container network, if it joined one.
func (r *Runtime) leaveNetwork(t *task) {
	if t.network != "" && r.cfg.Networks != nil {
		r.cfg.Networks.Leave(t.id)
	}
}

// taskIP is the address a task is reported at: its container network's,
// else the agent's.
func (r *Runtime) taskIP(t *task) string {
	if t.ip != "" {
		return t.ip
	}
	return r.cfg.IP
}
