package model

import (
	"net"
	"net/netip"
	"time"
)

// OverlayObservation is what the overlay source saw in one read of the
// overlay master's state: every agent's VTEP and blocks. Container IPs
// are not here: they are the tasks' own (Task.IPs, from the network
// infos), and DNS, VIPs and the edge read them there.
type OverlayObservation struct {
	Agents   []OverlayAgent // sorted by IP, each IP once
	Problems []Problem
	Fetched  time.Time
	From     string
}

// OverlayAgent is one node's overlay endpoint.
type OverlayAgent struct {
	IP      netip.Addr   // the node's underlay address
	VTEP    netip.Prefix // e.g. 44.128.0.2/20
	VTEP6   netip.Prefix // invalid when none
	MAC     net.HardwareAddr
	Subnets []OverlaySubnet
}

// OverlaySubnet is a node's block of one overlay and the halves its
// bridges hold (invalid when the node has no such bridge).
type OverlaySubnet struct {
	Overlay      string       // "dcos"
	Space        netip.Prefix // the overlay's whole space, 9.0.0.0/8
	Block        netip.Prefix // the node's, 9.0.1.0/24 (or its IPv6 block)
	MesosBridge  netip.Prefix // 9.0.1.0/25
	DockerBridge netip.Prefix // 9.0.1.128/25
	Status       string       // the node's report: STATUS_OK, …
}

// OverlayAgentFor returns the overlay endpoint of the node with the
// address ip.
func (s *Snapshot) OverlayAgentFor(ip netip.Addr) (*OverlayAgent, bool) {
	if s.Overlay == nil {
		return nil, false
	}
	for i := range s.Overlay.Agents {
		if s.Overlay.Agents[i].IP == ip {
			return &s.Overlay.Agents[i], true
		}
	}
	return nil, false
}
