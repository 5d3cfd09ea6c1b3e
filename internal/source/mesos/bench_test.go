package mesos

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/mesos/state/statesynth"
	"github.com/sextantdc/sextant/internal/model"
)

// bigState renders a state with n running tasks over 100 agents.
func bigState(b testing.TB, leader string, n int) []byte {
	b.Helper()
	st := state.State{Leader: "master@" + leader}
	for i := 0; i < 100; i++ {
		st.Slaves = append(st.Slaves, state.Slave{ID: fmt.Sprintf("S%d", i), PID: fmt.Sprintf("slave(1)@10.0.%d.%d:5051", i/250, i%250+1)})
	}
	fw := state.Framework{ID: "F1", Name: "marathon", PID: "scheduler-1@10.0.9.9:1234"}
	for i := 0; i < n; i++ {
		fw.Tasks = append(fw.Tasks, state.Task{ID: fmt.Sprintf("app%d.%d", i%1000, i), Name: fmt.Sprintf("app%d", i%1000),
			SlaveID: fmt.Sprintf("S%d", i%100), State: "TASK_RUNNING",
			Resources: state.Resources{Ports: fmt.Sprintf("[%d-%d]", 31000+i%1000, 31000+i%1000)},
			Statuses: []state.Status{{State: "TASK_RUNNING", Timestamp: float64(i), ContainerStatus: &state.ContainerStatus{
				NetworkInfos: []state.NetworkInfo{{IPAddresses: []state.IPAddress{{IPAddress: fmt.Sprintf("9.%d.%d.%d", i>>16&255, i>>8&255, i&255)}}}}}}}})
	}
	st.Frameworks = []state.Framework{fw}
	out, err := json.Marshal(st)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkRefresh10k measures one poll end to end on loopback: GET
// /master/state (10,000 tasks), decode, model.Build.
func BenchmarkRefresh10k(b *testing.B) {
	m := &fakeMaster{}
	m.srv = newBenchServer(b, m)
	m.set(bigState(b, m.addr(), 10000), 0)
	b.SetBytes(int64(len(m.body)))
	got := make(chan *model.MesosObservation, 1)
	src, err := New(Options{Masters: []string{m.addr()}, NoStream: true, RefreshInterval: time.Hour, StateTimeout: time.Minute},
		SinkFunc(func(s *model.MesosObservation) { got <- s }))
	if err != nil {
		b.Fatal(err)
	}
	st := newStreamer(src, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src.refresh(b.Context(), []string{m.addr()}, st)
		if s := <-got; len(s.Tasks) != 10000 {
			b.Fatalf("%d tasks", len(s.Tasks))
		}
	}
}

func newBenchServer(b *testing.B, m *fakeMaster) *httptest.Server {
	b.Helper()
	s := httptest.NewServer(m)
	b.Cleanup(s.Close)
	return s
}

// BenchmarkObserve is the translation alone of a generated state of a
// large cluster (statesynth: 25 tasks per agent, 8 frameworks, 1–3 named
// ports, a fifth with container IPs), decoded once beforehand.
//
//	go test -run '^$' -bench Observe -benchtime 5x -benchmem ./internal/source/mesos/
func BenchmarkObserve(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(strconv.Itoa(n/1000)+"k", func(b *testing.B) {
			doc, err := json.Marshal(statesynth.Generate(statesynth.DefaultShape(n, 1)))
			if err != nil {
				b.Fatal(err)
			}
			st, _, err := state.Parse(doc)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if o := Observe(st, nil); len(o.Tasks) != n {
					b.Fatalf("%d tasks", len(o.Tasks))
				}
			}
		})
	}
}
