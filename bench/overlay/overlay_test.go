//go:build linux

// Package overlay benchmarks the VXLAN overlay in network namespaces the
// benchmark creates: container-to-container iperf3 throughput across two
// hosts over the overlay, against the same hosts' underlay, and the time
// to attach a container (namespace, veth on m-dcos, address, routes).
//
// Imports: internal/overlay/{config,alloc,agent,attach}.
package overlay

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/sextantdc/sextant/internal/overlay/agent"
	"github.com/sextantdc/sextant/internal/overlay/alloc"
	"github.com/sextantdc/sextant/internal/overlay/attach"
	"github.com/sextantdc/sextant/internal/overlay/config"
)

type lab struct {
	b      *testing.B
	prefix string
}

func (l *lab) sh(args ...string) string {
	l.b.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		l.b.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (l *lab) ns(name string) (string, netns.NsHandle) {
	full := l.prefix + name
	l.sh("ip", "netns", "add", full)
	l.b.Cleanup(func() { exec.Command("ip", "netns", "del", full).Run() })
	h, err := netns.GetFromName(full)
	if err != nil {
		l.b.Fatal(err)
	}
	l.b.Cleanup(func() { h.Close() })
	l.sh("ip", "-n", full, "link", "set", "lo", "up")
	return full, h
}

func need(b *testing.B, tools ...string) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: the hosts are network namespaces")
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			b.Skipf("needs %s", t)
		}
	}
}

type host struct {
	name string
	ns   netns.NsHandle
	h    *netlink.Handle
	info alloc.AgentInfo
}

// twoHosts builds hosts 10.79.0.1 and .2 on an underlay bridge, allocates
// them with the real allocator and programs each with the agent's sync.
func twoHosts(b *testing.B) (*lab, []*host) {
	lb := &lab{b: b, prefix: fmt.Sprintf("ob%d", os.Getpid()%100000)}
	ul, _ := lb.ns("ul")
	lb.sh("ip", "-n", ul, "link", "add", "br0", "type", "bridge")
	lb.sh("ip", "-n", ul, "link", "set", "br0", "up")
	al := alloc.NewAllocator(config.Default())
	var hosts []*host
	for i := 1; i <= 2; i++ {
		name, ns := lb.ns(fmt.Sprintf("h%d", i))
		port := fmt.Sprintf("u%d", i)
		lb.sh("ip", "-n", ul, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", name)
		lb.sh("ip", "-n", ul, "link", "set", port, "master", "br0", "up")
		ip := fmt.Sprintf("10.79.0.%d", i)
		lb.sh("ip", "-n", name, "addr", "add", ip+"/24", "dev", "eth0")
		lb.sh("ip", "-n", name, "link", "set", "eth0", "up")
		lb.sh("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.ip_forward=1")
		h, err := netlink.NewHandleAt(ns)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(h.Close)
		res, err := al.Register(alloc.Registration{IP: ip, AllocateSubnet: true, MesosBridge: true, DockerBridge: true})
		if err != nil {
			b.Fatal(err)
		}
		hosts = append(hosts, &host{name: name, ns: ns, h: h, info: res.Agent})
	}
	for _, h := range hosts {
		peers, _ := agent.PeersFrom(al.Agents(), h.info.IP)
		d, err := agent.Build(h.info, peers, agent.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := (agent.Kernel{H: h.h}).Sync(d); err != nil {
			b.Fatal(err)
		}
	}
	return lb, hosts
}

type container struct {
	name string
	addr netip.Prefix
}

func addContainer(b *testing.B, lb *lab, h *host, ipam *attach.IPAM, name string) container {
	br := netip.MustParsePrefix(h.info.Overlays[0].MesosBridge.IP)
	addr, err := ipam.Allocate(name)
	if err != nil {
		b.Fatal(err)
	}
	full, ns := lb.ns(name)
	if err := attach.Attach(h.h, ns, attach.Spec{Bridge: "m-dcos", HostIf: "v" + name, Addr: addr, Gateway: agent.Gateway(br).Addr()}); err != nil {
		b.Fatal(err)
	}
	return container{name: full, addr: addr}
}

// iperf runs a 5 s single-stream iperf3 from ns to server (started in
// serverNS) and returns Gbit/s.
func iperf(b *testing.B, lb *lab, serverNS, clientNS, server string) float64 {
	srv := exec.Command("ip", "netns", "exec", serverNS, "iperf3", "-s", "-1", "-B", server)
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	var out []byte
	var err error
	for range 50 { // the server needs a moment to listen
		out, err = exec.Command("ip", "netns", "exec", clientNS, "iperf3", "-c", server, "-t", "5", "-J").Output()
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		b.Fatalf("iperf3 → %s: %v %s", server, err, out)
	}
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatal(err)
	}
	return r.End.SumReceived.BitsPerSecond / 1e9
}

// BenchmarkThroughput: container → container across the two hosts over
// VXLAN, and host → host over the underlay, in the same run.
func BenchmarkThroughput(b *testing.B) {
	need(b, "ip", "iperf3")
	lb, hosts := twoHosts(b)
	c1 := addContainer(b, lb, hosts[0], &attach.IPAM{Range: netip.MustParsePrefix(hosts[0].info.Overlays[0].MesosBridge.IP)}, "c1")
	c2 := addContainer(b, lb, hosts[1], &attach.IPAM{Range: netip.MustParsePrefix(hosts[1].info.Overlays[0].MesosBridge.IP)}, "c2")
	exec.Command("ip", "netns", "exec", c1.name, "ping", "-c", "1", "-W", "2", c2.addr.Addr().String()).Run()
	b.ResetTimer()
	var under, over float64
	for range b.N {
		under = iperf(b, lb, hosts[1].name, hosts[0].name, "10.79.0.2")
		over = iperf(b, lb, c2.name, c1.name, c2.addr.Addr().String())
	}
	b.ReportMetric(under, "underlay-Gbit/s")
	b.ReportMetric(over, "overlay-Gbit/s")
	b.ReportMetric(over/under, "ratio")
}

// BenchmarkAttach: one container's namespace, veth on m-dcos, address and
// default route; p50 and p99 over the iterations.
func BenchmarkAttach(b *testing.B) {
	need(b, "ip")
	lb, hosts := twoHosts(b)
	h := hosts[0]
	ipam := &attach.IPAM{Range: netip.MustParsePrefix(h.info.Overlays[0].MesosBridge.IP)}
	var times []time.Duration
	var handles []netns.NsHandle
	b.Cleanup(func() {
		for _, ns := range handles {
			ns.Close()
		}
	})
	br := netip.MustParsePrefix(h.info.Overlays[0].MesosBridge.IP)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		id := fmt.Sprintf("t%d", i)
		addr, err := ipam.Allocate(id)
		if err != nil {
			b.StopTimer()
			ipam = &attach.IPAM{Range: br} // the /25 is full: start over
			for _, hf := range handles {
				hf.Close()
			}
			handles = nil
			for j := 0; j < i; j++ {
				attach.Detach(h.h, fmt.Sprintf("va%d", j))
			}
			b.StartTimer()
			start = time.Now()
			addr, _ = ipam.Allocate(id)
		}
		ns, err := newNS()
		if err != nil {
			b.Fatal(err)
		}
		if err := attach.Attach(h.h, ns, attach.Spec{Bridge: "m-dcos", HostIf: fmt.Sprintf("va%d", i), Addr: addr, Gateway: agent.Gateway(br).Addr()}); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
		handles = append(handles, ns)
	}
	b.StopTimer()
	slices.Sort(times)
	p := func(q float64) float64 { return float64(times[int(q*float64(len(times)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	_ = lb
}

// newNS makes an unnamed namespace on a thread that is then discarded.
func newNS() (netns.NsHandle, error) {
	type res struct {
		h   netns.NsHandle
		err error
	}
	c := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			c <- res{err: err}
			return
		}
		h, err := netns.Get()
		c <- res{h, err}
	}()
	r := <-c
	return r.h, r.err
}
