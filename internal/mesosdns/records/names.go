// names.go holds the naming rules of the records that come before the
// tasks': frameworks, agents, the name server, the leader and masters
// (spec/mesos-dns.md §5.3–§5.5; the tasks' rules are in tasknames.go). Each
// rule is a function of its inputs that hands its records to a sink, so it
// can be read next to the spec without knowing how the zone is kept.

package records

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/mesosdns/labels"
	"github.com/sextantdc/sextant/internal/model"
)

// sink receives what the rules produce. add inserts a record unless the
// zone holds it already (§5.1: a name's values are a set) and reports
// whether it did: the masters rule depends on that. Empty values are never
// added (Mesos-DNS ignored them too). problem notes an item skipped where
// Mesos-DNS panicked or failed the reload.
type sink interface {
	add(kind, name, value string) bool
	problem(item, field, reason string)
}

// agentInfo is an agent's contribution to its tasks' records.
type agentInfo struct {
	addrs []netip.Addr // for the "host" IP source
	strs  []string     // for the .slave records: IP strings, or the leaked host
	kinds []string     // the record kind of each of strs
	tail  string       // the last field of the agent id, lower-cased
}

// parseIP parses an IP literal the way Go's net.ParseIP accepts it (no
// zone), with IPv4-mapped IPv6 turned into IPv4.
func parseIP(s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

func kindOf(ip netip.Addr) string {
	if ip.Is4() || ip.Is4In6() {
		return KindA
	}
	return KindAAAA
}

// frameworkRecords makes <FW>.<D>. and _framework._tcp.<FW>.<D>. (§5.3),
// and returns each framework's FW = F(name), which its tasks' names use
// (§5.6.2). tail is ".<D>.".
func frameworkRecords(s sink, fws []model.Framework, tail string, rfc952 bool) []string {
	fnames := make([]string, len(fws))
	for i := range fws {
		f := &fws[i]
		fname := labels.DomainFrag(f.Name, rfc952)
		fnames[i] = fname
		if len(f.Addrs) == 0 {
			if f.HasPort && f.Host != "" {
				// Mesos-DNS resolved pid hosts while decoding the state; one
				// that did not resolve failed the whole reload.
				s.problem("framework "+strconv.Quote(f.Name), "pid",
					"host "+strconv.Quote(f.Host)+" did not resolve; the framework gets no records")
			}
			continue
		}
		a := fname + tail
		for _, ip := range f.Addrs {
			ip = ip.Unmap() // as net.IP printed a v4-mapped address
			s.add(kindOf(ip), a, ip.String())
		}
		if f.HasPort {
			s.add(KindSRV, "_framework._tcp."+a, a+":"+strconv.Itoa(int(f.Port)))
		}
	}
	return fnames
}

// agentRecords makes slave.<D>. and _slave._tcp.<D>. (§5.4), and returns
// each agent's addresses for its tasks' records.
func agentRecords(s sink, agents []model.Agent, tail string, rfc952 bool) []agentInfo {
	infos := make([]agentInfo, len(agents))
	a := "slave" + tail
	for i := range agents {
		ag := &agents[i]
		info := &infos[i]
		info.tail = agentTail(ag.ID)
		item := "agent " + strconv.Quote(ag.ID)
		if ag.Host == "" {
			// Mesos-DNS panicked on an agent without pid and failed the
			// reload on a bad one. Its tasks keep their own records.
			s.problem(item, "pid", "no usable pid: no agent records, and its tasks get no .slave addresses")
			continue
		}
		if len(ag.Addrs) == 0 {
			// Mesos-DNS failed the reload on a pid host that did not resolve;
			// where it got this far, it used the sanitised host string as
			// the agent's "IP", and so do we (it shows up over HTTP only).
			s.problem(item, "pid", "host "+strconv.Quote(ag.Host)+" did not resolve; its sanitised name stands in for its address")
			leak := labels.DomainFrag(ag.Host, rfc952)
			if ip, ok := parseIP(leak); ok {
				// The sanitised name can itself read as an IP ("1.2.3.4_");
				// Mesos-DNS then used it as one.
				info.addrs = []netip.Addr{ip}
				info.strs, info.kinds = []string{ip.String()}, []string{kindOf(ip)}
			} else {
				info.strs, info.kinds = []string{leak}, []string{KindA}
			}
			continue
		}
		info.addrs = make([]netip.Addr, len(ag.Addrs))
		info.strs = make([]string, len(ag.Addrs))
		info.kinds = make([]string, len(ag.Addrs))
		for j, ip := range ag.Addrs {
			ip = ip.Unmap() // as net.IP printed a v4-mapped address
			info.addrs[j] = ip
			info.strs[j], info.kinds[j] = ip.String(), kindOf(ip)
			s.add(info.kinds[j], a, info.strs[j])
		}
		s.add(KindSRV, "_slave._tcp"+tail, a+":"+strconv.Itoa(int(ag.Port)))
	}
	return infos
}

// nameServerRecords makes the name server's record (§5.4): the SOAMname
// gets the listener's addresses, even when it is outside the domain.
func nameServerRecords(s sink, cfg *Config) {
	ns := cfg.SOAMname
	if ns == "" {
		return
	}
	switch cfg.Listener {
	case "0.0.0.0":
		for _, ip := range cfg.ListenerAddrs {
			if !ip.IsValid() || ip.IsLoopback() {
				continue
			}
			ip = ip.Unmap()
			s.add(kindOf(ip), ns, ip.String())
		}
	case "127.0.0.1":
		s.add(KindA, ns, "127.0.0.1")
	default:
		ip, ok := parseIP(cfg.Listener)
		if !ok {
			s.problem("listener "+strconv.Quote(cfg.Listener), "listener",
				"not an IP address; no record for "+strconv.Quote(ns))
			return
		}
		s.add(kindOf(ip), ns, cfg.Listener)
	}
}

// masterRecords makes leader.<D>., master.<D>., master<N>.<D>. and the
// _leader SRVs, following the masters list as Mesos-DNS did (§5.5).
func masterRecords(s sink, l model.Leader, masters []string, tail string) {
	item := "leader " + strconv.Quote(l.Raw)
	if !l.OK {
		s.problem(item, "leader", "not name@host:port; no leader or master records")
		return
	}
	ip, ok := parseIP(l.Host)
	if !ok {
		s.problem(item, "leader", "host is not an IP address; no leader or master records")
		return
	}
	// The masters entries are compared with the text after '@' as it is.
	_, leaderAddr, _ := strings.Cut(strings.Trim(l.Raw, " \""), "@")
	leaderAddr = strings.Trim(leaderAddr, " \"")
	kind := kindOf(ip)
	leader := "leader" + tail
	all := "master" + tail
	s.add(kind, leader, l.Host)
	s.add(kind, all, l.Host)
	target := leader + ":" + strconv.Itoa(int(l.Port))
	s.add(KindSRV, "_leader._tcp"+tail, target)
	s.add(KindSRV, "_leader._udp"+tail, target)

	addedLeader := false
	idx := 0
	for _, m := range masters {
		host, _, err := net.SplitHostPort(m)
		if err != nil {
			if m != "" {
				s.problem("master "+strconv.Quote(m), "masters", "not host:port; skipped")
			}
			continue
		}
		mip, ok := parseIP(host)
		if !ok {
			s.problem("master "+strconv.Quote(m), "masters", "host is not an IP address; skipped")
			continue
		}
		mkind := kindOf(mip)
		isLeader := m == leaderAddr
		if !isLeader && !s.add(mkind, all, host) {
			continue // duplicate master
		}
		if isLeader && addedLeader {
			continue
		}
		s.add(mkind, "master"+strconv.Itoa(idx)+tail, host)
		idx++
		if isLeader {
			addedLeader = true
		}
	}
	if !addedLeader {
		s.add(kind, "master"+strconv.Itoa(idx)+tail, l.Host)
	}
}
