package directory

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/directory/label"
	"github.com/sextantdc/sextant/internal/mesosdns/records"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/vip"
)

// Zone names (§A.4).
const (
	ZoneDCOS      = "dcos.thisdcos.directory"
	ZoneMesos     = "mesos.thisdcos.directory"
	ZoneL4LB      = vip.Zone
	ZoneThisNode  = "thisnode.thisdcos.directory"
	ZoneSpartan   = "spartan"
	ZoneLocalhost = "localhost"
	ZoneZK        = "zk"
	// Suffix is the parent of the cluster's own zones.
	Suffix = "thisdcos.directory"
)

// ReadyName answers 127.0.0.1 on every node: the watchdog and the
// resolv.conf generator probe it.
const ReadyName = "ready.spartan"

// SpartanIP is the first dcos-dns listener address, ns.spartan's A record.
var SpartanIP = netip.AddrFrom4([4]byte{198, 51, 100, 1})

// Config holds the inputs of Build besides the snapshot and VIP table.
type Config struct {
	// Version stamps every zone built; 0 means the snapshot's version. The
	// publisher must make it increase per zone name.
	Version uint64
	// Masters is the master list (§A.8): master.dcos.thisdcos.directory and
	// zk-1..5.zk. When empty the leader's addresses are used for master.
	// (single-master clusters) and the zk zone holds only its apex.
	Masters []netip.Addr
	// MesosRecords is the Mesos-DNS record set to mirror under
	// mesos.thisdcos.directory; nil leaves that zone out.
	MesosRecords *records.RecordSet
	// NodeIP is this node's private IP for thisnode.thisdcos.directory;
	// invalid leaves that zone out. PublicIPs answer
	// public.thisnode.thisdcos.directory.
	NodeIP    netip.Addr
	PublicIPs []netip.Addr
	// CustomZones are operator CNAME zones (dcos-dns app env `zones`).
	CustomZones []CustomZone
	// HealthyOnly leaves tasks that should not get traffic (model
	// Task.Serving: unhealthy, or health-checked without a result yet) out
	// of dcos.thisdcos.directory. dcos-net ignored health for task names
	// (only the L4LB weighted unhealthy backends to 0); the node DNS role
	// sets it unless told to ignore health.
	HealthyOnly bool
}

// CustomZone is one operator-defined zone of CNAME records.
type CustomZone struct {
	// Name is the zone, e.g. "component.thisdcos.directory".
	Name   string
	CNAMEs []CNAME
}

// CNAME maps Name (relative to the zone) to Value (a full name).
type CNAME struct {
	Name  string
	Value string
}

// Validate checks custom zones as dcos-dns does at start: names must be
// valid, zones under l4lb, mesos or dcos are reserved.
func (c CustomZone) Validate() error {
	z := strings.ToLower(strings.TrimSuffix(c.Name, "."))
	if err := checkName(z); err != nil {
		return fmt.Errorf("custom zone %q: name: %w", c.Name, err)
	}
	for _, r := range []string{ZoneL4LB, ZoneMesos, ZoneDCOS} {
		if within(z, r) {
			return fmt.Errorf("custom zone %q: name: zones under %s are reserved", c.Name, r)
		}
	}
	for i, r := range c.CNAMEs {
		n := strings.ToLower(strings.TrimSuffix(r.Name, "."))
		if err := checkName(n); err != nil {
			return fmt.Errorf("custom zone %q: cnames[%d].name: %w", c.Name, i, err)
		}
		if err := checkName(strings.ToLower(strings.TrimSuffix(r.Value, "."))); err != nil {
			return fmt.Errorf("custom zone %q: cnames[%d].value: %w", c.Name, i, err)
		}
	}
	return nil
}

func addrRecord(name string, ip netip.Addr) Record {
	t := dns.TypeA
	if ip.Is6() && !ip.Is4In6() {
		t = dns.TypeAAAA
	}
	return Record{Name: name, Type: t, TTL: TTL, Addr: ip.Unmap().WithZone("")}
}

// buildZone makes a zone of the records that pass validation; each record
// that does not (an invalid address in the master list, a name too long) is
// dropped and reported, so one bad item never loses the zone.
func buildZone(name string, version uint64, recs []Record, probs *[]model.Problem) *Zone {
	// recs belongs to the builder: filter it in place.
	ok := recs[:0]
	for i := range recs {
		r := recs[i]
		if err := checkRecord(name, &r); err != nil {
			*probs = append(*probs, model.Problem{Item: "zone " + strconv.Quote(name), Field: "record " + strconv.Quote(r.Name), Reason: err.Error()})
			continue
		}
		ok = append(ok, r)
	}
	z, err := newZone(name, version, ok, false, false)
	if err != nil {
		*probs = append(*probs, model.Problem{Item: "zone " + strconv.Quote(name), Field: "records", Reason: err.Error()})
		z, _ = NewZone(name, version, Apex(name))
	}
	return z
}

// VIPsItem is the name of the gossiped item carrying the /v1/vips
// document, beside the zones (which go by their own names).
const VIPsItem = "_vips"

// TaskName returns the name a task is known by in dcos.thisdcos.directory:
// label(discovery name, else task name) "." label(framework name), or
// false when either sanitises to nothing.
func TaskName(snap *model.Snapshot, t *model.Task) (string, bool) {
	n := t.Name
	if t.Discovery != nil && t.Discovery.Name != "" {
		n = t.Discovery.Name
	}
	name, fw := label.Label(n), label.Label(snap.FrameworkOf(t).Name)
	if name == "" || fw == "" {
		return "", false
	}
	return name + "." + fw, true
}

// BuildDCOS builds dcos.thisdcos.directory (§A.5): for every TASK_RUNNING
// task <name>.<framework>.{agentip,containerip,autoip}, plus master. and
// leader. It is pure and deterministic.
func BuildDCOS(snap *model.Snapshot, cfg Config) (*Zone, []model.Problem) {
	var probs []model.Problem
	recs := make([]Record, 0, 3*len(snap.Tasks)+8)
	recs = append(recs, Apex(ZoneDCOS)...)
	for i := range snap.Tasks {
		t := &snap.Tasks[i]
		if !t.Running() {
			continue
		}
		if cfg.HealthyOnly && !t.Serving() {
			continue
		}
		name, ok := TaskName(snap, t)
		if !ok {
			probs = append(probs, model.Problem{Item: snap.TaskItem(t), Field: "name", Reason: "task or framework name sanitises to an empty label"})
			continue
		}
		agentIP := t.AgentIP
		if !agentIP.IsValid() {
			// dcos-net holds such a task back until its agent is known.
			probs = append(probs, model.Problem{Item: snap.TaskItem(t), Field: "slave_id", Reason: "agent has no known address; no records"})
			continue
		}
		taskIPs := t.IPs
		agentName := name + ".agentip." + ZoneDCOS
		recs = append(recs, addrRecord(agentName, agentIP))
		for _, ip := range taskIPs {
			recs = append(recs, addrRecord(name+".containerip."+ZoneDCOS, ip))
		}
		// autoip: the agent IP when any port is mapped to a host port,
		// else the container IPs, else the agent IP.
		auto := name + ".autoip." + ZoneDCOS
		if t.HasHostPort() || len(taskIPs) == 0 {
			recs = append(recs, addrRecord(auto, agentIP))
		} else {
			for _, ip := range taskIPs {
				recs = append(recs, addrRecord(auto, ip))
			}
		}
	}
	leader := leaderAddrs(snap)
	for _, ip := range leader {
		recs = append(recs, addrRecord("leader."+ZoneDCOS, ip))
	}
	masters := cfg.Masters
	if len(masters) == 0 {
		masters = leader
	}
	for _, ip := range masters {
		recs = append(recs, addrRecord("master."+ZoneDCOS, ip))
	}
	return buildZone(ZoneDCOS, version(snap, cfg), recs, &probs), probs
}

func version(snap *model.Snapshot, cfg Config) uint64 {
	if cfg.Version != 0 || snap == nil {
		return cfg.Version
	}
	return snap.Version
}

func leaderAddrs(snap *model.Snapshot) []netip.Addr {
	if !snap.Leader.OK {
		return nil
	}
	if ip, err := netip.ParseAddr(snap.Leader.Host); err == nil {
		return []netip.Addr{ip.Unmap()}
	}
	return snap.HostIPs[snap.Leader.Host]
}

// BuildMesosMirror builds mesos.thisdcos.directory from a Mesos-DNS record
// set: every A, AAAA and SRV with the domain suffix rewritten to
// mesos.thisdcos.directory (SRV targets too), TTL 5, SRV priority and
// weight 1. Values that are not addresses (Mesos-DNS's unresolved agent
// host names) and names that are not valid DNS names are skipped.
func BuildMesosMirror(rs *records.RecordSet, ver uint64) (*Zone, []model.Problem) {
	var probs []model.Problem
	recs := Apex(ZoneMesos)
	dom := "." + strings.Trim(strings.ToLower(rs.Domain), ".") + "."
	rename := func(n string) (string, bool) {
		n = strings.ToLower(n)
		if !strings.HasSuffix(n, ".") {
			n += "."
		}
		if !strings.HasSuffix(n, dom) {
			return "", false
		}
		out := n[:len(n)-len(dom)] + "." + ZoneMesos
		return out, checkName(out) == nil
	}
	bad := func(name, field, reason string) {
		probs = append(probs, model.Problem{Item: "mesos-dns record " + strconv.Quote(name), Field: field, Reason: reason})
	}
	for _, m := range []map[string][]string{rs.A, rs.AAAA} {
		for name, vals := range m {
			n, ok := rename(name)
			if !ok {
				bad(name, "name", "not a valid name under the Mesos-DNS domain")
				continue
			}
			for _, v := range vals {
				ip, err := netip.ParseAddr(v)
				if err != nil || ip.Zone() != "" {
					continue // Mesos-DNS leaks unresolved host names as A values.
				}
				recs = append(recs, addrRecord(n, ip))
			}
		}
	}
	for name, vals := range rs.SRV {
		n, ok := rename(name)
		if !ok {
			bad(name, "name", "not a valid name under the Mesos-DNS domain")
			continue
		}
		for _, v := range vals {
			i := strings.LastIndexByte(v, ':')
			if i < 0 {
				bad(name, "srv", "value "+strconv.Quote(v)+" is not target:port")
				continue
			}
			port, err := strconv.ParseUint(v[i+1:], 10, 16)
			target, ok := rename(v[:i])
			if err != nil || !ok {
				bad(name, "srv", "value "+strconv.Quote(v)+" is not target:port under the domain")
				continue
			}
			recs = append(recs, Record{Name: n, Type: dns.TypeSRV, TTL: TTL, Priority: 1, Weight: 1, Port: uint16(port), Target: target})
		}
	}
	return buildZone(ZoneMesos, ver, recs, &probs), probs
}

// BuildL4LB builds l4lb.thisdcos.directory from the VIP table: an A record
// per named VIP with IPv4 backends, an AAAA per named VIP with IPv6 ones.
func BuildL4LB(t *vip.Table, ver uint64) (*Zone, []model.Problem) {
	var probs []model.Problem
	recs := Apex(ZoneL4LB)
	if t != nil {
		for _, n := range t.Names {
			if checkName(n.FQDN) != nil {
				continue
			}
			if n.IPv4.IsValid() {
				recs = append(recs, addrRecord(n.FQDN, n.IPv4))
			}
			if n.IPv6.IsValid() {
				recs = append(recs, addrRecord(n.FQDN, n.IPv6))
			}
		}
	}
	return buildZone(ZoneL4LB, ver, recs, &probs), probs
}

// BuildLocal builds the zones every node makes for itself: spartan,
// localhost, zk, thisnode (when cfg.NodeIP is set) and the custom CNAME
// zones. An invalid custom zone is skipped and reported.
func BuildLocal(cfg Config) ([]*Zone, []model.Problem) {
	var probs []model.Problem
	ver := cfg.Version
	spartan := append(Apex(ZoneSpartan),
		addrRecord(ReadyName, netip.AddrFrom4([4]byte{127, 0, 0, 1})),
		addrRecord(NameServer, SpartanIP))
	zones := []*Zone{
		buildZone(ZoneSpartan, ver, spartan, &probs),
		buildZone(ZoneLocalhost, ver, append(Apex(ZoneLocalhost), addrRecord(ZoneLocalhost, netip.AddrFrom4([4]byte{127, 0, 0, 1}))), &probs),
	}
	zk := Apex(ZoneZK)
	if n := len(cfg.Masters); n > 0 {
		// The master list repeated cyclically to fill zk-1 … zk-5.
		for i := range 5 {
			zk = append(zk, addrRecord("zk-"+strconv.Itoa(i+1)+"."+ZoneZK, cfg.Masters[i%n]))
		}
	}
	zones = append(zones, buildZone(ZoneZK, ver, zk, &probs))
	if cfg.NodeIP.IsValid() {
		tn := append(Apex(ZoneThisNode), addrRecord(ZoneThisNode, cfg.NodeIP))
		for _, ip := range cfg.PublicIPs {
			tn = append(tn, addrRecord("public."+ZoneThisNode, ip))
		}
		zones = append(zones, buildZone(ZoneThisNode, ver, tn, &probs))
	}
	for _, cz := range cfg.CustomZones {
		if err := cz.Validate(); err != nil {
			probs = append(probs, model.Problem{Item: "custom zone " + strconv.Quote(cz.Name), Field: "zones", Reason: err.Error()})
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(cz.Name, "."))
		recs := Apex(name)
		for _, c := range cz.CNAMEs {
			recs = append(recs, Record{Name: strings.ToLower(strings.TrimSuffix(c.Name, ".")) + "." + name, Type: dns.TypeCNAME, TTL: TTL,
				Target: strings.ToLower(strings.TrimSuffix(c.Value, "."))})
		}
		z, err := NewZone(name, ver, recs)
		if err != nil {
			probs = append(probs, model.Problem{Item: "custom zone " + strconv.Quote(cz.Name), Field: "zones", Reason: err.Error()})
			continue
		}
		zones = append(zones, z)
	}
	return zones, probs
}

// Build builds every zone a node serves (§A.4): dcos.thisdcos.directory,
// mesos.thisdcos.directory (when cfg.MesosRecords is set),
// l4lb.thisdcos.directory (from vips; empty when nil) and the local zones.
// It is pure: the same inputs give the same zones. In a cluster the leader
// publishes the dcos and mesos zones through gossip; each node builds l4lb
// and the local zones itself (see BuildDCOS, BuildMesosMirror, BuildL4LB,
// BuildLocal).
func Build(snap *model.Snapshot, vips *vip.Table, cfg Config) ([]*Zone, []model.Problem) {
	ver := version(snap, cfg)
	cfg.Version = ver
	var zones []*Zone
	var probs []model.Problem
	if snap != nil {
		z, p := BuildDCOS(snap, cfg)
		zones, probs = append(zones, z), append(probs, p...)
	}
	if cfg.MesosRecords != nil {
		z, p := BuildMesosMirror(cfg.MesosRecords, ver)
		zones, probs = append(zones, z), append(probs, p...)
	}
	z, p := BuildL4LB(vips, ver)
	zones, probs = append(zones, z), append(probs, p...)
	local, p := BuildLocal(cfg)
	return append(zones, local...), append(probs, p...)
}
