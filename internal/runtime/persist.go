package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/marathon"
)

type appsFile struct {
	Apps []*marathon.App `json:"apps"`
}

// writeAtomic writes a file through a temporary file and a rename, so a
// crash leaves either the old or the new content.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// loadApps reads apps.json. A file that is not JSON at all is an error (so
// that nothing overwrites it); a single app that does not decode is skipped
// with a warning and the rest are loaded.
func loadApps(dir string, log interface{ Warn(string, ...any) }) ([]*marathon.App, error) {
	b, err := os.ReadFile(filepath.Join(dir, "apps.json"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	var f struct {
		Apps []json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("runtime: %s: %w", filepath.Join(dir, "apps.json"), err)
	}
	var out []*marathon.App
	for i, raw := range f.Apps {
		var a *marathon.App
		if err := json.Unmarshal(raw, &a); err != nil || a == nil || a.ID == "" {
			log.Warn("skipping a stored app that does not decode", "file", filepath.Join(dir, "apps.json"), "index", i, "err", err)
			continue
		}
		if err := marathon.Validate(a); err != nil {
			log.Warn("skipping a stored app that is not valid", "file", filepath.Join(dir, "apps.json"), "app", a.ID, "err", err)
			continue
		}
		if a.VersionInfo == nil {
			a.VersionInfo = &marathon.VersionInfo{LastScalingAt: a.Version, LastConfigChangeAt: a.Version}
		}
		out = append(out, a)
	}
	return out, nil
}

// saveLocked persists every app definition.
func (r *Runtime) saveLocked() error {
	f := appsFile{Apps: []*marathon.App{}}
	for _, ar := range r.apps {
		f.Apps = append(f.Apps, ar.app)
	}
	sort.Slice(f.Apps, func(i, j int) bool { return f.Apps[i].ID < f.Apps[j].ID })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(r.cfg.StateDir, "apps.json"), b); err != nil {
		r.log.Error("persisting apps failed", "err", err)
		return err
	}
	return nil
}

type metrics struct {
	launched           prometheus.Counter
	terminal           *prometheus.CounterVec
	probes             *prometheus.CounterVec
	subscribersDropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, r *Runtime) *metrics {
	m := &metrics{
		launched: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sextant", Subsystem: "runtime",
			Name: "tasks_launched_total", Help: "Tasks launched."}),
		terminal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sextant", Subsystem: "runtime",
			Name: "tasks_terminal_total", Help: "Tasks that reached a terminal state, by state."}, []string{"state"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sextant", Subsystem: "runtime",
			Name: "health_probes_total", Help: "Health probes, by protocol and result."}, []string{"protocol", "result"}),
		subscribersDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sextant", Subsystem: "runtime",
			Name: "event_subscribers_dropped_total", Help: "Event stream subscribers dropped because they fell behind."}),
	}
	if reg != nil {
		reg.MustRegister(m.launched, m.terminal, m.probes, m.subscribersDropped,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "sextant", Subsystem: "runtime", Name: "apps",
				Help: "Apps defined."}, func() float64 { r.mu.Lock(); defer r.mu.Unlock(); return float64(len(r.apps)) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "sextant", Subsystem: "runtime", Name: "tasks",
				Help: "Live tasks."}, func() float64 { r.mu.Lock(); defer r.mu.Unlock(); return float64(r.liveTasks()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "sextant", Subsystem: "runtime", Name: "event_subscribers",
				Help: "Event stream subscribers."}, func() float64 { return float64(r.bus.Len()) }))
	}
	return m
}
