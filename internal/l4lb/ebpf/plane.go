package ebpf

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
)

// ErrUnsupported is wrapped by New's error when the kernel cannot load or
// attach the programs (no cgroup2, no BPF, a verifier refusal, no
// permission): the caller serves VIPs without this plane and says why.
var ErrUnsupported = errors.New("socket-level load balancing unsupported")

// Remote is the plane for VIP traffic this plane cannot see: packets
// that arrive from other hosts (the nftables plane). It has the method
// set of l4lb.Dataplane, so any plane serves.
type Remote interface {
	Sync(ctx context.Context, services []balance.Service) error
	Close() error
}

// Options configure New.
type Options struct {
	Logger *slog.Logger
	// CgroupPath is the cgroup2 directory whose processes (and those of
	// every cgroup below it) get their VIP connections balanced. Empty:
	// the root of the cgroup2 hierarchy mounted on this host, that is
	// every process and container.
	CgroupPath string
	// Remote, if set, is synced with the same services after this
	// plane's maps, its counters are added to Stats, and Close closes it
	// (New does not, when it fails: the caller goes on with Remote).
	Remote Remote
	// AllNamespaces makes the programs act on sockets of every network
	// namespace in the cgroup. By default they act only in the namespace
	// New is called in: cgroup programs see every namespace's sockets,
	// and a VIP means something only where its services are (another
	// namespace's traffic, such as a container's on a bridge, reaches
	// Remote as packets instead).
	AllNamespaces bool
	// Ranges are VIP ranges: a connect() or sendmsg() from the cgroup to
	// an address inside one that no service holds is refused there (the
	// ranges are public address space; nothing may leave for them).
	Ranges []netip.Prefix
}

// Plane is the socket-level data plane. It implements l4lb.Dataplane and
// l4lb.StatsReporter.
type Plane struct {
	log    *slog.Logger
	remote Remote
	objs   sockObjects
	inner  *ebpf.MapSpec // a Maglev table
	links  []link.Link
	cgroup string

	mu      sync.Mutex
	closed  bool
	svcs    map[balance.Key]*service
	nextID  uint32 // counter ids: services and backends, never reused
	nextSet uint32 // slot sets, never reused
}

// service is what the maps hold for one VIP.
type service struct {
	svc     balance.Service
	applied bool // the maps hold svc exactly
	id      uint32
	set     uint32
	count   uint32 // slots of set (Random)
	mode    balance.Mode
	ids     map[netip.AddrPort]uint32 // backend → its id
}

// New loads the programs and attaches them to the cgroup. An error
// wrapping ErrUnsupported means the kernel refused them.
func New(opts Options) (*Plane, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cg := opts.CgroupPath
	if cg == "" {
		var err error
		if cg, err = Cgroup2Root(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
		}
	}
	spec, err := loadSock()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	p := &Plane{log: log, remote: opts.Remote, cgroup: cg, svcs: map[balance.Key]*service{}}
	p.inner = spec.Maps[sockMapMaglev].InnerMap.Copy()
	if !opts.AllNamespaces {
		cookie, err := netnsCookie()
		if err != nil {
			return nil, fmt.Errorf("%w: this network namespace's cookie: %v", ErrUnsupported, err)
		}
		if err := spec.Variables["netns_cookie"].Set(cookie); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
		}
	}
	if err := spec.LoadAndAssign(&p.objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%w: load programs: %+v", ErrUnsupported, ve)
		}
		return nil, fmt.Errorf("%w: load programs: %v", ErrUnsupported, err)
	}
	if err := p.setRanges(opts.Ranges); err != nil {
		p.objs.Close()
		return nil, err
	}
	for _, a := range []struct {
		prog *ebpf.Program
		at   ebpf.AttachType
	}{
		{p.objs.Sock4Connect, ebpf.AttachCGroupInet4Connect},
		{p.objs.Sock6Connect, ebpf.AttachCGroupInet6Connect},
		{p.objs.Sock4Sendmsg, ebpf.AttachCGroupUDP4Sendmsg},
		{p.objs.Sock6Sendmsg, ebpf.AttachCGroupUDP6Sendmsg},
		{p.objs.Sock4Recvmsg, ebpf.AttachCGroupUDP4Recvmsg},
		{p.objs.Sock6Recvmsg, ebpf.AttachCGroupUDP6Recvmsg},
		{p.objs.Sock4Getpeername, ebpf.AttachCgroupInet4GetPeername},
		{p.objs.Sock6Getpeername, ebpf.AttachCgroupInet6GetPeername},
		{p.objs.SockOps, ebpf.AttachCGroupSockOps},
		{p.objs.SockRelease, ebpf.AttachCgroupInetSockRelease},
	} {
		l, err := link.AttachCgroup(link.CgroupOptions{Path: cg, Attach: a.at, Program: a.prog})
		if err != nil {
			p.detach()
			p.objs.Close()
			return nil, fmt.Errorf("%w: attach %v to cgroup %s: %v", ErrUnsupported, a.at, cg, err)
		}
		p.links = append(p.links, l)
	}
	log.Info("ebpf socket load balancing attached", "cgroup", cg, "programs", len(p.links))
	return p, nil
}

// netnsCookie is the calling thread's network namespace cookie, as
// bpf_get_netns_cookie returns it (SO_NETNS_COOKIE, Linux 5.14).
func netnsCookie() (uint64, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	var cookie uint64
	size := uint32(unsafe.Sizeof(cookie))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_NETNS_COOKIE,
		uintptr(unsafe.Pointer(&cookie)), uintptr(unsafe.Pointer(&size)), 0)
	if errno != 0 {
		return 0, errno
	}
	return cookie, nil
}

// Cgroup returns the cgroup2 directory the programs are attached to.
func (p *Plane) Cgroup() string { return p.cgroup }

func (p *Plane) setRanges(ranges []netip.Prefix) error {
	for _, r := range ranges {
		r = r.Masked()
		bits := r.Bits()
		if r.Addr().Is4() {
			bits += 96
		}
		k := sockLpmKey{Prefixlen: uint32(bits), Addr: r.Addr().As16()}
		if err := p.objs.Ranges.Put(&k, uint32(1)); err != nil {
			return fmt.Errorf("VIP range %s: %w", r, err)
		}
	}
	return nil
}

func (p *Plane) detach() {
	for _, l := range p.links {
		_ = l.Close()
	}
	p.links = nil
}

// Cgroup2Root returns where the cgroup2 hierarchy is mounted (the
// unified hierarchy of a hybrid host included).
func Cgroup2Root() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	return cgroup2Mount(f)
}

// cgroup2Mount finds the first cgroup2 mount point in a mountinfo file
// (proc(5): fields, " - ", fstype, source, options).
func cgroup2Mount(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fs := strings.Fields(pre)
		if t := strings.Fields(post); len(t) > 0 && t[0] == "cgroup2" && len(fs) >= 5 {
			return unescapeMount(fs[4]), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no cgroup2 file system is mounted")
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, ok := octal(s[i+1 : i+4]); ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal(s string) (byte, bool) {
	if len(s) != 3 {
		return 0, false
	}
	v := 0
	for _, c := range s {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v*8 + int(c-'0')
	}
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}

// Sync makes the maps hold exactly services, then syncs Remote. A
// service whose maps could not be written is named in the error and
// tried again at the next Sync; the others are served.
func (p *Plane) Sync(ctx context.Context, services []balance.Service) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errors.New("ebpf plane: sync after close")
	}
	var errs []error
	want := make(map[balance.Key]bool, len(services))
	for i := range services {
		want[services[i].Key] = true
	}
	for i := range services {
		s := &services[i]
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := p.apply(s); err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", s.Key, err))
		}
	}
	for k, st := range p.svcs {
		if !want[k] {
			if err := p.remove(st); err != nil {
				errs = append(errs, fmt.Errorf("remove service %s: %w", k, err))
				continue
			}
			delete(p.svcs, k)
		}
	}
	p.mu.Unlock()
	if p.remote != nil {
		if err := p.remote.Sync(ctx, services); err != nil {
			errs = append(errs, fmt.Errorf("remote plane: %w", err))
		}
	}
	return errors.Join(errs...)
}

func svcKey(k balance.Key) sockSvcKey {
	a := k.Addr.Addr().Unmap()
	return sockSvcKey{Addr: a.As16(), Port: htons(k.Addr.Port()), Proto: uint8(k.Protocol)}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// apply writes one service. A new slot set is written beside the one in
// use and the service entry is switched to it with one map update, so a
// connect() sees the old set or the new one, never a mix; then the old
// set is deleted.
func (p *Plane) apply(s *balance.Service) error {
	st := p.svcs[s.Key]
	if st != nil && st.applied && st.svc.Equal(s) {
		return nil
	}
	if st == nil {
		p.nextID++
		st = &service{id: p.nextID, ids: map[netip.AddrPort]uint32{}}
		p.svcs[s.Key] = st
	}
	st.applied = false
	// Backends: stable ids (their counters), entries for new ones.
	keep := make(map[netip.AddrPort]bool, len(s.Backends))
	for _, b := range s.Backends {
		keep[b.Addr] = true
		if _, ok := st.ids[b.Addr]; ok {
			continue
		}
		p.nextID++
		id := p.nextID
		be := sockBackend{Addr: b.Addr.Addr().Unmap().As16(), Port: htons(b.Addr.Port())}
		if b.Addr.Addr().Unmap().Is4() != s.Key.Addr.Addr().Unmap().Is4() {
			return fmt.Errorf("backend %s: not of the VIP's address family", b.Addr)
		}
		if err := p.objs.Backends.Put(&id, &be); err != nil {
			return fmt.Errorf("backend %s: %w", b.Addr, err)
		}
		st.ids[b.Addr] = id
	}
	p.nextSet++
	set := p.nextSet
	count, err := p.writeSet(set, s, st.ids)
	if err != nil {
		p.deleteSet(set, s.Mode, count)
		return err
	}
	val := sockSvcVal{Id: st.id, Set: set, Count: count, Mode: uint8(s.Mode)}
	k := svcKey(s.Key)
	if err := p.objs.Services.Put(&k, &val); err != nil {
		p.deleteSet(set, s.Mode, count)
		return err
	}
	if st.set != 0 {
		p.deleteSet(st.set, st.mode, st.count)
	}
	st.set, st.count, st.mode = set, count, s.Mode
	// Backends that left: their open connections go on (nothing here
	// touches a packet); only their entries and counters go.
	for a, id := range st.ids {
		if !keep[a] {
			p.deleteBackend(id)
			delete(st.ids, a)
		}
	}
	st.svc = cloneService(s)
	st.applied = true
	return nil
}

func cloneService(s *balance.Service) balance.Service {
	c := *s
	c.Backends = slices.Clone(s.Backends)
	return c
}

// writeSet writes the slots of a new set and returns the count the
// service entry carries: Random, each backend repeated as often as its
// weight (the program draws one slot uniformly, so a backend's share is
// its weight's, as balance.Picker draws); Maglev, balance's table over
// the backends of weight above 0 (so the program's choice for a client
// is Picker's). 0: no backend takes new flows.
func (p *Plane) writeSet(set uint32, s *balance.Service, ids map[netip.AddrPort]uint32) (uint32, error) {
	var active []balance.Backend
	for _, b := range s.Backends {
		if b.Weight > 0 {
			active = append(active, b)
		}
	}
	if len(active) == 0 {
		return 0, nil
	}
	if s.Mode == balance.Maglev {
		names := make([]string, len(active))
		weights := make([]uint8, len(active))
		for i, b := range active {
			names[i], weights[i] = b.Addr.String(), b.Weight
		}
		table := balance.MaglevTable(names, weights)
		vals := make([]uint32, len(table))
		for i, e := range table {
			vals[i] = ids[active[e].Addr]
		}
		m, err := ebpf.NewMap(p.inner)
		if err != nil {
			return balance.MaglevSize, fmt.Errorf("maglev table: %w", err)
		}
		defer m.Close()
		if err := putAll(m, vals); err != nil {
			return balance.MaglevSize, fmt.Errorf("maglev table: %w", err)
		}
		if err := p.objs.Maglev.Put(&set, m); err != nil {
			return balance.MaglevSize, fmt.Errorf("maglev table: %w", err)
		}
		return balance.MaglevSize, nil
	}
	var keys []sockSlotKey
	var vals []uint32
	for _, b := range active {
		for range b.Weight {
			keys = append(keys, sockSlotKey{Set: set, Slot: uint32(len(keys))})
			vals = append(vals, ids[b.Addr])
		}
	}
	if _, err := p.objs.Slots.BatchUpdate(keys, vals, nil); err != nil {
		for i := range keys {
			if err := p.objs.Slots.Put(&keys[i], &vals[i]); err != nil {
				return uint32(len(keys)), fmt.Errorf("slots: %w", err)
			}
		}
	}
	return uint32(len(keys)), nil
}

// putAll fills an array map: one copy into its memory mapping (a
// batch update of 65537 entries takes tens of milliseconds), else one
// batch, else entry by entry.
func putAll(m *ebpf.Map, vals []uint32) error {
	if mem, err := m.Memory(); err == nil {
		// The kernel lays array elements out 8 bytes apart.
		buf := make([]byte, 8*len(vals))
		for i, v := range vals {
			binary.NativeEndian.PutUint32(buf[8*i:], v)
		}
		if _, err := mem.WriteAt(buf, 0); err == nil {
			return nil
		}
	}
	keys := make([]uint32, len(vals))
	for i := range keys {
		keys[i] = uint32(i)
	}
	if _, err := m.BatchUpdate(keys, vals, nil); err == nil {
		return nil
	}
	for i := range keys {
		if err := m.Put(&keys[i], &vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// deleteSet removes a slot set no service entry points at any more;
// upTo is its count of random slots.
func (p *Plane) deleteSet(set uint32, mode balance.Mode, upTo uint32) {
	if mode == balance.Maglev {
		_ = p.objs.Maglev.Delete(&set)
		return
	}
	keys := make([]sockSlotKey, 0, upTo)
	for i := range upTo {
		keys = append(keys, sockSlotKey{Set: set, Slot: i})
	}
	if len(keys) == 0 {
		return
	}
	if _, err := p.objs.Slots.BatchDelete(keys, nil); err != nil {
		for i := range keys {
			_ = p.objs.Slots.Delete(&keys[i])
		}
	}
}

func (p *Plane) deleteBackend(id uint32) {
	_ = p.objs.Backends.Delete(&id)
	_ = p.objs.Stats.Delete(&id)
}

func (p *Plane) remove(st *service) error {
	k := svcKey(st.svc.Key)
	if err := p.objs.Services.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return err
	}
	if st.set != 0 {
		p.deleteSet(st.set, st.mode, st.count)
	}
	for _, id := range st.ids {
		p.deleteBackend(id)
	}
	_ = p.objs.Stats.Delete(&st.id)
	return nil
}

// Stats returns the counters of every service, the Remote plane's added
// in when it reports any.
func (p *Plane) Stats() []balance.ServiceStats {
	p.mu.Lock()
	out := make([]balance.ServiceStats, 0, len(p.svcs))
	var per []sockCounters
	read := func(id uint32) sockCounters {
		var sum sockCounters
		if p.objs.Stats.Lookup(&id, &per) != nil {
			return sum
		}
		for _, c := range per {
			sum.Conns += c.Conns
			sum.Closed += c.Closed
			sum.BytesTo += c.BytesTo
			sum.BytesFrom += c.BytesFrom
			sum.Refused += c.Refused
			sum.Unconnected += c.Unconnected
		}
		return sum
	}
	for k, st := range p.svcs {
		ss := balance.ServiceStats{Key: k, Refused: read(st.id).Refused}
		for _, b := range st.svc.Backends {
			id, ok := st.ids[b.Addr]
			if !ok {
				continue
			}
			c := read(id)
			bs := balance.BackendStats{Addr: b.Addr, Connections: c.Conns, BytesToBackend: c.BytesTo, BytesFromBackend: c.BytesFrom}
			if open := c.Conns - c.Unconnected; open > c.Closed {
				bs.Active = open - c.Closed
			}
			ss.Backends = append(ss.Backends, bs)
		}
		out = append(out, ss)
	}
	p.mu.Unlock()
	if sr, ok := p.remote.(interface{ Stats() []balance.ServiceStats }); ok {
		out = addStats(out, sr.Stats())
	}
	slices.SortFunc(out, func(a, b balance.ServiceStats) int { return balance.CompareKeys(a.Key, b.Key) })
	return out
}

// addStats adds remote counters to local ones, key by key and backend
// by backend: the two planes see disjoint traffic (local sockets are
// sent to backends before any packet exists, so the remote plane never
// sees their VIP).
func addStats(local, remote []balance.ServiceStats) []balance.ServiceStats {
	idx := make(map[balance.Key]int, len(local))
	for i := range local {
		idx[local[i].Key] = i
	}
	for _, r := range remote {
		i, ok := idx[r.Key]
		if !ok {
			idx[r.Key] = len(local)
			local = append(local, r)
			continue
		}
		l := &local[i]
		l.Refused += r.Refused
		for _, rb := range r.Backends {
			j := slices.IndexFunc(l.Backends, func(b balance.BackendStats) bool { return b.Addr == rb.Addr })
			if j < 0 {
				l.Backends = append(l.Backends, rb)
				continue
			}
			b := &l.Backends[j]
			b.Connections += rb.Connections
			b.Active += rb.Active
			b.Failures += rb.Failures
			b.BytesToBackend += rb.BytesToBackend
			b.BytesFromBackend += rb.BytesFromBackend
		}
	}
	return local
}

// Close detaches the programs (connections they already sent on go on),
// frees the maps and closes Remote.
func (p *Plane) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.detach()
	err := p.objs.Close()
	p.mu.Unlock()
	if p.remote != nil {
		err = errors.Join(err, p.remote.Close())
	}
	return err
}
