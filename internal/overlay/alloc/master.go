package alloc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/overlay/config"
)

// MasterOptions configure a Master.
type MasterOptions struct {
	Network  config.Network
	Store    Store
	Elector  Elector // nil: Solo
	Logger   *slog.Logger
	Registry prometheus.Registerer // nil: metrics are not registered
}

// Master serves the allocation over HTTP and persists it.
type Master struct {
	o MasterOptions

	mu        sync.Mutex
	alloc     *Allocator
	version   int64
	recovered bool
	epoch     uint64 // the leadership epoch the state was loaded in

	failures *prometheus.CounterVec
	agents   prometheus.Gauge
}

// document is what the store holds.
type document struct {
	Agents []AgentInfo `json:"agents"`
}

// NewMaster returns a master that has not recovered yet (Recover).
func NewMaster(o MasterOptions) *Master {
	if o.Elector == nil {
		o.Elector = Solo{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Master{o: o, alloc: NewAllocator(o.Network),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "overlay", Name: "subnet_allocation_failures",
			Help: "Agent registrations for which an overlay had no free block."}, []string{"overlay"}),
		agents: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "overlay", Name: "master_agents",
			Help: "Agents holding an allocation."}),
	}
	if o.Registry != nil {
		o.Registry.MustRegister(m.failures, m.agents)
	}
	return m
}

// ErrNotRecovered: the state has not been read from the store yet.
var ErrNotRecovered = errors.New("overlay master: state not recovered yet")

// Recover reads the state from the store, retrying until ctx ends.
// Registrations before it returns are refused (the agent retries).
func (m *Master) Recover(ctx context.Context) error {
	for {
		m.mu.Lock()
		err := m.reloadLocked(ctx)
		m.mu.Unlock()
		if err == nil {
			return nil
		}
		m.o.Logger.Warn("overlay master: recovering state", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (m *Master) reloadLocked(ctx context.Context) error {
	b, v, err := m.o.Store.Load(ctx)
	if err != nil {
		return err
	}
	var doc document
	if len(b) > 0 {
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("stored state: %w", err)
		}
	}
	a := NewAllocator(m.o.Network)
	for _, p := range a.Restore(doc.Agents) {
		m.o.Logger.Warn("overlay master: stored allocation dropped", "err", p)
	}
	_, _, epoch := m.o.Elector.Leader()
	m.alloc, m.version, m.recovered, m.epoch = a, v, true, epoch
	m.agents.Set(float64(len(a.agents)))
	return nil
}

// errPersist: the store refused or failed a write.
var errPersist = errors.New("persist")

// errNotLeader carries where the leader is.
type errNotLeader struct{ url string }

func (e errNotLeader) Error() string { return "not the overlay master leader (leader: " + e.url + ")" }

// leadLocked makes sure this master may allocate, reloading the state
// when it became leader since it last read it.
func (m *Master) leadLocked(ctx context.Context) error {
	if !m.recovered {
		return ErrNotRecovered
	}
	me, url, epoch := m.o.Elector.Leader()
	if !me {
		return errNotLeader{url}
	}
	if epoch != m.epoch {
		return m.reloadLocked(ctx)
	}
	return nil
}

// change applies f and persists the result; on a store failure the state
// is reloaded so memory never runs ahead of the store.
func (m *Master) change(ctx context.Context, f func(a *Allocator) (bool, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.leadLocked(ctx); err != nil {
		return err
	}
	changed, err := f(m.alloc)
	if err != nil || !changed {
		return err
	}
	b, _ := json.Marshal(document{Agents: m.alloc.Agents()})
	v, err := m.o.Store.Save(ctx, b, m.version)
	if err != nil {
		if rerr := m.reloadLocked(ctx); rerr != nil {
			m.recovered = false
		}
		return fmt.Errorf("%w: %w", errPersist, err)
	}
	m.version = v
	m.agents.Set(float64(len(m.alloc.agents)))
	return nil
}

// Register allocates for an agent and persists it before returning.
func (m *Master) Register(ctx context.Context, r Registration) (AgentInfo, error) {
	var res Result
	err := m.change(ctx, func(a *Allocator) (bool, error) {
		var err error
		res, err = a.Register(r)
		return res.Changed, err
	})
	if err != nil {
		return AgentInfo{}, err
	}
	for _, name := range res.Failed {
		m.failures.WithLabelValues(name).Inc()
		m.o.Logger.Warn("overlay master: no free block", "overlay", name, "agent", r.IP)
	}
	return res.Agent, nil
}

// Registered records the overlay states an agent reports.
func (m *Master) Registered(ctx context.Context, info AgentInfo) error {
	return m.change(ctx, func(a *Allocator) (bool, error) {
		if _, ok := a.Agent(info.IP); !ok {
			return false, fmt.Errorf("ip %q: not registered", info.IP)
		}
		return a.SetStatus(info.IP, info.Overlays), nil
	})
}

// Delete drops agents (POST /overlay-master/agents/delete).
func (m *Master) Delete(ctx context.Context, ips []string) error {
	return m.change(ctx, func(a *Allocator) (bool, error) {
		if unknown := a.Delete(ips); len(unknown) == len(ips) {
			return false, nil
		}
		return true, nil
	})
}

// State is the master's state (a follower reads it from the store).
func (m *Master) State(ctx context.Context) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.recovered {
		return State{}, ErrNotRecovered
	}
	if me, _, _ := m.o.Elector.Leader(); !me {
		if err := m.reloadLocked(ctx); err != nil {
			return State{}, err
		}
	}
	return State{Network: m.o.Network.Raw, Agents: m.alloc.Agents()}, nil
}

// Handler serves /overlay-master/state and the agents' endpoints:
// POST /overlay-master/agents/register (a Registration → AgentInfo),
// POST /overlay-master/agents/registered (an AgentInfo with states) and
// POST /overlay-master/agents/delete ({"agents": [ip…]} → State).
// A follower redirects writes to the leader (307).
func (m *Master) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /overlay-master/state", func(w http.ResponseWriter, r *http.Request) {
		st, err := m.State(r.Context())
		if err != nil {
			m.fail(w, r, err)
			return
		}
		writeJSON(w, st)
	})
	mux.HandleFunc("POST /overlay-master/agents/register", func(w http.ResponseWriter, r *http.Request) {
		var reg Registration
		if !readJSON(w, r, &reg) {
			return
		}
		info, err := m.Register(r.Context(), reg)
		if err != nil {
			m.fail(w, r, err)
			return
		}
		writeJSON(w, info)
	})
	mux.HandleFunc("POST /overlay-master/agents/registered", func(w http.ResponseWriter, r *http.Request) {
		var info AgentInfo
		if !readJSON(w, r, &info) {
			return
		}
		if err := m.Registered(r.Context(), info); err != nil {
			m.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /overlay-master/agents/delete", func(w http.ResponseWriter, r *http.Request) {
		var req DeleteRequest
		if !readJSON(w, r, &req) {
			return
		}
		if len(req.Agents) == 0 {
			http.Error(w, "agents: empty", http.StatusBadRequest)
			return
		}
		if err := m.Delete(r.Context(), req.Agents); err != nil {
			m.fail(w, r, err)
			return
		}
		st, err := m.State(r.Context())
		if err != nil {
			m.fail(w, r, err)
			return
		}
		writeJSON(w, st)
	})
	return mux
}

func (m *Master) fail(w http.ResponseWriter, r *http.Request, err error) {
	var nl errNotLeader
	switch {
	case errors.As(err, &nl) && nl.url != "" && r.Method == http.MethodPost:
		http.Redirect(w, r, strings.TrimSuffix(nl.url, "/")+r.URL.Path, http.StatusTemporaryRedirect)
	case errors.As(err, &nl), errors.Is(err, ErrNotRecovered), errors.Is(err, ErrConflict):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	case errors.Is(err, ErrExhausted):
		http.Error(w, err.Error(), http.StatusConflict)
	case errors.Is(err, errPersist):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	default:
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
