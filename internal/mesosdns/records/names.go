package records

import (
	"crypto/sha1" // #nosec G505: the task-id hash is a naming scheme fixed by Mesos-DNS, not security
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/mesosdns/labels"
	"github.com/sextantdc/sextant/internal/model"
)

// taskInput is everything a task's records depend on, besides the Config.
type taskInput struct {
	id, name, agentID string
	fname             string // sanitised framework name
	ports             []uint64
	diName            string
	diPorts           []model.DiscoveryPort
	taskIPs           []netip.Addr
	agentIPs          []string // the agent's IP strings, or its leaked host string
	agentKinds        []string // derived from agentIPs
	agentTail         string   // derived from agentID
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

// frameworks makes <fname>.<domain>. and _framework._tcp.<fname>.<domain>.
func (r *run) frameworks(snap *model.Snapshot) {
	r.fnames = make([]string, len(snap.Frameworks))
	for i := range snap.Frameworks {
		f := &snap.Frameworks[i]
		fname := labels.DomainFrag(f.Name, r.cfg.EnforceRFC952)
		r.fnames[i] = fname
		if len(f.Addrs) == 0 {
			if f.HasPort && f.Host != "" {
				// Mesos-DNS resolved pid hosts while decoding the state; one
				// that did not resolve failed the whole reload.
				r.problem("framework "+strconv.Quote(f.Name), "pid",
					"host "+strconv.Quote(f.Host)+" did not resolve; the framework gets no records")
			}
			continue
		}
		a := fname + r.tail
		for _, ip := range f.Addrs {
			ip = ip.Unmap() // as net.IP printed a v4-mapped address
			r.add(kindOf(ip), a, ip.String())
		}
		if f.HasPort {
			r.add(KindSRV, "_framework._tcp."+a, a+":"+strconv.Itoa(int(f.Port)))
		}
	}
}

// agentRecords makes slave.<domain>. and _slave._tcp.<domain>., and
// remembers each agent's addresses for its tasks.
func (r *run) agentRecords(snap *model.Snapshot) {
	r.agents = make([]agentInfo, len(snap.Agents))
	a := "slave" + r.tail
	for i := range snap.Agents {
		ag := &snap.Agents[i]
		r.agents[i].tail = agentTail(ag.ID)
		item := "agent " + strconv.Quote(ag.ID)
		if ag.Host == "" {
			// Mesos-DNS panicked on an agent without pid and failed the
			// reload on a bad one. Its tasks keep their own records.
			r.problem(item, "pid", "no usable pid: no agent records, and its tasks get no .slave addresses")
			continue
		}
		info := &r.agents[i]
		if len(ag.Addrs) == 0 {
			// Mesos-DNS failed the reload on a pid host that did not resolve;
			// where it got this far, it used the sanitised host string as
			// the agent's "IP", and so do we (it shows up over HTTP only).
			r.problem(item, "pid", "host "+strconv.Quote(ag.Host)+" did not resolve; its sanitised name stands in for its address")
			leak := labels.DomainFrag(ag.Host, r.cfg.EnforceRFC952)
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
			r.add(info.kinds[j], a, info.strs[j])
		}
		r.add(KindSRV, "_slave._tcp"+r.tail, a+":"+strconv.Itoa(int(ag.Port)))
	}
}

// listener makes the name-server record.
func (r *run) listener() {
	ns := r.cfg.SOAMname
	if ns == "" {
		return
	}
	switch r.cfg.Listener {
	case "0.0.0.0":
		for _, ip := range r.cfg.ListenerAddrs {
			if !ip.IsValid() || ip.IsLoopback() {
				continue
			}
			ip = ip.Unmap()
			r.add(kindOf(ip), ns, ip.String())
		}
	case "127.0.0.1":
		r.add(KindA, ns, "127.0.0.1")
	default:
		ip, ok := parseIP(r.cfg.Listener)
		if !ok {
			r.problem("listener "+strconv.Quote(r.cfg.Listener), "listener",
				"not an IP address; no record for "+strconv.Quote(ns))
			return
		}
		r.add(kindOf(ip), ns, r.cfg.Listener)
	}
}

// masters makes leader.<domain>., master.<domain>., masterN.<domain>. and
// the _leader SRVs, following the masters list as Mesos-DNS did.
func (r *run) masters(snap *model.Snapshot) {
	l := snap.Leader
	item := "leader " + strconv.Quote(l.Raw)
	if !l.OK {
		r.problem(item, "leader", "not name@host:port; no leader or master records")
		return
	}
	ip, ok := parseIP(l.Host)
	if !ok {
		r.problem(item, "leader", "host is not an IP address; no leader or master records")
		return
	}
	// The masters entries are compared with the text after '@' as it is.
	_, leaderAddr, _ := strings.Cut(strings.Trim(l.Raw, " \""), "@")
	leaderAddr = strings.Trim(leaderAddr, " \"")
	kind := kindOf(ip)
	leader := "leader" + r.tail
	all := "master" + r.tail
	r.add(kind, leader, l.Host)
	r.add(kind, all, l.Host)
	target := leader + ":" + strconv.Itoa(int(l.Port))
	r.add(KindSRV, "_leader._tcp"+r.tail, target)
	r.add(KindSRV, "_leader._udp"+r.tail, target)

	addedLeader := false
	idx := 0
	for _, m := range r.cfg.Masters {
		host, _, err := net.SplitHostPort(m)
		if err != nil {
			if m != "" {
				r.problem("master "+strconv.Quote(m), "masters", "not host:port; skipped")
			}
			continue
		}
		mip, ok := parseIP(host)
		if !ok {
			r.problem("master "+strconv.Quote(m), "masters", "host is not an IP address; skipped")
			continue
		}
		mkind := kindOf(mip)
		isLeader := m == leaderAddr
		if !isLeader && !r.add(mkind, all, host) {
			continue // duplicate master
		}
		if isLeader && addedLeader {
			continue
		}
		r.add(mkind, "master"+strconv.Itoa(idx)+r.tail, host)
		idx++
		if isLeader {
			addedLeader = true
		}
	}
	if !addedLeader {
		r.add(kind, "master"+strconv.Itoa(idx)+r.tail, l.Host)
	}
}

// input gathers what a task's records depend on. Its taskIPs alias a
// buffer reused for the next task.
func (r *run) input(t *model.Task, fi int) taskInput {
	ag := &r.agents[t.Agent]
	in := taskInput{
		id:         t.ID,
		name:       t.Name,
		agentID:    t.AgentID,
		fname:      r.fnames[fi],
		ports:      t.Ports,
		agentIPs:   ag.strs,
		agentKinds: ag.kinds,
		agentTail:  ag.tail, // the task's slave_id is the agent's id
	}
	if d := t.Discovery; d != nil && d.Name != "" {
		in.diName = d.Name
		in.diPorts = d.Ports
	}
	r.ipbuf = taskIPs(r.ipbuf[:0], t, ag.addrs, r.cfg.IPSources)
	in.taskIPs = r.ipbuf
	return in
}

// taskIPs appends the IPs of the first source that yields any; the model
// holds each source's addresses.
func taskIPs(buf []netip.Addr, t *model.Task, agent []netip.Addr, sources []string) []netip.Addr {
	for _, src := range sources {
		var ips []netip.Addr
		switch src {
		case "host":
			ips = agent
		case "netinfo":
			ips = t.NetInfoIPs
		case "docker":
			ips = t.DockerIPs
		case "mesos":
			ips = t.MesosIPs
		}
		if len(ips) > 0 {
			return append(buf, ips...)
		}
	}
	return buf
}

// zbase32 is the z-base-32 alphabet.
const zbase32 = "ybndrfg8ejkmcpqxot1uwisza345h769"

// hashID is the first 5 z-base-32 characters of SHA-1(id): its first 25
// bits, most significant first.
func hashID(id string) string {
	h := hashBytes(id)
	return string(h[:])
}

func hashBytes(id string) [5]byte {
	var buf [96]byte
	var data []byte
	if len(id) <= len(buf) {
		data = append(buf[:0], id...) // task ids are short: no heap copy
	} else {
		data = []byte(id)
	}
	sum := sha1.Sum(data) // #nosec G401: naming, not security
	v := uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3])
	var out [5]byte
	for i := range out {
		out[i] = zbase32[v>>27]
		v <<= 5
	}
	return out
}

// agentTail is the last '-'-separated field of an agent id, lower-cased.
func agentTail(id string) string {
	return strings.ToLower(id[strings.LastIndexByte(id, '-')+1:])
}

// taskRecords computes a task's records in Mesos-DNS' order.
func (r *run) taskRecords(in *taskInput) []EnumRecord {
	n := 2*len(in.taskIPs) + 2*len(in.agentIPs) + 4*len(in.ports)
	spec := r.cfg.EnforceRFC952
	var names [2]string // T of each pass
	passes := 1
	if in.diName == "" {
		names[0] = labels.Label(in.name, spec)
	} else {
		// Mesos-DNS generates DiscoveryInfo tasks twice: under the raw
		// name (its "legacy" pass) and under the sanitised one.
		n = 2*n + 8*len(in.diPorts)
		passes = 2
		names[0], names[1] = in.diName, labels.Label(in.diName, spec)
	}
	recs := r.recSlab(n)
	// Size the arena for this task's strings, each about T + framework +
	// domain + 16 bytes: per pass two canonical names, one target per host
	// port and about three strings per DI port, plus six app-wide names
	// when they are not cached from the previous task.
	per := len(names[0]) + len(in.fname) + len(r.tail) + 16
	size := 16 + 40*len(in.taskIPs)
	for _, T := range names[:passes] {
		size += (2 + len(in.ports) + 3*len(in.diPorts)) * per
		if !r.appCached(T, in.fname) {
			size += 6 * per
		}
	}
	a := &r.ar
	a.reserve(size, &r.grow)
	// hs is "-H-S.", written straight into the arena.
	h := hashBytes(in.id)
	start := a.b.Len()
	a.b.WriteByte('-')
	a.b.Write(h[:])
	a.b.WriteByte('-')
	a.b.WriteString(in.agentTail)
	a.b.WriteByte('.')
	hs := a.b.String()[start:]
	ips := slices.Grow(r.ipStrs[:0], len(in.taskIPs))[:len(in.taskIPs)]
	r.ipStrs = ips
	for i, ip := range in.taskIPs {
		ips[i] = a.ip(ip)
	}
	for _, T := range names[:passes] {
		recs = r.pass(recs, a, in, T, hs, ips)
	}
	if end := len(r.recs) + len(recs); len(recs) > 0 && end <= cap(r.recs) && &r.recs[:end][len(r.recs)] == &recs[0] {
		r.recs = r.recs[:end] // carved from the slab (n was enough)
	}
	return recs[:len(recs):len(recs)]
}

// appNames are the names all tasks called T in framework fw share; they are
// built once and reused while consecutive tasks belong to the same app
// (state order usually keeps an app's instances together). Empty fields
// are built on first use.
type appNames struct {
	T, fw  string
	aName  string    // T.fw.D.
	aSlave string    // T.fw.slave.D.
	srv    [4]string // _T._tcp.fw.slave.D., _T._udp.fw.slave.D., _T._tcp.fw.D., _T._udp.fw.D.
}

// appCached reports whether app(T, fw) would find cached names.
func (r *run) appCached(T, fw string) bool {
	for i := range r.apps {
		if c := &r.apps[i]; c.T == T && c.fw == fw && c.aName != "" {
			return true
		}
	}
	return false
}

// app returns the shared names of (T, fw). Two slots, because a
// DiscoveryInfo task alternates between its raw and sanitised name.
func (r *run) app(T, fw string) *appNames {
	for i := range r.apps {
		if c := &r.apps[i]; c.T == T && c.fw == fw && c.aName != "" {
			return c
		}
	}
	r.appNext ^= 1
	c := &r.apps[r.appNext]
	*c = appNames{T: T, fw: fw}
	return c
}

func (c *appNames) srvName(a *arena, i int, tail string) string {
	if c.srv[i] == "" {
		proto := "._tcp."
		if i%2 == 1 {
			proto = "._udp."
		}
		if i < 2 {
			c.srv[i] = a.cat("_", c.T, proto, c.fw, ".slave", tail)
		} else {
			c.srv[i] = a.cat("_", c.T, proto, c.fw, tail)
		}
	}
	return c.srv[i]
}

// pass appends the records of one task name T.
func (r *run) pass(recs []EnumRecord, a *arena, in *taskInput, T, hs string, ips []string) []EnumRecord {
	fw := in.fname
	tail := r.tail
	app := r.app(T, fw)
	if app.aName == "" {
		app.aName = a.cat(T, ".", fw, tail)
	}
	aName := app.aName
	// The canonical names are built with the ':' of their SRV targets, so
	// that the target prefix is a substring and costs nothing.
	cTarget := a.cat(T, hs, fw, tail, ":")
	cName := cTarget[:len(cTarget)-1]
	for i, ip := range in.taskIPs {
		k := kindOf(ip)
		recs = append(recs, EnumRecord{Name: aName, Host: ips[i], RType: k}, EnumRecord{Name: cName, Host: ips[i], RType: k})
	}
	var cSlave, cSlaveTarget string
	if len(in.agentIPs) > 0 || len(in.ports) > 0 {
		cSlaveTarget = a.cat(T, hs, fw, ".slave", tail, ":")
		cSlave = cSlaveTarget[:len(cSlaveTarget)-1]
	}
	if len(in.agentIPs) > 0 {
		if app.aSlave == "" {
			app.aSlave = a.cat(T, ".", fw, ".slave", tail)
		}
		aSlave := app.aSlave
		for i, s := range in.agentIPs {
			k := in.agentKinds[i] // a leaked host string is stored as "A"
			recs = append(recs, EnumRecord{Name: aSlave, Host: s, RType: k}, EnumRecord{Name: cSlave, Host: s, RType: k})
		}
	}
	di := in.diName != ""
	if len(in.ports) > 0 {
		var names [4]string
		nn := 2
		if !di {
			nn = 4
		}
		for i := range nn {
			names[i] = app.srvName(a, i, tail)
		}
		for _, p := range in.ports {
			target := a.catPort(cSlaveTarget, p)
			for _, name := range names[:nn] {
				recs = append(recs, EnumRecord{Name: name, Host: target, RType: KindSRV})
			}
		}
	}
	if !di {
		return recs
	}
	spec := r.cfg.EnforceRFC952
	for _, dp := range in.diPorts {
		target := a.catPort(cTarget, uint64(dp.Number))
		var names [4]string
		nn := 0
		switch p := labels.Label(dp.Protocol, spec); p {
		case "":
			names[0], names[1] = app.srvName(a, 2, tail), app.srvName(a, 3, tail)
			nn = 2
		case "tcp":
			names[0], nn = app.srvName(a, 2, tail), 1
		case "udp":
			names[0], nn = app.srvName(a, 3, tail), 1
		default:
			names[0], nn = a.cat("_", T, "._", p, ".", fw, tail), 1
		}
		if pn := labels.Label(dp.Name, spec); pn != "" {
			for i := range nn {
				names[nn+i] = a.cat("_", pn, ".", names[i])
			}
			nn *= 2
		}
		for _, name := range names[:nn] {
			recs = append(recs, EnumRecord{Name: name, Host: target, RType: KindSRV})
		}
	}
	return recs
}
