package vip

import (
	"net/netip"
	"testing"
)

// The vectors of the dcos-net spec §B.3 and the upstream test expectations.
func TestIdealVectors(t *testing.T) {
	compiled := Range{DefaultMinIPv4, DefaultMaxIPv4}
	dcos := Range{DefaultMinIPv4, DCOSMaxIPv4}
	v6 := Range{DefaultMinIPv6, DefaultMaxIPv6}
	tests := []struct{ key, v4, v4dcos, v6 string }{
		{"foo.bar", "11.138.58.225", "11.138.58.156", "fd01:c::6d7:a93:e041:647f"},
		{"myapp.marathon", "11.215.14.108", "11.215.13.222", "fd01:c::621e:db48:bbc5:ef03"},
		{"mygroupmyapp.marathon", "11.198.144.249", "11.198.144.68", "fd01:c::5e7a:7cf2:9bb5:1952"},
		{"broker.kafka", "11.175.100.165", "11.175.100.139", "fd01:c::fa66:4b5:5ebe:1e9d"},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			for _, c := range []struct {
				r    Range
				want string
			}{{compiled, tc.v4}, {dcos, tc.v4dcos}, {v6, tc.v6}} {
				got, err := c.r.Ideal(tc.key)
				if err != nil {
					t.Fatal(err)
				}
				if got != netip.MustParseAddr(c.want) {
					t.Errorf("%s in %s-%s = %s, want %s", tc.key, c.r.Min, c.r.Max, got, c.want)
				}
			}
		})
	}
}

func TestIdealUpstreamExpectations(t *testing.T) {
	small := Range{DefaultMinIPv4, netip.MustParseAddr("11.0.0.254")}
	for key, want := range map[string]string{"foo.bar": "11.0.0.37", "baz.qux": "11.0.0.39"} {
		got, err := small.Ideal(key)
		if err != nil || got != netip.MustParseAddr(want) {
			t.Errorf("%s = %s (%v), want %s", key, got, err, want)
		}
	}
	v6 := Range{DefaultMinIPv6, DefaultMaxIPv6}
	if got, _ := v6.Ideal("qux.ipv6"); got != netip.MustParseAddr("fd01:c::6d6d:9c64:fd19:f251") {
		t.Errorf("qux.ipv6 = %s", got)
	}
}
