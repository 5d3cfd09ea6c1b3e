package gossip

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/memberlist"
)

// Role is what a node is in the cluster. Only masters can lead.
type Role string

// The two roles a node advertises in its gossip metadata.
const (
	RoleMaster Role = "master"
	RoleAgent  Role = "agent"
)

// DefaultMaxPayload bounds one zone payload after decompression. Lashup
// rejected values above 100 MB; a zone of 10k tasks is a few MB, so 64 MiB
// leaves room while keeping a hostile peer from making us allocate gigabytes.
const DefaultMaxPayload = 64 << 20

// Config configures a Node. NodeName, Role and one of BindAddr/AdvertiseAddr
// are required; everything else has a default.
type Config struct {
	// NodeName is the unique member name. It also orders leadership: the
	// alive master with the lowest name leads.
	NodeName string
	// BindAddr/BindPort is where memberlist listens (UDP and TCP on the same
	// port). BindPort 0 picks a free port (tests).
	BindAddr string
	BindPort int
	// AdvertiseAddr/AdvertisePort is what other members dial. Empty/0 means
	// the bind address and port.
	AdvertiseAddr string
	AdvertisePort int
	// NodeIP is the node's IP as the rest of the cluster knows it (the Mesos
	// agent IP). Reachable looks members up by it. Default: the advertise
	// address, else the bind address.
	NodeIP netip.Addr
	// Role is carried in the node metadata.
	Role Role
	// Hostname and PublicIPs are carried in the node metadata too (dcos-net's
	// [dcos_net, nodes] key: GET /v1/nodes, public.thisnode). Optional; at
	// most MaxHostnameLen bytes and MaxPublicIPs addresses.
	Hostname  string
	PublicIPs []netip.Addr
	// Key is the cluster key (16, 24 or 32 bytes: AES-128/192/256-GCM). When
	// set, memberlist encrypts every packet and stream and drops anything
	// not encrypted with it. See LoadKey. Empty means unencrypted gossip
	// (logged as a warning).
	Key []byte
	// Label tags every packet and stream; members with another label are
	// ignored, so two clusters on one network cannot mix.
	Label string
	// Timers are the memberlist timers; zero value means LANTimers().
	Timers Timers
	// MaxPayload bounds a decompressed zone payload; 0 means
	// DefaultMaxPayload.
	MaxPayload int
	// OnUpdate is called on every node (the publisher included) when a
	// newer version of a zone is held. See Node for the ordering contract.
	// payload is shared with the Node: do not modify it.
	// It runs on one goroutine owned by the Node; it may take its time, but
	// while it runs further updates and leadership notifications queue up
	// (coalesced to the latest).
	OnUpdate func(name string, version uint64, payload []byte)
	// OnLeaderChange is called when the leader this node sees changes
	// (leader is "" when no master is alive). Same goroutine as OnUpdate.
	OnLeaderChange func(leader string, isLeader bool)
	// OnMembersChange is called with every member this node has seen
	// (as Members returns them) after a member joins, changes state or
	// metadata, or dies. Same goroutine as OnUpdate, called before
	// OnLeaderChange; changes arriving meanwhile are coalesced into the
	// next call, which always carries the latest table.
	OnMembersChange func(members []MemberInfo)
}

// Timers are the memberlist knobs that decide failure-detection speed,
// dissemination speed and anti-entropy frequency. Use a preset.
type Timers struct {
	// ProbeInterval is the failure-detector period; ProbeTimeout how long a
	// direct ping may take before indirect probes start.
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	// IndirectChecks is how many members ping a suspect on our behalf.
	IndirectChecks int
	// SuspicionMult × log10(N) × ProbeInterval is how long a suspect member
	// has to refute before it is declared dead; SuspicionMaxTimeoutMult
	// bounds the stretch used when few members confirm the suspicion.
	SuspicionMult           int
	SuspicionMaxTimeoutMult int
	// GossipInterval/GossipNodes: every interval, queued broadcasts go to
	// this many random members. RetransmitMult × log10(N+1) is how many
	// times each broadcast is sent.
	GossipInterval time.Duration
	GossipNodes    int
	RetransmitMult int
	// PushPullInterval is the anti-entropy period: a full state exchange
	// (membership plus our zone digest) with one random member.
	PushPullInterval time.Duration
	// TCPTimeout bounds one stream connection (push/pull, reliable sends).
	TCPTimeout time.Duration
	// GossipToTheDeadTime: dead members still get gossip this long so they
	// can refute. DeadNodeReclaimTime: after this long dead, a member name
	// may come back from another address (0 = never).
	GossipToTheDeadTime time.Duration
	DeadNodeReclaimTime time.Duration
}

// LANTimers is the production preset for a data-centre LAN. It is tighter
// than memberlist's DefaultLANConfig for failure detection because DC/OS's
// Lashup detected failures in about a second and the load balancer filters
// backends by reachability: a dead member is declared dead after about
// 1.5 s in a cluster of up to 10 nodes (3 × log10(N) × 500 ms, stretched to
// at most 4× that while few members confirm), 4.5 s at 1000 nodes. Zone
// broadcasts go out every 200 ms; anti-entropy every 15 s (Lashup: 30 s).
func LANTimers() Timers {
	return Timers{
		ProbeInterval:           500 * time.Millisecond,
		ProbeTimeout:            250 * time.Millisecond,
		IndirectChecks:          3,
		SuspicionMult:           3,
		SuspicionMaxTimeoutMult: 4,
		GossipInterval:          200 * time.Millisecond,
		GossipNodes:             3,
		RetransmitMult:          4,
		PushPullInterval:        15 * time.Second,
		TCPTimeout:              10 * time.Second,
		GossipToTheDeadTime:     30 * time.Second,
		DeadNodeReclaimTime:     30 * time.Second,
	}
}

// FastTimers is for tests and single-host demos on loopback: death is
// declared within about 0.6–2.4 s, broadcasts go out every 50 ms and
// anti-entropy runs every second. Too chatty for a real network.
func FastTimers() Timers {
	return Timers{
		ProbeInterval:           200 * time.Millisecond,
		ProbeTimeout:            150 * time.Millisecond,
		IndirectChecks:          1,
		SuspicionMult:           3,
		SuspicionMaxTimeoutMult: 4,
		GossipInterval:          50 * time.Millisecond,
		GossipNodes:             3,
		RetransmitMult:          3,
		PushPullInterval:        time.Second,
		TCPTimeout:              3 * time.Second,
		GossipToTheDeadTime:     2 * time.Second,
		DeadNodeReclaimTime:     time.Second,
	}
}

func (t Timers) apply(c *memberlist.Config) {
	c.ProbeInterval = t.ProbeInterval
	c.ProbeTimeout = t.ProbeTimeout
	c.IndirectChecks = t.IndirectChecks
	c.SuspicionMult = t.SuspicionMult
	c.SuspicionMaxTimeoutMult = t.SuspicionMaxTimeoutMult
	c.GossipInterval = t.GossipInterval
	c.GossipNodes = t.GossipNodes
	c.RetransmitMult = t.RetransmitMult
	c.PushPullInterval = t.PushPullInterval
	c.TCPTimeout = t.TCPTimeout
	c.GossipToTheDeadTime = t.GossipToTheDeadTime
	c.DeadNodeReclaimTime = t.DeadNodeReclaimTime
}

// ParseKey decodes a cluster key of 16, 24 or 32 random bytes, written as
// hex (32, 48 or 64 hex digits) or as standard or URL-safe base64 (padding
// optional); surrounding whitespace is ignored. Generate one with
// `head -c 32 /dev/urandom | base64`. Hex is tried first: a base64 key of
// that length made only of hex digits is vanishingly unlikely.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("gossip key: empty")
	}
	switch len(s) {
	case 32, 48, 64:
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("gossip key: not base64: %w", err)
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("gossip key: %d bytes, want 16, 24 or 32", len(key))
}

// LoadKey reads a cluster key file (see ParseKey).
func LoadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gossip key: %w", err)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return k, nil
}

// checkMeta checks the optional node metadata.
func (c *Config) checkMeta() error {
	if len(c.Hostname) > MaxHostnameLen || !utf8.ValidString(c.Hostname) {
		return fmt.Errorf("gossip config: hostname longer than %d bytes or not UTF-8", MaxHostnameLen)
	}
	if len(c.PublicIPs) > MaxPublicIPs {
		return fmt.Errorf("gossip config: %d public IPs, at most %d", len(c.PublicIPs), MaxPublicIPs)
	}
	for _, ip := range c.PublicIPs {
		if !ip.IsValid() {
			return errors.New("gossip config: invalid public IP")
		}
	}
	return nil
}

// validate fills defaults and checks the configuration.
func (c *Config) validate() error {
	if c.NodeName == "" {
		return errors.New("gossip config: node name is empty")
	}
	if len(c.NodeName) > maxNameLen {
		return fmt.Errorf("gossip config: node name longer than %d bytes", maxNameLen)
	}
	switch c.Role {
	case RoleMaster, RoleAgent:
	default:
		return fmt.Errorf("gossip config: role %q, want %q or %q", c.Role, RoleMaster, RoleAgent)
	}
	if len(c.Key) != 0 {
		switch len(c.Key) {
		case 16, 24, 32:
		default:
			return fmt.Errorf("gossip config: key is %d bytes, want 16, 24 or 32", len(c.Key))
		}
	}
	if err := c.checkMeta(); err != nil {
		return err
	}
	if len(c.Label) > memberlist.LabelMaxSize {
		return fmt.Errorf("gossip config: label longer than %d bytes", memberlist.LabelMaxSize)
	}
	if c.BindAddr == "" {
		c.BindAddr = "0.0.0.0"
	}
	if c.BindPort < 0 || c.BindPort > 65535 || c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		return errors.New("gossip config: port out of range")
	}
	if !c.NodeIP.IsValid() {
		for _, s := range []string{c.AdvertiseAddr, c.BindAddr} {
			if a, err := netip.ParseAddr(s); err == nil && !a.IsUnspecified() {
				c.NodeIP = a.Unmap()
				break
			}
		}
	}
	if !c.NodeIP.IsValid() {
		return errors.New("gossip config: node IP unknown: set NodeIP, AdvertiseAddr or a specific BindAddr")
	}
	if c.Timers == (Timers{}) {
		c.Timers = LANTimers()
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	return nil
}
