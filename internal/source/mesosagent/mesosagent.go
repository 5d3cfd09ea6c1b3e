package mesosagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// DefaultInterval is how often the agent is polled: a few seconds, like
// dcos-l4lb's local agent poll.
const DefaultInterval = 2 * time.Second

// maxBody bounds the agent's document (one agent's tasks).
const maxBody = 64 << 20

// The agent's document, as far as this source reads it; each framework,
// executor and task is kept raw so that one bad entry is skipped alone.
type agentState struct {
	ID         string            `json:"id"`
	PID        string            `json:"pid"`
	Hostname   string            `json:"hostname"`
	Frameworks []json.RawMessage `json:"frameworks"`
}

type agentFramework struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Executors []json.RawMessage `json:"executors"`
}

type agentExecutor struct {
	Tasks       []json.RawMessage `json:"tasks"`
	QueuedTasks []json.RawMessage `json:"queued_tasks"`
}

// The master-shaped document handed to state.Parse.
type masterShape struct {
	Slaves     []masterSlave     `json:"slaves"`
	Frameworks []masterFramework `json:"frameworks"`
}

type masterSlave struct {
	ID       string `json:"id"`
	PID      string `json:"pid"`
	Hostname string `json:"hostname"`
}

type masterFramework struct {
	ID    string            `json:"id"`
	Name  string            `json:"name"`
	Tasks []json.RawMessage `json:"tasks"`
}

// Parse decodes an agent's /state document into the master's shape. Bad
// frameworks, executors and tasks are skipped and listed; an error means
// the document as a whole is unusable.
func Parse(b []byte) (*state.State, []state.Skipped, error) {
	var a agentState
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, nil, fmt.Errorf("mesos agent state: %w", err)
	}
	if !strings.HasPrefix(strings.TrimLeft(string(b), " \t\r\n"), "{") {
		return nil, nil, errors.New("mesos agent state: document is not an object")
	}
	if a.ID == "" {
		return nil, nil, errors.New("mesos agent state: id: missing (not an agent's /state)")
	}
	var skipped []state.Skipped
	m := masterShape{Slaves: []masterSlave{{ID: a.ID, PID: a.PID, Hostname: a.Hostname}}}
	for i, raw := range a.Frameworks {
		var f agentFramework
		if err := json.Unmarshal(raw, &f); err != nil {
			skipped = append(skipped, state.SkippedFor(state.KindFramework, fmt.Sprintf("frameworks[%d]", i), "frameworks", err, "its tasks"))
			continue
		}
		mf := masterFramework{ID: f.ID, Name: f.Name, Tasks: []json.RawMessage{}}
		for j, raw := range f.Executors {
			var e agentExecutor
			if err := json.Unmarshal(raw, &e); err != nil {
				skipped = append(skipped, state.SkippedFor(state.KindFramework, fmt.Sprintf("framework %s executors[%d]", f.ID, j), "executors", err, "its tasks"))
				continue
			}
			mf.Tasks = append(mf.Tasks, e.Tasks...)
			mf.Tasks = append(mf.Tasks, e.QueuedTasks...)
		}
		m.Frameworks = append(m.Frameworks, mf)
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, nil, fmt.Errorf("mesos agent state: %w", err)
	}
	st, more, err := state.Parse(mb)
	if err != nil {
		return nil, nil, fmt.Errorf("mesos agent state: %w", err)
	}
	return st, append(skipped, more...), nil
}

// Options configure a Source.
type Options struct {
	// URL is the agent's base URL ("http://10.0.0.7:5051").
	URL string
	// Interval between polls; DefaultInterval when zero.
	Interval time.Duration
	// Client is the HTTP client; one with a 10 s timeout when nil.
	Client *http.Client
	Logger *slog.Logger
	// OnState receives every good state, with what was skipped in it; it
	// is called on the source's goroutine.
	OnState func(*state.State, []state.Skipped)
}

// Source polls one agent.
type Source struct{ o Options }

// New checks the options.
func New(o Options) (*Source, error) {
	if !strings.HasPrefix(o.URL, "http://") && !strings.HasPrefix(o.URL, "https://") {
		return nil, fmt.Errorf("--mesos-agent: %q is not an http(s) URL", o.URL)
	}
	if o.OnState == nil {
		return nil, errors.New("mesos agent source: OnState is nil")
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.URL = strings.TrimRight(o.URL, "/") + "/state"
	return &Source{o: o}, nil
}

// Run polls until ctx ends; a failed poll is logged and leaves the last
// good state in place (OnState is not called).
func (s *Source) Run(ctx context.Context) error {
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	failing := false
	for {
		st, skipped, err := s.poll(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				s.o.Logger.Warn("mesos agent state unavailable; keeping the last good one", "url", s.o.URL, "err", err)
			}
			failing = true
		case err == nil:
			if failing {
				s.o.Logger.Info("mesos agent state available again", "url", s.o.URL)
			}
			failing = false
			for _, sk := range skipped {
				s.o.Logger.Debug("mesos agent state: item skipped", "item", sk.Item, "field", sk.Field, "reason", sk.Reason)
			}
			s.o.OnState(st, skipped)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Source) poll(ctx context.Context) (*state.State, []state.Skipped, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.o.URL, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: status %s", s.o.URL, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", s.o.URL, err)
	}
	if len(b) > maxBody {
		return nil, nil, fmt.Errorf("GET %s: body exceeds %d bytes", s.o.URL, maxBody)
	}
	return Parse(b)
}
