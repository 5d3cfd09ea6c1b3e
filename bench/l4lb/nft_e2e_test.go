package l4lb

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/l4lb"
	"github.com/sextantdc/sextant/internal/l4lb/balance"
	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

// timedPlane reports when a Sync that gives backend want the weight w
// returns.
type timedPlane struct {
	l4lb.Dataplane
	want  balance.Backend
	found chan time.Time
}

func (p *timedPlane) Sync(ctx context.Context, s []balance.Service) error {
	err := p.Dataplane.Sync(ctx, s)
	for _, sv := range s {
		if slices.Contains(sv.Backends, p.want) {
			select {
			case p.found <- time.Now():
			default:
			}
		}
	}
	return err
}

// e2eSnapshot: two running tasks behind the IP VIP 11.78.0.2:25301 (their
// container addresses are the two backends); the first one's health
// check fails when sick.
func e2eSnapshot(version uint64, sick bool) *model.Snapshot {
	task := func(id, ip string, healthy bool) state.Task {
		st := testutil.RunningStatuses(ip)
		st[0].Healthy = &healthy
		return state.Task{ID: id, Name: id, SlaveID: "agent-a", State: "TASK_RUNNING",
			Discovery: &state.Discovery{Ports: &state.Ports{Ports: []state.DiscoveryPort{{Number: connPort, Protocol: "tcp",
				Labels: &state.Labels{Labels: []state.Label{{Key: "VIP_0", Value: "11.78.0.2:25301"}}}}}}},
			Statuses: st}
	}
	st := &state.State{
		Leader:     "master@10.78.9.1:5050",
		Slaves:     []state.Slave{{ID: "agent-a", PID: "slave(1)@10.78.9.2:5051", Hostname: "a.example"}},
		Frameworks: []state.Framework{{ID: "fw", Name: "marathon", Tasks: []state.Task{task("t1", backends[0].String(), !sick), task("t2", backends[1].String(), true)}}},
	}
	return modeltest.FromState(st, modeltest.Options{Version: version})
}

// convergenceE2E: from a snapshot in which a task's health check fails
// reaching the l4lb consumer to the nftables transaction that drains its
// backend having returned (Desired, the consumer's rate limit and the
// plane's sync), and back.
func (e *benchNet) convergenceE2E(b *testing.B) {
	tp := &timedPlane{Dataplane: e.plane, found: make(chan time.Time, 1)}
	lb, err := l4lb.New(tp, l4lb.Options{ResyncInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer lb.Close()
	ctx, cancel := context.WithCancel(context.Background())
	snaps := make(chan *model.Snapshot, 1)
	done := make(chan error, 1)
	go func() { done <- lb.Run(ctx, snaps) }()
	defer func() { cancel(); <-done; e.serve(b, 1, 1, 1, 1) }()
	var ds []float64
	for i := range 21 {
		sick := i%2 == 1
		w := uint8(1)
		if sick {
			w = 0
		}
		tp.want = balance.Backend{Addr: netipPort(backends[0], connPort), Weight: w}
		select {
		case <-tp.found: // drain a stale signal
		default:
		}
		t0 := time.Now()
		snaps <- e2eSnapshot(uint64(i+1), sick)
		select {
		case t1 := <-tp.found:
			if i > 0 { // the first is the VIP's creation
				ds = append(ds, float64(t1.Sub(t0).Microseconds())/1000)
			}
		case <-time.After(10 * time.Second):
			b.Fatalf("change %d: the plane never got weight %d", i, w)
		}
		time.Sleep(50 * time.Millisecond) // past the consumer's minimum sync interval
	}
	slices.Sort(ds)
	b.ReportMetric(ds[len(ds)/2], "median_ms")
	b.ReportMetric(ds[len(ds)-1], "max_ms")
	b.Logf("snapshot with a health change → nftables transaction done (ms): %v", ds)
}
