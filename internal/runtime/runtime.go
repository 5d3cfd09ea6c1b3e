// Package runtime is Sextant's local cluster: it runs Marathon app
// definitions as local processes (one process group per task, Marathon's
// environment, host ports, back-off, kill grace, health checks), keeps the
// definitions in a state directory, publishes Marathon events, and renders
// the Mesos master state of this one-node cluster for the Mesos APIs.
//
// Imports of Sextant's own packages: internal/marathon, internal/mesos/state; nothing else of
// Sextant.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/marathon"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

// Config configures a Runtime. Zero fields take the documented defaults.
type Config struct {
	// StateDir holds app definitions (apps.json), cluster identity and one
	// sandbox per task (tasks/<task id>/stdout, stderr). Required.
	StateDir string
	// IP is the agent address tasks get (HOST, network infos); default 127.0.0.1.
	IP string
	// Hostname is the agent hostname; default IP.
	Hostname string
	// PortMin..PortMax is the host port range (default 31000–32000).
	PortMin, PortMax int
	// ServicePortMin..ServicePortMax is Marathon's local_port range
	// (default 10000–20000).
	ServicePortMin, ServicePortMax int
	// MaxTasks caps concurrently running tasks (default 256): like an
	// agent without more resources, instances beyond it stay queued.
	MaxTasks int
	// MesosAddr and MarathonURL name the APIs serving this runtime; they
	// appear in the Mesos state (leader, framework webui_url) and /v2/info.
	MesosAddr   string
	MarathonURL string
	// PublishHealth puts Marathon-level health results into the Mesos
	// statuses (healthy) too, so Mesos consumers see them; real Mesos only
	// carries Mesos-level results there.
	PublishHealth bool
	// ShutdownGrace caps each task's kill grace period at shutdown
	// (default 10s).
	ShutdownGrace time.Duration
	// KeepSandboxes is how many sandboxes of finished tasks each app keeps
	// (default 5); older ones are removed when a task finishes and at
	// start. Mesos garbage-collects sandboxes by age (--gc_delay, a week);
	// a crash-looping app here would leave one directory per exit.
	KeepSandboxes int
	// Networks, when set, puts tasks asking for a container network on it;
	// without it such tasks fail to launch, with NetworksUnavailable as
	// the reason.
	Networks            ContainerNetworks
	NetworksUnavailable string
	// EventQueue is the per-subscriber event queue (default 1024).
	EventQueue int
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c *Config) defaults() {
	if c.IP == "" {
		c.IP = "127.0.0.1"
	}
	if c.Hostname == "" {
		c.Hostname = c.IP
	}
	if c.PortMin == 0 && c.PortMax == 0 {
		c.PortMin, c.PortMax = 31000, 32000
	}
	if c.ServicePortMin == 0 && c.ServicePortMax == 0 {
		c.ServicePortMin, c.ServicePortMax = 10000, 20000
	}
	if c.MaxTasks <= 0 {
		c.MaxTasks = 256
	}
	if c.MesosAddr == "" {
		c.MesosAddr = c.IP + ":5050"
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	if c.KeepSandboxes <= 0 {
		c.KeepSandboxes = 5
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Runtime runs apps. All methods are safe for concurrent use.
type Runtime struct {
	cfg   Config
	log   *slog.Logger
	bus   *Bus
	m     *metrics
	ident identity

	mu          sync.Mutex
	apps        map[string]*appRec
	deployments map[string]*Deployment
	depOrder    []string
	completed   []*task
	// finished are the sandboxes kept of each app's finished tasks, oldest
	// first (at most KeepSandboxes); exitLogs rate-limit the exit log
	// lines of each app. Both are keyed by app id and outlive the app.
	finished    map[string][]string
	exitLogs    map[string]*exitLog
	usedHost    map[int]string // host port → task id
	closing     bool
	lingerUntil time.Time // when lingering terminal tasks leave the state
	rng         *rand.Rand

	st      atomic.Pointer[state.State]
	chMu    sync.Mutex
	changed chan struct{}

	kick  chan struct{}
	tasks sync.WaitGroup // one per live task process
}

type appRec struct {
	app     *marathon.App
	tasks   map[string]*task
	backoff *backoff
	depID   string
	lastErr *taskFailure
}

type backoff struct {
	configVersion string
	delay         time.Duration
	stamp         time.Time
}

type taskFailure struct {
	AppID     string `json:"appId"`
	Host      string `json:"host"`
	Message   string `json:"message"`
	State     string `json:"state"`
	TaskID    string `json:"taskId"`
	Timestamp string `json:"timestamp"`
	Version   string `json:"version"`
	SlaveID   string `json:"slaveId"`
}

// New loads the persisted apps (if any) and returns a runtime; Run starts it.
func New(cfg Config) (*Runtime, error) {
	cfg.defaults()
	if cfg.StateDir == "" {
		return nil, errors.New("runtime: state directory is required")
	}
	if cfg.PortMin < 1 || cfg.PortMax > 65535 || cfg.PortMin > cfg.PortMax {
		return nil, fmt.Errorf("runtime: bad host port range %d-%d", cfg.PortMin, cfg.PortMax)
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "tasks"), 0o755); err != nil {
		return nil, fmt.Errorf("runtime: state directory: %w", err)
	}
	id, err := loadIdentity(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	r := &Runtime{cfg: cfg, log: cfg.Logger, ident: id,
		apps: map[string]*appRec{}, deployments: map[string]*Deployment{}, usedHost: map[int]string{},
		changed: make(chan struct{}), kick: make(chan struct{}, 1), exitLogs: map[string]*exitLog{},
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))}
	r.bus = NewBus(cfg.EventQueue, nil)
	r.m = newMetrics(cfg.Registerer, r)
	r.bus.dropped = func() { r.m.subscribersDropped.Inc() }
	reapStale(cfg.StateDir, r.log)
	r.finished = pruneSandboxes(cfg.StateDir, cfg.KeepSandboxes)
	apps, err := loadApps(cfg.StateDir, r.log)
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		r.apps[a.ID] = &appRec{app: a, tasks: map[string]*task{}}
	}
	r.mu.Lock()
	r.publishLocked()
	r.mu.Unlock()
	return r, nil
}

// Bus is the Marathon event bus.
func (r *Runtime) Bus() *Bus { return r.bus }

// Config returns the effective configuration.
func (r *Runtime) Config() Config { return r.cfg }

// Run reconciles apps until ctx ends, then stops every task (SIGTERM, then
// SIGKILL after the grace period) and waits for all of them.
func (r *Runtime) Run(ctx context.Context) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	r.reconcile()
	for {
		select {
		case <-ctx.Done():
			r.shutdown()
			return nil
		case <-r.kick:
		case <-tick.C:
		}
		r.reconcile()
	}
}

func (r *Runtime) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *Runtime) shutdown() {
	r.mu.Lock()
	r.closing = true
	for _, ar := range r.apps {
		for _, t := range ar.tasks {
			r.killLocked(t, r.cfg.ShutdownGrace, "shutdown")
		}
	}
	r.mu.Unlock()
	r.tasks.Wait()
	r.mu.Lock()
	r.publishLocked()
	r.mu.Unlock()
}

// reconcile moves every app towards its definition: launches missing
// tasks (respecting back-off, capacity and the upgrade strategy), kills
// surplus and outdated ones, and finishes deployments.
func (r *Runtime) reconcile() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return
	}
	now := time.Now()
	changed := false
	for _, id := range sortedAppIDs(r.apps) {
		if r.reconcileApp(r.apps[id], now) {
			changed = true
		}
	}
	if r.progressDeployments() {
		changed = true
	}
	if !r.lingerUntil.IsZero() && now.After(r.lingerUntil) {
		r.lingerUntil = time.Time{}
		changed = true
	}
	if changed {
		r.publishLocked()
	}
}

func (r *Runtime) liveTasks() int {
	n := 0
	for _, ar := range r.apps {
		n += len(ar.tasks)
	}
	return n
}

func (r *Runtime) reconcileApp(ar *appRec, now time.Time) bool {
	a := ar.app
	cv := a.VersionInfo.LastConfigChangeAt
	var cur, old []*task
	for _, t := range ar.tasks {
		if t.killing {
			continue
		}
		if t.configVersion == cv {
			cur = append(cur, t)
		} else {
			old = append(old, t)
		}
	}
	changed := false
	n := a.Instances
	// Scale down: surplus tasks of the current version.
	if len(cur) > n {
		sortForKill(cur, a.KillSelection)
		for _, t := range cur[:len(cur)-n] {
			r.killLocked(t, 0, "scale down")
			changed = true
		}
		cur = cur[len(cur)-n:]
	}
	// Launch: up to n current tasks, never more than n + ⌊n·o⌋ in all.
	maxTotal := n + int(math.Floor(float64(n)*a.UpgradeStrategy.MaximumOverCapacity))
	if maxTotal < n {
		maxTotal = n
	}
	if ar.backoff != nil && ar.backoff.configVersion != cv {
		ar.backoff = nil
	}
	if ar.backoff != nil && now.Sub(ar.backoff.stamp) > time.Duration(a.MaxLaunchDelaySeconds)*time.Second+ar.backoff.delay {
		ar.backoff = nil
	}
	for len(cur) < n && len(cur)+len(old) < maxTotal {
		if ar.backoff != nil && now.Before(ar.backoff.stamp.Add(ar.backoff.delay)) {
			break
		}
		if r.liveTasks() >= r.cfg.MaxTasks {
			break
		}
		t, err := r.launchLocked(ar)
		if err != nil {
			r.log.Debug("launch deferred", "app", a.ID, "err", err)
			break
		}
		cur = append(cur, t)
		changed = true
	}
	// Replace old-version tasks as new ones become ready, keeping at least
	// ⌈n·m⌉ ready tasks: an old task that is not ready goes at once, a
	// ready one only while the rest still meet the minimum.
	if len(old) > 0 {
		minReady := int(math.Ceil(float64(n) * a.UpgradeStrategy.MinimumHealthCapacity))
		ready := 0
		for _, t := range cur {
			if t.ready(a) {
				ready++
			}
		}
		for _, t := range old {
			if t.ready(a) {
				ready++
			}
		}
		sortForKill(old, "YOUNGEST_FIRST")
		killed := 0
		for _, t := range old {
			if t.ready(a) {
				if ready-1 < minReady {
					continue
				}
				ready--
			}
			r.killLocked(t, 0, "upgrade")
			killed++
			changed = true
		}
		// No room for new tasks and none of the old may go: give up one
		// old task rather than never finishing (m = 1 with o = 0).
		if killed == 0 && len(cur) < n && len(cur)+len(old) >= maxTotal {
			r.killLocked(old[0], 0, "upgrade")
			changed = true
		}
	}
	return changed
}

// sortForKill orders tasks so that the ones to kill first come first:
// not-yet-running ones, then by killSelection.
func sortForKill(ts []*task, sel string) {
	sort.SliceStable(ts, func(i, j int) bool {
		ri, rj := ts[i].state == stateRunning, ts[j].state == stateRunning
		if ri != rj {
			return !ri
		}
		if sel == "OLDEST_FIRST" {
			return ts[i].stagedAt.Before(ts[j].stagedAt)
		}
		return ts[i].stagedAt.After(ts[j].stagedAt)
	})
}

// allocatePorts picks host ports for a new task of a, per port index.
func (r *Runtime) allocatePorts(a *marathon.App) (marathon.TaskPorts, error) {
	n := a.PortCount()
	out := make(marathon.TaskPorts, n)
	taken := map[int]bool{}
	want := func(i int) (fixed int, need bool) {
		if a.NetworkMode() == marathon.ModeHost {
			if a.RequirePorts {
				return a.PortDefinitions[i].Port, true
			}
			return 0, true
		}
		pm := a.Container.PortMappings[i]
		if pm.HostPort == nil {
			return 0, false
		}
		return *pm.HostPort, true
	}
	proto := func(i int) string {
		if a.NetworkMode() == marathon.ModeHost {
			return a.PortDefinitions[i].Protocol
		}
		return a.Container.PortMappings[i].Protocol
	}
	for i := 0; i < n; i++ {
		if fixed, need := want(i); need && fixed > 0 {
			if _, used := r.usedHost[fixed]; used || taken[fixed] || !portFree(r.cfg.IP, fixed, proto(i)) {
				return nil, fmt.Errorf("host port %d is not available", fixed)
			}
			out[i] = fixed
			taken[fixed] = true
		}
	}
	span := r.cfg.PortMax - r.cfg.PortMin + 1
	for i := 0; i < n; i++ {
		if fixed, need := want(i); !need || fixed > 0 {
			continue
		}
		found := false
		// Random start, then a linear scan: Mesos offers ports at random.
		start := r.rng.IntN(span)
		for k := 0; k < span; k++ {
			p := r.cfg.PortMin + (start+k)%span
			if _, used := r.usedHost[p]; used || taken[p] {
				continue
			}
			if !portFree(r.cfg.IP, p, proto(i)) {
				continue
			}
			out[i], taken[p], found = p, true, true
			break
		}
		if !found {
			return nil, fmt.Errorf("no free host port in [%d-%d]", r.cfg.PortMin, r.cfg.PortMax)
		}
	}
	return out, nil
}

// portFree checks that nothing outside the runtime holds the port.
func portFree(ip string, port int, proto string) bool {
	addr := net.JoinHostPort(ip, fmt.Sprint(port))
	if proto != "udp" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		l.Close()
	}
	if proto != "tcp" {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// assignServicePorts replaces service ports equal to 0 (B.7): first ports
// the app held before, then the lowest unused port of the range.
func (r *Runtime) assignServicePorts(a *marathon.App, prev *marathon.App) error {
	used := map[int]bool{}
	for id, ar := range r.apps {
		if id == a.ID {
			continue
		}
		for _, p := range ar.app.ServicePorts() {
			used[p] = true
		}
	}
	for _, p := range a.ServicePorts() {
		used[p] = true
	}
	var reuse []int
	if prev != nil {
		for _, p := range prev.ServicePorts() {
			if p >= r.cfg.ServicePortMin && p <= r.cfg.ServicePortMax && !used[p] {
				reuse = append(reuse, p)
			}
		}
	}
	next := r.cfg.ServicePortMin
	for i, p := range a.ServicePorts() {
		if p != 0 {
			continue
		}
		if len(reuse) > 0 {
			a.SetServicePort(i, reuse[0])
			used[reuse[0]] = true
			reuse = reuse[1:]
			continue
		}
		for next <= r.cfg.ServicePortMax && used[next] {
			next++
		}
		if next > r.cfg.ServicePortMax {
			return &marathon.Error{Status: 500, Message: fmt.Sprintf("All ports in the range [%d-%d) are already in use", r.cfg.ServicePortMin, r.cfg.ServicePortMax)}
		}
		a.SetServicePort(i, next)
		used[next] = true
	}
	return nil
}
