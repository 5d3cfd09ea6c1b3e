//go:build linux

package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/overlay/agent"
	"github.com/sextantdc/sextant/internal/overlay/alloc"
	"github.com/sextantdc/sextant/internal/overlay/attach"
	"github.com/sextantdc/sextant/internal/overlay/config"
	"github.com/sextantdc/sextant/internal/overlay/isolate"
	"github.com/sextantdc/sextant/internal/runtime"
)

func platformUnavailable() string { return "" }

// localOverlay runs the overlay of `sextant up` and puts tasks on it.
type localOverlay struct {
	status *netStatus

	mu     sync.Mutex
	ready  bool
	host   *netlink.Handle
	agent  *agent.Agent
	cancel context.CancelFunc
	done   chan struct{}
	nets   map[string]*upNet // by overlay name
	tasks  map[string]*upTask
	log    *slog.Logger

	kernel   agent.Kernel
	tries    int
	opts     upOverlayOptions
	prepared bool
	agentMux *http.ServeMux
	lastErr  error
	lastTry  time.Time
}

// upNet is one overlay's bridge on this node.
type upNet struct {
	bridge  string
	gateway netip.Addr
	ipam    *attach.IPAM
	mtu     int
}

type upTask struct {
	ns     netns.NsHandle
	hostIf string
	net    *upNet
}

func newLocalOverlay(status *netStatus) *localOverlay {
	return &localOverlay{status: status, nets: map[string]*upNet{}, tasks: map[string]*upTask{}}
}

// upOverlayOptions say where the overlay of `sextant up` lives.
type upOverlayOptions struct {
	StateDir  string
	IP        string         // this node's IP, the VTEP's underlay address
	MasterURL string         // where Mux is served
	Mux       *http.ServeMux // the Mesos listener's mux: /overlay-master/, /overlay-agent/
	Registry  prometheus.Registerer
	Logger    *slog.Logger
}

// prepare recovers the master's state and serves both APIs; the agent
// part, which changes the kernel, starts with the first task that asks
// for a container network (ensureStarted), so an up whose apps never ask
// leaves the network namespace as it found it.
func (o *localOverlay) prepare(ctx context.Context, uo upOverlayOptions) error {
	o.log, o.opts = uo.Logger, uo
	n := config.Default()
	m := alloc.NewMaster(alloc.MasterOptions{Network: n, Logger: uo.Logger.With("component", "overlay-master"), Registry: uo.Registry,
		Store: &alloc.FileStore{Path: filepath.Join(uo.StateDir, "overlay", "network-state.json")}})
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if err := m.Recover(rctx); err != nil {
		o.status.set(false, "overlay master: "+err.Error())
		return fmt.Errorf("overlay master: %w", err)
	}
	// No task outlives an up (a restart launches new ones), so no address
	// given before is still held.
	_ = os.RemoveAll(filepath.Join(uo.StateDir, "overlay", "ipam"))
	o.agentMux = http.NewServeMux()
	uo.Mux.Handle("/overlay-master/", m.Handler())
	uo.Mux.Handle("/overlay-agent/", o.agentMux)
	o.prepared = true
	o.status.set(true, fmt.Sprintf("%s %s (set up with the first task on it)", n.Overlays[0].Name, n.Overlays[0].Subnet))
	return nil
}

// ensureStarted starts the agent part once; a failure is retried by a
// later task, at most every 10 s. o.mu is held.
func (o *localOverlay) ensureStartedLocked() error {
	if o.ready {
		return nil
	}
	if !o.prepared {
		return fmt.Errorf("%w: %s", runtime.ErrNoContainerNetworks, o.status)
	}
	if o.lastErr != nil && time.Since(o.lastTry) < 10*time.Second {
		return fmt.Errorf("%w: %v", runtime.ErrNoContainerNetworks, o.lastErr)
	}
	o.lastTry = time.Now()
	o.lastErr = o.startAgentLocked()
	if o.lastErr != nil {
		o.status.set(false, o.lastErr.Error())
		return fmt.Errorf("%w: %v", runtime.ErrNoContainerNetworks, o.lastErr)
	}
	return nil
}

func (o *localOverlay) startAgentLocked() error {
	uo := o.opts
	host, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	if _, err := host.LinkByName(alloc.VTEPName); err == nil {
		host.Close()
		return fmt.Errorf("%s exists in this network namespace: another overlay runs here (or a sextant up that did not stop cleanly left it: ip link del %s)",
			alloc.VTEPName, alloc.VTEPName)
	}
	cfg := config.DefaultAgent()
	cfg.EnableIPv6 = false
	kernel := agent.Kernel{H: host}
	if nft, err := nftables.New(); err == nil {
		kernel.NFT = nft // masquerade for traffic leaving the overlay
	}
	o.kernel = kernel
	// A retry after a failed start must not register the metrics twice.
	reg := uo.Registry
	if o.tries++; o.tries > 1 {
		reg = nil
	}
	ag := agent.NewAgent(agent.AgentOptions{IP: uo.IP, Config: cfg, Masters: []string{uo.MasterURL}, Kernel: kernel,
		Backoff: 500 * time.Millisecond, MaxBackoff: 5 * time.Second,
		Logger: uo.Logger.With("component", "overlay-agent"), Registry: reg})
	actx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ag.Run(actx) }()
	select {
	case <-ag.Ready():
	case <-time.After(20 * time.Second):
		cancel()
		<-done
		reason := "the overlay agent did not configure this node in 20 s"
		for _, ov := range ag.Info().Overlays {
			if ov.State.Error != "" {
				reason = ov.State.Error
			}
		}
		if d, ok := ag.Desired(); ok {
			_ = kernel.Teardown(d)
		}
		host.Close()
		return errors.New(reason)
	}
	o.agentMux.Handle("/overlay-agent/", ag.Handler())
	o.host, o.agent, o.cancel, o.done, o.ready = host, ag, cancel, done, true
	var what []string
	for _, ov := range ag.Info().Overlays {
		if ov.MesosBridge == nil || ov.MesosBridge.IP == "" {
			continue
		}
		half := netip.MustParsePrefix(ov.MesosBridge.IP)
		o.nets[ov.Info.Name] = &upNet{bridge: ov.MesosBridge.Name, gateway: agent.Gateway(half).Addr(), mtu: cfg.OverlayMTU,
			ipam: &attach.IPAM{Range: half, Dir: filepath.Join(uo.StateDir, "overlay", "ipam", ov.Info.Name)}}
		what = append(what, fmt.Sprintf("%s %s (this node: %s on %s)", ov.Info.Name, ov.Info.Subnet, half, ov.MesosBridge.Name))
	}
	o.status.set(true, strings.Join(what, ", "))
	o.log.Info("container networks set up", "networks", what)
	return nil
}

// stop ends the agent and removes what it programmed; tasks have left.
func (o *localOverlay) stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.ready {
		return
	}
	o.cancel()
	<-o.done
	if d, ok := o.agent.Desired(); ok {
		if err := o.kernel.Teardown(d); err != nil {
			o.log.Warn("overlay: teardown", "err", err)
		}
	}
	o.host.Close()
	o.ready = false
}

// Join creates the task's network namespace on the overlay's bridge.
func (o *localOverlay) Join(taskID, network string) (runtime.Joined, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.ensureStartedLocked(); err != nil {
		return runtime.Joined{}, err
	}
	n, ok := o.nets[network]
	if !ok {
		return runtime.Joined{}, fmt.Errorf("no container network %q on this node", network)
	}
	addr, err := n.ipam.Allocate(taskID)
	if err != nil {
		return runtime.Joined{}, err
	}
	ns, err := newNetNS()
	if err != nil {
		n.ipam.Release(taskID)
		return runtime.Joined{}, err
	}
	sum := sha256.Sum256([]byte(taskID))
	hostIf := "sx" + hex.EncodeToString(sum[:6])
	if err := attach.Attach(o.host, ns, attach.Spec{Bridge: n.bridge, HostIf: hostIf, Addr: addr, Gateway: n.gateway, MTU: n.mtu}); err != nil {
		ns.Close()
		n.ipam.Release(taskID)
		return runtime.Joined{}, err
	}
	o.tasks[taskID] = &upTask{ns: ns, hostIf: hostIf, net: n}
	return runtime.Joined{IP: addr.Addr().String(), Enter: func(start func() error) error { return inNetNS(ns, start) }}, nil
}

// Leave removes the task's veth and namespace and frees its address.
func (o *localOverlay) Leave(taskID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t, ok := o.tasks[taskID]
	if !ok {
		return
	}
	delete(o.tasks, taskID)
	if o.host != nil {
		_ = attach.Detach(o.host, t.hostIf)
	}
	t.ns.Close() // the namespace goes with its last process and this handle
	t.net.ipam.Release(taskID)
}

// newNetNS creates an unnamed network namespace and returns a handle to
// it. The thread that made it is never unlocked, so it ends with its
// goroutine instead of going back to the scheduler in the new namespace.
func newNetNS() (netns.NsHandle, error) {
	type res struct {
		h   netns.NsHandle
		err error
	}
	c := make(chan res, 1)
	go func() {
		goruntime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			c <- res{err: fmt.Errorf("new network namespace: %w", err)}
			return
		}
		h, err := netns.Get()
		c <- res{h, err}
	}()
	r := <-c
	return r.h, r.err
}

// inNetNS runs f on a thread inside ns (a process f starts lives there);
// the thread is discarded afterwards, like newNetNS's.
func inNetNS(ns netns.NsHandle, f func() error) error {
	c := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			c <- fmt.Errorf("enter the task's network namespace: %w", err)
			return
		}
		c <- f()
	}()
	return <-c
}

// isolation keeps the nftables isolation policy in line with the
// snapshots, once the overlay runs.
func (o *localOverlay) isolation(ctx context.Context, sub *hub.Subscription) error {
	conn, err := nftables.New()
	if err != nil {
		return nil // no nftables: no isolation, nothing else changes
	}
	space := config.Default().Overlays[0].Subnet
	last := ""
	defer func() {
		if last != "" {
			_ = isolate.Remove(conn)
		}
	}()
	for s := range sub.Snapshots(ctx) {
		o.mu.Lock()
		ready := o.ready
		o.mu.Unlock()
		if !ready {
			continue
		}
		p := isolate.Compute(isolate.FromSnapshot(s, space))
		if txt := p.String(); txt != last {
			if err := isolate.Apply(conn, p); err != nil {
				o.log.Warn("overlay isolation", "err", err)
				continue
			}
			last = txt
		}
	}
	return nil
}
