package link

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
)

func TestFakeFailAndCalls(t *testing.T) {
	boom := errors.New("boom")
	p := netip.MustParsePrefix("198.51.100.2/32")
	f := NewFake()
	f.Fail = func(c Call) error {
		if c.Op == "AddAddr" && c.Prefix == p {
			return boom
		}
		return nil
	}
	if err := f.AddAddr("lo", netip.MustParsePrefix("198.51.100.1/32")); err != nil {
		t.Fatal(err)
	}
	if err := f.AddAddr("lo", p); !errors.Is(err, boom) {
		t.Fatalf("injected failure: got %v", err)
	}
	lo, _ := f.Link("lo")
	if slices.Contains(lo.Addrs, p) {
		t.Errorf("a failed call changed state: %v", lo.Addrs)
	}
	_ = f.Close()
	var got []string
	for _, c := range f.Calls() {
		got = append(got, c.String())
	}
	want := []string{"AddAddr lo 198.51.100.1/32", "AddAddr lo 198.51.100.2/32", "Close"}
	if !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if !f.Closed() {
		t.Error("not closed")
	}
}

// TestFakeConcurrent is for the race detector: Fake claims to be safe for
// concurrent use.
func TestFakeConcurrent(t *testing.T) {
	f := NewFake()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 32)
			for range 50 {
				_ = f.AddAddr("lo", p)
				_ = f.Links()
				_ = f.DelAddr("lo", p)
			}
		})
	}
	wg.Wait()
	lo, _ := f.Link("lo")
	if len(lo.Addrs) != 2 {
		t.Errorf("lo has %v, want its two own addresses", lo.Addrs)
	}
}
