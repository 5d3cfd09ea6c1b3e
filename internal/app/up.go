package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sextantdc/sextant/examples"
	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/marathon"
	"github.com/sextantdc/sextant/internal/mesos/master"
	"github.com/sextantdc/sextant/internal/mesos/operator"
	"github.com/sextantdc/sextant/internal/obs"
	"github.com/sextantdc/sextant/internal/runtime"
	marathonsrc "github.com/sextantdc/sextant/internal/source/marathon"
	mesossrc "github.com/sextantdc/sextant/internal/source/mesos"
	"github.com/sextantdc/sextant/internal/vip"
)

// defaultStateDir is $XDG_STATE_HOME/sextant or ~/.local/state/sextant.
func defaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "sextant")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "sextant")
	}
	return ".sextant"
}

// UpConfig is the configuration of `sextant up`; each listener has its own
// flag (named in its doc) and its own key in endpoints.json.
type UpConfig struct {
	// StateDir holds app definitions, task sandboxes and logs, and
	// endpoints.json (--state-dir).
	StateDir string
	// AppsDir, when set, holds app definitions to create on start
	// (--apps); otherwise a fresh state directory gets the examples unless
	// NoExamples.
	AppsDir    string
	NoExamples bool
	// Listeners (--marathon-addr, --mesos-addr, --dns-addr,
	// --mesos-dns-http-addr, --node-dns-addr, --net-api-addr).
	MarathonAddr, MesosAddr   string
	DNSAddr, MesosDNSHTTPAddr string
	NodeDNSAddr, NetAPIAddr   string
	// IP is this node's IP (--ip); HostPorts the task host-port range
	// MIN-MAX (--host-ports).
	IP, HostPorts string
	// PublishHealth publishes Marathon health results as Mesos task health
	// (--publish-health).
	PublishHealth bool
	// MaxTasks caps the tasks running at once (--max-tasks).
	MaxTasks int
	// Heartbeat is the operator-API SUBSCRIBE heartbeat (--operator-heartbeat).
	Heartbeat time.Duration
	// Version is reported by the roles' version endpoints.
	Version string
	// ContainerNetworks is auto (the dcos overlay when running as root)
	// or off (--container-networks).
	ContainerNetworks string
	// L4LBPlane is the load balancer's data plane (--l4lb-plane: auto,
	// nftables, ebpf, userspace, off); L4LBLoopback serves VIPs on their
	// 127.x mapping, adding nothing to the host (--l4lb-loopback).
	L4LBPlane    string
	L4LBLoopback bool
	// The edge (--edge-http-addr, --edge-https-addr, --edge-admin-addr;
	// empty: a free port) and its engine (--edge-engine).
	EdgeHTTPAddr, EdgeHTTPSAddr, EdgeAdminAddr string
	EdgeEngine                                 string
	// GatewayAddr is the gateway's (Admin Router's) listen address
	// (--gateway-addr).
	GatewayAddr string
}

// upRefresh is the Mesos source's poll interval in `sextant up`, the
// safety net of the operator event stream.
const upRefresh = 5 * time.Second

// DefaultStateDir is $XDG_STATE_HOME/sextant or ~/.local/state/sextant: the
// state directory `sextant up` and the commands that look for it use.
func DefaultStateDir() string { return defaultStateDir() }

// listener is one socket a role opens, named after its flag and its key in
// endpoints.json; http ones are written there as URLs.
type listener struct {
	flag, key, addr string
	http            bool
}

func listenFlag(flagName, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--%s %s: cannot listen (is the port already in use? choose another with --%s): %w", flagName, addr, flagName, err)
	}
	return ln, nil
}

// checkFree reports a busy address, before anything starts, for listeners
// that roles open themselves: TCP, and UDP too for DNS.
func checkFree(flagName, addr string, udp bool) error {
	ln, err := listenFlag(flagName, addr)
	if err != nil {
		return err
	}
	ln.Close()
	if !udp {
		return nil
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("--%s %s: cannot listen on UDP (is the port already in use? choose another with --%s): %w", flagName, addr, flagName, err)
	}
	pc.Close()
	return nil
}

// Up runs a whole single-node cluster until ctx ends: the local runtime
// (Marathon and Mesos APIs), one Mesos source and one Marathon source
// reading those APIs over HTTP as they would a real cluster, the hub, and
// the Mesos-DNS and node DNS consumers. The banner goes to stdout.
func Up(ctx context.Context, f UpConfig, stdout io.Writer, log *slog.Logger) error {
	pmin, pmax, err := parseRange(f.HostPorts)
	if err != nil {
		return fmt.Errorf("--host-ports: %w", err)
	}
	if _, err := netip.ParseAddr(f.IP); err != nil {
		return fmt.Errorf("--ip: %q is not an IP address", f.IP)
	}
	if err := os.MkdirAll(f.StateDir, 0o755); err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	}

	// Open (or check) every listener first: a busy port fails the start
	// with the flag's name before any task runs.
	marathonLn, err := listenFlag("marathon-addr", f.MarathonAddr)
	if err != nil {
		return err
	}
	defer marathonLn.Close()
	mesosLn, err := listenFlag("mesos-addr", f.MesosAddr)
	if err != nil {
		return err
	}
	defer mesosLn.Close()
	roles := upRoles(f)
	for _, rl := range roles {
		for _, l := range rl.listeners {
			if err := checkFree(l.flag, l.addr, !l.http); err != nil {
				return err
			}
		}
	}

	reg := obs.NewRegistry()
	health := &obs.Health{}
	marathonURL := "http://" + marathonLn.Addr().String()
	netStat := &netStatus{}
	nets, netsUnavailable := upNetworks(containerNetworksUnavailable(f.ContainerNetworks), netStat)
	health.Note("container-networks", netStat.String)
	rt, err := runtime.New(runtime.Config{StateDir: f.StateDir, IP: f.IP, PortMin: pmin, PortMax: pmax,
		MesosAddr: mesosLn.Addr().String(), MarathonURL: marathonURL, PublishHealth: f.PublishHealth, MaxTasks: f.MaxTasks,
		Logger: log.With("role", "runtime"), Registerer: reg, Networks: nets, NetworksUnavailable: netsUnavailable})
	if err != nil {
		return err
	}
	health.Add("runtime", func() error { return nil })
	mesosHandler := master.NewHandler(rt, master.Options{HeartbeatInterval: f.Heartbeat, Registerer: reg}, log.With("role", "mesos"))
	mesosMux := http.NewServeMux()
	mesosMux.Handle("/metrics", obs.MetricsHandler(reg))
	mesosMux.Handle("/", mesosHandler)
	marathonHandler := runtime.NewAPI(rt, runtime.APIOptions{Metrics: obs.MetricsHandler(reg), Health: health, Logger: log.With("role", "marathon")})

	// One Mesos source and one Marathon source, reading the runtime's APIs
	// over HTTP as they would a real cluster's, feed one hub; every role
	// is a consumer of it.
	// /health turns 503 once a source has failed for 3 × its refresh
	// interval (5 s here), the rule Mesos-DNS' role applies with its own
	// refreshSeconds.
	pl := newPipeline(hub.Options{Logger: log.With("role", "hub"), Registerer: reg, StaleAfter: 3 * upRefresh})
	if _, err := pl.mesos(mesossrc.Options{Masters: []string{mesosLn.Addr().String()}, RefreshInterval: upRefresh,
		Streamer: mesossrc.OperatorStreamer(operator.Options{Logger: log.With("component", "mesos-stream")})}); err != nil {
		return err
	}
	if _, err := pl.marathon(marathonsrc.Options{URLs: []string{marathonURL}}); err != nil {
		return err
	}
	for _, rl := range roles {
		if err := rl.add(pl, log.With("role", rl.name), health); err != nil {
			return err
		}
	}
	overlay, _ := nets.(*localOverlay)
	if overlay != nil {
		pl.consumer("overlay-isolation", overlay.isolation)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	rtCtx, rtCancel := context.WithCancel(context.Background())
	rtDone := make(chan struct{})
	go func() {
		_ = rt.Run(rtCtx)
		close(rtDone)
	}()
	// Request contexts derive from serveCtx, so that streams (SSE,
	// SUBSCRIBE) end as soon as shutdown starts instead of holding it up.
	serveCtx, serveCancel := context.WithCancel(context.Background())
	defer serveCancel()
	base := func(net.Listener) context.Context { return serveCtx }
	servers := []*http.Server{
		{Handler: marathonHandler, ReadHeaderTimeout: 10 * time.Second, BaseContext: base},
		{Handler: mesosMux, ReadHeaderTimeout: 10 * time.Second, BaseContext: base},
	}
	for i, ln := range []net.Listener{marathonLn, mesosLn} {
		srv := servers[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}

	if overlay != nil {
		if err := overlay.prepare(ctx, upOverlayOptions{StateDir: f.StateDir, IP: f.IP, MasterURL: "http://" + mesosLn.Addr().String(),
			Mux: mesosMux, Registry: reg, Logger: log.With("role", "overlay")}); err != nil {
			log.Warn("container networks unavailable", "err", err)
		} else if err := pl.overlaySource([]string{"http://" + mesosLn.Addr().String()}); err != nil {
			log.Warn("overlay source", "err", err)
		}
	}
	if err := loadStartApps(rt, f, log); err != nil {
		log.Warn("loading apps", "err", err)
	}

	endpoints := map[string]string{
		"marathon": marathonURL,
		"mesos":    "http://" + mesosLn.Addr().String(),
	}
	for _, rl := range roles {
		for _, l := range rl.listeners {
			if l.http {
				endpoints[l.key] = "http://" + l.addr
			} else {
				endpoints[l.key] = l.addr
			}
		}
	}
	health.SetSources(pl.hub)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := pl.run(ctx); err != nil && ctx.Err() == nil {
			errc <- err
		}
	}()
	var runErr error
	if err := writeEndpoints(f.StateDir, endpoints); err != nil {
		runErr = err
	} else {
		printBanner(stdout, f, endpoints, rt, netStat)
		select {
		case <-ctx.Done():
		case runErr = <-errc:
		}
	}
	log.Info("shutting down: stopping every task")
	cancel()
	// Tasks first (they may take their grace period), then the APIs, so
	// that clients see the tasks go.
	rtCancel()
	<-rtDone
	if overlay != nil {
		overlay.stop()
	}
	serveCancel()
	sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer scancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
		_ = s.Close()
	}
	wg.Wait()
	// The other commands find a running cluster through endpoints.json:
	// once stopped, it must not point them at closed ports.
	removeEndpoints(f.StateDir, endpoints)
	return runErr
}

func parseRange(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want MIN-MAX", s)
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("%q: want MIN-MAX within 1-65535", s)
	}
	return lo, hi, nil
}

// loadStartApps creates the apps of --apps (those not yet defined) and, on
// a fresh state directory, the built-in examples.
func loadStartApps(rt *runtime.Runtime, f UpConfig, log *slog.Logger) error {
	fresh := len(rt.AppIDs()) == 0
	var files []struct {
		name string
		b    []byte
	}
	if f.AppsDir != "" {
		names, err := filepath.Glob(filepath.Join(f.AppsDir, "*.json"))
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				log.Warn("skipping app file", "file", n, "err", err)
				continue
			}
			files = append(files, struct {
				name string
				b    []byte
			}{n, b})
		}
	} else if fresh && !f.NoExamples {
		_ = fs.WalkDir(examples.Apps, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
				return nil
			}
			b, err := examples.Apps.ReadFile(p)
			if err == nil {
				files = append(files, struct {
					name string
					b    []byte
				}{"examples/" + p, b})
			}
			return nil
		})
	}
	for _, file := range files {
		a, err := marathon.Decode(file.b)
		if err != nil {
			log.Warn("skipping invalid app file", "file", file.name, "err", err)
			continue
		}
		if _, exists := rt.App(a.ID); exists {
			continue
		}
		if _, _, err := rt.CreateApp(a, nil); err != nil {
			log.Warn("could not create app", "file", file.name, "err", err)
		}
	}
	return nil
}

func endpointsJSON(eps map[string]string) []byte {
	b, _ := json.MarshalIndent(eps, "", "  ")
	return append(b, '\n')
}

func writeEndpoints(dir string, eps map[string]string) error {
	b := endpointsJSON(eps)
	tmp := filepath.Join(dir, ".endpoints.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "endpoints.json"))
}

// removeEndpoints removes endpoints.json if it is still the one this
// process wrote (another `sextant up` may have started on the same state
// directory since).
func removeEndpoints(dir string, eps map[string]string) {
	f := filepath.Join(dir, "endpoints.json")
	if b, err := os.ReadFile(f); err == nil && bytes.Equal(b, endpointsJSON(eps)) {
		_ = os.Remove(f)
	}
}

// printBanner writes the banner in one write, so that a reader of a pipe
// (a test, a wrapper script) sees it whole. Every "try:" line is a command
// that works as printed once the apps' tasks are healthy: a test runs
// them.
func printBanner(w io.Writer, f UpConfig, eps map[string]string, rt *runtime.Runtime, nets fmt.Stringer) {
	var b strings.Builder
	fmt.Fprintln(&b, "sextant up: a single-node cluster is running (Ctrl-C stops it and every task)")
	for _, k := range slices.Sorted(maps.Keys(eps)) {
		fmt.Fprintf(&b, "  %-16s %s\n", k, eps[k])
	}
	fmt.Fprintf(&b, "  %-16s %s\n", "state", f.StateDir)
	fmt.Fprintf(&b, "  %-16s %s\n", "container nets", nets)
	b.WriteString(gatewayBanner(f.StateDir, eps))
	// The hints must work when pasted: the binary as it was started (say
	// ./bin/sextant after make run) and the state directory when it is
	// not the default one the other commands look in.
	cli := "sextant"
	if strings.Contains(os.Args[0], "/") {
		cli = os.Args[0]
	}
	if f.StateDir != defaultStateDir() {
		cli += " --state-dir " + f.StateDir
	}
	ids := rt.AppIDs()
	var try []string
	if len(ids) == 0 {
		fmt.Fprintf(&b, "apps: none yet (%s app add FILE: a Marathon app definition, see examples/)\n", cli)
	} else {
		fmt.Fprintln(&b, "apps:", strings.Join(ids, " "), "  (names answer once their tasks run and pass their health checks)")
		name, vipName := "", ""
		var apps []*marathon.App
		for _, id := range ids {
			a, ok := rt.App(id)
			if !ok {
				continue
			}
			apps = append(apps, a)
			if name == "" && a.Instances > 0 {
				name = marathon.TaskName(id) + ".marathon.mesos"
			}
			if vipName == "" {
				vipName = firstVIPName(a)
			}
		}
		if dns, ok := eps["dns"]; ok && name != "" {
			host, port, _ := net.SplitHostPort(dns)
			try = append(try, fmt.Sprintf("dig @%s -p %s %s", host, port, name), fmt.Sprintf("%s dig %s", cli, name))
		}
		if dd, ok := eps["node_dns"]; ok && vipName != "" {
			host, port, _ := net.SplitHostPort(dd)
			try = append(try, fmt.Sprintf("dig @%s -p %s %s", host, port, vipName))
		}
		note, vipTry := l4lbBanner(apps, f, cli)
		b.WriteString(note)
		try = append(try, vipTry...)
	}
	try = append(try, cli+" app list")
	for i, t := range try {
		lead := "     "
		if i == 0 {
			lead = "try: "
		}
		fmt.Fprintln(&b, lead+t)
	}
	_, _ = io.WriteString(w, b.String())
}

// firstVIPName is the DNS name of the first named VIP among an app's port
// labels (VIP_0: /minitwit:80 → minitwit.marathon.l4lb.thisdcos.directory),
// or "".
func firstVIPName(a *marathon.App) string {
	var labels []map[string]string
	for _, p := range a.PortDefinitions {
		labels = append(labels, p.Labels)
	}
	if a.Container != nil {
		for _, p := range a.Container.PortMappings {
			labels = append(labels, p.Labels)
		}
	}
	for _, l := range labels {
		for _, k := range slices.Sorted(maps.Keys(l)) {
			if !strings.HasPrefix(k, "VIP_") {
				continue
			}
			sp, err := vip.ParseSpec(l[k])
			if err != nil || !sp.Named() {
				continue
			}
			if key, ok := vip.NameKey(sp.Host, "marathon"); ok {
				return vip.FQDN(key)
			}
		}
	}
	return ""
}
