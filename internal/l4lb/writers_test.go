package l4lb

import (
	"log/slog"
	"net/netip"
	"testing"

	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/vip"
)

func writerPayload(t *testing.T, agent netip.Addr, port uint16) []byte {
	t.Helper()
	tab := &vip.Table{VIPs: []vip.VIP{{Key: vip.Key{Protocol: vip.TCP, IP: netip.MustParseAddr("11.0.0.9"), Port: 80},
		Addrs:    []netip.Addr{netip.MustParseAddr("11.0.0.9")},
		Backends: []vip.Backend{{AgentIP: agent, IP: agent, Port: port, Weight: 1, TaskID: "t"}}}}}
	b, err := tab.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The per-writer items of the snapshots: a new version is a change, a bad
// version keeps the writer's last good set, a writer reported down is left
// out, and a writer whose item is gone is forgotten.
func TestLiveWriters(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	snap := func(items ...model.Item) *model.Snapshot { return &model.Snapshot{Items: items} }
	var ti tableItems
	s1 := snap(model.Item{Name: vip.WriterItem(a), Version: 1, Payload: writerPayload(t, a, 1)},
		model.Item{Name: vip.WriterItem(b), Version: 1, Payload: writerPayload(t, b, 2)})
	if !ti.changed(s1) {
		t.Fatal("first snapshot: no change")
	}
	ti.table(s1, log)
	if got := ti.liveWriters(s1, nil, nil, log); len(got) != 2 || got[a] == nil || got[b] == nil {
		t.Fatalf("writers %v", got)
	}
	if ti.changed(s1) {
		t.Error("same versions reported as a change")
	}
	s2 := snap(model.Item{Name: vip.WriterItem(a), Version: 2, Payload: []byte(`{"format":1,"vips":[{"protocol":"sctp"}]}`)},
		model.Item{Name: vip.WriterItem(b), Version: 1, Payload: writerPayload(t, b, 2)})
	if !ti.changed(s2) {
		t.Error("a new version is a change")
	}
	got := ti.liveWriters(s2, map[netip.Addr]bool{b: true}, nil, log)
	if len(got) != 1 || got[a] == nil || got[a].VIPs[0].Backends[0].Port != 1 {
		t.Fatalf("bad version of a must keep a's last good set, b (down) left out: %v", got)
	}
	s3 := snap(model.Item{Name: vip.WriterItem(a), Version: 2, Payload: []byte(`bad`)})
	if !ti.changed(s3) {
		t.Error("a writer's item gone is a change")
	}
	if got := ti.liveWriters(s3, nil, nil, log); len(got) != 1 || got[a] == nil {
		t.Fatalf("b's item gone: %v", got)
	}
	if got := ti.liveWriters(s3, nil, func(netip.Addr) bool { return false }, log); len(got) != 0 {
		t.Fatalf("a writer that is no live member: %v", got)
	}
	svcs, _, _ := desiredFrom(vip.MergeWriters(&vip.Table{}, ti.liveWriters(s3, nil, nil, log)), nil, s3, Config{})
	if len(svcs) != 1 || len(svcs[0].Backends) != 1 || svcs[0].Backends[0].Addr != netip.AddrPortFrom(a, 1) {
		t.Errorf("services %+v", svcs)
	}
}
