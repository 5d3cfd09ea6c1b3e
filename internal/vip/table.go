package vip

import (
	"cmp"
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"

	"github.com/sextantdc/sextant/internal/directory/label"
	"github.com/sextantdc/sextant/internal/model"
)

// BalanceLabel is the task label that selects a VIP's balancing mode
// ("random" or "maglev"; read by the load balancer).
const BalanceLabel = "L4LB_BALANCE"

// Zone is the DNS zone that holds named VIPs.
const Zone = "l4lb.thisdcos.directory"

// Config holds the allocation ranges and families.
type Config struct {
	// IPv4 is the named VIP IPv4 range; zero means the compiled default
	// 11.0.0.0–11.255.255.254. DC/OS configures 11.255.255.255 as max
	// (DCOSMaxIPv4), which changes every address.
	IPv4 Range
	// IPv6 is the named VIP IPv6 range; zero means fd01:c::/64.
	IPv6 Range
	// DisableIPv6 drops IPv6 backends of named VIPs and IPv6 IP VIPs
	// (dcos-net's enable_ipv6 = false).
	DisableIPv6 bool
}

func (c Config) ranges() (Range, Range) {
	v4, v6 := c.IPv4, c.IPv6
	if !v4.Min.IsValid() && !v4.Max.IsValid() {
		v4 = Range{DefaultMinIPv4, DefaultMaxIPv4}
	}
	if !v6.Min.IsValid() && !v6.Max.IsValid() {
		v6 = Range{DefaultMinIPv6, DefaultMaxIPv6}
	}
	return v4, v6
}

// Key identifies a VIP: protocol, address or name, and frontend port.
type Key struct {
	Protocol Protocol
	// IP is set for an IP VIP.
	IP netip.Addr
	// Name is set for a named VIP: domain_frag(host) + "." +
	// domain_frag(framework), e.g. "mygroupmyapp.marathon" — the allocation
	// key and the FQDN's first labels.
	Name string
	Port uint16
}

func compareKeys(a, b Key) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), a.IP.Compare(b.IP), cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port))
}

// Backend is one destination of a VIP.
type Backend struct {
	// AgentIP is the agent the task runs on (used by the reachability
	// filter and by local port-mapping substitution).
	AgentIP netip.Addr
	IP      netip.Addr
	Port    uint16
	// Weight is 1, or 0 for a draining backend (task killing, unhealthy, or
	// health-checked without a result yet): it keeps its connections but
	// gets no new ones.
	Weight uint8
	// TaskID is the task behind the backend.
	TaskID string
	// Local, when valid, is what the backend's own agent programs instead
	// of IP:Port: a host-port backend of a non-Docker (UCR) container is
	// reached directly at its container IP and port on its own agent,
	// because IPVS skips the port mapper's DNAT there (DCOS_OSS-2070).
	// Docker bridge containers keep agentIP:hostPort so a container can
	// reach its own VIP (DCOS-45115).
	Local netip.AddrPort
}

func compareBackends(a, b Backend) int {
	return cmp.Or(a.IP.Compare(b.IP), cmp.Compare(a.Port, b.Port), a.AgentIP.Compare(b.AgentIP),
		cmp.Compare(a.Weight, b.Weight), cmp.Compare(a.TaskID, b.TaskID))
}

// VIP is one (protocol, VIP, port) with its backends.
type VIP struct {
	Key
	// FQDN is "<name>.l4lb.thisdcos.directory" for named VIPs.
	FQDN string
	// Addrs are the addresses clients connect to: the IP of an IP VIP; for a
	// named VIP its allocated IPv4 address if it has IPv4 backends and its
	// IPv6 address if it has IPv6 backends.
	Addrs []netip.Addr
	// Labels are the raw specs that declared this VIP, sorted, unique.
	Labels []string
	// Balance are the values of the BalanceLabel task label of the tasks
	// behind the VIP ("" for a task without it), sorted, unique: what a
	// node that has the table but not the tasks (an agent) chooses the
	// balancing mode from.
	Balance []string
	// Backends are sorted by IP, port, agent; both families mixed (use
	// BackendsFor to program one address).
	Backends []Backend
}

// BackendsFor returns the backends of addr's family.
func (v *VIP) BackendsFor(addr netip.Addr) []Backend {
	var out []Backend
	for _, b := range v.Backends {
		if b.IP.Is4() == addr.Is4() {
			out = append(out, b)
		}
	}
	return out
}

// Name is a named VIP's DNS name and addresses.
type Name struct {
	FQDN string
	IPv4 netip.Addr // invalid when the name has no IPv4 backends
	IPv6 netip.Addr // invalid when the name has no IPv6 backends
}

// Table is the immutable VIP table built from one snapshot.
type Table struct {
	// Version is the snapshot version the table was built from.
	Version uint64
	// VIPs are sorted by name, IP, protocol, port.
	VIPs []VIP
	// Names are the named VIPs' names and addresses, sorted by FQDN.
	Names []Name
}

// FQDN returns the DNS name of a named VIP key ("myapp.marathon" →
// "myapp.marathon.l4lb.thisdcos.directory").
func FQDN(name string) string { return name + "." + Zone }

// NameKey returns the normalised named-VIP key of a spec host and
// framework: domain_frag(host) "." domain_frag(framework); false when
// either part sanitises to nothing.
func NameKey(host, framework string) (string, bool) {
	h, f := label.DomainFrag(host), label.DomainFrag(framework)
	if h == "" || f == "" {
		return "", false
	}
	return h + "." + f, true
}

// weight implements §B.4 and Sextant's health-aware rule: 1 for a task
// that serves (running, and healthy or without health checks), else 0 —
// killing, unhealthy, or health-checked without a result yet: it keeps its
// connections but gets no new ones.
func weight(t *model.Task) uint8 {
	if t.Serving() {
		return 1
	}
	return 0
}

// BuildTable computes the VIP table of a snapshot (§B.1–B.4): every task
// that is running or killing contributes, for each of its ports' VIP
// labels, one backend per task IP (container port) or one agent-IP backend
// (host port). It does no I/O. Bad labels are skipped and reported with the
// task (and app) and the label.
func BuildTable(snap *model.Snapshot, cfg Config) (*Table, []model.Problem) {
	v4r, v6r := cfg.ranges()
	var probs []model.Problem
	type acc struct {
		vip     VIP
		labels  map[string]bool
		balance map[string]bool
		seen    map[Backend]bool
	}
	vips := map[Key]*acc{}
	for i := range snap.Tasks {
		t := &snap.Tasks[i]
		if t.State != model.TaskRunning && t.State != model.TaskKilling {
			continue
		}
		agentIP := t.AgentIP
		if !agentIP.IsValid() {
			if t.HasVIPLabels() {
				probs = append(probs, model.Problem{Item: snap.TaskItem(t), Field: "slave_id", Reason: "agent has no known address; VIP backends skipped"})
			}
			continue
		}
		taskIPs := t.IPs
		w := weight(t)
		fw := snap.FrameworkOf(t).Name
		for _, p := range t.NetPorts {
			for _, l := range p.VIPs {
				sp, err := ParseSpec(l.Value)
				if err != nil {
					probs = append(probs, model.Problem{Item: snap.TaskItem(t), Field: "label " + l.Key, Reason: err.Error()})
					continue
				}
				k := Key{Protocol: p.Protocol, Port: sp.Port}
				if sp.Named() {
					name, ok := NameKey(sp.Host, fw)
					if !ok {
						probs = append(probs, model.Problem{Item: snap.TaskItem(t), Field: "label " + l.Key,
							Reason: "vip " + strconv.Quote(l.Value) + " of framework " + strconv.Quote(fw) + " sanitises to an empty name"})
						continue
					}
					k.Name = name
				} else {
					if cfg.DisableIPv6 && sp.IP.Is6() {
						probs = append(probs, model.Problem{Item: snap.TaskItem(t), Field: "label " + l.Key, Reason: "IPv6 VIP while IPv6 is disabled"})
						continue
					}
					k.IP = sp.IP
				}
				var bes []Backend
				if p.HasHostPort {
					be := Backend{AgentIP: agentIP, IP: agentIP, Port: uint16(p.HostPort), Weight: w, TaskID: t.ID}
					if p.HasPort && t.Container != "DOCKER" {
						for _, tip := range taskIPs {
							if tip != agentIP && tip.Is4() == agentIP.Is4() {
								be.Local = netip.AddrPortFrom(tip, uint16(p.Port))
								break
							}
						}
					}
					bes = append(bes, be)
				} else if p.HasPort {
					for _, ip := range taskIPs {
						bes = append(bes, Backend{AgentIP: agentIP, IP: ip, Port: uint16(p.Port), Weight: w, TaskID: t.ID})
					}
				}
				a := vips[k]
				if a == nil {
					a = &acc{vip: VIP{Key: k}, labels: map[string]bool{}, balance: map[string]bool{}, seen: map[Backend]bool{}}
					vips[k] = a
				}
				if bal, _ := t.LabelValue(BalanceLabel); !a.balance[bal] {
					a.balance[bal] = true
					a.vip.Balance = append(a.vip.Balance, bal)
				}
				if !a.labels[l.Value] {
					a.labels[l.Value] = true
					a.vip.Labels = append(a.vip.Labels, l.Value)
				}
				for _, b := range bes {
					// Family filter: an IP VIP only takes backends of its own
					// family; IPv6 backends only when IPv6 is enabled.
					if k.IP.IsValid() && b.IP.Is4() != k.IP.Is4() {
						continue
					}
					if b.IP.Is6() && cfg.DisableIPv6 {
						continue
					}
					if !a.seen[b] {
						a.seen[b] = true
						a.vip.Backends = append(a.vip.Backends, b)
					}
				}
			}
		}
	}

	// Address allocation per family, over the names that have backends of
	// that family.
	fam4, fam6 := map[string]bool{}, map[string]bool{}
	for k, a := range vips {
		if k.Name == "" {
			continue
		}
		for _, b := range a.vip.Backends {
			if b.IP.Is4() {
				fam4[k.Name] = true
			} else {
				fam6[k.Name] = true
			}
		}
	}
	alloc := func(r Range, set map[string]bool) map[string]netip.Addr {
		keys := make([]string, 0, len(set))
		for k := range set {
			keys = append(keys, k)
		}
		m, err := r.Allocate(keys)
		if err != nil {
			probs = append(probs, model.Problem{Item: "named VIPs", Field: "range", Reason: err.Error()})
		}
		return m
	}
	a4, a6 := alloc(v4r, fam4), alloc(v6r, fam6)

	t := &Table{Version: snap.Version, VIPs: make([]VIP, 0, len(vips))}
	names := map[string]*Name{}
	for k, a := range vips {
		v := a.vip
		slices.Sort(v.Labels)
		slices.Sort(v.Balance)
		if len(v.Balance) == 1 && v.Balance[0] == "" {
			v.Balance = nil // no task has the label: the default, and nothing to carry
		}
		slices.SortFunc(v.Backends, compareBackends)
		if k.Name == "" {
			v.Addrs = []netip.Addr{k.IP}
		} else {
			v.FQDN = FQDN(k.Name)
			n := names[k.Name]
			if n == nil {
				n = &Name{FQDN: v.FQDN}
				names[k.Name] = n
			}
			if ip, ok := a4[k.Name]; ok {
				v.Addrs = append(v.Addrs, ip)
				n.IPv4 = ip
			}
			if ip, ok := a6[k.Name]; ok {
				v.Addrs = append(v.Addrs, ip)
				n.IPv6 = ip
			}
		}
		t.VIPs = append(t.VIPs, v)
	}
	slices.SortFunc(t.VIPs, func(a, b VIP) int { return compareKeys(a.Key, b.Key) })
	for _, n := range names {
		t.Names = append(t.Names, *n)
	}
	slices.SortFunc(t.Names, func(a, b Name) int { return cmp.Compare(a.FQDN, b.FQDN) })
	return t, probs
}

// Lookup returns the VIPs with the given FQDN (all protocols and ports).
func (t *Table) Lookup(fqdn string) []VIP {
	var out []VIP
	for _, v := range t.VIPs {
		if v.FQDN == fqdn {
			out = append(out, v)
		}
	}
	return out
}

// ReachStats are the gauges of the reachability filter (§B.5).
type ReachStats struct {
	Backends            int // backends kept
	UnreachableBackends int // backends on unreachable agents
	UnreachableVIPs     int // VIPs whose every backend is unreachable (kept: fail open)
	UnreachableNodes    int // distinct unreachable agents
}

// Reachable returns the table a data plane should program: backends on
// agents for which reachable returns false are dropped, except that a VIP
// whose backends are all unreachable keeps them all (fail open, as
// dcos-l4lb). A nil reachable filters nothing (no membership known yet).
// The receiver is not modified.
func (t *Table) Reachable(reachable func(agentIP netip.Addr) bool) (*Table, ReachStats) {
	var st ReachStats
	if reachable == nil {
		for _, v := range t.VIPs {
			st.Backends += len(v.Backends)
		}
		return t, st
	}
	verdict := map[netip.Addr]bool{}
	ok := func(a netip.Addr) bool {
		r, seen := verdict[a]
		if !seen {
			r = reachable(a)
			verdict[a] = r
			if !r {
				st.UnreachableNodes++
			}
		}
		return r
	}
	out := &Table{Version: t.Version, Names: t.Names, VIPs: make([]VIP, len(t.VIPs))}
	for i, v := range t.VIPs {
		var kept []Backend
		for _, b := range v.Backends {
			if ok(b.AgentIP) {
				kept = append(kept, b)
			}
		}
		st.UnreachableBackends += len(v.Backends) - len(kept)
		if len(kept) == 0 && len(v.Backends) > 0 {
			st.UnreachableVIPs++
			kept = v.Backends
		}
		st.Backends += len(kept)
		v.Backends = kept
		out.VIPs[i] = v
	}
	return out, st
}

// APIVIP is one element of GET /v1/vips.
type APIVIP struct {
	VIP      string       `json:"vip"`
	Protocol string       `json:"protocol"`
	Backend  []APIBackend `json:"backend"`
}

// APIBackend is one backend in /v1/vips. dcos-net shows only ip and port;
// weight and agent_ip are additions (weights were a requested improvement)
// that clients reading the original fields are unaffected by.
type APIBackend struct {
	IP      string `json:"ip"`
	Port    uint16 `json:"port"`
	Weight  uint8  `json:"weight"`
	AgentIP string `json:"agent_ip"`
}

// API returns the /v1/vips document: named VIPs by FQDN:port, IP VIPs by
// address:port, in table order.
func (t *Table) API() []APIVIP {
	out := make([]APIVIP, 0, len(t.VIPs))
	for _, v := range t.VIPs {
		e := APIVIP{Protocol: v.Protocol.String(), Backend: make([]APIBackend, 0, len(v.Backends))}
		if v.Name != "" {
			e.VIP = v.FQDN + ":" + strconv.Itoa(int(v.Port))
		} else {
			e.VIP = netip.AddrPortFrom(v.IP, v.Port).String()
		}
		for _, b := range v.Backends {
			e.Backend = append(e.Backend, APIBackend{IP: b.IP.String(), Port: b.Port, Weight: b.Weight, AgentIP: b.AgentIP.String()})
		}
		out = append(out, e)
	}
	return out
}

// MarshalJSON renders the table as /v1/vips.
func (t *Table) MarshalJSON() ([]byte, error) { return json.Marshal(t.API()) }
