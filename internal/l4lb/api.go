package l4lb

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/sextantdc/sextant/internal/obs"
	"github.com/sextantdc/sextant/internal/vip"
)

// Listener is implemented by planes that serve a VIP somewhere else than
// at the VIP address itself (the userspace plane's loopback mapping):
// ListenAddr returns where a client on this node connects.
type Listener interface {
	ListenAddr(vip netip.AddrPort) (netip.AddrPort, bool)
}

// Backend states in the API.
const (
	StateUp          = "up"          // weight above 0: takes new connections
	StateDraining    = "draining"    // weight 0: keeps its connections, gets no new ones
	StateUnreachable = "unreachable" // on an agent the failure detector reports unreachable: not programmed
)

// APIVIP is one element of GET /v1/vips: dcos-net's three fields (vip,
// protocol, backend) followed by Sextant's additions, which clients that
// read only the original fields ignore.
type APIVIP struct {
	VIP      string       `json:"vip"`
	Protocol string       `json:"protocol"`
	Backend  []APIBackend `json:"backend"`
	// Addrs are the VIP's addresses (a named VIP: its allocated IPv4
	// and IPv6 addresses); Listen where a client on this node connects,
	// address:port per address the plane serves (the VIP itself, or the
	// userspace plane's loopback mapping of it).
	Addrs  []string `json:"addrs"`
	Listen []string `json:"listen"`
	// Plane is the data plane serving the VIP on this node; Mode its
	// balancing mode.
	Plane string `json:"plane"`
	Mode  string `json:"mode"`
	// Refused counts new connections refused for want of a backend
	// (planes that count).
	Refused uint64 `json:"refused"`
}

// APIBackend is one backend in /v1/vips: ip and port as dcos-net showed
// them (the gossiped endpoint, before local substitution), then weight,
// agent_ip (vip.APIBackend's additions), and this node's view: state,
// the address it programs when it differs (target), and the plane's
// counters, summed over the VIP's addresses.
type APIBackend struct {
	IP      string `json:"ip"`
	Port    uint16 `json:"port"`
	Weight  uint8  `json:"weight"`
	AgentIP string `json:"agent_ip"`
	TaskID  string `json:"task_id,omitempty"`
	State   string `json:"state"`
	Target  string `json:"target,omitempty"`

	Connections      uint64 `json:"connections"`
	Active           uint64 `json:"active"`
	Failures         uint64 `json:"failures"`
	BytesToBackend   uint64 `json:"bytes_to_backend"`
	BytesFromBackend uint64 `json:"bytes_from_backend"`
}

// Status is GET /v1/l4lb: the plane in use and the last sync.
type Status struct {
	Plane string `json:"plane"`
	// PlaneInfo says why this plane (the choice made at start, and any
	// fallback).
	PlaneInfo string `json:"plane_info,omitempty"`
	Version   uint64 `json:"version"`
	VIPs      int    `json:"vips"`
	Backends  int    `json:"backends"`
	// Unreachable* are the reachability filter's gauges (§B.5).
	UnreachableBackends int    `json:"unreachable_backends"`
	UnreachableNodes    int    `json:"unreachable_nodes"`
	LastSync            string `json:"last_sync,omitempty"`
	LastSyncError       string `json:"last_sync_error,omitempty"`
}

// Status returns the plane in use and the state of the last sync.
func (l *LB) Status() Status {
	st := Status{Plane: l.o.Plane, PlaneInfo: l.o.PlaneInfo}
	d := l.cur.Load()
	if d == nil {
		return st
	}
	st.Version, st.VIPs, st.Backends = d.version, d.report.VIPs, d.report.Backends
	st.UnreachableBackends, st.UnreachableNodes = d.report.UnreachableBackends, d.report.UnreachableNodes
	if r := d.synced.Load(); r != nil {
		st.LastSync, st.LastSyncError = r.at.UTC().Format(time.RFC3339Nano), r.err
	}
	return st
}

// VIPs returns the /v1/vips document of this node: every VIP of the last
// table (named VIPs by FQDN:port, IP VIPs by address:port, in table
// order), each backend with its state and the plane's counters.
func (l *LB) VIPs() []APIVIP {
	out := []APIVIP{}
	d := l.cur.Load()
	if d == nil || d.table == nil {
		return out
	}
	type bkey struct {
		svc Key
		be  netip.AddrPort
	}
	stats := map[bkey]BackendStats{}
	refused := map[Key]uint64{}
	// served: the services the plane reports serving; a service it could
	// not serve (a port taken) has no address to connect to.
	var served map[Key]bool
	if sr, ok := l.plane.(StatsReporter); ok {
		st := l.stats(sr)
		if len(st) > 0 { // none at all: counters unreadable now, not nothing served
			served = map[Key]bool{}
		}
		for _, s := range st {
			served[s.Key] = true
			refused[s.Key] += s.Refused
			for _, b := range s.Backends {
				stats[bkey{s.Key, b.Addr}] = b
			}
		}
	}
	ls, _ := l.plane.(Listener)
	programmed := map[Key]bool{}
	for _, s := range d.services {
		programmed[s.Key] = true
	}
	mode := map[Key]Mode{}
	for _, s := range d.services {
		mode[s.Key] = s.Mode
	}
	for _, v := range d.table.VIPs {
		e := APIVIP{Protocol: v.Protocol.String(), Backend: make([]APIBackend, 0, len(v.Backends)), Plane: l.o.Plane,
			Addrs: []string{}, Listen: []string{}, Mode: Random.String()}
		if v.Name != "" {
			e.VIP = v.FQDN + ":" + strconv.Itoa(int(v.Port))
		} else {
			e.VIP = netip.AddrPortFrom(v.IP, v.Port).String()
		}
		var keys []Key
		for _, a := range v.Addrs {
			k := Key{Protocol: protocol(v.Protocol), Addr: netip.AddrPortFrom(a, v.Port)}
			keys = append(keys, k)
			e.Addrs = append(e.Addrs, a.String())
			listen := k.Addr
			if ls != nil {
				if la, ok := ls.ListenAddr(k.Addr); ok {
					listen = la
				}
			}
			if programmed[k] && (served == nil || served[k]) {
				e.Listen = append(e.Listen, listen.String())
				e.Mode = mode[k].String()
			}
			e.Refused += refused[k]
		}
		for _, b := range v.Backends {
			ab := APIBackend{IP: b.IP.String(), Port: b.Port, Weight: b.Weight, AgentIP: b.AgentIP.String(), TaskID: b.TaskID, State: StateUp}
			switch {
			case d.down[b.AgentIP] && !allDown(v.Backends, d.down):
				ab.State = StateUnreachable
			case b.Weight == 0:
				ab.State = StateDraining
			}
			for _, k := range keys {
				if b.IP.Is4() != k.Addr.Addr().Is4() {
					continue
				}
				t := target(b, k.Addr.Addr(), l.o.NodeIP)
				if t != netip.AddrPortFrom(b.IP, b.Port) {
					ab.Target = t.String()
				}
				s := stats[bkey{k, t}]
				ab.Connections += s.Connections
				ab.Active += s.Active
				ab.Failures += s.Failures
				ab.BytesToBackend += s.BytesToBackend
				ab.BytesFromBackend += s.BytesFromBackend
			}
			e.Backend = append(e.Backend, ab)
		}
		out = append(out, e)
	}
	return out
}

// allDown reports whether every backend is on an unreachable agent: the
// filter then keeps them all (fail open, §B.5).
func allDown(bs []vip.Backend, down map[netip.Addr]bool) bool {
	for _, b := range bs {
		if !down[b.AgentIP] {
			return false
		}
	}
	return true
}

// Handler serves GET /v1/vips (the document of VIPs, with an ETag, see
// obs.ServeETag) and
// GET /v1/l4lb (Status).
func (l *LB) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/vips", func(w http.ResponseWriter, r *http.Request) {
		b, _ := json.Marshal(l.VIPs())
		obs.ServeETag(w, r, append(b, '\n'))
	})
	mux.HandleFunc("GET /v1/l4lb", func(w http.ResponseWriter, r *http.Request) {
		b, _ := json.Marshal(l.Status())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(b, '\n'))
	})
	return mux
}

// ParseVIPs decodes a /v1/vips document (Sextant's, or dcos-net's
// without the additions) for a client. An element that is not an object
// with a vip and a protocol, or whose backends do not decode, is left out
// and reported by its index; the others are returned. Only a document
// that is not a JSON array fails as a whole.
func ParseVIPs(b []byte) ([]APIVIP, []error, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, nil, fmt.Errorf("/v1/vips: not a JSON array: %w", err)
	}
	out := make([]APIVIP, 0, len(raw))
	var bad []error
	for i, r := range raw {
		var v APIVIP
		if err := json.Unmarshal(r, &v); err != nil {
			bad = append(bad, fmt.Errorf("/v1/vips[%d]: %w", i, err))
			continue
		}
		switch {
		case v.VIP == "":
			bad = append(bad, fmt.Errorf("/v1/vips[%d].vip: missing", i))
			continue
		case v.Protocol == "":
			bad = append(bad, fmt.Errorf("/v1/vips[%d].protocol: missing", i))
			continue
		}
		out = append(out, v)
	}
	return out, bad, nil
}
