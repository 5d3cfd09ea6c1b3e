package api

import "encoding/json"

// Constant VXLAN parameters of every DC/OS overlay (§C.2 step 3).
const (
	VNI       = 1024
	VTEPName  = "vtep1024"
	VXLANPort = 64000
)

// Overlay states.
const (
	StatusInvalid     = "STATUS_INVALID"
	StatusOK          = "STATUS_OK"
	StatusFailed      = "STATUS_FAILED"
	StatusConfiguring = "STATUS_CONFIGURING"
)

// State is GET /overlay-master/state.
type State struct {
	Network json.RawMessage `json:"network"`
	Agents  []AgentInfo     `json:"agents"`
}

// AgentInfo is one agent's allocation; also GET /overlay-agent/overlay.
type AgentInfo struct {
	IP                    string         `json:"ip"`
	Overlays              []AgentOverlay `json:"overlays"`
	ConfigurationAttempts int            `json:"configuration_attempts,omitempty"`
}

// AgentOverlay is an agent's share of one overlay.
type AgentOverlay struct {
	Info         OverlayInfo  `json:"info"`
	Subnet       string       `json:"subnet,omitempty"`
	Subnet6      string       `json:"subnet6,omitempty"`
	MesosBridge  *Bridge      `json:"mesos_bridge,omitempty"`
	DockerBridge *Bridge      `json:"docker_bridge,omitempty"`
	Backend      Backend      `json:"backend"`
	State        OverlayState `json:"state"`
}

// OverlayInfo echoes the overlay's configuration.
type OverlayInfo struct {
	Name    string `json:"name"`
	Subnet  string `json:"subnet,omitempty"`
	Prefix  int    `json:"prefix,omitempty"`
	Subnet6 string `json:"subnet6,omitempty"`
	Prefix6 int    `json:"prefix6,omitempty"`
}

// Bridge is a bridge and its half of the agent's block.
type Bridge struct {
	Name string `json:"name"`
	IP   string `json:"ip,omitempty"`
	IP6  string `json:"ip6,omitempty"`
}

// Backend holds the encapsulation; VXLAN is the only one.
type Backend struct {
	VXLAN *VXLAN `json:"vxlan,omitempty"`
}

// VXLAN is the agent's tunnel endpoint.
type VXLAN struct {
	VNI      uint32 `json:"vni"`
	VTEPName string `json:"vtep_name"`
	VTEPIP   string `json:"vtep_ip"`
	VTEPIP6  string `json:"vtep_ip6,omitempty"`
	VTEPMAC  string `json:"vtep_mac"`
	VTEPMTU  int    `json:"vtep_mtu,omitempty"`
}

// OverlayState is the agent's report of configuring one overlay.
type OverlayState struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Registration is what an agent sends (RegisterAgentMessage): its IP and
// the parts of its network_config that shape the allocation.
type Registration struct {
	IP             string `json:"ip"`
	AllocateSubnet bool   `json:"allocate_subnet"`
	MesosBridge    bool   `json:"mesos_bridge"`
	DockerBridge   bool   `json:"docker_bridge"`
	EnableIPv6     bool   `json:"enable_ipv6"`
}

// DeleteRequest is POST /overlay-master/agents/delete.
type DeleteRequest struct {
	Agents []string `json:"agents"`
}
