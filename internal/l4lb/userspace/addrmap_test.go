package userspace

import (
	"net/netip"
	"testing"
)

func TestAddrMap(t *testing.T) {
	m := append(LoopbackMap(),
		PrefixMap{VIP: netip.MustParsePrefix("fd01:c::10/128"), Local: netip.MustParsePrefix("::1/128")},
	)
	small := AddrMap{{VIP: netip.MustParsePrefix("1.2.3.0/28"), Local: netip.MustParsePrefix("127.9.9.16/28")}}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := small.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := append(m, small...).Validate(); err == nil {
		t.Error("overlapping loopback prefixes accepted")
	}
	for vip, local := range map[string]string{
		"11.215.13.222": "127.215.13.222", "11.0.0.1": "127.0.0.1", "fd01:c::10": "::1", "1.2.3.5": "127.9.9.21",
	} {
		m := m
		if vip == "1.2.3.5" {
			m = small
		}
		got, ok := m.Local(netip.MustParseAddr(vip))
		if !ok || got != netip.MustParseAddr(local) {
			t.Errorf("Local(%s) = %s %v, want %s", vip, got, ok, local)
		}
		back, ok := m.VIP(got)
		if !ok || back != netip.MustParseAddr(vip) {
			t.Errorf("VIP(%s) = %s %v, want %s", got, back, ok, vip)
		}
	}
	for _, vip := range []string{"12.0.0.1", "fd01:c::11", "1.2.3.16"} {
		if got, ok := append(small, m...).Local(netip.MustParseAddr(vip)); ok {
			t.Errorf("Local(%s) = %s, want unmapped", vip, got)
		}
	}
	if got, ok := AddrMap(nil).Local(netip.MustParseAddr("11.1.2.3")); !ok || got != netip.MustParseAddr("11.1.2.3") {
		t.Errorf("nil map: %s %v", got, ok)
	}
}

func TestAddrMapValidate(t *testing.T) {
	bad := []PrefixMap{
		{VIP: netip.MustParsePrefix("11.0.0.0/8"), Local: netip.MustParsePrefix("127.0.0.0/16")},
		{VIP: netip.MustParsePrefix("11.0.0.0/8"), Local: netip.MustParsePrefix("10.0.0.0/8")},
		{VIP: netip.MustParsePrefix("fd01:c::/64"), Local: netip.MustParsePrefix("127.0.0.0/8")},
		{VIP: netip.MustParsePrefix("fd01:c::/120"), Local: netip.MustParsePrefix("::1/120")},
		{},
	}
	for _, e := range bad {
		if err := (AddrMap{e}).Validate(); err == nil {
			t.Errorf("%+v accepted", e)
		}
	}
}
