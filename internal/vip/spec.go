// Package vip turns the VIP declarations of Mesos tasks into the table of
// virtual IPs and their backends that dcos-l4lb (Minuteman) programmed, and
// that Sextant's load-balancer data planes, the l4lb.thisdcos.directory
// zone and the /v1/vips API all read.
//
// Data flow: model.Snapshot (ports merged per task, §B.1, by the model's
// build) → BuildTable (keys, backends and weights §B.4, names §B.2,
// addresses §B.3) → *Table (immutable) → Table.Reachable (§B.5) for a data
// plane.
//
// Deliberate differences from dcos-net (see docs/compat/directory.md):
// named VIPs are keyed by their normalised name, so `myapp:80` and
// `/myapp:80` are one VIP; address collisions are resolved in sorted key
// order so every node agrees without coordination.
//
// Per-writer sets (§0.6): each agent gossips the table of its own tasks
// as the item WriterItem(node IP); MergeWriters unions the live writers'
// sets into the leading master's table, the writers' backends replacing
// the master's view of those agents, the master's names and addresses
// kept (see MergeWriters).
//
// Imports of Sextant's own packages: internal/directory/label, internal/model; nothing else of
// Sextant.
package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/model"
)

// Protocol is a VIP's transport protocol: the model's port protocol.
type Protocol = model.Protocol

// Protocols a VIP may use.
const (
	TCP = model.TCP
	UDP = model.UDP
)

// ParseProtocol accepts "tcp" and "udp" in any case, as dcos-net does.
func ParseProtocol(s string) (Protocol, error) { return model.ParseProtocol(s) }

// Spec is one parsed VIP label value, "<host>:<port>".
type Spec struct {
	// Host is the part before the last ':'.
	Host string
	// Port is the VIP's frontend port (independent of the backend port).
	Port uint16
	// IP is set when Host is an IP literal: an IP VIP. Otherwise the spec
	// declares a named VIP.
	IP netip.Addr
}

// Named reports whether the spec declares a named VIP.
func (s Spec) Named() bool { return !s.IP.IsValid() }

// Errors of ParseSpec, for callers that branch on them.
var (
	ErrNoPort   = errors.New("no ':<port>'")
	ErrBadPort  = errors.New("port is not an integer 1-65535")
	ErrNoHost   = errors.New("empty host")
	ErrBadIPVIP = errors.New("IP VIP with a zone")
)

// ParseSpec parses a VIP spec such as "myapp:80", "/mygroup/myapp:80",
// "api.hello-world:80", "1.2.3.4:5000" or "fd01:c::10:80": split at the
// last ':', the port must be an integer above 0. A host that parses as an
// IPv4 or bare IPv6 literal makes an IP VIP; anything else a named VIP.
func ParseSpec(s string) (Spec, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return Spec{}, fmt.Errorf("vip %q: %w", s, ErrNoPort)
	}
	host, port := s[:i], s[i+1:]
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return Spec{}, fmt.Errorf("vip %q: %w", s, ErrBadPort)
	}
	if host == "" {
		return Spec{}, fmt.Errorf("vip %q: %w", s, ErrNoHost)
	}
	sp := Spec{Host: host, Port: uint16(p)}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return Spec{}, fmt.Errorf("vip %q: %w", s, ErrBadIPVIP)
		}
		sp.IP = ip.Unmap()
	}
	return sp, nil
}
