package main

import (
	"flag"

	"github.com/sextantdc/sextant/internal/app"
)

// registerOverlayFlags adds the overlay role's flags to agent and master.
func registerOverlayFlags(fs *flag.FlagSet, c *app.OverlayConfig, masters *listFlag, agent bool) {
	fs.BoolVar(&c.Enable, "overlay", false, "run the VXLAN overlay (vtep1024, VNI 1024, UDP 64000; needs root): masters allocate VTEPs and 9.0.0.0/8 blocks, every node programs routes, ARP and FDB for its peers")
	fs.StringVar(&c.Addr, "overlay-addr", "", "overlay HTTP address ip:port: /overlay-agent/overlay, /metrics, /health, and on masters /overlay-master/state")
	fs.StringVar(&c.IP, "overlay-ip", "", "this node's underlay IP, where peers send VXLAN (default --node-ip)")
	fs.StringVar(&c.AgentConfig, "overlay-agent-config", "", "the agent module's agent.json (network_config: allocate_subnet, mesos_bridge, docker_bridge, overlay_mtu, …)")
	if agent {
		fs.Var(masters, "overlay-masters", "overlay master base URL (repeatable; followers redirect to the leader)")
		return
	}
	fs.StringVar(&c.Config, "overlay-config", "", "network configuration (JSON): config.yaml's dcos_overlay_* keys, master.json, or a dcos_overlay_network object; default 44.128.0.0/20 and dcos 9.0.0.0/8 /24")
	fs.StringVar(&c.StateFile, "overlay-state", "", "file keeping the allocations (a single master)")
	fs.StringVar(&c.ZK, "overlay-zk", "", "zk://host:port[,host:port…]/path: allocations in ZooKeeper, the elected master allocates (several masters)")
	fs.StringVar(&c.Advertise, "overlay-advertise", "", "this master's overlay URL, for the others' redirects (default http://--overlay-ip:port)")
	fs.Var(masters, "overlay-masters", "the other masters' overlay base URLs (repeatable), tried after this one")
}
