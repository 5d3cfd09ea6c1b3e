package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/dcosdns"
	"github.com/sextantdc/sextant/internal/gossip"
	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/mesos/operator"
	"github.com/sextantdc/sextant/internal/obs"
	marathonsrc "github.com/sextantdc/sextant/internal/source/marathon"
	mesossrc "github.com/sextantdc/sextant/internal/source/mesos"
	"github.com/sextantdc/sextant/internal/zonepub"
)

// Node DNS role defaults, for the commands' help texts.
const (
	DefaultNodeDNSListen   = dcosdns.DefaultListen
	DefaultNodeAPIAddr     = dcosdns.DefaultAPIAddr
	DefaultPublishInterval = zonepub.DefaultPublishInterval
)

// Ready reports what the node DNS role bound.
type Ready = dcosdns.Ready

// NodeDNSConfig is the node DNS role's configuration as the agent and
// master commands take it (each field is the flag of the same name).
type NodeDNSConfig struct {
	Listen          []string // --dns-listen
	APIAddr         string   // --api-addr
	Config          string   // --config: dcos-dns.json
	Spartan         bool     // --spartan (agents)
	SpartanIPv6     bool     // --spartan-ipv6 (agents)
	MesosDNS        []string // --mesos-dns
	Masters         []string // --masters
	NodeIP          string   // --node-ip
	ClusterID       string   // --cluster-id
	CacheSize       int      // --cache-size
	GossipBind      string   // --gossip-bind
	GossipAdvertise string   // --gossip-advertise
	Join            []string // --join
	KeyFile         string   // --gossip-key-file
	ClusterLabel    string   // --cluster-label
	NodeName        string   // --node-name
	FastGossip      bool     // --gossip-fast
	Hostname        string   // --hostname
	PublicIPs       []string // --public-ip
	DetectIPPublic  string   // --detect-ip-public
	CacheMesos      bool     // --cache-mesos
	IgnoreHealth    bool     // --ignore-health
	// L4LBPlane is the agent's load-balancer plane (--l4lb-plane; "" or
	// "off": none); L4LBLoopback its --l4lb-loopback.
	L4LBPlane    string
	L4LBLoopback bool
	Version      string

	// MesosAgent is the local Mesos agent's base URL (--mesos-agent):
	// this agent then gossips the backends of its own tasks (per-writer
	// sets, §0.6). Empty: off.
	MesosAgent string
	// Overlay is the overlay role (--overlay-*), run beside the DNS role
	// by both commands.
	Overlay OverlayConfig
}

// options derives the role's options: files read, addresses parsed,
// defaults that depend on other settings filled.
func (f *NodeDNSConfig) options(role dcosdns.Role, log *slog.Logger) (dcosdns.Options, error) {
	o := dcosdns.Options{Role: role, Listen: f.Listen, SetupSpartan: f.Spartan, SpartanIPv6: f.SpartanIPv6, APIAddr: f.APIAddr,
		ClusterID: f.ClusterID, CacheSize: f.CacheSize, Logger: log, Version: f.Version,
		Hostname: f.Hostname, DetectIPPublic: f.DetectIPPublic, CacheMesos: f.CacheMesos}
	for _, p := range f.PublicIPs {
		a, err := netip.ParseAddr(p)
		if err != nil {
			return o, fmt.Errorf("--public-ip: %q is not an IP address", p)
		}
		o.PublicIPs = append(o.PublicIPs, a)
	}
	if f.Config != "" {
		c, warns, err := dcosdns.LoadConfig(f.Config)
		if err != nil {
			return o, err
		}
		for _, w := range warns {
			log.Warn("config", "file", f.Config, "warning", w)
		}
		o.Config = c
	} else if f.Spartan {
		// The DC/OS layout: the spartan addresses on port 53.
		c := dcosdns.DefaultConfig()
		c.UDPPort, c.TCPPort = 53, 53
		o.Config = c
	}
	for _, m := range f.Masters {
		a, err := netip.ParseAddr(m)
		if err != nil {
			return o, fmt.Errorf("--masters: %q is not an IP address", m)
		}
		o.Masters = append(o.Masters, a)
	}
	o.MesosDNS = f.MesosDNS
	if len(o.MesosDNS) == 0 {
		for _, m := range o.Masters {
			o.MesosDNS = append(o.MesosDNS, netip.AddrPortFrom(m, 61053).String())
		}
	}
	if f.NodeIP != "" {
		a, err := netip.ParseAddr(f.NodeIP)
		if err != nil {
			return o, fmt.Errorf("--node-ip: %q is not an IP address", f.NodeIP)
		}
		o.NodeIP = a
	}
	if f.GossipBind != "" {
		g := &dcosdns.GossipOptions{NodeName: f.NodeName, Bind: f.GossipBind, Advertise: f.GossipAdvertise, Join: f.Join, Label: f.ClusterLabel}
		if f.FastGossip {
			g.Timers = gossip.FastTimers()
		}
		if f.KeyFile != "" {
			k, err := gossip.LoadKey(f.KeyFile)
			if err != nil {
				return o, fmt.Errorf("--gossip-key-file: %w", err)
			}
			g.Key = k
		}
		host, _, err := net.SplitHostPort(firstNonEmpty(f.GossipAdvertise, f.GossipBind))
		if err != nil {
			return o, fmt.Errorf("--gossip-bind: %w", err)
		}
		if !o.NodeIP.IsValid() {
			if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
				o.NodeIP = a
			}
		}
		if _, port, _ := net.SplitHostPort(f.GossipBind); len(g.Join) == 0 && port != "0" {
			// Contact nodes are the masters (as Lashup's were), on this
			// node's gossip port.
			for _, m := range o.Masters {
				if m != o.NodeIP {
					g.Join = append(g.Join, net.JoinHostPort(m.String(), port))
				}
			}
		}
		if g.NodeName == "" {
			hn, _ := os.Hostname()
			g.NodeName = hn + "-" + o.NodeIP.String()
		}
		o.Gossip = g
	} else if len(f.Join) > 0 {
		return o, errors.New("--join needs --gossip-bind")
	}
	return o, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Agent runs the node roles of an agent: the node DNS role answering the
// cluster zones it receives by gossip. ready, when set, is called once
// everything is bound.
func Agent(ctx context.Context, c NodeDNSConfig, log *slog.Logger, ready func(Ready)) error {
	o, err := c.options(dcosdns.RoleAgent, log)
	if err != nil {
		return err
	}
	o.Registry = obs.NewRegistry()
	o.Ready = ready
	pl := newPipeline(hub.Options{Logger: log.With("component", "hub"), Registerer: o.Registry})
	pl.nodeDNS(o, nil)
	if err := pl.overlayRole(c.Overlay, false, c.NodeIP); err != nil {
		return err
	}
	if err := addAgentL4LB(pl, c.L4LBPlane, c.L4LBLoopback, o.NodeIP, log.With("role", "l4lb")); err != nil {
		return err
	}
	if err := addBackendWriter(pl, c.MesosAgent, o.NodeIP, log.With("role", "l4lb-writer")); err != nil {
		return err
	}
	return pl.run(ctx)
}

// MasterConfig is the configuration of `sextant master`.
type MasterConfig struct {
	DNS NodeDNSConfig
	// Mesos is host:port[,host:port…], a zk:// URL or file://PATH of a
	// file holding one (--mesos).
	Mesos string
	// MesosRefresh is the poll interval, the safety net of the event
	// stream (--mesos-refresh); NoStream polls only (--no-stream).
	MesosRefresh time.Duration
	NoStream     bool
	// Marathon are Marathon base URLs (--marathon, repeatable): the
	// Marathon source reads apps, health and labels from the first that
	// answers. None: the model has no Marathon apps.
	Marathon []string
	// ZonePushInterval is the leader's minimum time between two pushes of
	// a zone (--zone-push-interval).
	ZonePushInterval time.Duration
	// Gateway is the optional gateway (--gateway-addr and its flags).
	Gateway MasterGatewayConfig
}

// Master runs the master roles: the Mesos (and Marathon) sources, the hub,
// and the node DNS role, which builds the cluster zones while this master
// leads the gossip cluster and answers them like every node.
func Master(ctx context.Context, c MasterConfig, log *slog.Logger, ready func(Ready)) error {
	if c.Mesos == "" {
		return errors.New("--mesos is required")
	}
	o, err := c.DNS.options(dcosdns.RoleMaster, log)
	if err != nil {
		return err
	}
	o.Registry = obs.NewRegistry()
	o.Ready = ready
	so := mesossrc.Options{RefreshInterval: c.MesosRefresh, NoStream: c.NoStream,
		Streamer: mesossrc.OperatorStreamer(operator.Options{Logger: log.With("component", "mesos-stream")})}
	if strings.HasPrefix(c.Mesos, "zk://") || strings.HasPrefix(c.Mesos, "file://") {
		z, err := mesossrc.ParseZKURL(c.Mesos, os.ReadFile)
		if err != nil {
			return fmt.Errorf("--mesos: %w", err)
		}
		so.ZK = &z
	} else {
		for _, m := range strings.Split(c.Mesos, ",") {
			if m = strings.TrimSpace(m); m != "" {
				so.Masters = append(so.Masters, m)
			}
		}
	}
	// Stale past three missed polls, as Mesos-DNS' 3 × refreshSeconds.
	pl := newPipeline(hub.Options{Logger: log.With("component", "hub"), Registerer: o.Registry, StaleAfter: 3 * c.MesosRefresh})
	if _, err := pl.mesos(so); err != nil {
		return err
	}
	if len(c.Marathon) > 0 {
		if _, err := pl.marathon(marathonsrc.Options{URLs: c.Marathon}); err != nil {
			return fmt.Errorf("--marathon: %w", err)
		}
	}
	pi := c.ZonePushInterval
	if o.Gossip == nil && pi <= 0 {
		pi = zonepub.StandalonePublishInterval
	}
	pl.nodeDNS(o, &zonepub.Options{IgnoreHealth: c.DNS.IgnoreHealth, PublishInterval: pi})
	if err := pl.overlayRole(c.DNS.Overlay, true, c.DNS.NodeIP); err != nil {
		return err
	}
	if c.Gateway.Addr != "" {
		mesos := "" // with ZooKeeper, only the leader the snapshots name
		if len(so.Masters) > 0 {
			mesos = "http://" + so.Masters[0]
		}
		if err := masterGateway(pl, c.Gateway, mesos, "http://"+o.APIAddr, c.DNS.Version, log); err != nil {
			return err
		}
	}
	return pl.run(ctx)
}
