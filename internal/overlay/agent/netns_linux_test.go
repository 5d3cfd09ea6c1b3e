//go:build linux

package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/sextantdc/sextant/internal/overlay/alloc"
	"github.com/sextantdc/sextant/internal/overlay/attach"
	"github.com/sextantdc/sextant/internal/overlay/config"
)

// lab is a set of network namespaces a test created, deleted at cleanup.
type lab struct {
	t      *testing.T
	prefix string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test builds hosts as network namespaces")
	}
	for _, tool := range []string{"ip", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (iproute2, iputils-ping)", tool)
		}
	}
	return &lab{t: t, prefix: fmt.Sprintf("ov%d", os.Getpid()%100000)}
}

func (l *lab) sh(args ...string) string {
	l.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ns creates a namespace and returns its name and a handle to it.
func (l *lab) ns(name string) (string, netns.NsHandle) {
	l.t.Helper()
	full := l.prefix + name
	l.sh("ip", "netns", "add", full)
	l.t.Cleanup(func() { exec.Command("ip", "netns", "del", full).Run() })
	h, err := netns.GetFromName(full)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { h.Close() })
	l.sh("ip", "-n", full, "link", "set", "lo", "up")
	return full, h
}

// inNS runs f on a thread in ns. The thread is never unlocked, so it
// dies with the goroutine instead of going back to the pool in ns.
func inNS(ns netns.NsHandle, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

func dialIn(ns netns.NsHandle) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := inNS(ns, func() (err error) {
			c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

func listenIn(ns netns.NsHandle, addr string) (net.Listener, error) {
	var ln net.Listener
	err := inNS(ns, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type host struct {
	name   string
	ns     netns.NsHandle
	ip     string
	h      *netlink.Handle
	agent  *Agent
	cancel context.CancelFunc
	done   chan struct{}
	ipam   *attach.IPAM
}

// masterProc is the overlay master serving inside host 1's namespace.
type masterProc struct {
	srv *http.Server
	ln  net.Listener
}

func startMasterIn(t *testing.T, ns netns.NsHandle, addr string, n config.Network, path string) *masterProc {
	t.Helper()
	m := alloc.NewMaster(alloc.MasterOptions{Network: n, Store: &alloc.FileStore{Path: path}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	eventually(t, "master listen", func() (err error) { ln, err = listenIn(ns, addr); return err })
	mp := &masterProc{srv: &http.Server{Handler: m.Handler()}, ln: ln}
	go mp.srv.Serve(ln)
	t.Cleanup(func() { mp.srv.Close() })
	return mp
}

func (h *host) start(t *testing.T, master string, cfg config.Agent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	nft, err := nftables.New(nftables.WithNetNSFd(int(h.ns)))
	if err != nil {
		t.Fatal(err)
	}
	h.agent = NewAgent(AgentOptions{IP: h.ip, Config: cfg, Masters: []string{master}, Kernel: Kernel{H: h.h, NFT: nft},
		Client:       &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialIn(h.ns)}},
		PeerInterval: 150 * time.Millisecond, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	go func() { defer close(h.done); h.agent.Run(ctx) }()
	t.Cleanup(h.stop)
	select {
	case <-h.agent.Ready():
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: agent not configured", h.name)
	}
}

func (h *host) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// peerRoutes lists the agent-owned unicast routes of a host's main table.
func peerRoutes(h *netlink.Handle) (map[string]string, error) {
	rs, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: RouteProto, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range rs {
		if r.Type == unix.RTN_UNICAST && r.Gw != nil {
			out[r.Dst.String()] = r.Gw.String()
		}
	}
	return out, nil
}

func ping(lb *lab, from, to string) error {
	out, err := exec.Command("ip", "netns", "exec", from, "ping", "-c", "2", "-i", "0.2", "-W", "2", to).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ping %s → %s: %v: %s", from, to, err, lastLine(out))
	}
	return nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// tcpEcho sends 1 MiB from one namespace to a server in another and
// checks it comes back intact.
func tcpEcho(from, to netns.NsHandle, addr netip.Addr) error {
	ln, err := listenIn(to, net.JoinHostPort(addr.String(), "0"))
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	c, err := dialIn(from)(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	msg := make([]byte, 1<<20)
	rand.Read(msg)
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo differs")
	}
	return nil
}

type container struct {
	name string
	ns   netns.NsHandle
	addr netip.Prefix
}

// cluster3 builds the underlay and three hosts with the master on host 1.
type cluster3 struct {
	lab        *lab
	hosts      []*host
	master     *masterProc
	masterURL  string
	net        config.Network
	statePath  string
	containers []container
}

func newCluster3(t *testing.T) *cluster3 {
	lb := newLab(t)
	n, _, err := config.ParseNetwork([]byte(seedNet), "network")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster3{lab: lb, net: n, statePath: filepath.Join(t.TempDir(), "overlay-state.json")}
	ul, _ := lb.ns("ul")
	lb.sh("ip", "-n", ul, "link", "add", "br0", "type", "bridge")
	lb.sh("ip", "-n", ul, "link", "set", "br0", "up")
	// An underlay address that is no agent: containers reach it only
	// through the masquerade (it has no route back to 9.0.0.0/8).
	lb.sh("ip", "-n", ul, "addr", "add", "10.77.0.250/24", "dev", "br0")
	for i := 1; i <= 3; i++ {
		name, ns := lb.ns(fmt.Sprintf("h%d", i))
		port := fmt.Sprintf("u%d", i)
		lb.sh("ip", "-n", ul, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", name)
		lb.sh("ip", "-n", ul, "link", "set", port, "master", "br0", "up")
		ip := fmt.Sprintf("10.77.0.%d", i)
		lb.sh("ip", "-n", name, "addr", "add", ip+"/24", "dev", "eth0")
		lb.sh("ip", "-n", name, "link", "set", "eth0", "up")
		// A default route, as real hosts have: the overlay's unreachable
		// routes must win over it.
		lb.sh("ip", "-n", name, "route", "add", "default", "via", "10.77.0.254")
		lb.sh("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
		h, err := netlink.NewHandleAt(ns)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		c.hosts = append(c.hosts, &host{name: name, ns: ns, ip: ip, h: h})
	}
	c.masterURL = "http://10.77.0.1:15050"
	c.master = startMasterIn(t, c.hosts[0].ns, "10.77.0.1:15050", n, c.statePath)
	for _, h := range c.hosts {
		h.start(t, c.masterURL, config.DefaultAgent())
	}
	return c
}

// addContainer attaches a new namespace to host i's m-dcos bridge.
func (c *cluster3) addContainer(t *testing.T, i int, name string) container {
	t.Helper()
	h := c.hosts[i]
	info := h.agent.Info()
	br := netip.MustParsePrefix(info.Overlays[0].MesosBridge.IP)
	if h.ipam == nil {
		h.ipam = &attach.IPAM{Range: br}
	}
	addr, err := h.ipam.Allocate(name)
	if err != nil {
		t.Fatal(err)
	}
	full, ns := c.lab.ns(name)
	if err := attach.Attach(h.h, ns, attach.Spec{Bridge: "m-dcos", HostIf: "v" + name, Addr: addr, Gateway: Gateway(br).Addr()}); err != nil {
		t.Fatal(err)
	}
	ct := container{name: full, ns: ns, addr: addr}
	c.containers = append(c.containers, ct)
	return ct
}

func TestThreeHostsOverVXLAN(t *testing.T) {
	c := newCluster3(t)
	lb := c.lab

	// Allocations are distinct.
	seen := map[string]string{}
	for _, h := range c.hosts {
		info := h.agent.Info()
		if len(info.Overlays) != 2 {
			t.Fatalf("%s: overlays %+v", h.name, info.Overlays)
		}
		for _, o := range info.Overlays {
			if o.State.Status != alloc.StatusOK {
				t.Fatalf("%s: %s %+v", h.name, o.Info.Name, o.State)
			}
			for _, k := range []string{o.Subnet + o.Subnet6, o.Backend.VXLAN.VTEPIP, o.Backend.VXLAN.VTEPMAC} {
				if prev, dup := seen[k]; dup && prev != h.name {
					t.Fatalf("%s given to %s and %s", k, prev, h.name)
				}
				seen[k] = h.name
			}
		}
	}
	// Every host routes the two others' blocks via their VTEPs.
	for i, h := range c.hosts {
		eventually(t, h.name+" peer routes", func() error {
			rs, err := peerRoutes(h.h)
			if err != nil {
				return err
			}
			for j, o := range c.hosts {
				if i == j {
					continue
				}
				oi := o.agent.Info().Overlays[0]
				vtep := strings.Split(oi.Backend.VXLAN.VTEPIP, "/")[0]
				if rs[oi.Subnet] != vtep {
					return fmt.Errorf("no route %s via %s: %v", oi.Subnet, vtep, rs)
				}
			}
			return nil
		})
	}
	c1, c2, c3 := c.addContainer(t, 0, "c1"), c.addContainer(t, 1, "c2"), c.addContainer(t, 2, "c3")
	for _, pair := range [][2]container{{c1, c2}, {c2, c3}, {c3, c1}} {
		eventually(t, "ping", func() error { return ping(lb, pair[0].name, pair[1].addr.Addr().String()) })
	}
	if err := tcpEcho(c1.ns, c2.ns, c2.addr.Addr()); err != nil {
		t.Fatalf("tcp c1 → c2: %v", err)
	}
	if err := tcpEcho(c3.ns, c1.ns, c1.addr.Addr()); err != nil {
		t.Fatalf("tcp c3 → c1: %v", err)
	}
	// The IPv6 overlay (dcos6) carries traffic between containers too.
	var v6 []container
	for i, h := range c.hosts[:2] {
		br := netip.MustParsePrefix(h.agent.Info().Overlays[1].MesosBridge.IP6)
		addr := netip.PrefixFrom(Gateway(br).Addr().Next(), br.Bits())
		full, ns := lb.ns(fmt.Sprintf("s%d", i))
		if err := attach.Attach(h.h, ns, attach.Spec{Bridge: "m-dcos6", HostIf: fmt.Sprintf("vs%d", i), Addr: addr, Gateway: Gateway(br).Addr()}); err != nil {
			t.Fatal(err)
		}
		v6 = append(v6, container{name: full, ns: ns, addr: addr})
	}
	eventually(t, "ping over the IPv6 overlay", func() error { return ping(lb, v6[0].name, v6[1].addr.Addr().String()) })
	// Containers reach a non-overlay address through the masquerade.
	eventually(t, "container to the underlay (masquerade)", func() error { return ping(lb, c1.name, "10.77.0.250") })
	// Containers reach another agent's host IP through the tunnel (table 42).
	eventually(t, "container to remote host", func() error { return ping(lb, c1.name, c.hosts[1].ip) })

	// Safety: an overlay address no agent holds is unreachable, default
	// route or not.
	if out, _ := exec.Command("ip", "-n", c.hosts[0].name, "route", "get", "9.200.0.1").CombinedOutput(); !strings.Contains(string(out), "No route to host") && !strings.Contains(string(out), "unreachable") {
		t.Errorf("9.200.0.1 routed: %s", out)
	}

	// The master restarts: the state is the same, and a restarted agent
	// keeps its allocation.
	before, _ := json.Marshal(c.state(t))
	c.master.srv.Close()
	c.master = startMasterIn(t, c.hosts[0].ns, "10.77.0.1:15050", c.net, c.statePath)
	var after []byte
	eventually(t, "state after master restart", func() error {
		after, _ = json.Marshal(c.state(t))
		if !bytes.Equal(before, after) {
			return fmt.Errorf("state changed:\n%s\n%s", before, after)
		}
		return nil
	})
	h2 := c.hosts[1]
	old := h2.agent.Info().Overlays[0].Subnet
	h2.stop()
	h2.start(t, c.masterURL, config.DefaultAgent())
	if got := h2.agent.Info().Overlays[0].Subnet; got != old {
		t.Fatalf("restarted agent moved from %s to %s", old, got)
	}
	eventually(t, "ping after restarts", func() error { return ping(lb, c1.name, c2.addr.Addr().String()) })

	// Host 3 leaves: the others drop its routes, and its block becomes
	// unreachable from them.
	h3 := c.hosts[2]
	gone := h3.agent.Info().Overlays[0].Subnet
	h3.stop()
	b, _ := json.Marshal(alloc.DeleteRequest{Agents: []string{h3.ip}})
	req, _ := http.NewRequest(http.MethodPost, c.masterURL+"/overlay-master/agents/delete", bytes.NewReader(b))
	resp, err := (&http.Client{Transport: &http.Transport{DialContext: dialIn(c.hosts[0].ns)}}).Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("delete: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, h := range c.hosts[:2] {
		eventually(t, h.name+" forgets "+h3.name, func() error {
			rs, err := peerRoutes(h.h)
			if err != nil {
				return err
			}
			if _, ok := rs[gone]; ok {
				return fmt.Errorf("route to %s still there", gone)
			}
			vtep, err := h.h.LinkByName("vtep1024")
			if err != nil {
				return err
			}
			fdb, _ := h.h.NeighList(vtep.Attrs().Index, unix.AF_BRIDGE)
			for _, f := range fdb {
				if f.IP != nil && f.IP.String() == h3.ip {
					return fmt.Errorf("fdb entry for %s still there", h3.ip)
				}
			}
			return nil
		})
	}
	if err := ping(lb, c1.name, c3.addr.Addr().String()); err == nil {
		t.Error("c3 still reachable after its host left")
	}
	if err := ping(lb, c1.name, c2.addr.Addr().String()); err != nil {
		t.Errorf("c1 → c2 after h3 left: %v", err)
	}
}

func (c *cluster3) state(t *testing.T) alloc.State {
	t.Helper()
	var st alloc.State
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialIn(c.hosts[0].ns)}}
	resp, err := cl.Get(c.masterURL + "/overlay-master/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}
