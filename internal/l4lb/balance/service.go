package balance

import (
	"cmp"
	"fmt"
	"net/netip"
	"strings"
)

// Protocol is a VIP's transport protocol, numbered as IANA (and the
// kernel) number them.
type Protocol uint8

// Protocols a VIP may use.
const (
	TCP Protocol = 6
	UDP Protocol = 17
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return fmt.Sprintf("proto-%d", uint8(p))
}

// Key identifies a service: protocol, VIP address and port. Named VIPs
// with an IPv4 and an IPv6 address are two services.
type Key struct {
	Protocol Protocol
	Addr     netip.AddrPort
}

func (k Key) String() string { return k.Protocol.String() + "/" + k.Addr.String() }

// CompareKeys orders keys by address, port, then protocol.
func CompareKeys(a, b Key) int {
	return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Protocol, b.Protocol))
}

// Backend is one destination of a service.
type Backend struct {
	Addr netip.AddrPort
	// Weight 0 drains the backend: it gets no new flows and keeps the
	// ones it has (dcos-l4lb: killing or unhealthy tasks, D2IQ-61077).
	// Above 0, new flows are shared in proportion to weights.
	Weight uint8
}

// Mode is how a service spreads new flows over its backends.
type Mode uint8

const (
	// Random picks a backend at random, in proportion to weights.
	Random Mode = iota
	// Maglev hashes the client's IP address onto a Maglev lookup table:
	// a client keeps its backend while the backend set is unchanged.
	Maglev
)

func (m Mode) String() string {
	switch m {
	case Random:
		return "random"
	case Maglev:
		return "maglev"
	}
	return fmt.Sprintf("mode-%d", uint8(m))
}

// ParseMode accepts "random" (or "") and "maglev", in any case.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "random":
		return Random, nil
	case "maglev":
		return Maglev, nil
	}
	return Random, fmt.Errorf("balancing mode %q is not random or maglev", s)
}

// Service is one VIP address and port with its backends: what a data
// plane serves.
type Service struct {
	Key
	// Name is the named VIP's key ("myapp.marathon"), "" for an IP VIP;
	// for metrics and logs only.
	Name string
	Mode Mode
	// Backends are sorted by address and unique by address. A service
	// without a backend of weight above 0 refuses new flows.
	Backends []Backend
}

// Equal reports whether two services would be served identically.
func (s *Service) Equal(o *Service) bool {
	if s.Key != o.Key || s.Name != o.Name || s.Mode != o.Mode || len(s.Backends) != len(o.Backends) {
		return false
	}
	for i := range s.Backends {
		if s.Backends[i] != o.Backends[i] {
			return false
		}
	}
	return true
}

// ServiceStats are a plane's counters for one service, cumulative since
// the plane started serving it.
type ServiceStats struct {
	Key Key
	// Refused counts new flows that were not forwarded: no backend with a
	// weight above 0 (TCP: reset; UDP: dropped), or a plane limit.
	Refused  uint64
	Backends []BackendStats
}

// BackendStats are a plane's counters for one backend of one service,
// cumulative since the backend joined the service.
type BackendStats struct {
	Addr netip.AddrPort
	// Connections counts flows forwarded to the backend (TCP
	// connections, UDP flows); Active is how many are open now.
	Connections uint64
	Active      uint64
	// Failures counts flows that could not reach the backend (connect
	// refused or timed out, send errors).
	Failures uint64
	// BytesToBackend and BytesFromBackend count payload bytes relayed.
	BytesToBackend   uint64
	BytesFromBackend uint64
}
