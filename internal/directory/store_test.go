package directory

import (
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

func leaderZone(t testing.TB, version uint64, ip string) *Zone {
	t.Helper()
	z, err := NewZone(ZoneDCOS, version, append(Apex(ZoneDCOS),
		Record{Name: "leader." + ZoneDCOS, Type: dns.TypeA, TTL: TTL, Addr: netip.MustParseAddr(ip)}))
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func leaderOf(s *Store) string {
	ans := s.Index().Lookup("leader.dcos.thisdcos.directory", dns.TypeA).Answer
	if len(ans) != 1 {
		return ""
	}
	return ans[0].(*dns.A).A.String()
}

func TestStoreVersions(t *testing.T) {
	s := NewStore(Options{})
	if got := s.Install(leaderZone(t, 5, "10.0.0.1")); !slices.Equal(got, []string{ZoneDCOS}) {
		t.Fatalf("installed = %v", got)
	}
	if got := s.Install(leaderZone(t, 4, "10.0.0.9")); len(got) != 0 || leaderOf(s) != "10.0.0.1" {
		t.Errorf("older version installed: %v, leader %s", got, leaderOf(s))
	}
	if got := s.Install(leaderZone(t, 5, "10.0.0.9")); len(got) != 0 {
		t.Errorf("same version reinstalled: %v", got)
	}
	s.Install(leaderZone(t, 6, "10.0.0.2"))
	if leaderOf(s) != "10.0.0.2" {
		t.Errorf("leader = %s", leaderOf(s))
	}
	if v, ok := s.Version(ZoneDCOS); !ok || v != 6 {
		t.Errorf("version = %d %v", v, ok)
	}
	s.Replace(leaderZone(t, 1, "10.0.0.3"))
	if leaderOf(s) != "10.0.0.3" {
		t.Errorf("Replace did not install: %s", leaderOf(s))
	}
}

// Readers see either the old or the new zone, never a mix, while writers
// install concurrently (run with -race).
func TestStoreConcurrent(t *testing.T) {
	s := NewStore(Options{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for v := range uint64(200) {
				s.Install(leaderZone(t, v*2+uint64(w), "10.0.0.1"))
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 500 {
				if l := leaderOf(s); l != "" && l != "10.0.0.1" {
					t.Errorf("leader = %s", l)
					return
				}
			}
		})
	}
	wg.Wait()
	if v, _ := s.Version(ZoneDCOS); v != 399 {
		t.Errorf("final version = %d, want 399", v)
	}
}
