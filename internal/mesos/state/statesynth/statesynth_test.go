package statesynth

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

// counts is what the shape test checks of a generated state.
type counts struct {
	tasks, agents, frameworks, running int
	containerIP, vip, health, labelled int
	minPorts, maxPorts                 int
	badAgent, dupID                    int
}

func count(st *state.State) counts {
	c := counts{agents: len(st.Slaves), frameworks: len(st.Frameworks), minPorts: 99}
	agents := map[string]bool{}
	for _, a := range st.Slaves {
		agents[a.ID] = true
	}
	ids := map[string]bool{}
	for _, f := range st.Frameworks {
		for _, t := range f.Tasks {
			c.tasks++
			if t.State == "TASK_RUNNING" {
				c.running++
			}
			if !agents[t.SlaveID] {
				c.badAgent++
			}
			if ids[t.ID] {
				c.dupID++
			}
			ids[t.ID] = true
			if t.Container != nil && len(t.Container.NetworkInfos) > 0 {
				c.containerIP++
			}
			if t.HealthCheck != nil {
				c.health++
			}
			if len(t.Labels) > 0 {
				c.labelled++
			}
			named := 0
			if t.Discovery != nil && t.Discovery.Ports != nil {
				for _, p := range t.Discovery.Ports.Ports {
					if p.Name != "" {
						named++
					}
					if p.Labels != nil && len(p.Labels.Labels) > 0 && strings.HasPrefix(p.Labels.Labels[0].Key, "VIP_") {
						c.vip++
					}
				}
			}
			c.minPorts, c.maxPorts = min(c.minPorts, named), max(c.maxPorts, named)
		}
	}
	return c
}

func TestShape(t *testing.T) {
	tests := []struct {
		name  string
		shape Shape
		// container IPs, in percent of the tasks
		ipLo, ipHi int
	}{
		{"issue 14 at 10k", DefaultShape(10000, 1), 15, 25},
		{"issue 14 at 25k, other seed", DefaultShape(25000, 7), 15, 25},
		{"small", DefaultShape(60, 3), 0, 100},
		{"one task", DefaultShape(1, 3), 0, 100},
		{"no tasks", DefaultShape(0, 3), 0, 0},
		{"no container IPs, 3 frameworks", Shape{Tasks: 3000, Frameworks: 3, ContainerIPPercent: -1, Agents: 10}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := Generate(tc.shape)
			c := count(st)
			sh := tc.shape.filled()
			if c.tasks != sh.Tasks || c.agents != sh.Agents || c.frameworks != sh.Frameworks {
				t.Fatalf("tasks %d agents %d frameworks %d, want %d %d %d", c.tasks, c.agents, c.frameworks, sh.Tasks, sh.Agents, sh.Frameworks)
			}
			if c.badAgent != 0 || c.dupID != 0 {
				t.Errorf("%d tasks on unknown agents, %d duplicate task ids", c.badAgent, c.dupID)
			}
			if c.tasks == 0 {
				return
			}
			if c.minPorts < 1 || c.maxPorts > 3 {
				t.Errorf("named ports per task %d–%d, want 1–3", c.minPorts, c.maxPorts)
			}
			if pct := 100 * c.containerIP / c.tasks; pct < tc.ipLo || pct > tc.ipHi {
				t.Errorf("%d%% of the tasks have container IPs, want %d–%d%%", pct, tc.ipLo, tc.ipHi)
			}
			if c.tasks >= 1000 {
				if c.running*100 < c.tasks*95 {
					t.Errorf("%d of %d tasks running, want ≥ 95%%", c.running, c.tasks)
				}
				if c.vip == 0 || c.health == 0 || c.labelled == 0 {
					t.Errorf("VIP ports %d, health-checked %d, labelled %d: want some of each", c.vip, c.health, c.labelled)
				}
			}
			// The model takes it as it is: no item skipped or degraded.
			b, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			parsed, skipped, err := state.Parse(b)
			if err != nil || len(skipped) > 0 {
				t.Fatalf("parse: %v, skipped %v", err, skipped)
			}
			snap := modeltest.FromState(parsed, modeltest.Options{})
			if len(snap.Problems) > 0 {
				t.Fatalf("problems: %v", snap.Problems[:min(3, len(snap.Problems))])
			}
			if !snap.Leader.OK {
				t.Error("no leader")
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	enc := func(sh Shape) string {
		b, err := json.Marshal(Generate(sh))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	a, b, c := enc(DefaultShape(3000, 42)), enc(DefaultShape(3000, 42)), enc(DefaultShape(3000, 43))
	if a != b {
		t.Error("same shape, different states")
	}
	if a == c {
		t.Error("different seeds, same state")
	}
}

// TestSize keeps the document near the size of a real master's at the
// same task count (issue 14 measured 62 MB at 100,000 tasks).
func TestSize(t *testing.T) {
	b, err := json.Marshal(Generate(DefaultShape(10000, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if per := len(b) / 10000; per < 500 || per > 1100 {
		t.Errorf("%d bytes per task, want 500–1100", per)
	}
}

func TestWithProbe(t *testing.T) {
	st := Generate(DefaultShape(500, 1))
	before, _ := json.Marshal(st)
	st2, p := WithProbe(st, 3)
	after, _ := json.Marshal(st)
	if string(before) != string(after) {
		t.Fatal("WithProbe modified its input")
	}
	if got, want := count(st2).tasks, 501; got != want {
		t.Fatalf("%d tasks, want %d", got, want)
	}
	snap := modeltest.FromState(st2, modeltest.Options{})
	found := false
	for _, task := range snap.Tasks {
		if task.Name == p.Name {
			found = true
			if len(task.NetInfoIPs) != 1 || task.NetInfoIPs[0] != p.IP || !task.Running() || task.Agent < 0 {
				t.Errorf("probe task %+v, want running with netinfo IP %v", task, p.IP)
			}
		}
	}
	if !found {
		t.Fatalf("no task named %q", p.Name)
	}
	if _, p4 := WithProbe(st, 4); p4.IP == p.IP || p4.Name == p.Name {
		t.Error("probes 3 and 4 are the same")
	}
}
