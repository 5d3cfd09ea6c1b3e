package mesos

import (
	"slices"
	"strings"
	"testing"

	tu "github.com/sextantdc/sextant/internal/testutil"
)

func (h *harness) skippedCount(t *testing.T, kind string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sextant_mesos_state_items_skipped_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no skipped counter for kind %s", kind)
	return 0
}

// TestWrongTypesSkipItems: a value of the wrong type costs its item, not
// the refresh; each loss is counted on every fetch and logged once.
func TestWrongTypesSkipItems(t *testing.T) {
	m := newMaster(t)
	doc := `{"leader":"master@` + m.addr() + `",
	 "slaves":[{"id":"S1","pid":"slave(1)@10.0.0.1:5051"},{"id":2}],
	 "frameworks":[{"id":"F1","name":"marathon","pid":"scheduler-1@10.0.0.9:1234","tasks":[
	   {"id":"a.1","name":"a","slave_id":"S1","state":"TASK_RUNNING","labels":{"k":"v"},
	    "statuses":[{"state":"TASK_RUNNING","timestamp":"1"}]},
	   {"id":"b.1","name":"b","slave_id":["S1"],"state":"TASK_RUNNING"}]}]}`
	m.set([]byte(doc), 0)
	h := run(t, Options{Masters: []string{m.addr()}})
	tu.Eventually(t, wait, "snapshot", func() bool { return h.rec.n() == 1 })
	s := h.rec.lastSnap()
	if len(s.Agents) != 1 || len(s.Tasks) != 1 || s.Tasks[0].Name != "a" || len(s.Tasks[0].IPs) != 0 {
		t.Fatalf("agents %+v tasks %+v, want agent S1 and task a without statuses", s.Agents, s.Tasks)
	}
	var inSnap []string
	for _, p := range s.Problems {
		inSnap = append(inSnap, p.String())
	}
	if !slices.ContainsFunc(inSnap, func(p string) bool { return strings.HasPrefix(p, `task "b.1" of framework "marathon": slave_id`) }) {
		t.Errorf("snapshot problems lack the skipped task: %q", inSnap)
	}
	want := map[string]float64{"agent": 1, "framework": 0, "task": 1, "status": 1, "field": 1}
	for kind, n := range want {
		if got := h.skippedCount(t, kind); got != n {
			t.Errorf("skipped{kind=%s} = %v, want %v", kind, got, n)
		}
	}
	const line = "mesos state item skipped"
	if n := strings.Count(h.logs.String(), line); n != 4 {
		t.Fatalf("%d %q lines, want 4:\n%s", n, line, h.logs.String())
	}
	if !strings.Contains(h.logs.String(), `item="task \"b.1\" of framework \"marathon\"" field=slave_id`) {
		t.Errorf("log does not name the skipped task and field:\n%s", h.logs.String())
	}

	h.src.Trigger()
	tu.Eventually(t, wait, "second snapshot", func() bool { return h.rec.n() == 2 })
	for kind, n := range want {
		if got := h.skippedCount(t, kind); got != 2*n {
			t.Errorf("after a second fetch skipped{kind=%s} = %v, want %v", kind, got, 2*n)
		}
	}
	if n := strings.Count(h.logs.String(), line); n != 4 {
		t.Fatalf("%d %q lines after an unchanged refresh, want still 4", n, line)
	}
}
