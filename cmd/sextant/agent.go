package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/sextantdc/sextant/internal/dcosdns"
	"github.com/sextantdc/sextant/internal/gossip"
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
	listen       listFlag
	apiAddr      string
	config       string
	spartan      bool
	spartanIPv6  bool
	mesosDNS     listFlag
	masters      listFlag
	nodeIP       string
	clusterID    string
	cacheSize    int
	gossipBind   string
	gossipAdv    string
	join         listFlag
	keyFile      string
	clusterLabel string
	nodeName     string
	fastGossip   bool
	hostname     string
	publicIPs    listFlag
	detectPublic string
	cacheMesos   bool
	logLevel     string
	verbose      bool
}

func (f *dnsFlags) register(fs *flag.FlagSet, role dcosdns.Role) {
	fs.Var(&f.listen, "dns-listen", "DNS listen address ip:port (repeatable; overrides the config file's bind_* keys; default: "+
		dcosdns.DefaultListen+" on agents, every host address on port 8053 on masters)")
	fs.StringVar(&f.apiAddr, "api-addr", dcosdns.DefaultAPIAddr, "HTTP API address (/v1/records, /v1/vips, /metrics, /health); empty turns it off")
	fs.StringVar(&f.config, "config", "", "dcos-dns.json configuration file (upstream_resolvers, forward_zones, bind_interface, bind_ips, …)")
	if role == dcosdns.RoleAgent {
		fs.BoolVar(&f.spartanIPv6, "spartan-ipv6", false, "with --spartan, also add and listen on fd01:d::c633:6401")
		fs.BoolVar(&f.spartan, "spartan", false, "create the spartan interface with 198.51.100.1-3 (on lo when the kernel has no dummy driver) and listen there, on port 53 unless --config sets udp_port/tcp_port; needs root")
	}
	fs.Var(&f.mesosDNS, "mesos-dns", "Mesos-DNS address ip:port for .mesos names (repeatable; default: each --masters IP on port 61053, else every alive master of the gossip cluster)")
	fs.Var(&f.masters, "masters", "master IPs (repeatable): zk-1..5.zk, master.dcos.thisdcos.directory, default .mesos upstreams")
	fs.StringVar(&f.nodeIP, "node-ip", "", "this node's private IP (thisnode.thisdcos.directory, gossip identity); default: the gossip address")
	fs.StringVar(&f.clusterID, "cluster-id", "", "cluster crypto id for *.<label>.<id>.dcos.directory aliases")
	fs.IntVar(&f.cacheSize, "cache-size", 0, "forwarded-answer cache entries (0: 10000; negative: no cache)")
	fs.StringVar(&f.gossipBind, "gossip-bind", "", "gossip address ip:port (UDP+TCP; dcos-net used port 62501); empty runs standalone")
	fs.StringVar(&f.gossipAdv, "gossip-advertise", "", "gossip address other nodes dial (default: --gossip-bind)")
	fs.Var(&f.join, "join", "gossip address ip:port of a member to join (repeatable; default: every --masters IP on the --gossip-bind port)")
	fs.StringVar(&f.keyFile, "gossip-key-file", "", "file with the cluster key (base64 or hex, 16/24/32 bytes); members with another key cannot join")
	fs.StringVar(&f.clusterLabel, "cluster-label", "", "gossip label; clusters with different labels never mix")
	fs.StringVar(&f.nodeName, "node-name", "", "unique gossip member name (default: hostname-ip); the alive master with the lowest name leads")
	fs.BoolVar(&f.fastGossip, "gossip-fast", false, "aggressive gossip timers for loopback tests and demos")
	fs.StringVar(&f.hostname, "hostname", "", "this node's hostname in /v1/nodes (default: the gossip member name)")
	fs.Var(&f.publicIPs, "public-ip", "this node's public IP (repeatable): public.thisnode.thisdcos.directory and /v1/nodes")
	fs.StringVar(&f.detectPublic, "detect-ip-public", "", "command printing this node's public IPs, one per line (DC/OS's detect_ip_public), run at start and every 30 min; replaces --public-ip")
	fs.BoolVar(&f.cacheMesos, "cache-mesos", false, "cache positive .mesos answers for their TTL (dcos-dns never cached them; negative answers are never cached)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&f.verbose, "v", false, "debug logging")
}

// options turns the flags into dcosdns.Options.
func (f *dnsFlags) options(role dcosdns.Role, log *slog.Logger) (dcosdns.Options, error) {
	o := dcosdns.Options{Role: role, Listen: f.listen, SetupSpartan: f.spartan, SpartanIPv6: f.spartanIPv6, APIAddr: f.apiAddr,
		ClusterID: f.clusterID, CacheSize: f.cacheSize, Logger: log, Version: version,
		Hostname: f.hostname, DetectIPPublic: f.detectPublic, CacheMesos: f.cacheMesos}
	for _, p := range f.publicIPs {
		a, err := netip.ParseAddr(p)
		if err != nil {
			return o, fmt.Errorf("--public-ip: %q is not an IP address", p)
		}
		o.PublicIPs = append(o.PublicIPs, a)
	}
	if f.config != "" {
		c, warns, err := dcosdns.LoadConfig(f.config)
		if err != nil {
			return o, err
		}
		for _, w := range warns {
			log.Warn("config", "file", f.config, "warning", w)
		}
		o.Config = c
	} else if f.spartan {
		// The DC/OS layout: the spartan addresses on port 53.
		c := dcosdns.DefaultConfig()
		c.UDPPort, c.TCPPort = 53, 53
		o.Config = c
	}
	for _, m := range f.masters {
		a, err := netip.ParseAddr(m)
		if err != nil {
			return o, fmt.Errorf("--masters: %q is not an IP address", m)
		}
		o.Masters = append(o.Masters, a)
	}
	o.MesosDNS = f.mesosDNS
	if len(o.MesosDNS) == 0 {
		for _, m := range o.Masters {
			o.MesosDNS = append(o.MesosDNS, netip.AddrPortFrom(m, 61053).String())
		}
	}
	if f.nodeIP != "" {
		a, err := netip.ParseAddr(f.nodeIP)
		if err != nil {
			return o, fmt.Errorf("--node-ip: %q is not an IP address", f.nodeIP)
		}
		o.NodeIP = a
	}
	if f.gossipBind != "" {
		g := &dcosdns.GossipOptions{NodeName: f.nodeName, Bind: f.gossipBind, Advertise: f.gossipAdv, Join: f.join, Label: f.clusterLabel}
		if f.fastGossip {
			g.Timers = gossip.FastTimers()
		}
		if f.keyFile != "" {
			k, err := gossip.LoadKey(f.keyFile)
			if err != nil {
				return o, fmt.Errorf("--gossip-key-file: %w", err)
			}
			g.Key = k
		}
		host, _, err := net.SplitHostPort(firstNonEmpty(f.gossipAdv, f.gossipBind))
		if err != nil {
			return o, fmt.Errorf("--gossip-bind: %w", err)
		}
		if !o.NodeIP.IsValid() {
			if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
				o.NodeIP = a
			}
		}
		if _, port, _ := net.SplitHostPort(f.gossipBind); len(g.Join) == 0 && port != "0" {
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
	} else if len(f.join) > 0 {
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

func (f *dnsFlags) logger(stderr io.Writer) *slog.Logger {
	v := 0
	if f.verbose {
		v = 1
	}
	return newLogger(stderr, v, f.logLevel)
}

// runAgent runs the node roles of an agent: the DNS forwarder (dcos-dns)
// answering the cluster zones it receives by gossip.
func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("agent", stderr)
	var f dnsFlags
	f.register(fs, dcosdns.RoleAgent)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := f.logger(stderr)
	o, err := f.options(dcosdns.RoleAgent, log)
	if err != nil {
		return err
	}
	o.Ready = readyPrinter(stdout)
	return dcosdns.Run(ctx, o)
}

// readyPrinter prints the bound addresses once, one "key=value" line each,
// for scripts and tests that start the process with port 0.
func readyPrinter(w io.Writer) func(dcosdns.Ready) {
	return func(r dcosdns.Ready) {
		fmt.Fprintf(w, "dns=%s\n", strings.Join(r.DNS, ","))
		fmt.Fprintf(w, "api=%s\n", r.API)
		fmt.Fprintf(w, "gossip=%s\n", r.Gossip)
		fmt.Fprintln(w, "ready")
	}
}
