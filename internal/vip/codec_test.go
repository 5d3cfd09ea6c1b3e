package vip

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

func TestTableCodec(t *testing.T) {
	tab, _ := BuildTable(loadSnapshot(t, "testdata/worked_example.json"), Config{IPv4: Range{DefaultMinIPv4, DCOSMaxIPv4}})
	b, err := tab.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Table
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, _ := got.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Errorf("round trip differs:\n%s\n%s", b, b2)
	}
	if len(got.Names) != 1 || got.Names[0] != tab.Names[0] || got.Version != tab.Version {
		t.Errorf("names = %+v, version %d", got.Names, got.Version)
	}
}

func TestTableCodecBad(t *testing.T) {
	const good = `{"format":1,"version":1,"vips":[{"protocol":"tcp","name":"a.marathon","port":80,"addrs":["11.0.0.1"],"labels":["a:80"],"backends":[{"agent_ip":"10.0.0.7","ip":"9.0.1.2","port":80,"weight":1,"task_id":"t"}]}]}`
	var ok Table
	if err := ok.UnmarshalBinary([]byte(good)); err != nil {
		t.Fatalf("good document: %v", err)
	}
	tests := []struct{ name, doc, want string }{
		{"not json", `{`, "vip table"},
		{"format", strings.Replace(good, `"format":1`, `"format":2`, 1), "format"},
		{"unknown field", strings.Replace(good, `"version":1`, `"version":1,"x":2`, 1), "unknown field"},
		{"protocol", strings.Replace(good, `"tcp"`, `"sctp"`, 1), "vips[0].protocol"},
		{"port", strings.Replace(good, `"port":80,"addrs"`, `"port":0,"addrs"`, 1), "vips[0].port"},
		{"name", strings.Replace(good, `"a.marathon"`, `"/A.marathon"`, 1), "vips[0].name"},
		{"no name", strings.Replace(good, `"name":"a.marathon",`, ``, 1), "neither"},
		{"addr", strings.Replace(good, `"11.0.0.1"`, `"11.0.0"`, 1), "vips[0].addrs[0]"},
		{"two v4", strings.Replace(good, `["11.0.0.1"]`, `["11.0.0.1","11.0.0.2"]`, 1), "one family"},
		{"backend ip", strings.Replace(good, `"9.0.1.2"`, `"x"`, 1), "vips[0].backends[0].ip"},
		{"weight", strings.Replace(good, `"weight":1`, `"weight":7`, 1), "weight"},
		{"local", strings.Replace(good, `"task_id":"t"`, `"task_id":"t","local":"nope"`, 1), "local"},
		{"trailing", good + `{}`, "trailing"},
		{"balance unsorted", strings.Replace(good, `"labels":["a:80"]`, `"labels":["a:80"],"balance":["maglev",""]`, 1), "vips[0].balance"},
		{"balance twice", strings.Replace(good, `"labels":["a:80"]`, `"labels":["a:80"],"balance":["maglev","maglev"]`, 1), "vips[0].balance"},
		{"duplicate vip", strings.Replace(good, `]}]}`, `]},{"protocol":"tcp","name":"a.marathon","port":80,"addrs":[],"labels":[],"backends":[]}]}`, 1), "out of order"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keep := ok
			err := keep.UnmarshalBinary([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
			if len(keep.VIPs) != 1 {
				t.Error("a failed decode changed the table")
			}
		})
	}
}

func FuzzTableCodec(f *testing.F) {
	tab, _ := BuildTable(loadSnapshot(f, "testdata/worked_example.json"), Config{})
	b, _ := tab.MarshalBinary()
	f.Add(b)
	f.Add([]byte(`{"format":1,"version":0,"vips":[]}`))
	f.Add([]byte(`{"format":1,"version":1,"vips":[{"protocol":"udp","ip":"fd01::1","port":53,"addrs":["fd01::1"],"labels":[],"backends":[{"agent_ip":"10.0.0.7","ip":"fd01:b::1","port":53,"weight":0,"task_id":"x","local":"[fd01:b::2]:5353"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var tab Table
		if err := tab.UnmarshalBinary(b); err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same encoding.
		out, err := tab.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var again Table
		if err := again.UnmarshalBinary(out); err != nil {
			t.Fatalf("re-encoded table does not decode: %v\n%s", err, out)
		}
		if out2, _ := again.MarshalBinary(); !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
		tab.API()
		tab.Reachable(func(a netip.Addr) bool { return a.Is4() })
	})
}
