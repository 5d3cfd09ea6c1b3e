package main

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
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sextantdc/sextant/examples"
	"github.com/sextantdc/sextant/internal/marathon"
	"github.com/sextantdc/sextant/internal/mesos/master"
	"github.com/sextantdc/sextant/internal/obs"
	"github.com/sextantdc/sextant/internal/runtime"
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

// upFlags are the flags of `sextant up`; each listener has its own flag
// and its own key in endpoints.json.
type upFlags struct {
	stateDir, appsDir            string
	noExamples                   bool
	marathonAddr, mesosAddr      string
	dnsAddr, mesosDNSHTTPAddr    string
	directoryDNSAddr, netAPIAddr string
	ip, hostPorts                string
	publishHealth                bool
	maxTasks                     int
	heartbeat                    time.Duration
	logLevel                     string
	verbose                      int
}

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

func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f upFlags
	fs := newFlagSet("up", stderr)
	fs.StringVar(&f.stateDir, "state-dir", defaultStateDir(), "state `DIR`: app definitions, task sandboxes and logs, endpoints.json")
	fs.StringVar(&f.appsDir, "apps", "", "`DIR` of app definition JSON files to create on start, those not yet defined (instead of the built-in examples)")
	fs.BoolVar(&f.noExamples, "no-examples", false, "do not create the built-in example apps on a fresh state directory")
	fs.StringVar(&f.marathonAddr, "marathon-addr", "127.0.0.1:8080", "Marathon API listen address `host:port`")
	fs.StringVar(&f.mesosAddr, "mesos-addr", "127.0.0.1:5050", "Mesos master API (/master/state, /api/v1) listen address `host:port`")
	fs.StringVar(&f.dnsAddr, "dns-addr", "127.0.0.1:1053", "Mesos-DNS role DNS listen address `host:port` (UDP and TCP)")
	fs.StringVar(&f.mesosDNSHTTPAddr, "mesos-dns-http-addr", "127.0.0.1:8123", "Mesos-DNS role HTTP API listen address `host:port`")
	fs.StringVar(&f.directoryDNSAddr, "directory-dns-addr", "127.0.0.1:1054", "node DNS role (thisdcos.directory, .mesos forwarded) listen address `host:port` (UDP and TCP)")
	fs.StringVar(&f.netAPIAddr, "net-api-addr", "127.0.0.1:62080", "node DNS role HTTP API listen address `host:port`")
	fs.StringVar(&f.ip, "ip", "127.0.0.1", "this node's IP: tasks' address in Mesos state, DNS answers and HOST")
	fs.StringVar(&f.hostPorts, "host-ports", "31000-32000", "host port `range` MIN-MAX for tasks")
	fs.BoolVar(&f.publishHealth, "publish-health", true, "also publish Marathon-level health results as Mesos task health (healthy)")
	fs.IntVar(&f.maxTasks, "max-tasks", 256, "most tasks running at once (more instances stay queued, like an agent out of resources)")
	fs.DurationVar(&f.heartbeat, "operator-heartbeat", 15*time.Second, "heartbeat interval of Mesos operator API SUBSCRIBE streams")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.IntVar(&f.verbose, "v", 0, "verbosity (1 = debug)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
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
	log := newLogger(stderr, f.verbose, f.logLevel)
	pmin, pmax, err := parseRange(f.hostPorts)
	if err != nil {
		return fmt.Errorf("--host-ports: %w", err)
	}
	if _, err := netip.ParseAddr(f.ip); err != nil {
		return fmt.Errorf("--ip: %q is not an IP address", f.ip)
	}
	if err := os.MkdirAll(f.stateDir, 0o755); err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	}

	// Open (or check) every listener first: a busy port fails the start
	// with the flag's name before any task runs.
	marathonLn, err := listenFlag("marathon-addr", f.marathonAddr)
	if err != nil {
		return err
	}
	defer marathonLn.Close()
	mesosLn, err := listenFlag("mesos-addr", f.mesosAddr)
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
	rt, err := runtime.New(runtime.Config{StateDir: f.stateDir, IP: f.ip, PortMin: pmin, PortMax: pmax,
		MesosAddr: mesosLn.Addr().String(), MarathonURL: marathonURL, PublishHealth: f.publishHealth, MaxTasks: f.maxTasks,
		Logger: log.With("role", "runtime"), Registerer: reg})
	if err != nil {
		return err
	}
	health.Add("runtime", func() error { return nil })
	mesosHandler := master.NewHandler(rt, master.Options{HeartbeatInterval: f.heartbeat, Registerer: reg}, log.With("role", "mesos"))
	mesosMux := http.NewServeMux()
	mesosMux.Handle("/metrics", obs.MetricsHandler(reg))
	mesosMux.Handle("/", mesosHandler)
	marathonHandler := runtime.NewAPI(rt, runtime.APIOptions{Metrics: obs.MetricsHandler(reg), Health: health, Logger: log.With("role", "marathon")})

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
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rl.run(ctx, mesosLn.Addr().String(), log.With("role", rl.name), health); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", rl.name, err)
			}
		}()
	}
	var runErr error
	if err := writeEndpoints(f.stateDir, endpoints); err != nil {
		runErr = err
	} else {
		printBanner(stdout, f, endpoints, rt)
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
	removeEndpoints(f.stateDir, endpoints)
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
func loadStartApps(rt *runtime.Runtime, f upFlags, log *slog.Logger) error {
	fresh := len(rt.AppIDs()) == 0
	var files []struct {
		name string
		b    []byte
	}
	if f.appsDir != "" {
		names, err := filepath.Glob(filepath.Join(f.appsDir, "*.json"))
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
	} else if fresh && !f.noExamples {
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

func printBanner(w io.Writer, f upFlags, eps map[string]string, rt *runtime.Runtime) {
	fmt.Fprintln(w, "sextant up: a single-node cluster is running (Ctrl-C stops it and every task)")
	for _, k := range slices.Sorted(maps.Keys(eps)) {
		fmt.Fprintf(w, "  %-16s %s\n", k, eps[k])
	}
	fmt.Fprintf(w, "  %-16s %s\n", "state", f.stateDir)
	// The hints must work when pasted: the binary as it was started (say
	// ./bin/sextant after make run) and the state directory when it is
	// not the default one the other commands look in.
	cli := "sextant"
	if strings.Contains(os.Args[0], "/") {
		cli = os.Args[0]
	}
	stateArg := ""
	if f.stateDir != defaultStateDir() {
		stateArg = " --state-dir " + f.stateDir
	}
	ids := rt.AppIDs()
	if len(ids) == 0 {
		fmt.Fprintf(w, "apps: none yet (%s app add FILE%s)\n", cli, stateArg)
	} else {
		fmt.Fprintln(w, "apps:", strings.Join(ids, " "))
	}
	if dns, ok := eps["dns"]; ok {
		host, port, _ := net.SplitHostPort(dns)
		name := "web.marathon.mesos"
		if len(ids) > 0 {
			name = marathon.TaskName(ids[0]) + ".marathon.mesos"
		}
		fmt.Fprintf(w, "try: dig @%s -p %s %s   (or: %s dig%s %s)\n", host, port, name, cli, stateArg, name)
	}
	if dd, ok := eps["directory_dns"]; ok {
		host, port, _ := net.SplitHostPort(dd)
		fmt.Fprintf(w, "     dig @%s -p %s <vip>.marathon.l4lb.thisdcos.directory   (VIP names from VIP_n port labels)\n", host, port)
	}
}
