package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/sextantdc/sextant/internal/app"
)

// listFlag collects a flag given several times or as a comma list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// dnsFlags are the flags of the node DNS role, shared by agent and master.
type dnsFlags struct {
	cfg                                        app.NodeDNSConfig
	listen, mesosDNS, masters, join, publicIPs listFlag
	logLevel                                   string
	verbose                                    bool
	overlayMasters                             listFlag
}

func (f *dnsFlags) register(fs *flag.FlagSet, agent bool) {
	c := &f.cfg
	fs.Var(&f.listen, "dns-listen", "DNS listen address ip:port (repeatable; overrides the config file's bind_* keys; default: "+
		app.DefaultNodeDNSListen+" on agents, every host address on port 8053 on masters)")
	fs.StringVar(&c.APIAddr, "api-addr", app.DefaultNodeAPIAddr, "HTTP API address (/v1/records, /v1/vips, /metrics, /health); empty turns it off")
	fs.StringVar(&c.Config, "config", "", "dcos-dns.json configuration file (upstream_resolvers, forward_zones, bind_interface, bind_ips, …)")
	if agent {
		fs.StringVar(&c.L4LBPlane, "l4lb-plane", app.PlaneAuto, "VIP load balancer data plane: "+app.L4LBPlanes+" (auto: eBPF socket LB with nftables when root and loadable, nftables when root, userspace otherwise)")
		fs.BoolVar(&c.L4LBLoopback, "l4lb-loopback", false, "userspace plane: serve VIP 11.a.b.c on 127.a.b.c instead of adding VIP addresses (the default without root)")
		fs.StringVar(&c.MesosAgent, "mesos-agent", "", "local Mesos agent base URL (http://ip:5051): gossip the VIP backends of this agent's own tasks (per-writer sets); empty: off")
		fs.BoolVar(&c.SpartanIPv6, "spartan-ipv6", false, "with --spartan, also add and listen on fd01:d::c633:6401")
		fs.BoolVar(&c.Spartan, "spartan", false, "create the spartan interface with 198.51.100.1-3 (on lo when the kernel has no dummy driver) and listen there, on port 53 unless --config sets udp_port/tcp_port; needs root")
	}
	fs.Var(&f.mesosDNS, "mesos-dns", "Mesos-DNS address ip:port for .mesos names (repeatable; default: each --masters IP on port 61053, else every alive master of the gossip cluster)")
	fs.Var(&f.masters, "masters", "master IPs (repeatable): zk-1..5.zk, master.dcos.thisdcos.directory, default .mesos upstreams")
	fs.StringVar(&c.NodeIP, "node-ip", "", "this node's private IP (thisnode.thisdcos.directory, gossip identity); default: the gossip address")
	fs.StringVar(&c.ClusterID, "cluster-id", "", "cluster crypto id for *.<label>.<id>.dcos.directory aliases")
	fs.IntVar(&c.CacheSize, "cache-size", 0, "forwarded-answer cache entries (0: 10000; negative: no cache)")
	fs.StringVar(&c.GossipBind, "gossip-bind", "", "gossip address ip:port (UDP+TCP; dcos-net used port 62501); empty runs standalone")
	fs.StringVar(&c.GossipAdvertise, "gossip-advertise", "", "gossip address other nodes dial (default: --gossip-bind)")
	fs.Var(&f.join, "join", "gossip address ip:port of a member to join (repeatable; default: every --masters IP on the --gossip-bind port)")
	fs.StringVar(&c.KeyFile, "gossip-key-file", "", "file with the cluster key (base64 or hex, 16/24/32 bytes); members with another key cannot join")
	fs.StringVar(&c.ClusterLabel, "cluster-label", "", "gossip label; clusters with different labels never mix")
	fs.StringVar(&c.NodeName, "node-name", "", "unique gossip member name (default: hostname-ip); the alive master with the lowest name leads")
	fs.BoolVar(&c.FastGossip, "gossip-fast", false, "aggressive gossip timers for loopback tests and demos")
	fs.StringVar(&c.Hostname, "hostname", "", "this node's hostname in /v1/nodes (default: the gossip member name)")
	fs.Var(&f.publicIPs, "public-ip", "this node's public IP (repeatable): public.thisnode.thisdcos.directory and /v1/nodes")
	fs.StringVar(&c.DetectIPPublic, "detect-ip-public", "", "command printing this node's public IPs, one per line (DC/OS's detect_ip_public), run at start and every 30 min; replaces --public-ip")
	fs.BoolVar(&c.CacheMesos, "cache-mesos", false, "cache positive .mesos answers for their TTL (dcos-dns never cached them; negative answers are never cached)")
	fs.BoolVar(&c.IgnoreHealth, "ignore-health", false, "keep tasks that fail their health checks in the task zones, as dcos-net did (default: they leave until healthy)")
	registerOverlayFlags(fs, &c.Overlay, &f.overlayMasters, agent)
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&f.verbose, "v", false, "debug logging")
}

// config returns the parsed configuration.
func (f *dnsFlags) config() app.NodeDNSConfig {
	c := f.cfg
	c.Listen, c.MesosDNS, c.Masters, c.Join, c.PublicIPs = f.listen, f.mesosDNS, f.masters, f.join, f.publicIPs
	c.Overlay.Masters = f.overlayMasters
	c.Version = version
	return c
}

func (f *dnsFlags) logger(stderr io.Writer) *slog.Logger {
	v := 0
	if f.verbose {
		v = 1
	}
	return newLogger(stderr, v, f.logLevel)
}

// runAgent is `sextant agent`: the node roles of an agent.
func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("agent", stdout, stderr)
	var f dnsFlags
	f.register(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return app.Agent(ctx, f.config(), f.logger(stderr), readyPrinter(stdout))
}

// readyPrinter prints the bound addresses once, one "key=value" line each,
// for scripts and tests that start the process with port 0.
func readyPrinter(w io.Writer) func(app.Ready) {
	return func(r app.Ready) {
		fmt.Fprintf(w, "dns=%s\n", strings.Join(r.DNS, ","))
		fmt.Fprintf(w, "api=%s\n", r.API)
		fmt.Fprintf(w, "gossip=%s\n", r.Gossip)
		fmt.Fprintln(w, "ready")
	}
}
