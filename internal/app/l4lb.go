package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/dcosdns"
	"github.com/sextantdc/sextant/internal/gossip"
	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/kernel/link"
	"github.com/sextantdc/sextant/internal/l4lb"
	"github.com/sextantdc/sextant/internal/l4lb/userspace"
	"github.com/sextantdc/sextant/internal/marathon"
	"github.com/sextantdc/sextant/internal/obs"
	"github.com/sextantdc/sextant/internal/vip"
)

// The L4 load balancer's data planes (--l4lb-plane).
const (
	// PlaneAuto: the socket-level eBPF plane with nftables for traffic
	// from other hosts when root and the kernel loads it, nftables alone
	// when root, the userspace plane otherwise.
	PlaneAuto      = "auto"
	PlaneNFTables  = "nftables"
	PlaneEBPF      = "ebpf"
	PlaneUserspace = "userspace"
	// PlaneOff runs no load balancer.
	PlaneOff = "off"
)

// L4LBPlanes lists the values of --l4lb-plane, for help texts.
var L4LBPlanes = strings.Join([]string{PlaneAuto, PlaneNFTables, PlaneEBPF, PlaneUserspace, PlaneOff}, "|")

// openedPlane is the data plane a node runs, and why.
type openedPlane struct {
	name, info string
	plane      l4lb.Dataplane
	// closers run after the plane's Close (the netlink handle its VIP
	// addresses went through).
	closers []func() error
}

func (p *openedPlane) close() error {
	err := p.plane.Close()
	for _, c := range p.closers {
		err = errors.Join(err, c())
	}
	return err
}

// loopbackMapped says whether the userspace plane serves VIP 11.a.b.c at
// 127.a.b.c: without root it may add no address, and --l4lb-loopback asks
// for it explicitly (a node whose addresses must not change).
func loopbackMapped(loopback bool) bool { return loopback || os.Geteuid() != 0 }

// openPlane opens the plane want asks for. Explicit kernel planes fail
// without root or kernel support, except that ebpf falls back to nftables
// alone (and says so) where the kernel cannot load its programs; auto
// falls back step by step to the userspace plane.
func openPlane(want string, loopback bool, log *slog.Logger, reg prometheus.Registerer) (*openedPlane, error) {
	root := os.Geteuid() == 0
	switch want {
	case PlaneUserspace:
		return openUserspace(loopback, "--l4lb-plane userspace", log)
	case PlaneNFTables, PlaneEBPF:
		if !root {
			return nil, fmt.Errorf("--l4lb-plane %s needs root (CAP_NET_ADMIN); without it use --l4lb-plane userspace", want)
		}
		nft, err := openNFTables(log, reg)
		if err != nil {
			return nil, fmt.Errorf("--l4lb-plane %s: nftables plane: %w", want, err)
		}
		if want == PlaneNFTables {
			return &openedPlane{name: PlaneNFTables, info: "--l4lb-plane nftables", plane: nft}, nil
		}
		p, err := openEBPF(nft, log)
		if err != nil {
			// The nftables plane alone still serves everything, at the cost
			// of per-packet NAT for local clients.
			return &openedPlane{name: PlaneNFTables, info: "--l4lb-plane ebpf: the kernel cannot load the socket-level programs (" + err.Error() + "); nftables alone", plane: nft}, nil
		}
		return &openedPlane{name: "ebpf+nftables", info: "--l4lb-plane ebpf", plane: p}, nil
	case PlaneAuto, "":
	default:
		return nil, fmt.Errorf("--l4lb-plane: %q is not one of %s", want, L4LBPlanes)
	}
	if !root {
		return openUserspace(true, "auto: not root, so the userspace plane on the VIPs' 127.x mapping", log)
	}
	if loopback {
		return openUserspace(true, "auto with --l4lb-loopback: the userspace plane on the VIPs' 127.x mapping", log)
	}
	nft, err := openNFTables(log, reg)
	if err != nil {
		log.Warn("nftables plane unavailable; using the userspace plane", "err", err)
		return openUserspace(false, "auto: nftables plane unavailable ("+err.Error()+"); the userspace plane", log)
	}
	p, err := openEBPF(nft, log)
	if err != nil {
		return &openedPlane{name: PlaneNFTables, info: "auto: socket-level eBPF plane not loadable (" + err.Error() + "); nftables alone", plane: nft}, nil
	}
	return &openedPlane{name: "ebpf+nftables", info: "auto: root and the kernel loads the socket-level programs", plane: p}, nil
}

// openUserspace opens the userspace plane: on the VIPs' loopback mapping,
// or on the VIP addresses themselves, added to lo (root).
func openUserspace(loopback bool, why string, log *slog.Logger) (*openedPlane, error) {
	o := userspace.Options{Logger: log.With("component", "l4lb-userspace")}
	var closers []func() error
	if loopbackMapped(loopback) {
		o.Map = userspace.LoopbackMap()
	} else {
		nl, err := link.Open()
		if err != nil {
			return nil, fmt.Errorf("userspace plane: adding VIP addresses to lo: %w (without root use --l4lb-loopback)", err)
		}
		o.Links = nl
		closers = append(closers, nl.Close)
	}
	p, err := userspace.New(o)
	if err != nil {
		for _, c := range closers {
			_ = c()
		}
		return nil, err
	}
	return &openedPlane{name: PlaneUserspace, info: why, plane: p, closers: closers}, nil
}

// vipDNSAddr returns the address the l4lb zone should answer for a VIP
// on this node: the loopback mapping when the userspace plane serves
// there, else nil (the VIP address itself).
func vipDNSAddr(plane string, loopback bool) func(netip.Addr) netip.Addr {
	if plane == PlaneOff || !loopbackMapped(loopback) {
		return nil
	}
	m := userspace.LoopbackMap()
	return func(a netip.Addr) netip.Addr {
		if l, ok := m.Local(a); ok {
			return l
		}
		return a
	}
}

// addL4LB adds the load balancer consumer: the plane, the LB driving it
// from the snapshots, its routes on the node's API (GET /v1/vips,
// GET /v1/l4lb) and its metrics on the API's registry.
func addL4LB(pl *pipeline, plane *openedPlane, cfg l4lb.Config, health *obs.Health, log *slog.Logger, poll func(*l4lb.LB) func(context.Context)) error {
	lb, err := l4lb.New(plane.plane, l4lb.Options{Config: cfg, Plane: plane.name, PlaneInfo: plane.info,
		Logger: log, Registerer: pl.apiReg})
	if err != nil {
		_ = plane.close()
		return err
	}
	log.Info("l4lb data plane", "plane", plane.name, "why", plane.info)
	if pl.apiRoutes == nil {
		pl.apiRoutes = map[string]http.Handler{}
	}
	h := lb.Handler()
	pl.apiRoutes["GET /v1/vips"] = h
	pl.apiRoutes["GET /v1/l4lb"] = h
	if health != nil {
		health.Add("l4lb", func() error {
			if lb.Status().LastSync == "" {
				return errors.New("the data plane has not been synced yet")
			}
			return nil
		})
	}
	pl.consumer("l4lb", func(ctx context.Context, sub *hub.Subscription) error {
		defer func() {
			lb.Close()
			if err := plane.close(); err != nil {
				log.Warn("closing the l4lb data plane", "err", err)
			}
		}()
		if poll != nil {
			go poll(lb)(ctx)
		}
		return lb.Run(ctx, sub.Snapshots(ctx))
	})
	return nil
}

// l4lbRole is the load balancer of `sextant up`: VIPs from the
// snapshots' tasks, this node's IP for the local substitution.
func l4lbRole(f UpConfig) upRole {
	return upRole{
		name: "l4lb",
		add: func(pl *pipeline, log *slog.Logger, health *obs.Health) error {
			if f.L4LBPlane == PlaneOff {
				return nil
			}
			ip, err := netip.ParseAddr(f.IP)
			if err != nil {
				return fmt.Errorf("--ip: %q is not an IP address", f.IP)
			}
			plane, err := openPlane(f.L4LBPlane, f.L4LBLoopback, log, pl.apiReg)
			if err != nil {
				return err
			}
			return addL4LB(pl, plane, l4lb.Config{NodeIP: ip}, health, log, nil)
		},
	}
}

// addAgentL4LB adds the load balancer of `sextant agent`: the VIP table
// the leading master gossips (vip.TableItem), with the backends of the
// agents gossip reports unreachable dropped (§B.5).
func addAgentL4LB(pl *pipeline, want string, loopback bool, nodeIP netip.Addr, log *slog.Logger) error {
	if want == "" || want == PlaneOff {
		return nil
	}
	plane, err := openPlane(want, loopback, log, pl.apiReg)
	if err != nil {
		return err
	}
	var cluster atomic.Pointer[gossip.Node]
	pl.nodeReady = append(pl.nodeReady, func(r dcosdns.Ready) {
		if r.Cluster != nil {
			cluster.Store(r.Cluster)
		}
	})
	var down atomic.Pointer[[]netip.Addr]
	cfg := l4lb.Config{NodeIP: nodeIP, FromItems: true, Unreachable: func() []netip.Addr {
		if d := down.Load(); d != nil {
			return *d
		}
		return nil
	}, LiveWriter: liveWriter(cluster.Load)}
	poll := func(lb *l4lb.LB) func(context.Context) {
		return func(ctx context.Context) {
			go watchAlive(ctx, cluster.Load, lb.Resync)
			watchReachability(ctx, cluster.Load, func(d []netip.Addr) {
				down.Store(&d)
				lb.Resync()
			}, log)
		}
	}
	return addL4LB(pl, plane, cfg, nil, log, poll)
}

// reachabilityPoll is how often the agent's load balancer reads the gossip
// membership; memberlist declares a crashed node dead in about 1.5 s.
const reachabilityPoll = 250 * time.Millisecond

// watchReachability calls changed with the unreachable node IPs whenever
// they change, until ctx ends.
func watchReachability(ctx context.Context, cluster func() *gossip.Node, changed func([]netip.Addr), log *slog.Logger) {
	t := time.NewTicker(reachabilityPoll)
	defer t.Stop()
	var last []netip.Addr
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c := cluster()
		if c == nil {
			continue
		}
		d := unreachableIPs(c.Members())
		if !slices.Equal(d, last) {
			log.Info("l4lb: unreachable nodes changed", "unreachable", d)
			last = d
			changed(d)
		}
	}
}

// unreachableIPs are the node IPs of members that are dead or gone, and
// that no alive member carries (a node restarted under a new name is
// reachable), sorted.
func unreachableIPs(ms []gossip.MemberInfo) []netip.Addr {
	alive := map[netip.Addr]bool{}
	gone := map[netip.Addr]bool{}
	for _, m := range ms {
		if !m.IP.IsValid() {
			continue
		}
		if m.State == gossip.StateAlive {
			alive[m.IP] = true
		} else {
			gone[m.IP] = true
		}
	}
	var out []netip.Addr
	for ip := range gone {
		if !alive[ip] {
			out = append(out, ip)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// bannerVIP is what the banner says about the first named VIP of the
// apps: its name and port, and where a client on this host connects
// (the VIP address, or its loopback mapping).
type bannerVIP struct {
	fqdn, addr string
	port       uint16
}

// firstBannerVIP finds the first named VIP among the apps (in id order)
// and computes its address as the VIP table will (the same allocation
// over every app's named VIPs, §B.3).
//
// minPort is the lowest port this process may listen on (rootless: the
// kernel's ip_unprivileged_port_start); a VIP below it cannot be served by
// the userspace plane, so the first VIP at or above it is chosen. The
// second result says whether some VIP was skipped for it.
func firstBannerVIP(apps []*marathon.App, plane string, loopback bool, minPort int) (bannerVIP, bool, bool) {
	if plane == PlaneOff {
		return bannerVIP{}, false, false
	}
	var first *bannerVIP
	skipped := false
	keys := map[string]bool{}
	for _, a := range apps {
		for _, l := range appVIPLabels(a) {
			for _, k := range slices.Sorted(maps.Keys(l)) {
				if !strings.HasPrefix(strings.ToUpper(k), "VIP") {
					continue
				}
				sp, err := vip.ParseSpec(l[k])
				if err != nil || !sp.Named() {
					continue
				}
				key, ok := vip.NameKey(sp.Host, "marathon")
				if !ok {
					continue
				}
				keys[key] = true
				if int(sp.Port) < minPort {
					skipped = true
					continue
				}
				if first == nil {
					first = &bannerVIP{fqdn: vip.FQDN(key), addr: key, port: sp.Port}
				}
			}
		}
	}
	if first == nil {
		return bannerVIP{}, false, skipped
	}
	alloc, err := vip.Range{Min: vip.DefaultMinIPv4, Max: vip.DefaultMaxIPv4}.Allocate(slices.Sorted(maps.Keys(keys)))
	ip, ok := alloc[first.addr]
	if err != nil || !ok {
		return bannerVIP{}, false, skipped
	}
	if m := vipDNSAddr(plane, loopback); m != nil {
		ip = m(ip)
	}
	first.addr = ip.String()
	return *first, true, skipped
}

// minListenPort is the lowest port the userspace plane may listen on
// here: 0 as root or with a kernel plane, else the kernel's
// net.ipv4.ip_unprivileged_port_start (1024 when unreadable).
func minListenPort(plane string, loopback bool) int {
	if os.Geteuid() == 0 || !loopbackMapped(loopback) || plane == PlaneOff {
		return 0
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 1024
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 1024
	}
	return n
}

func appVIPLabels(a *marathon.App) []map[string]string {
	var labels []map[string]string
	for _, p := range a.PortDefinitions {
		labels = append(labels, p.Labels)
	}
	if a.Container != nil {
		for _, p := range a.Container.PortMappings {
			labels = append(labels, p.Labels)
		}
	}
	return labels
}

// l4lbBanner returns the banner's lines about VIPs: a note on the names
// (they need the host's resolver to ask the node DNS role) and a try line
// that works as printed (the VIP's address, no DNS).
func l4lbBanner(apps []*marathon.App, f UpConfig, cli string) (note string, try []string) {
	minPort := minListenPort(f.L4LBPlane, f.L4LBLoopback)
	v, ok, skipped := firstBannerVIP(apps, f.L4LBPlane, f.L4LBLoopback, minPort)
	if skipped {
		note = fmt.Sprintf("VIPs on ports below %d are not served without root (the userspace plane cannot listen there); see docs/l4lb.md\n", minPort)
	}
	if !ok {
		if skipped {
			return note, []string{cli + " vip list"}
		}
		return note, nil
	}
	port := strconv.Itoa(int(v.port))
	note += fmt.Sprintf("VIPs: %s vip list shows each VIP's address and backends; by name, once this host's resolver asks %s for thisdcos.directory (docs/l4lb.md): curl http://%s:%s/\n",
		cli, f.NodeDNSAddr, v.fqdn, port)
	return note, []string{"curl -s http://" + netip.AddrPortFrom(netip.MustParseAddr(v.addr), v.port).String() + "/", cli + " vip list"}
}

// The load balancer's API documents, for `sextant vip list`.
type (
	APIVIP     = l4lb.APIVIP
	APIBackend = l4lb.APIBackend
	L4LBStatus = l4lb.Status
)

// ParseVIPs decodes a /v1/vips document (see l4lb.ParseVIPs).
func ParseVIPs(b []byte) ([]APIVIP, []error, error) { return l4lb.ParseVIPs(b) }
