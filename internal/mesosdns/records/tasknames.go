// tasknames.go holds the naming rules of task records (spec/mesos-dns.md
// §5.6): which tasks get records, the pieces of their names, which IPs
// they use, and the records of one pass. These are the rules a build
// applies to every task, so they make their strings with the arena's
// cat, catPort and ip and append to a slice they are given; they know
// nothing else of memory, reuse or pipelines. (The arena is a concrete
// type, not an interface, because a call through an interface or a type
// parameter moves each variadic parts list to the heap: one allocation
// per name.)

package records

import (
	"crypto/sha1" // #nosec G505: the task-id hash is a naming scheme fixed by Mesos-DNS, not security
	"net/netip"
	"strings"

	"github.com/sextantdc/sextant/internal/mesosdns/labels"
	"github.com/sextantdc/sextant/internal/model"
)

// eligible reports whether a task gets records (§5.6.1): it is running on
// an agent of the state. With HealthAware (a Sextant option; Mesos-DNS
// ignored health, issue #310) it must also be serving.
func eligible(t *model.Task, agents int, healthAware bool) bool {
	return t.Running() && t.Agent >= 0 && t.Agent < agents && (!healthAware || t.Serving())
}

// taskInput is everything a task's records depend on, besides the Config.
// A Generator reuses a task's records while its input is equal (see
// taskInput.equal, which must compare every field not derived from others).
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

// newTaskInput gathers what a task's records depend on: fname is its
// framework's FW, ag its agent's contribution. The task IPs (§5.6.3) are
// appended to ipbuf.
func newTaskInput(t *model.Task, ag *agentInfo, fname string, sources []string, ipbuf []netip.Addr) taskInput {
	in := taskInput{
		id:         t.ID,
		name:       t.Name,
		agentID:    t.AgentID,
		fname:      fname,
		ports:      t.Ports,
		agentIPs:   ag.strs,
		agentKinds: ag.kinds,
		agentTail:  ag.tail, // S: the task's slave_id is the agent's id
	}
	if d := t.Discovery; d != nil && d.Name != "" {
		in.diName = d.Name
		in.diPorts = d.Ports
	}
	in.taskIPs = taskIPs(ipbuf, t, ag.addrs, sources)
	return in
}

// taskIPs appends the IPs of the first source that yields any (§5.6.3);
// the model holds each source's addresses.
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

// hashID is H (§5.6.2): the first 5 z-base-32 characters of SHA-1(id), its
// first 25 bits, most significant first.
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

// agentTail is S (§5.6.2): the last '-'-separated field of an agent id,
// lower-cased.
func agentTail(id string) string {
	return strings.ToLower(id[strings.LastIndexByte(id, '-')+1:])
}

// passLabels returns the task label T of each pass and the number of
// passes: one, T = L(name) (§5.6.2), or, for a task with DiscoveryInfo, two:
// Mesos-DNS generates it under the raw DI name (its "legacy" pass) and then
// under L(DI name) (§5.6.5).
func passLabels(in *taskInput, rfc952 bool) (ts [2]string, n int) {
	if in.diName == "" {
		ts[0] = labels.Label(in.name, rfc952)
		return ts, 1
	}
	ts[0], ts[1] = in.diName, labels.Label(in.diName, rfc952)
	return ts, 2
}

// maxRecords bounds the number of records all passes of a task make, for
// sizing: per pass two per task IP and per agent IP, at most four per host
// port and four per DI port.
func maxRecords(in *taskInput) int {
	n := 2*len(in.taskIPs) + 2*len(in.agentIPs) + 4*len(in.ports)
	if in.diName != "" {
		n = 2*n + 8*len(in.diPorts)
	}
	return n
}

// canonicalSuffix is "-H-S.": the canonical label C = T-H-S (§5.6.2) and
// the dot after it, shared by both passes. C is not sanitised or cut again.
func canonicalSuffix(a *arena, in *taskInput) string {
	h := hashBytes(in.id)
	return a.cat("-", string(h[:]), "-", in.agentTail, ".")
}

// taskPieces are what both passes of a task share.
type taskPieces struct {
	in     *taskInput
	hs     string   // canonicalSuffix
	ips    []string // in.taskIPs as strings
	tail   string   // ".<D>."
	rfc952 bool
}

// appNames are the names all tasks with label T in framework FW share
// (§5.6.4: <T>.<FW>.<D>. holds every such task's IPs). They are built on
// first use, and a build keeps them while consecutive tasks belong to the
// same app (see run.app).
type appNames struct {
	T, fw  string
	aName  string    // <T>.<FW>.<D>.
	aSlave string    // <T>.<FW>.slave.<D>.
	srv    [4]string // _<T>._tcp.<FW>.slave.<D>., _<T>._udp.<FW>.slave.<D>., _<T>._tcp.<FW>.<D>., _<T>._udp.<FW>.<D>.
}

func (c *appNames) name(a *arena, tail string) string {
	if c.aName == "" {
		c.aName = a.cat(c.T, ".", c.fw, tail)
	}
	return c.aName
}

func (c *appNames) slaveName(a *arena, tail string) string {
	if c.aSlave == "" {
		c.aSlave = a.cat(c.T, ".", c.fw, ".slave", tail)
	}
	return c.aSlave
}

// srvName is the i-th of c.srv.
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

// pass appends the records of one pass of a task, with the label T and
// framework FW of app, in Mesos-DNS' order: §5.6.4 for a task without
// DiscoveryInfo, §5.6.5 for one with it. (`…` below is .<D>.)
func pass(recs []EnumRecord, a *arena, app *appNames, p *taskPieces) []EnumRecord {
	in, T, fw, tail := p.in, app.T, app.fw, p.tail
	// Step 1: <T>.<FW>… and <C>.<FW>… for each task IP. The canonical names
	// are built with the ':' of their SRV targets, so that the target
	// prefix is a substring and costs nothing.
	aName := app.name(a, tail)
	cTarget := a.cat(T, p.hs, fw, tail, ":")
	cName := cTarget[:len(cTarget)-1]
	for i, ip := range in.taskIPs {
		k := kindOf(ip)
		recs = append(recs, EnumRecord{Name: aName, Host: p.ips[i], RType: k}, EnumRecord{Name: cName, Host: p.ips[i], RType: k})
	}
	// Step 2: <T>.<FW>.slave… and <C>.<FW>.slave… for each agent IP.
	var cSlave, cSlaveTarget string
	if len(in.agentIPs) > 0 || len(in.ports) > 0 {
		cSlaveTarget = a.cat(T, p.hs, fw, ".slave", tail, ":")
		cSlave = cSlaveTarget[:len(cSlaveTarget)-1]
	}
	if len(in.agentIPs) > 0 {
		aSlave := app.slaveName(a, tail)
		for i, s := range in.agentIPs {
			k := in.agentKinds[i] // a leaked host string is stored as "A"
			recs = append(recs, EnumRecord{Name: aSlave, Host: s, RType: k}, EnumRecord{Name: cSlave, Host: s, RType: k})
		}
	}
	// Step 3: host ports, target <C>.<FW>.slave.<D>.:<port>; four SRV
	// names, or only the two .slave ones with DiscoveryInfo.
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
		for _, port := range in.ports {
			target := a.catPort(cSlaveTarget, port)
			for _, name := range names[:nn] {
				recs = append(recs, EnumRecord{Name: name, Host: target, RType: KindSRV})
			}
		}
	}
	if !di {
		return recs
	}
	// Step 4 (§5.6.5 only): DI ports, target <C>.<FW>.<D>.:<number> (not
	// .slave); _<T>._<p>.<FW>.<D>. with p = L(protocol), tcp and udp when
	// that is empty, and the same under _<L(name)>. when that is not.
	for _, dp := range in.diPorts {
		target := a.catPort(cTarget, uint64(dp.Number))
		var names [4]string
		nn := 0
		switch proto := labels.Label(dp.Protocol, p.rfc952); proto {
		case "":
			names[0], names[1] = app.srvName(a, 2, tail), app.srvName(a, 3, tail)
			nn = 2
		case "tcp":
			names[0], nn = app.srvName(a, 2, tail), 1
		case "udp":
			names[0], nn = app.srvName(a, 3, tail), 1
		default:
			names[0], nn = a.cat("_", T, "._", proto, ".", fw, tail), 1
		}
		if pn := labels.Label(dp.Name, p.rfc952); pn != "" {
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
