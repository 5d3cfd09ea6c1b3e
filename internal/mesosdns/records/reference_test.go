package records

import (
	"net"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/mesosdns/labels"
	"github.com/sextantdc/sextant/internal/mesosdns/records/synth"
	"github.com/sextantdc/sextant/internal/model"
)

// refGen is a plain transcription of the Mesos-DNS generator (one insert
// per record, linear duplicate checks, no caching, no grouping), used to
// check the optimised generator's value order and enumerate lists.
type refGen struct {
	rs  *RecordSet
	cfg Config
}

func (g *refGen) insert(kind, name, host string, et *EnumTask) bool {
	if host == "" {
		return false
	}
	m := g.rs.zone(kind)
	for _, v := range m[name] {
		if v == host {
			return false
		}
	}
	m[name] = append(m[name], host)
	if et != nil {
		et.Records = append(et.Records, EnumRecord{Name: name, Host: host, RType: kind})
	}
	return true
}

func (rs *RecordSet) zone(kind string) map[string][]string {
	switch kind {
	case KindA:
		return rs.A
	case KindAAAA:
		return rs.AAAA
	}
	return rs.SRV
}

func kindStr(s string) string {
	ip, _ := netip.ParseAddr(s)
	return kindOf(ip)
}

func reference(snap *model.Snapshot, cfg Config) *RecordSet {
	g := &refGen{cfg: cfg, rs: &RecordSet{Domain: cfg.Domain, Version: snap.Version,
		A: map[string][]string{}, AAAA: map[string][]string{}, SRV: map[string][]string{}}}
	spec, D := cfg.EnforceRFC952, cfg.Domain
	for _, f := range snap.Frameworks {
		if len(f.Addrs) == 0 {
			continue
		}
		a := labels.DomainFrag(f.Name, spec) + "." + D + "."
		for _, ip := range f.Addrs {
			g.insert(kindOf(ip.Unmap()), a, ip.Unmap().String(), nil)
		}
		if f.HasPort {
			g.insert(KindSRV, "_framework._tcp."+a, net.JoinHostPort(a, strconv.Itoa(int(f.Port))), nil)
		}
	}
	slaveIPs := map[string][]string{}
	for _, ag := range snap.Agents {
		if ag.Host == "" {
			continue
		}
		var ips []string
		for _, ip := range ag.Addrs {
			g.insert(kindOf(ip.Unmap()), "slave."+D+".", ip.Unmap().String(), nil)
			ips = append(ips, ip.Unmap().String())
		}
		if len(ips) > 0 {
			g.insert(KindSRV, "_slave._tcp."+D+".", "slave."+D+".:"+strconv.Itoa(int(ag.Port)), nil)
		} else {
			ips = []string{labels.DomainFrag(ag.Host, spec)}
		}
		slaveIPs[ag.ID] = ips
	}
	if cfg.Listener == "127.0.0.1" {
		g.insert(KindA, cfg.SOAMname, "127.0.0.1", nil)
	}
	if l := snap.Leader; l.OK {
		k := kindStr(l.Host)
		g.insert(k, "leader."+D+".", l.Host, nil)
		g.insert(k, "master."+D+".", l.Host, nil)
		for _, p := range []string{"_tcp", "_udp"} {
			g.insert(KindSRV, "_leader."+p+"."+D+".", "leader."+D+".:"+strconv.Itoa(int(l.Port)), nil)
		}
		_, leaderAddr, _ := strings.Cut(l.Raw, "@")
		added, idx := false, 0
		for _, m := range cfg.Masters {
			h, _, err := net.SplitHostPort(m)
			if err != nil {
				continue
			}
			if m != leaderAddr && !g.insert(kindStr(h), "master."+D+".", h, nil) {
				continue
			}
			if m == leaderAddr && added {
				continue
			}
			g.insert(kindStr(h), "master"+strconv.Itoa(idx)+"."+D+".", h, nil)
			idx++
			added = added || m == leaderAddr
		}
		if !added {
			g.insert(k, "master"+strconv.Itoa(idx)+"."+D+".", l.Host, nil)
		}
	}
	for fi, f := range snap.Frameworks {
		g.rs.Frameworks = append(g.rs.Frameworks, EnumFramework{Name: f.Name, Tasks: []EnumTask{}})
		ef := &g.rs.Frameworks[fi]
		fw := labels.DomainFrag(f.Name, spec)
		for _, t := range snap.FrameworkTasks(&f) {
			ips, ok := slaveIPs[t.AgentID]
			if !ok && t.Agent >= 0 {
				ok = true // an agent without pid: kept, with no addresses
			}
			if !ok || !t.Running() {
				continue
			}
			var addrs []netip.Addr
			for _, s := range ips {
				if ip, ok := parseIP(s); ok {
					addrs = append(addrs, ip)
				}
			}
			taskIPs := taskIPs(nil, &t, addrs, cfg.IPSources)
			ef.Tasks = append(ef.Tasks, EnumTask{Name: t.Name, ID: t.ID})
			et := &ef.Tasks[len(ef.Tasks)-1]
			tail := strings.ToLower(t.AgentID[strings.LastIndex(t.AgentID, "-")+1:])
			ctx := func(T string) {
				tl := "." + D + "."
				canonical := T + "-" + hashID(t.ID) + "-" + tail + "." + fw
				arec := T + "." + fw
				for _, ip := range taskIPs {
					g.insert(kindOf(ip), arec+tl, ip.String(), et)
					g.insert(kindOf(ip), canonical+tl, ip.String(), et)
				}
				for _, s := range ips {
					k := KindA
					if ip, ok := parseIP(s); ok {
						k, s = kindOf(ip), ip.String()
					}
					g.insert(k, arec+".slave"+tl, s, et)
					g.insert(k, canonical+".slave"+tl, s, et)
				}
				di := t.Discovery != nil && t.Discovery.Name != ""
				for _, p := range t.Ports {
					target := canonical + ".slave" + tl + ":" + strconv.FormatUint(p, 10)
					names := []string{"_" + T + "._tcp." + fw + ".slave", "_" + T + "._udp." + fw + ".slave"}
					if !di {
						names = append(names, "_"+T+"._tcp."+fw, "_"+T+"._udp."+fw)
					}
					for _, n := range names {
						g.insert(KindSRV, n+tl, target, et)
					}
				}
				if !di {
					return
				}
				for _, dp := range t.Discovery.Ports {
					target := canonical + tl + ":" + strconv.Itoa(int(dp.Number))
					protos := []string{labels.Label(dp.Protocol, spec)}
					if protos[0] == "" {
						protos = []string{"tcp", "udp"}
					}
					var names []string
					for _, p := range protos {
						names = append(names, "_"+T+"._"+p+"."+fw)
					}
					if pn := labels.Label(dp.Name, spec); pn != "" {
						for _, n := range names[:len(protos)] {
							names = append(names, "_"+pn+"."+n)
						}
					}
					for _, n := range names {
						g.insert(KindSRV, n+tl, target, et)
					}
				}
			}
			if t.Discovery != nil && t.Discovery.Name != "" {
				ctx(t.Discovery.Name)
				ctx(labels.Label(t.Discovery.Name, spec))
			} else {
				ctx(labels.Label(t.Name, spec))
			}
		}
	}
	return g.rs
}

// TestMatchesReference compares whole record sets, value order and
// enumerate lists included, with the plain transcription above.
func TestMatchesReference(t *testing.T) {
	cfg := Config{Domain: "mesos", IPSources: []string{"netinfo", "mesos", "host"}, SOAMname: "ns1.mesos.",
		Listener: "127.0.0.1", Masters: []string{"10.0.0.2:5050", "10.0.0.1:5050", "10.0.0.3:5050"}}
	states := map[string]*model.Snapshot{"synth": build(synth.State(3000, 9), nil)}
	if st := fixtureStateOrNil(); st != nil {
		states["fixture"] = build(st, localhost)
	}
	for name, snap := range states {
		for _, rfc952 := range []bool{false, true} {
			cfg.EnforceRFC952 = rfc952
			got, _ := Generate(snap, cfg)
			want := reference(snap, cfg)
			for _, kind := range []string{KindA, KindAAAA, KindSRV} {
				g, w := got.zone(kind), want.zone(kind)
				if len(g) != len(w) {
					t.Errorf("%s rfc952=%v %s: %d names, want %d", name, rfc952, kind, len(g), len(w))
				}
				for n, wv := range w {
					if !reflect.DeepEqual(g[n], wv) {
						t.Errorf("%s rfc952=%v %s %s = %v, want %v", name, rfc952, kind, n, g[n], wv)
					}
				}
			}
			for i := range want.Frameworks {
				if !reflect.DeepEqual(got.Frameworks[i], want.Frameworks[i]) {
					t.Errorf("%s rfc952=%v: enumerate of framework %q differs", name, rfc952, want.Frameworks[i].Name)
				}
			}
		}
	}
}
