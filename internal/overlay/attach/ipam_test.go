package attach

import (
	"net/netip"
	"testing"
)

func TestIPAM(t *testing.T) {
	dir := t.TempDir()
	m := &IPAM{Range: netip.MustParsePrefix("9.0.1.0/29"), Dir: dir}
	want := []string{"9.0.1.2/29", "9.0.1.3/29", "9.0.1.4/29", "9.0.1.5/29", "9.0.1.6/29"}
	for i, w := range want {
		p, err := m.Allocate(string(rune('a' + i)))
		if err != nil || p.String() != w {
			t.Fatalf("%d: %v %v, want %s", i, p, err, w)
		}
	}
	if _, err := m.Allocate("z"); err == nil {
		t.Fatal("allocated past the broadcast address")
	}
	if p, _ := m.Allocate("b"); p.String() != "9.0.1.3/29" {
		t.Errorf("same id, new address %v", p)
	}
	m.Release("b")
	// Another instance on the same directory sees the others' addresses.
	m2 := &IPAM{Range: netip.MustParsePrefix("9.0.1.0/29"), Dir: dir}
	if p, err := m2.Allocate("y"); err != nil || p.String() != "9.0.1.3/29" {
		t.Errorf("after release: %v %v", p, err)
	}
	if p, _ := m2.Allocate("a"); p.String() != "9.0.1.2/29" {
		t.Errorf("restart lost a's address: %v", p)
	}
}
