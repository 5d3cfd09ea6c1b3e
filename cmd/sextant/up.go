package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sextantdc/sextant/internal/app"
)

// runUp is `sextant up`: a whole single-node cluster on this machine.
func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c app.UpConfig
	var logLevel string
	var verbose int
	fs := newFlagSet("up", stdout, stderr)
	fs.StringVar(&c.StateDir, "state-dir", app.DefaultStateDir(), "state `DIR`: app definitions, task sandboxes and logs, endpoints.json")
	fs.StringVar(&c.AppsDir, "apps", "", "`DIR` of app definition JSON files to create on start, those not yet defined (instead of the built-in examples)")
	fs.BoolVar(&c.NoExamples, "no-examples", false, "do not create the built-in example apps on a fresh state directory")
	fs.StringVar(&c.MarathonAddr, "marathon-addr", "127.0.0.1:8080", "Marathon API listen address `host:port`")
	fs.StringVar(&c.MesosAddr, "mesos-addr", "127.0.0.1:5050", "Mesos master API (/master/state, /api/v1) listen address `host:port`")
	fs.StringVar(&c.DNSAddr, "dns-addr", "127.0.0.1:1053", "Mesos-DNS role DNS listen address `host:port` (UDP and TCP)")
	fs.StringVar(&c.MesosDNSHTTPAddr, "mesos-dns-http-addr", "127.0.0.1:8123", "Mesos-DNS role HTTP API listen address `host:port`")
	fs.StringVar(&c.NodeDNSAddr, "node-dns-addr", "127.0.0.1:1054", "node DNS role (thisdcos.directory, .mesos forwarded) listen address `host:port` (UDP and TCP)")
	// The flag's earlier name, kept so that scripts written for it work.
	fs.StringVar(&c.NodeDNSAddr, "directory-dns-addr", "127.0.0.1:1054", "deprecated: the same as --node-dns-addr")
	fs.StringVar(&c.NetAPIAddr, "net-api-addr", "127.0.0.1:62080", "node DNS role HTTP API listen address `host:port`")
	fs.StringVar(&c.GatewayAddr, "gateway-addr", "127.0.0.1:8000", "gateway (Admin Router: routes, login, endpoints and watch APIs, dashboard) listen address `host:port`")
	fs.StringVar(&c.IP, "ip", "127.0.0.1", "this node's IP: tasks' address in Mesos state, DNS answers and HOST")
	fs.StringVar(&c.HostPorts, "host-ports", "31000-32000", "host port `range` MIN-MAX for tasks")
	fs.StringVar(&c.ContainerNetworks, "container-networks", "auto", "auto: tasks asking for the dcos container network get their own network namespace and a 9.0.0.0/8 address on the overlay (needs root; the first such task creates vtep1024, m-dcos and d-dcos here, removed when up stops); off: such tasks fail to launch")
	fs.BoolVar(&c.PublishHealth, "publish-health", true, "also publish Marathon-level health results as Mesos task health (healthy)")
	fs.IntVar(&c.MaxTasks, "max-tasks", 256, "most tasks running at once (more instances stay queued, like an agent out of resources)")
	fs.DurationVar(&c.Heartbeat, "operator-heartbeat", 15*time.Second, "heartbeat interval of Mesos operator API SUBSCRIBE streams")
	fs.StringVar(&c.L4LBPlane, "l4lb-plane", app.PlaneAuto, "VIP load balancer data plane: "+app.L4LBPlanes+" (auto: eBPF socket LB with nftables when root and loadable, nftables when root, userspace otherwise)")
	fs.BoolVar(&c.L4LBLoopback, "l4lb-loopback", false, "userspace plane: serve VIP 11.a.b.c on 127.a.b.c, adding no address or rule to the host (the default without root)")
	fs.StringVar(&c.EdgeHTTPAddr, "edge-http-addr", "", "edge (marathon-lb :80) listen address `host:port` (default: a free port, in endpoints.json)")
	fs.StringVar(&c.EdgeHTTPSAddr, "edge-https-addr", "", "edge (marathon-lb :443) listen address `host:port` (default: a free port)")
	fs.StringVar(&c.EdgeAdminAddr, "edge-admin-addr", "", "edge admin and stats (marathon-lb :9090) listen address `host:port` (default: a free port)")
	fs.StringVar(&c.EdgeEngine, "edge-engine", "", "edge `engine`: haproxy or native (default: haproxy when installed)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.IntVar(&verbose, "v", 0, "verbosity (1 = debug)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c.Version = version
	// sextant must outlive its terminal and its log readers long enough to
	// stop its tasks, which run in their own process groups and would be
	// left behind: a hang-up stops cleanly like Ctrl-C, and with SIGPIPE
	// caught a write to a closed stdout or stderr (`sextant up | head`)
	// fails instead of killing the process.
	ctx, stopHUP := signal.NotifyContext(ctx, syscall.SIGHUP)
	defer stopHUP()
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)
	return app.Up(ctx, c, stdout, newLogger(stderr, verbose, logLevel))
}
