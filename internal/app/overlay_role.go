package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/overlay/config"
	overlaysrc "github.com/sextantdc/sextant/internal/source/overlay"
)

// OverlayConfig is the overlay role of `sextant master` and `sextant
// agent` (the --overlay-* flags). Masters allocate (and run the agent
// part without bridges, so they reach containers); agents register with
// the masters and program their kernel.
type OverlayConfig struct {
	// Enable runs the role (--overlay).
	Enable bool
	// Config is the network (--overlay-config, masters): a JSON file with
	// config.yaml's dcos_overlay_* keys, the master module's master.json,
	// or a bare dcos_overlay_network object. Empty: the DC/OS default
	// (44.128.0.0/20, dcos 9.0.0.0/8 /24).
	Config string
	// AgentConfig is the agent module's agent.json (--overlay-agent-config).
	AgentConfig string
	// Addr serves /overlay-master/*, /overlay-agent/overlay, /metrics and
	// /health (--overlay-addr).
	Addr string
	// IP is this node's underlay address, where peers send VXLAN
	// (--overlay-ip; default --node-ip).
	IP string
	// Masters are the overlay masters' base URLs (--overlay-masters,
	// agents; a master uses itself too).
	Masters []string
	// StateFile persists a single master's allocations (--overlay-state).
	StateFile string
	// ZK is zk://host:port[,host:port]/path for several masters: the
	// allocations live there and the elected leader allocates (--overlay-zk).
	ZK string
	// Advertise is the URL other masters redirect agents to
	// (--overlay-advertise; default http://IP:port of Addr).
	Advertise string
}

// loadNetwork reads the network configuration in any of its three forms.
func loadNetwork(path string, log *slog.Logger) (config.Network, error) {
	if path == "" {
		return config.Default(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return config.Network{}, fmt.Errorf("--overlay-config: %w", err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return config.Network{}, fmt.Errorf("--overlay-config %s: not a JSON object: %w", path, err)
	}
	var n config.Network
	var probs []config.Problem
	switch {
	case keys["dcos_overlay_network"] != nil || keys["dcos_overlay_enable"] != nil:
		var c config.Cluster
		c, probs, err = config.ParseCluster(b)
		if err == nil && !c.Enable {
			err = errors.New("dcos_overlay_enable is false")
		}
		n = c.Network
	case keys["network"] != nil:
		var m config.Master
		m, probs, err = config.ParseMaster(b)
		n = m.Network
	default:
		n, probs, err = config.ParseNetwork(bytes.TrimSpace(b), "")
	}
	if err != nil {
		return config.Network{}, fmt.Errorf("--overlay-config %s: %w", path, err)
	}
	for _, p := range probs {
		log.Warn("overlay config: skipped", "file", path, "problem", p.String())
	}
	return n, nil
}

// loadAgentConfig reads agent.json, or the module's defaults (a master
// gets no bridges).
func loadAgentConfig(path string, master bool, log *slog.Logger) (config.Agent, error) {
	if path == "" {
		if master {
			return config.MasterAgent(), nil
		}
		return config.DefaultAgent(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return config.Agent{}, fmt.Errorf("--overlay-agent-config: %w", err)
	}
	a, probs, err := config.ParseAgent(b)
	if err != nil {
		return config.Agent{}, fmt.Errorf("--overlay-agent-config %s: %w", path, err)
	}
	for _, p := range probs {
		log.Warn("overlay agent config: ignored", "file", path, "problem", p.String())
	}
	return a, nil
}

// overlaySource adds the overlay source: the overlay master's allocations
// become the snapshots' Overlay.
func (p *pipeline) overlaySource(urls []string) error {
	src, err := overlaysrc.New(overlaysrc.Options{URLs: urls, Logger: p.log.With("component", "overlay-source")}, p.hub)
	if err != nil {
		return err
	}
	p.hub.Register(hub.Overlay)
	p.runs = append(p.runs, namedRun{"overlay source", src.Run})
	return nil
}
