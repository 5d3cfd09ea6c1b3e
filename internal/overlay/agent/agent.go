package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/overlay/alloc"
	"github.com/sextantdc/sextant/internal/overlay/config"
)

// Syncer makes the kernel match a desired state (Kernel on Linux).
type Syncer interface {
	Sync(Desired) error
}

// AgentOptions configure an Agent.
type AgentOptions struct {
	// IP is this node's IP, the one peers send VXLAN packets to.
	IP     string
	Config config.Agent
	// Masters are the overlay masters' base URLs ("http://10.0.0.1:5050");
	// any may be asked, followers redirect to the leader.
	Masters []string
	Kernel  Syncer
	Client  *http.Client // nil: a client with a 10 s timeout
	// PeerInterval is how often the peers are read from the master (5 s);
	// ResyncInterval how often the whole state is re-applied even when
	// nothing changed (5 min); Backoff the first registration retry delay
	// (5 s, doubling to MaxBackoff, 10 min).
	PeerInterval, ResyncInterval, Backoff, MaxBackoff time.Duration
	Logger                                            *slog.Logger
	Registry                                          prometheus.Registerer
	// OnSync, when set, is called after every sync with its outcome.
	OnSync func(Desired, error)
}

// Agent registers with the master and keeps the kernel in line with the
// cluster's allocations.
type Agent struct {
	o AgentOptions

	mu       sync.Mutex
	info     alloc.AgentInfo
	desired  Desired
	synced   bool
	lastErr  error
	lastFull time.Time
	ready    chan struct{}
	readyOne sync.Once

	m metrics
}

type metrics struct {
	pollDuration, updateDuration                            prometheus.Histogram
	pollErrors, configFailures, updateFailures, netlinkErrs prometheus.Counter
	configured, peers                                       prometheus.Gauge
}

// NewAgent returns an agent; Run starts it.
func NewAgent(o AgentOptions) *Agent {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.PeerInterval == 0 {
		o.PeerInterval = 5 * time.Second
	}
	if o.ResyncInterval == 0 {
		o.ResyncInterval = 5 * time.Minute
	}
	if o.Backoff == 0 {
		o.Backoff = 5 * time.Second
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Config == (config.Agent{}) {
		o.Config = config.DefaultAgent()
	}
	a := &Agent{o: o, ready: make(chan struct{}), m: metrics{
		pollDuration:   prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "overlay", Name: "poll_duration_seconds", Help: "Reading the allocations from the overlay master."}),
		updateDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "overlay", Name: "update_processing_duration_seconds", Help: "Applying a desired state to the kernel."}),
		pollErrors:     prometheus.NewCounter(prometheus.CounterOpts{Namespace: "overlay", Name: "poll_errors_total", Help: "Failed reads of the overlay master."}),
		configFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "overlay", Name: "network_configuration_failures_total", Help: "Local overlay configurations that failed."}),
		updateFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "overlay", Name: "update_failures_total", Help: "Syncs that failed (the next one re-applies everything)."}),
		netlinkErrs:    prometheus.NewCounter(prometheus.CounterOpts{Namespace: "overlay", Name: "netlink_errors_total", Help: "Netlink requests that failed."}),
		configured:     prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "overlay", Name: "networks_configured", Help: "Overlays configured on this node."}),
		peers:          prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "overlay", Name: "peers", Help: "Peers programmed on this node."}),
	}}
	if o.Registry != nil {
		o.Registry.MustRegister(a.m.pollDuration, a.m.updateDuration, a.m.pollErrors, a.m.configFailures,
			a.m.updateFailures, a.m.netlinkErrs, a.m.configured, a.m.peers)
	}
	return a
}

// Ready is closed once the local overlays are configured.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Info is the agent's allocation and the state of each overlay.
func (a *Agent) Info() alloc.AgentInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, _ := json.Marshal(a.info)
	var c alloc.AgentInfo
	_ = json.Unmarshal(b, &c)
	return c
}

// Desired is the state last applied (ok false before the first sync).
func (a *Agent) Desired() (Desired, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.desired, a.synced
}

// Handler serves GET /overlay-agent/overlay.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /overlay-agent/overlay", func(w http.ResponseWriter, r *http.Request) {
		info := a.Info()
		if info.IP == "" {
			http.Error(w, "not registered with the overlay master yet", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(info)
	})
	return mux
}

// Run registers, configures the local overlays, then follows the peers
// until ctx ends. It returns nil when ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	backoff := a.o.Backoff
	attempts := 0
	for {
		info, err := a.register(ctx)
		if err == nil {
			attempts++
			err = a.configure(ctx, info, attempts)
			if err == nil {
				break
			}
			if attempts >= a.o.Config.MaxConfigurationAttempts {
				a.o.Logger.Error("overlay: configuration failed, giving up on the broken overlays", "attempts", attempts, "err", err)
				break
			}
		}
		a.o.Logger.Warn("overlay: registration", "err", err, "retry_in", backoff)
		// A random delay in [0, backoff] spreads agents restarting at once.
		if !sleep(ctx, time.Duration(rand.Int64N(int64(backoff)+1))) {
			return nil
		}
		backoff = min(2*backoff, a.o.MaxBackoff)
	}
	t := time.NewTicker(a.o.PeerInterval)
	defer t.Stop()
	for {
		a.poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// call sends one request to the masters in turn until one answers 2xx.
func (a *Agent) call(ctx context.Context, method, path string, body, out any) error {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	var errs []error
	for _, m := range a.o.Masters {
		req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(m, "/")+path, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := a.o.Client.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rb, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if resp.StatusCode/100 != 2 {
			errs = append(errs, fmt.Errorf("%s %s: %s: %s", method, m, resp.Status, strings.TrimSpace(string(rb))))
			continue
		}
		if out != nil {
			if err := json.Unmarshal(rb, out); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", method, m, err))
				continue
			}
		}
		return nil
	}
	if len(errs) == 0 {
		return errors.New("no overlay master configured")
	}
	return errors.Join(errs...)
}

func (a *Agent) register(ctx context.Context) (alloc.AgentInfo, error) {
	c := a.o.Config
	var info alloc.AgentInfo
	err := a.call(ctx, http.MethodPost, "/overlay-master/agents/register", alloc.Registration{IP: a.o.IP,
		AllocateSubnet: c.AllocateSubnet, MesosBridge: c.MesosBridge, DockerBridge: c.DockerBridge, EnableIPv6: c.EnableIPv6}, &info)
	return info, err
}

// configure applies the local part (no peers yet) and reports the result.
func (a *Agent) configure(ctx context.Context, info alloc.AgentInfo, attempts int) error {
	d, err := Build(info, nil, Options{MTU: a.o.Config.OverlayMTU})
	if err == nil {
		err = a.sync(d)
	}
	if err == nil && a.o.Config.CNIDir != "" && a.o.Config.MesosBridge {
		err = writeCNI(a.o.Config.CNIDir, info, a.o.Config.OverlayMTU, a.o.Config.CNIDataDir)
	}
	for i := range info.Overlays {
		if err != nil {
			info.Overlays[i].State = alloc.OverlayState{Status: alloc.StatusFailed, Error: err.Error()}
		} else {
			info.Overlays[i].State = alloc.OverlayState{Status: alloc.StatusOK}
		}
	}
	info.ConfigurationAttempts = attempts
	a.mu.Lock()
	a.info = info
	a.mu.Unlock()
	if err != nil {
		a.m.configFailures.Inc()
		return err
	}
	a.m.configured.Set(float64(len(info.Overlays)))
	if rerr := a.call(ctx, http.MethodPost, "/overlay-master/agents/registered", info, nil); rerr != nil {
		a.o.Logger.Warn("overlay: reporting the configuration", "err", rerr)
	}
	a.readyOne.Do(func() { close(a.ready) })
	return nil
}

// sync applies d; a failure leaves lastErr set, so the next poll re-applies
// everything.
func (a *Agent) sync(d Desired) error {
	start := time.Now()
	err := a.o.Kernel.Sync(d)
	a.m.updateDuration.Observe(time.Since(start).Seconds())
	a.mu.Lock()
	a.desired, a.synced, a.lastErr = d, err == nil, err
	if err == nil {
		a.lastFull = time.Now()
	}
	a.mu.Unlock()
	if err != nil {
		a.m.updateFailures.Inc()
		a.m.netlinkErrs.Add(float64(strings.Count(err.Error(), "\n") + 1))
		a.o.Logger.Warn("overlay: sync failed, will re-apply", "err", err)
	}
	if a.o.OnSync != nil {
		a.o.OnSync(d, err)
	}
	return err
}

// poll reads the cluster's allocations and syncs when anything changed,
// the last sync failed, or the periodic full resync is due.
func (a *Agent) poll(ctx context.Context) {
	start := time.Now()
	var st alloc.State
	err := a.call(ctx, http.MethodGet, "/overlay-master/state", nil, &st)
	a.m.pollDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		if ctx.Err() == nil {
			a.m.pollErrors.Inc()
			a.o.Logger.Warn("overlay: reading peers", "err", err)
		}
		return
	}
	a.mu.Lock()
	info, prev, synced, last := a.info, a.desired, a.synced, a.lastFull
	a.mu.Unlock()
	peers, probs := PeersFrom(st.Agents, info.IP)
	for _, p := range probs {
		a.o.Logger.Warn("overlay: peer skipped", "err", p)
	}
	d, err := Build(info, peers, Options{MTU: a.o.Config.OverlayMTU})
	if err != nil {
		a.o.Logger.Error("overlay: desired state", "err", err)
		return
	}
	a.m.peers.Set(float64(len(peers)))
	if synced && d.String() == prev.String() && time.Since(last) < a.o.ResyncInterval {
		return
	}
	_ = a.sync(d)
}
