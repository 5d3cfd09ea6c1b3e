package haproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/edge"
)

// EngineOptions configure the HAProxy engine.
type EngineOptions struct {
	// ConfigFile is where haproxy.cfg is written (marathon-lb's
	// --haproxy-config); the map files go beside it, where the rendered
	// configuration looks for them.
	ConfigFile string
	// RunDir holds the admin and master sockets, the stats socket and the
	// server-state file (default: the directory of ConfigFile).
	RunDir string
	// Binary is the haproxy executable (default "haproxy" on $PATH).
	Binary string
	// Rebind maps a bind address as rendered ("*:80") to the one HAProxy
	// binds; nil binds what marathon-lb binds.
	Rebind func(addr string) string
	// ReloadTimeout bounds a reload: the new worker must appear by then
	// (default 30 s).
	ReloadTimeout time.Duration
	// DrainTimeout is how long a removed server keeps its sessions before
	// they are shut (default 5 min; HAProxy 2.6 cannot delete a server
	// with sessions).
	DrainTimeout time.Duration
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
}

// Engine runs HAProxy in master-worker mode on marathon-lb's
// configuration: it writes haproxy.cfg, checks it with haproxy -c,
// reloads only when anything but servers changed (the new worker takes
// the listening sockets from the old one), and applies server changes —
// tasks starting, stopping, draining — through the runtime API with no
// reload.
type Engine struct {
	o   EngineOptions
	log *slog.Logger
	m   *engineMetrics

	mu      sync.Mutex // serialises changes
	cur     *edge.Generation
	run     *runFile
	pending map[serverKey]pendingServer
	cmd     *exec.Cmd
	exited  chan struct{}
	closed  bool

	stop    chan struct{}
	stopped chan struct{}
	fdLimit int
	// rejected are the apps the last search left out, for the skeleton
	// of the generation they were left out of.
	rejected *rejection

	alertMu sync.Mutex
	alerts  []string // HAProxy's latest [ALERT] lines
}

// leftOut are the apps one Apply leaves out, and why.
type leftOut struct {
	apps  []string
	probs []edge.Problem
}

func (l *leftOut) add(apps []string, probs []edge.Problem) {
	l.apps = append(l.apps, apps...)
	l.probs = append(l.probs, probs...)
}

// withProblems is g with probs added to its configuration's problems.
func withProblems(g *edge.Generation, probs []edge.Problem) *edge.Generation {
	if len(probs) == 0 || g == nil || g.Config == nil {
		return g
	}
	ng := *g
	cfg := *g.Config
	cfg.Problems = append(slices.Clone(cfg.Problems), probs...)
	ng.Config = &cfg
	return &ng
}

type rejection struct {
	skeleton string
	apps     []string
	problems []edge.Problem
}

type pendingServer struct {
	line  serverLine
	since time.Time
}

// NewEngine prepares the engine; HAProxy starts with the first Apply.
func NewEngine(o EngineOptions) (*Engine, error) {
	if o.ConfigFile == "" {
		o.ConfigFile = edge.DefaultConfigFile
	}
	if o.RunDir == "" {
		o.RunDir = filepath.Dir(o.ConfigFile)
	}
	// HAProxy reads a relative socket path as host:port.
	for _, p := range []*string{&o.ConfigFile, &o.RunDir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, fmt.Errorf("haproxy engine: %w", err)
		}
		*p = abs
	}
	if o.Binary == "" {
		o.Binary = "haproxy"
	}
	if o.ReloadTimeout <= 0 {
		o.ReloadTimeout = 30 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	bin, err := exec.LookPath(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("haproxy engine: %w", err)
	}
	o.Binary = bin
	for _, d := range []string{filepath.Dir(o.ConfigFile), filepath.Join(o.RunDir, "state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("haproxy engine: %w", err)
		}
	}
	e := &Engine{o: o, log: o.Logger, m: newEngineMetrics(o.Registerer), pending: map[serverKey]pendingServer{},
		stop: make(chan struct{}), stopped: make(chan struct{})}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Max < 1<<30 {
		e.fdLimit = int(lim.Max)
	}
	go e.reaper()
	return e, nil
}

func (e *Engine) runFile(g *edge.Generation) *runFile {
	_, err := os.Stat("/dev/log")
	return makeRunFile(g.HAProxyCfg, e.o.RunDir, e.o.Rebind, e.fdLimit, err != nil)
}

func (e *Engine) path(name string) string { return filepath.Join(e.o.RunDir, name) }

// Current implements edge.Engine.
func (e *Engine) Current() *edge.Generation {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cur
}

// Apply implements edge.Engine.
func (e *Engine) Apply(ctx context.Context, g *edge.Generation) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("haproxy engine: closed")
	}
	start := time.Now()
	rf := e.runFile(g)
	// The same apps HAProxy rejected last time, with other servers: leave
	// them out again without searching (a bad app must not turn every
	// task change into a reload and k·log₂n checks).
	orig := rf.skeleton
	var out leftOut
	if rj := e.rejected; rj != nil && rj.skeleton == rf.skeleton && g.Without != nil {
		if ng, err := g.Without(rj.apps); err == nil {
			out.add(rj.apps, rj.problems)
			g, rf = ng, e.runFile(ng)
		}
	}
	mapsSame := e.cur != nil && e.cur.DomainMap == g.DomainMap && e.cur.AppMap == g.AppMap
	if e.running() && mapsSame && e.run.text == rf.text {
		e.cur = withProblems(g, out.probs)
		return nil
	}
	if e.running() && mapsSame && e.run.skeleton == rf.skeleton {
		if p, ok := planRuntime(e.run.backends, rf.backends, e.pendingLines()); ok {
			err := e.applyRuntime(p)
			if err == nil {
				e.run, e.cur = rf, withProblems(g, out.probs)
				// The file follows, so that a later reload or restart starts
				// from these servers; it needs no check (HAProxy took them).
				if err := writeAtomic(e.o.ConfigFile, []byte(rf.text)); err != nil {
					e.log.Warn("writing haproxy.cfg", "err", err)
				}
				e.m.applied.WithLabelValues("runtime").Inc()
				e.m.applySeconds.WithLabelValues("runtime").Observe(time.Since(start).Seconds())
				return nil
			}
			e.log.Warn("runtime API change failed; reloading instead", "err", err)
		}
	}
	g, rf, err := e.validate(ctx, g, rf, &out)
	if err != nil {
		e.m.applied.WithLabelValues("rejected").Inc()
		return err
	}
	if err := e.installLeavingOut(ctx, g, rf, &out); err != nil {
		e.m.applied.WithLabelValues("failed").Inc()
		return err
	}
	e.cur = withProblems(e.cur, out.probs)
	if len(out.apps) > 0 {
		e.rejected = &rejection{skeleton: orig, apps: out.apps, problems: out.probs}
	}
	e.m.applied.WithLabelValues("reload").Inc()
	e.m.applySeconds.WithLabelValues("reload").Observe(time.Since(start).Seconds())
	return nil
}

// Reload implements edge.Engine: the running generation is checked and
// HAProxy reloaded (certificate files may have changed).
func (e *Engine) Reload(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur == nil {
		return errors.New("haproxy engine: no configuration yet")
	}
	if msg, err := e.check(ctx, e.run.text); err != nil {
		return fmt.Errorf("haproxy -c: %s", msg)
	}
	return e.install(ctx, e.cur, e.run)
}

// validate checks the generation; when HAProxy rejects it, it leaves out
// the apps HAProxy rejects, one at a time (spec §9.3: marathon-lb adds
// apps one by one, here a binary search finds the first app whose
// services make the check fail, so k bad apps among n cost about
// k·log₂n checks instead of n).
func (e *Engine) validate(ctx context.Context, g *edge.Generation, rf *runFile, out *leftOut) (*edge.Generation, *runFile, error) {
	msg, err := e.check(ctx, rf.text)
	if err == nil {
		// A stale rejection is harmless: it only ever matches its own
		// skeleton.
		return g, rf, nil
	}
	e.m.checkFailures.Inc()
	if g.Without == nil {
		return nil, nil, fmt.Errorf("haproxy -c rejected the configuration: %s", msg)
	}
	var apps []string
	for _, s := range g.Config.Services {
		if !slices.Contains(apps, s.AppID) {
			apps = append(apps, s.AppID)
		}
	}
	var bad []string
	var probs []edge.Problem
	// Invariant: the apps neither bad nor in rest pass together.
	rest := apps
	try := func(n int) (string, bool, error) {
		ng, err := g.Without(append(slices.Clone(bad), rest[n:]...))
		if err != nil {
			return "", false, err
		}
		m, cerr := e.check(ctx, e.runFile(ng).text)
		return m, cerr == nil, nil
	}
	for len(rest) > 0 {
		failMsg, ok, err := try(len(rest))
		if err != nil {
			return nil, nil, err
		}
		if ok {
			break
		}
		// The shortest failing prefix of rest: its last app is at fault.
		lo, hi := 0, len(rest)
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			m, ok, err := try(mid)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				lo = mid
			} else {
				hi, failMsg = mid, m
			}
		}
		culprit := rest[hi-1]
		bad = append(bad, culprit)
		probs = append(probs, edge.Problem{App: culprit, Index: -1, Reason: "haproxy -c rejects its services: " + firstAlert(failMsg)})
		e.log.Warn("app left out: haproxy rejects its configuration", "app", culprit, "haproxy", firstAlert(failMsg))
		rest = rest[hi:]
	}
	if len(bad) == len(apps) && len(apps) > 0 {
		return nil, nil, fmt.Errorf("haproxy -c rejects every app: %s", firstAlert(msg))
	}
	ng, err := g.Without(bad)
	if err != nil {
		return nil, nil, err
	}
	nrf := e.runFile(ng)
	if m, err := e.check(ctx, nrf.text); err != nil {
		return nil, nil, fmt.Errorf("haproxy -c rejects the configuration even without apps %v: %s", bad, firstAlert(m))
	}
	out.add(bad, probs)
	return ng, nrf, nil
}

// firstAlert is HAProxy's first [ALERT] line, the reason a check failed.
func firstAlert(msg string) string {
	for l := range strings.Lines(msg) {
		if strings.Contains(l, "[ALERT]") {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(msg)
}

// check runs haproxy -c on text, written beside the real file (relative
// paths in the file resolve the same way).
func (e *Engine) check(ctx context.Context, text string) (string, error) {
	tmp := e.o.ConfigFile + ".check"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err.Error(), err
	}
	defer os.Remove(tmp)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, e.o.Binary, "-c", "-f", tmp).CombinedOutput()
	if err != nil && len(out) == 0 {
		out = []byte(err.Error())
	}
	return string(out), err
}

// installLeavingOut installs g; when HAProxy cannot bind a service's
// frontend (its port is taken), the service's app is left out and the
// install tried again, a few times: haproxy -c cannot see a taken port,
// and one such app must not stop every other change.
func (e *Engine) installLeavingOut(ctx context.Context, g *edge.Generation, rf *runFile, out *leftOut) error {
	e.takeAlerts()
	var probs []edge.Problem
	var bad []string
	for attempt := 0; ; attempt++ {
		err := e.install(ctx, g, rf)
		if err == nil {
			out.add(bad, probs)
			return nil
		}
		// The alerts arrive through a pipe: give the last ones a moment.
		time.Sleep(100 * time.Millisecond)
		fails := bindFailures(e.takeAlerts())
		if len(fails) == 0 || g.Without == nil || attempt >= 5 {
			return err
		}
		n := len(bad)
		for _, s := range g.Config.Services {
			if reason, ok := fails[s.Name]; ok && !slices.Contains(bad, s.AppID) {
				bad = append(bad, s.AppID)
				probs = append(probs, edge.Problem{App: s.AppID, Index: s.Index, Reason: "HAProxy cannot bind frontend " + s.Name + ": " + reason})
				e.log.Warn("app left out: HAProxy cannot bind its frontend", "app", s.AppID, "frontend", s.Name, "haproxy", reason)
			}
		}
		if len(bad) == n {
			return err
		}
		ng, werr := g.Without(bad)
		if werr != nil {
			return err
		}
		g, rf = ng, e.runFile(ng)
	}
}

// install writes the files and starts or reloads HAProxy.
func (e *Engine) install(ctx context.Context, g *edge.Generation, rf *runFile) error {
	dir := filepath.Dir(e.o.ConfigFile)
	if g.Config != nil && g.Config.HAProxyDir != "" {
		dir = g.Config.HAProxyDir
	}
	for name, body := range map[string]string{"domain2backend.map": g.DomainMap, "app2backend.map": g.AppMap} {
		if err := writeAtomic(filepath.Join(dir, name), []byte(body)); err != nil {
			return err
		}
	}
	if err := writeAtomic(e.o.ConfigFile, []byte(rf.text)); err != nil {
		return err
	}
	if !e.running() {
		if err := e.start(ctx); err != nil {
			return err
		}
	} else if err := e.reload(ctx); err != nil {
		return err
	}
	e.run, e.cur = rf, g
	clear(e.pending) // the new worker runs the file's servers only
	return nil
}

func (e *Engine) running() bool {
	if e.cmd == nil {
		return false
	}
	select {
	case <-e.exited:
		return false
	default:
		return true
	}
}

// start runs haproxy -W (master-worker, in the foreground as this
// process's child) with its master CLI socket. The child is started from
// a goroutine locked to its thread so that Pdeathsig, which fires when
// the starting thread ends, means "when this process ends".
func (e *Engine) start(ctx context.Context) error {
	_ = os.Remove(e.path("master.sock"))
	cmd := exec.Command(e.o.Binary, "-W", "-S", e.path("master.sock"), "-f", e.o.ConfigFile)
	lw := logWriter(e.log, e.alert)
	cmd.Stdout, cmd.Stderr = lw, lw
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started, exited := make(chan error, 1), make(chan struct{})
	go func() {
		goruntime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			goruntime.UnlockOSThread()
			close(exited)
			return
		}
		started <- nil
		err := cmd.Wait()
		lw.Close()
		e.log.Info("haproxy master exited", "err", err)
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("starting haproxy: %w", err)
	}
	e.cmd, e.exited = cmd, exited
	deadline := time.Now().Add(e.o.ReloadTimeout)
	var last error
	for {
		w, err := e.workers()
		if err == nil && len(w) > 0 {
			if _, err = e.cli("show info"); err == nil {
				e.m.reloads.Inc()
				return nil
			}
		}
		if err == nil && len(w) == 0 {
			err = errors.New("no worker yet")
		}
		last = err
		select {
		case <-exited:
			return errors.New("haproxy exited at start (see the log)")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("haproxy did not start a worker in time: %w", last)
		}
	}
}

// reload saves the server state (load-server-state-from-file restores
// it in the new worker) and has the master re-execute: the new worker
// takes the listening sockets over the expose-fd admin socket, the old
// one finishes its connections.
func (e *Engine) reload(ctx context.Context) error {
	if st, err := e.cli("show servers state"); err == nil {
		_ = writeAtomic(filepath.Join(e.o.RunDir, "state", "global"), []byte(st))
	}
	before, err := e.workers()
	if err != nil {
		return err
	}
	failedBefore := e.failedReloads()
	if err := e.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		return err
	}
	deadline := time.Now().Add(e.o.ReloadTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.exited:
			return errors.New("haproxy exited during a reload")
		case <-time.After(20 * time.Millisecond):
		}
		if f := e.failedReloads(); f > failedBefore {
			return errors.New("haproxy reload failed (the previous worker keeps serving; see the log)")
		}
		w, err := e.workers()
		if err != nil || len(w) == 0 || slices.Contains(before, w[0]) {
			continue
		}
		if _, err := e.cli("show info"); err == nil {
			e.m.reloads.Inc()
			return nil
		}
	}
	return errors.New("haproxy reload: no new worker in time (the previous one keeps serving)")
}

// applyRuntime runs a plan's commands; the first refused one stops it.
func (e *Engine) applyRuntime(p *runtimePlan) error {
	for _, op := range p.ops {
		out, err := e.cli(op.cmd)
		if err != nil {
			return err
		}
		out = strings.TrimSpace(out)
		if (op.ok == "" && out != "") || (op.ok != "" && !strings.Contains(out, op.ok)) {
			return fmt.Errorf("%s: %s", op.cmd, out)
		}
		e.m.runtimeOps.Inc()
	}
	for _, k := range p.revive {
		delete(e.pending, k)
	}
	for k, s := range p.drain {
		e.pending[k] = pendingServer{line: s, since: time.Now()}
	}
	return nil
}

func (e *Engine) pendingLines() map[serverKey]serverLine {
	m := make(map[serverKey]serverLine, len(e.pending))
	for k, p := range e.pending {
		m[k] = p.line
	}
	return m
}

// reaper deletes removed servers once their sessions are done (HAProxy
// refuses before), shutting the sessions of those past DrainTimeout.
func (e *Engine) reaper() {
	defer close(e.stopped)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		e.mu.Lock()
		if e.running() {
			for k, p := range e.pending {
				if time.Since(p.since) > e.o.DrainTimeout {
					_, _ = e.cli("shutdown sessions server " + string(k))
				}
				if out, err := e.cli("del server " + string(k)); err == nil &&
					(strings.Contains(out, "Server deleted") || strings.Contains(out, "No such server")) {
					delete(e.pending, k)
				}
			}
		}
		e.mu.Unlock()
	}
}

// cli sends one command to the admin socket and returns the answer.
func (e *Engine) cli(cmd string) (string, error) { return sockCommand(e.path("admin.sock"), cmd) }

func sockCommand(path, cmd string) (string, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	// The master CLI answers once the client is done writing.
	if uc, ok := c.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// workers are the worker pids from the master CLI, the current one first.
func (e *Engine) workers() ([]int, error) {
	master, workers, err := e.procs()
	_ = master
	return workers, err
}

// procs parses the master CLI's "show proc": the master, then the
// workers (current first, then old ones still draining).
func (e *Engine) procs() (int, []int, error) {
	out, err := sockCommand(e.path("master.sock"), "show proc")
	if err != nil {
		return 0, nil, err
	}
	master, workers := 0, []int(nil)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		switch f[1] {
		case "master":
			master = pid
		case "worker":
			workers = append(workers, pid)
		}
	}
	return master, workers, nil
}

// failedReloads is the master's count of reloads that failed ("show
// proc": "<reloads> [failed: N]"), -1 when unknown.
func (e *Engine) failedReloads() int {
	out, err := sockCommand(e.path("master.sock"), "show proc")
	if err != nil {
		return -1
	}
	_, rest, ok := strings.Cut(out, "[failed: ")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(rest, "]", 2)[0]))
	if err != nil {
		return -1
	}
	return n
}

// Pids implements edge.Engine: master, current worker, old workers.
func (e *Engine) Pids() []int {
	e.mu.Lock()
	running := e.running()
	e.mu.Unlock()
	if !running {
		return nil
	}
	master, workers, err := e.procs()
	if err != nil {
		return nil
	}
	return append([]int{master}, workers...)
}

// Stats implements edge.Engine from the admin socket's "show stat".
func (e *Engine) Stats() []edge.StatRow {
	out, err := e.cli("show stat")
	if err != nil {
		return nil
	}
	rows, err := ParseStats(out)
	if err != nil {
		e.log.Debug("show stat", "err", err)
	}
	return rows
}

// StatsPage serves HAProxy's own HTML stats page (the "stats enable" of
// the stats listener, moved to a socket in the run directory).
func (e *Engine) StatsPage() http.Handler {
	sock := e.path("stats.sock")
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: "haproxy-stats"})
	rp.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	return rp
}

// Close stops HAProxy (its workers close their connections) and the
// reaper.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	cmd, exited, running := e.cmd, e.exited, e.running()
	e.mu.Unlock()
	close(e.stop)
	<-e.stopped
	if !running {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	return nil
}

func (e *Engine) alert(line string) {
	e.alertMu.Lock()
	defer e.alertMu.Unlock()
	e.alerts = append(e.alerts, line)
	if len(e.alerts) > 50 {
		e.alerts = slices.Delete(e.alerts, 0, len(e.alerts)-50)
	}
}

// takeAlerts returns and forgets the alerts logged so far.
func (e *Engine) takeAlerts() []string {
	e.alertMu.Lock()
	defer e.alertMu.Unlock()
	a := e.alerts
	e.alerts = nil
	return a
}

// bindFailures are the frontends HAProxy could not bind, from its alerts
// ("Binding [file:line] for frontend NAME: cannot bind socket …").
func bindFailures(alerts []string) map[string]string {
	out := map[string]string{}
	for _, a := range alerts {
		_, rest, ok := strings.Cut(a, " for frontend ")
		if !ok || !strings.Contains(rest, "cannot bind") {
			continue
		}
		name, reason, _ := strings.Cut(rest, ": ")
		out[name] = reason
	}
	return out
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// logWriter turns HAProxy's output lines into log records.
func logWriter(log *slog.Logger, alert func(string)) io.WriteCloser {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.Contains(line, " CLI : "):
				// Our own runtime commands, echoed.
				log.Debug("haproxy", "line", line)
			case strings.Contains(line, "[ALERT]"):
				alert(line)
				log.Error("haproxy", "line", line)
			case strings.Contains(line, "[WARNING]"):
				log.Warn("haproxy", "line", line)
			default:
				log.Info("haproxy", "line", line)
			}
		}
	}()
	return pw
}
