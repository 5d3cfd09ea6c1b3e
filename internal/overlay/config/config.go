package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults of the DC/OS installer and the agent module (spec §C.1).
const (
	DefaultMTU            = 1420
	DefaultConfigAttempts = 4
	DefaultCommandTimeout = 15 * time.Second
	// MinMTU is the smallest vtep_mtu and overlay_mtu accepted.
	MinMTU = 552
	// MaxNameLen is the longest overlay name: interface names are at most
	// 15 bytes and the bridges are "m-<name>" and "d-<name>".
	MaxNameLen = 13
)

// Network is the dcos_overlay_network object: the VTEP pools and the
// overlays. Raw keeps the operator's JSON, which the master's state API
// echoes verbatim.
type Network struct {
	VTEPSubnet  netip.Prefix // required, IPv4, prefix length ≥ 8
	VTEPSubnet6 netip.Prefix // optional (zero when absent)
	VTEPMACOUI  [3]byte      // the first three bytes of every VTEP MAC
	VTEPMTU     int          // 0 when not configured
	Overlays    []Overlay
	Raw         json.RawMessage
}

// Overlay is one virtual network. Subnet/Prefix and Subnet6/Prefix6 are
// each either both set or both zero, and at least one pair is set.
type Overlay struct {
	Name    string
	Subnet  netip.Prefix
	Prefix  int
	Subnet6 netip.Prefix
	Prefix6 int
	Enabled bool
}

// MesosBridge and DockerBridge name the overlay's two bridges.
func (o Overlay) MesosBridge() string  { return "m-" + o.Name }
func (o Overlay) DockerBridge() string { return "d-" + o.Name }

// Problem is one item of the input that was skipped, and why.
type Problem struct {
	Key string // "overlays[2]"
	Err error
}

func (p Problem) String() string { return p.Key + ": " + p.Err.Error() }

// KeyError is a validation failure of one key.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

func keyErr(key string, format string, a ...any) error {
	return &KeyError{Key: key, Err: fmt.Errorf(format, a...)}
}

// reserved are the network names Mesos and Docker use themselves.
var reserved = []string{"host", "bridge", "default", "none"}

// nameRE is what an interface-name suffix may hold (no '/', spaces, ':').
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// fields decodes a JSON object into its keys, rejecting anything else.
func fields(key string, b []byte) (map[string]json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, keyErr(key, "not a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, keyErr(key, "%v", err)
	}
	return m, nil
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func str(key string, raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", keyErr(key, "not a string: %s", clip(raw))
	}
	return s, nil
}

func integer(key string, raw json.RawMessage) (int, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != float64(int(f)) || f > 1<<31 || f < -(1<<31) {
		return 0, keyErr(key, "not an integer: %s", clip(raw))
	}
	return int(f), nil
}

func boolean(key string, raw json.RawMessage) (bool, error) {
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, keyErr(key, "not a boolean: %s", clip(raw))
	}
	return v, nil
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

func prefix(key string, raw json.RawMessage, v6 bool) (netip.Prefix, error) {
	s, err := str(key, raw)
	if err != nil {
		return netip.Prefix{}, err
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, keyErr(key, "%q is not a CIDR", s)
	}
	if p.Addr().Is4() == v6 || p.Addr().Is4In6() {
		fam := "IPv4"
		if v6 {
			fam = "IPv6"
		}
		return netip.Prefix{}, keyErr(key, "%q is not an %s CIDR", s, fam)
	}
	if p.Masked() != p {
		return netip.Prefix{}, keyErr(key, "%q has host bits set (the network is %s)", s, p.Masked())
	}
	return p, nil
}

// ParseOUI reads "70:B3:D5:00:00:00": six colon-separated hex bytes whose
// last three are zero.
func ParseOUI(s string) ([3]byte, error) {
	var oui [3]byte
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return oui, fmt.Errorf("%q is not six colon-separated hex bytes", s)
	}
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return oui, fmt.Errorf("%q is not six colon-separated hex bytes", s)
	}
	if hw[3] != 0 || hw[4] != 0 || hw[5] != 0 {
		return oui, fmt.Errorf("%q: the last three bytes must be 00", s)
	}
	copy(oui[:], hw[:3])
	return oui, nil
}

// ParseNetwork reads a dcos_overlay_network object. key is its name in
// the enclosing document, used in errors ("" at the top).
func ParseNetwork(b []byte, key string) (Network, []Problem, error) {
	m, err := fields(key, b)
	if err != nil {
		return Network{}, nil, err
	}
	n := Network{Raw: json.RawMessage(bytes.TrimSpace(slices.Clone(b)))}
	var probs []Problem
	for k := range m {
		switch k {
		case "vtep_subnet", "vtep_subnet6", "vtep_mac_oui", "vtep_mtu", "overlays":
		default:
			probs = append(probs, Problem{Key: join(key, k), Err: errors.New("unknown key, ignored")})
		}
	}
	raw, ok := m["vtep_subnet"]
	if !ok {
		return Network{}, nil, keyErr(join(key, "vtep_subnet"), "required")
	}
	if n.VTEPSubnet, err = prefix(join(key, "vtep_subnet"), raw, false); err != nil {
		return Network{}, nil, err
	}
	if n.VTEPSubnet.Bits() < 8 {
		return Network{}, nil, keyErr(join(key, "vtep_subnet"), "prefix /%d is shorter than /8: VTEP MACs carry only the address's last three bytes", n.VTEPSubnet.Bits())
	}
	if n.VTEPSubnet.Bits() > 30 {
		return Network{}, nil, keyErr(join(key, "vtep_subnet"), "prefix /%d leaves no room for agents", n.VTEPSubnet.Bits())
	}
	if raw, ok := m["vtep_subnet6"]; ok {
		if n.VTEPSubnet6, err = prefix(join(key, "vtep_subnet6"), raw, true); err != nil {
			return Network{}, nil, err
		}
		if n.VTEPSubnet6.Bits() > 126 {
			return Network{}, nil, keyErr(join(key, "vtep_subnet6"), "prefix /%d leaves no room for agents", n.VTEPSubnet6.Bits())
		}
	}
	raw, ok = m["vtep_mac_oui"]
	if !ok {
		return Network{}, nil, keyErr(join(key, "vtep_mac_oui"), "required")
	}
	s, err := str(join(key, "vtep_mac_oui"), raw)
	if err != nil {
		return Network{}, nil, err
	}
	if n.VTEPMACOUI, err = ParseOUI(s); err != nil {
		return Network{}, nil, &KeyError{Key: join(key, "vtep_mac_oui"), Err: err}
	}
	if raw, ok := m["vtep_mtu"]; ok {
		if n.VTEPMTU, err = integer(join(key, "vtep_mtu"), raw); err != nil {
			return Network{}, nil, err
		}
		if n.VTEPMTU < MinMTU || n.VTEPMTU > 65535 {
			return Network{}, nil, keyErr(join(key, "vtep_mtu"), "%d is outside %d–65535", n.VTEPMTU, MinMTU)
		}
	}
	if raw, ok := m["overlays"]; ok {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return Network{}, nil, keyErr(join(key, "overlays"), "not a list")
		}
		for i, item := range list {
			k := fmt.Sprintf("%s[%d]", join(key, "overlays"), i)
			o, err := parseOverlay(k, item)
			if err == nil {
				err = n.fits(o)
			}
			if err != nil {
				probs = append(probs, Problem{Key: k, Err: err})
				continue
			}
			n.Overlays = append(n.Overlays, o)
		}
	}
	slices.SortFunc(probs, func(a, b Problem) int { return strings.Compare(a.Key, b.Key) })
	return n, probs, nil
}

// fits checks o against the overlays kept so far and the VTEP pools.
func (n *Network) fits(o Overlay) error {
	for _, p := range n.Overlays {
		if p.Name == o.Name {
			return keyErr("name", "%q is used by another overlay", o.Name)
		}
		if overlaps(p.Subnet, o.Subnet) {
			return keyErr("subnet", "%s overlaps overlay %q's %s", o.Subnet, p.Name, p.Subnet)
		}
		if overlaps(p.Subnet6, o.Subnet6) {
			return keyErr("subnet6", "%s overlaps overlay %q's %s", o.Subnet6, p.Name, p.Subnet6)
		}
	}
	if overlaps(n.VTEPSubnet, o.Subnet) {
		return keyErr("subnet", "%s overlaps vtep_subnet %s", o.Subnet, n.VTEPSubnet)
	}
	if overlaps(n.VTEPSubnet6, o.Subnet6) {
		return keyErr("subnet6", "%s overlaps vtep_subnet6 %s", o.Subnet6, n.VTEPSubnet6)
	}
	return nil
}

func overlaps(a, b netip.Prefix) bool { return a.IsValid() && b.IsValid() && a.Overlaps(b) }

func parseOverlay(key string, b []byte) (Overlay, error) {
	m, err := fields(key, b)
	if err != nil {
		return Overlay{}, err
	}
	o := Overlay{Enabled: true}
	for k := range m {
		switch k {
		case "name", "subnet", "prefix", "subnet6", "prefix6", "enabled":
		default:
			return Overlay{}, keyErr(k, "unknown key")
		}
	}
	raw, ok := m["name"]
	if !ok {
		return Overlay{}, keyErr("name", "required")
	}
	if o.Name, err = str("name", raw); err != nil {
		return Overlay{}, err
	}
	switch {
	case o.Name == "":
		return Overlay{}, keyErr("name", "empty")
	case len(o.Name) > MaxNameLen:
		return Overlay{}, keyErr("name", "%q is longer than %d characters (the bridges are m-<name>, d-<name>)", o.Name, MaxNameLen)
	case slices.Contains(reserved, o.Name):
		return Overlay{}, keyErr("name", "%q is reserved", o.Name)
	case !nameRE.MatchString(o.Name):
		return Overlay{}, keyErr("name", "%q: only letters, digits, '_', '.', '-'", o.Name)
	}
	if raw, ok := m["enabled"]; ok {
		if o.Enabled, err = boolean("enabled", raw); err != nil {
			return Overlay{}, err
		}
	}
	if o.Subnet, o.Prefix, err = space(m, "subnet", "prefix", false); err != nil {
		return Overlay{}, err
	}
	if o.Subnet6, o.Prefix6, err = space(m, "subnet6", "prefix6", true); err != nil {
		return Overlay{}, err
	}
	if !o.Subnet.IsValid() && !o.Subnet6.IsValid() {
		return Overlay{}, keyErr("subnet", "an overlay needs subnet or subnet6")
	}
	return o, nil
}

// space reads one address-space pair (subnet + prefix).
func space(m map[string]json.RawMessage, sk, pk string, v6 bool) (netip.Prefix, int, error) {
	rs, hasS := m[sk]
	rp, hasP := m[pk]
	if !hasS && !hasP {
		return netip.Prefix{}, 0, nil
	}
	if !hasS {
		return netip.Prefix{}, 0, keyErr(sk, "required with %s", pk)
	}
	if !hasP {
		return netip.Prefix{}, 0, keyErr(pk, "required with %s", sk)
	}
	p, err := prefix(sk, rs, v6)
	if err != nil {
		return netip.Prefix{}, 0, err
	}
	bits, err := integer(pk, rp)
	if err != nil {
		return netip.Prefix{}, 0, err
	}
	// An agent block is split into two halves, each needing a gateway
	// and at least one container address.
	max := 29
	if v6 {
		max = 125
	}
	if bits < p.Bits() || bits > max {
		return netip.Prefix{}, 0, keyErr(pk, "%d is outside %d–%d (the %s length to %d)", bits, p.Bits(), max, sk, max)
	}
	return p, bits, nil
}

// Enabled lists the enabled overlays.
func (n Network) Enabled() []Overlay {
	var out []Overlay
	for _, o := range n.Overlays {
		if o.Enabled {
			out = append(out, o)
		}
	}
	return out
}

// Overlay returns the overlay named name.
func (n Network) Overlay(name string) (Overlay, bool) {
	for _, o := range n.Overlays {
		if o.Name == name {
			return o, true
		}
	}
	return Overlay{}, false
}

// Cluster is the dcos_overlay_* keys of config.yaml.
type Cluster struct {
	Enable         bool // dcos_overlay_enable, default true
	MTU            int  // dcos_overlay_mtu, default 1420
	ConfigAttempts int  // dcos_overlay_config_attempts, default 4
	Network        Network
}

// ParseCluster reads the config.yaml keys (as a JSON object; other keys of
// config.yaml are ignored). The network is required when the overlay is
// enabled.
func ParseCluster(b []byte) (Cluster, []Problem, error) {
	m, err := fields("", b)
	if err != nil {
		return Cluster{}, nil, err
	}
	c := Cluster{Enable: true, MTU: DefaultMTU, ConfigAttempts: DefaultConfigAttempts}
	if raw, ok := m["dcos_overlay_enable"]; ok {
		if c.Enable, err = boolean("dcos_overlay_enable", raw); err != nil {
			return Cluster{}, nil, err
		}
	}
	if raw, ok := m["dcos_overlay_mtu"]; ok {
		if c.MTU, err = integer("dcos_overlay_mtu", raw); err != nil {
			return Cluster{}, nil, err
		}
		if c.MTU < MinMTU || c.MTU > 65535 {
			return Cluster{}, nil, keyErr("dcos_overlay_mtu", "%d is outside %d–65535", c.MTU, MinMTU)
		}
	}
	if raw, ok := m["dcos_overlay_config_attempts"]; ok {
		if c.ConfigAttempts, err = integer("dcos_overlay_config_attempts", raw); err != nil {
			return Cluster{}, nil, err
		}
		if c.ConfigAttempts < 1 {
			return Cluster{}, nil, keyErr("dcos_overlay_config_attempts", "%d is less than 1", c.ConfigAttempts)
		}
	}
	raw, ok := m["dcos_overlay_network"]
	if !ok {
		if c.Enable {
			return Cluster{}, nil, keyErr("dcos_overlay_network", "required when dcos_overlay_enable is true")
		}
		return c, nil, nil
	}
	var probs []Problem
	c.Network, probs, err = ParseNetwork(raw, "dcos_overlay_network")
	return c, probs, err
}

// Agent is the agent module's network_config plus its
// max_configuration_attempts and CNI directories (agent.json).
type Agent struct {
	AllocateSubnet, MesosBridge, DockerBridge bool
	OverlayMTU                                int
	EnableIPv6                                bool
	CommandTimeout                            time.Duration
	MaxConfigurationAttempts                  int
	CNIDir, CNIDataDir                        string
}

// DefaultAgent is the agent module's configuration when keys are absent.
func DefaultAgent() Agent {
	return Agent{AllocateSubnet: true, MesosBridge: true, DockerBridge: true, OverlayMTU: DefaultMTU,
		EnableIPv6: true, CommandTimeout: DefaultCommandTimeout, MaxConfigurationAttempts: DefaultConfigAttempts}
}

// MasterAgent is the agent part on a master: a VTEP and a subnet, no
// bridges (agent-master.json), so masters can reach containers.
func MasterAgent() Agent {
	a := DefaultAgent()
	a.MesosBridge, a.DockerBridge = false, false
	return a
}

// ParseAgent reads agent.json; absent keys keep DefaultAgent's values.
func ParseAgent(b []byte) (Agent, []Problem, error) {
	a := DefaultAgent()
	m, err := fields("", b)
	if err != nil {
		return Agent{}, nil, err
	}
	var probs []Problem
	for k, raw := range m {
		switch k {
		case "cni_dir":
			a.CNIDir, err = str(k, raw)
		case "cni_data_dir":
			a.CNIDataDir, err = str(k, raw)
		case "max_configuration_attempts":
			a.MaxConfigurationAttempts, err = integer(k, raw)
			if err == nil && a.MaxConfigurationAttempts < 1 {
				err = keyErr(k, "%d is less than 1", a.MaxConfigurationAttempts)
			}
		case "network_config":
			err = a.parseNetworkConfig(raw)
		default:
			probs = append(probs, Problem{Key: k, Err: errors.New("unknown key, ignored")})
		}
		if err != nil {
			return Agent{}, nil, err
		}
	}
	slices.SortFunc(probs, func(a, b Problem) int { return strings.Compare(a.Key, b.Key) })
	return a, probs, nil
}

func (a *Agent) parseNetworkConfig(b []byte) error {
	m, err := fields("network_config", b)
	if err != nil {
		return err
	}
	for k, raw := range m {
		key := "network_config." + k
		switch k {
		case "allocate_subnet":
			a.AllocateSubnet, err = boolean(key, raw)
		case "mesos_bridge":
			a.MesosBridge, err = boolean(key, raw)
		case "docker_bridge":
			a.DockerBridge, err = boolean(key, raw)
		case "enable_ipv6":
			a.EnableIPv6, err = boolean(key, raw)
		case "overlay_mtu":
			a.OverlayMTU, err = integer(key, raw)
			if err == nil && (a.OverlayMTU < MinMTU || a.OverlayMTU > 65535) {
				err = keyErr(key, "%d is outside %d–65535", a.OverlayMTU, MinMTU)
			}
		case "command_timeout":
			var ms int
			ms, err = integer(key, raw)
			if err == nil && ms <= 0 {
				err = keyErr(key, "%d ms is not positive", ms)
			}
			a.CommandTimeout = time.Duration(ms) * time.Millisecond
		default:
			err = keyErr(key, "unknown key")
		}
		if err != nil {
			return err
		}
	}
	if (a.MesosBridge || a.DockerBridge) && !a.AllocateSubnet {
		return keyErr("network_config.allocate_subnet", "false, but bridges need a subnet")
	}
	return nil
}

// Master is the master module's master.json.
type Master struct {
	ReplicatedLogDir string
	Network          Network
}

// ParseMaster reads master.json: {"replicated_log_dir": …, "network": …}.
func ParseMaster(b []byte) (Master, []Problem, error) {
	m, err := fields("", b)
	if err != nil {
		return Master{}, nil, err
	}
	var out Master
	if raw, ok := m["replicated_log_dir"]; ok {
		if out.ReplicatedLogDir, err = str("replicated_log_dir", raw); err != nil {
			return Master{}, nil, err
		}
	}
	raw, ok := m["network"]
	if !ok {
		return Master{}, nil, keyErr("network", "required")
	}
	var probs []Problem
	out.Network, probs, err = ParseNetwork(raw, "network")
	return out, probs, err
}

// Default is the DC/OS default network (the seeds' configuration): VTEPs
// from 44.128.0.0/20 with the 70:B3:D5 OUI, and the dcos overlay
// 9.0.0.0/8 with a /24 per agent.
func Default() Network {
	n, _, err := ParseNetwork([]byte(DefaultNetworkJSON), "")
	if err != nil {
		panic("config: the default network does not parse: " + err.Error())
	}
	return n
}

// DefaultNetworkJSON is Default's document.
const DefaultNetworkJSON = `{"vtep_subnet":"44.128.0.0/20","vtep_mac_oui":"70:B3:D5:00:00:00","overlays":[{"name":"dcos","subnet":"9.0.0.0/8","prefix":24}]}`
