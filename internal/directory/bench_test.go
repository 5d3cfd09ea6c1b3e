package directory

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
	"github.com/sextantdc/sextant/internal/vip"
)

// bigSnapshot is a cluster of 100 agents running 1,000 Marathon apps of
// 10 instances each (10,000 tasks), every app with a named VIP on the
// overlay.
func bigSnapshot(tb testing.TB) *model.Snapshot {
	tb.Helper()
	st := &state.State{Leader: "master@10.0.0.1:5050"}
	for a := range 100 {
		st.Slaves = append(st.Slaves, state.Slave{ID: fmt.Sprintf("agent-%d", a), PID: fmt.Sprintf("slave(1)@10.1.%d.%d:5051", a/250, a%250+1)})
	}
	fw := state.Framework{ID: "marathon", Name: "marathon"}
	for i := range 10000 {
		app := i / 10
		fw.Tasks = append(fw.Tasks, state.Task{
			ID: fmt.Sprintf("app%d.task%d", app, i), Name: fmt.Sprintf("app%d.group%d", app, app%17),
			SlaveID: fmt.Sprintf("agent-%d", i%100), State: "TASK_RUNNING",
			Discovery: &state.Discovery{Ports: &state.Ports{Ports: []state.DiscoveryPort{{Number: 8080, Protocol: "tcp",
				Labels: &state.Labels{Labels: []state.Label{{Key: "VIP_0", Value: fmt.Sprintf("/group%d/app%d:80", app%17, app)}}}}}}},
			Statuses: []state.Status{{State: "TASK_RUNNING", Timestamp: 1, ContainerStatus: &state.ContainerStatus{NetworkInfos: []state.NetworkInfo{{
				IPAddresses: []state.IPAddress{{IPAddress: netip.AddrFrom4([4]byte{9, byte(i >> 16), byte(i >> 8), byte(i)}).String()}}}}}}},
		})
	}
	st.Frameworks = []state.Framework{fw}
	return modeltest.FromState(st, modeltest.Options{Version: 1})
}

func BenchmarkBuild10k(b *testing.B) {
	snap := bigSnapshot(b)
	cfg := Config{Masters: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}
	b.ReportAllocs()
	for b.Loop() {
		tab, _ := vip.BuildTable(snap, vip.Config{})
		Build(snap, tab, cfg)
	}
}

func BenchmarkBuildDCOS10k(b *testing.B) {
	snap := bigSnapshot(b)
	b.ReportAllocs()
	for b.Loop() {
		BuildDCOS(snap, Config{})
	}
}

func BenchmarkVIPTable10k(b *testing.B) {
	snap := bigSnapshot(b)
	b.ReportAllocs()
	for b.Loop() {
		vip.BuildTable(snap, vip.Config{})
	}
}

func BenchmarkMarshal10k(b *testing.B) {
	z, _ := BuildDCOS(bigSnapshot(b), Config{})
	enc, _ := z.MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := z.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(enc)), "bytes/zone")
	b.ReportMetric(float64(len(z.Records)), "records")
}

func BenchmarkUnmarshal10k(b *testing.B) {
	z, _ := BuildDCOS(bigSnapshot(b), Config{})
	enc, _ := z.MarshalBinary()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		var got Zone
		if err := got.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIndex10k(b *testing.B) {
	z, _ := BuildDCOS(bigSnapshot(b), Config{})
	b.ReportAllocs()
	for b.Loop() {
		NewIndex(Options{}, z)
	}
}

func BenchmarkReply(b *testing.B) {
	z, _ := BuildDCOS(bigSnapshot(b), Config{})
	ix := NewIndex(Options{}, z)
	req := new(dns.Msg)
	req.SetQuestion("app500-group7.marathon.containerip.dcos.thisdcos.directory.", dns.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		req.Id++
		if m := ix.Reply(req); len(m.Answer) != 10 {
			b.Fatalf("answers = %d", len(m.Answer))
		}
	}
}
