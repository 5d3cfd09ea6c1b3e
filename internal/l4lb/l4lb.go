package l4lb

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"strconv"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/vip"
)

// The data planes' vocabulary, from package balance.
type (
	Service      = balance.Service
	Backend      = balance.Backend
	Key          = balance.Key
	Mode         = balance.Mode
	Protocol     = balance.Protocol
	ServiceStats = balance.ServiceStats
	BackendStats = balance.BackendStats
)

// Protocols and modes, from package balance.
const (
	TCP    = balance.TCP
	UDP    = balance.UDP
	Random = balance.Random
	Maglev = balance.Maglev
)

// Dataplane serves services: it makes VIP traffic reach the backends.
//
// Sync makes the plane serve exactly services (sorted by key, as Desired
// returns them), whatever it served before: it is declarative and
// idempotent, and a plane applies only what changed. Traffic of services
// that stay must not be disturbed by a Sync. A service that could not be
// applied makes Sync return an error naming it; the others are applied,
// and the next Sync tries again. Sync is called from one goroutine at a
// time and may block for kernel or socket work, up to ctx.
//
// Close stops serving: listeners and kernel objects the plane created are
// removed. It is idempotent; Sync after Close fails.
type Dataplane interface {
	Sync(ctx context.Context, services []Service) error
	Close() error
}

// StatsReporter is implemented by planes that count their traffic. Stats
// returns the counters of every service the plane serves now; it is safe
// to call concurrently with Sync and must not block for long (it runs at
// each metrics scrape).
type StatsReporter interface {
	Stats() []ServiceStats
}

// ModeLabel is the task label that selects a VIP's balancing mode
// ("random" or "maglev").
const ModeLabel = vip.BalanceLabel

// Config is what Desired needs besides the snapshot.
type Config struct {
	// VIP configures the named VIP ranges and families.
	VIP vip.Config
	// NodeIP is this node's agent IP: its own UCR host-port backends are
	// programmed at their container address (§B.4). Invalid: none.
	NodeIP netip.Addr
	// Unreachable returns the agent IPs the failure detector reports
	// unreachable now; nil or an empty answer filters nothing.
	Unreachable func() []netip.Addr
	// FromItems takes the VIP table from the cluster item vip.TableItem
	// of the snapshots (an agent: the table the leading master built and
	// gossiped) instead of building it from the snapshots' tasks. A bad
	// item keeps the last good table.
	FromItems bool
	// LiveWriter reports whether the writer of a per-writer backend set
	// (vip.WriterItem) is a live member now; a set whose writer is not, or
	// is in Unreachable, is left out. nil: every writer not in Unreachable
	// is live. Call LB.Resync when the answer changes.
	LiveWriter func(netip.Addr) bool
}

// Report is what Desired found besides the services.
type Report struct {
	vip.ReachStats
	// VIPs is the number of VIPs (a named VIP with both families counts
	// once per address).
	VIPs     int
	Problems []model.Problem
}

// Desired returns the services of a snapshot, sorted by key: every
// address of every VIP of vip.BuildTable, with the backends of the
// address's family after the reachability filter, and the VIP's mode.
// It does no I/O.
func Desired(snap *model.Snapshot, cfg Config) ([]Service, Report) {
	table, probs := vip.BuildTable(snap, cfg.VIP)
	svcs, rep, _ := desiredFrom(table, probs, snap, cfg)
	return svcs, rep
}

// unreachableSet is the answer of cfg.Unreachable as a set, nil when
// nothing is reported unreachable.
func unreachableSet(cfg Config) map[netip.Addr]bool {
	if cfg.Unreachable == nil {
		return nil
	}
	down := cfg.Unreachable()
	if len(down) == 0 {
		return nil
	}
	set := make(map[netip.Addr]bool, len(down))
	for _, a := range down {
		set[a.Unmap()] = true
	}
	return set
}

// desiredFrom is Desired from a built table (from the snapshot's tasks,
// or received whole by gossip); snap supplies the tasks' balancing-mode
// labels, when it has tasks. It also returns the unreachable set it
// applied, for the API's backend states.
func desiredFrom(table *vip.Table, probs []model.Problem, snap *model.Snapshot, cfg Config) ([]Service, Report, map[netip.Addr]bool) {
	rep := Report{Problems: probs}
	down := unreachableSet(cfg)
	var reach func(netip.Addr) bool
	if down != nil {
		reach = func(a netip.Addr) bool { return !down[a] }
	}
	table, rep.ReachStats = table.Reachable(reach)

	byID := make(map[string]*model.Task, len(snap.Tasks))
	for i := range snap.Tasks {
		byID[snap.Tasks[i].ID] = &snap.Tasks[i]
	}
	var out []Service
	for i := range table.VIPs {
		v := &table.VIPs[i]
		mode, prob := vipMode(v, byID)
		if prob != nil {
			rep.Problems = append(rep.Problems, *prob)
		}
		for _, addr := range v.Addrs {
			s := Service{Key: Key{Protocol: protocol(v.Protocol), Addr: netip.AddrPortFrom(addr, v.Port)}, Name: v.Name, Mode: mode}
			for _, b := range v.BackendsFor(addr) {
				s.Backends = append(s.Backends, Backend{Addr: target(b, addr, cfg.NodeIP), Weight: b.Weight})
			}
			s.Backends = uniqueBackends(s.Backends)
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Service) int { return balance.CompareKeys(a.Key, b.Key) })
	// Two VIPs can share an address only through a collision the
	// allocator resolves; keep the first should it ever happen.
	out = slices.CompactFunc(out, func(a, b Service) bool { return a.Key == b.Key })
	rep.VIPs = len(out)
	return out, rep, down
}

// target is where this node sends a backend's flows for VIP address
// addr: its gossiped address, or on its own agent the container address
// of a UCR port mapping (§B.4).
func target(b vip.Backend, addr, nodeIP netip.Addr) netip.AddrPort {
	if nodeIP.IsValid() && b.AgentIP == nodeIP && b.Local.IsValid() && b.Local.Addr().Is4() == addr.Is4() {
		return b.Local
	}
	return netip.AddrPortFrom(b.IP, b.Port)
}

func protocol(p vip.Protocol) Protocol {
	if p == vip.UDP {
		return UDP
	}
	return TCP
}

// uniqueBackends sorts by address and keeps one backend per address, with
// the highest weight (two tasks cannot share an address and port, but a
// substitution could make them look so).
func uniqueBackends(bs []Backend) []Backend {
	slices.SortFunc(bs, func(a, b Backend) int { return cmp.Or(a.Addr.Compare(b.Addr), -cmp.Compare(a.Weight, b.Weight)) })
	return slices.CompactFunc(bs, func(a, b Backend) bool { return a.Addr == b.Addr })
}

// vipMode reads the balancing mode of a VIP from the label of the tasks
// behind it.
func vipMode(v *vip.VIP, byID map[string]*model.Task) (Mode, *model.Problem) {
	modes := map[Mode]bool{}
	item := v.FQDN
	if item == "" {
		item = netip.AddrPortFrom(v.IP, v.Port).String()
	}
	item = "VIP " + v.Protocol.String() + " " + item
	if v.Name != "" {
		item += ":" + strconv.Itoa(int(v.Port))
	}
	found := false
	for _, b := range v.Backends {
		t := byID[b.TaskID]
		if t == nil {
			continue
		}
		found = true
		val, _ := t.LabelValue(ModeLabel)
		m, err := balance.ParseMode(val)
		if err != nil {
			return Random, &model.Problem{Item: item, Field: "label " + ModeLabel + " of task " + t.ID, Reason: err.Error() + "; using random"}
		}
		modes[m] = true
	}
	if !found {
		// The table came without its tasks (an agent): the label values
		// the builder recorded.
		for _, val := range v.Balance {
			m, err := balance.ParseMode(val)
			if err != nil {
				return Random, &model.Problem{Item: item, Field: "label " + ModeLabel, Reason: err.Error() + "; using random"}
			}
			modes[m] = true
		}
	}
	switch len(modes) {
	case 0:
		return Random, nil
	case 1:
		for m := range modes {
			return m, nil
		}
	}
	return Random, &model.Problem{Item: item, Field: "label " + ModeLabel, Reason: "tasks disagree on the balancing mode; using random until they agree"}
}
