package dcosdns

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseConfigDCOS(t *testing.T) {
	// The DC/OS template of spec §A.1.
	b := []byte(`{ "upstream_resolvers": ["10.0.0.2", "10.0.0.3:5353"],
  "bind_interface": "spartan",
  "udp_port": 53, "tcp_port": 53,
  "bind_ip_blacklist": ["198.51.100.4"],
  "forward_zones": { "Corp.Example": ["10.1.1.1", "10.1.1.2:53"] } }`)
	c, warn, err := ParseConfig(b)
	if err != nil || len(warn) != 0 {
		t.Fatalf("err %v warnings %v", err, warn)
	}
	want := &Config{
		UpstreamResolvers: []string{"10.0.0.2:53", "10.0.0.3:5353"},
		ForwardZones:      map[string][]string{"corp.example.": {"10.1.1.1:53", "10.1.1.2:53"}},
		BindInterface:     "spartan",
		BindIPBlacklist:   []netip.Addr{netip.MustParseAddr("198.51.100.4")},
		UDPPort:           53, TCPPort: 53, HandlerLimit: DefaultHandlerLimit,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, warn, err := ParseConfig([]byte(`{}`))
	if err != nil || len(warn) != 0 {
		t.Fatal(err, warn)
	}
	if !reflect.DeepEqual(c, DefaultConfig()) || c.UDPPort != 8053 || len(c.UpstreamResolvers) != 0 {
		t.Fatalf("defaults %+v", c)
	}
}

func TestParseConfigBad(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		errKey  string // error must name this key ("" = no error)
		warnHas string // some warning must contain this
	}{
		{name: "not json", in: `{`, errKey: "not a JSON object"},
		{name: "array", in: `[]`, errKey: "not a JSON object"},
		{name: "null", in: `null`, errKey: "not a JSON object"},
		{name: "trailing", in: `{} {}`, errKey: "trailing data"},
		{name: "upstreams not list", in: `{"upstream_resolvers": "10.0.0.2"}`, errKey: `"upstream_resolvers"`},
		{name: "port string", in: `{"udp_port": "53"}`, errKey: `"udp_port"`},
		{name: "port range", in: `{"tcp_port": 70000}`, errKey: `"tcp_port"`},
		{name: "bind_ips not list", in: `{"bind_ips": {}}`, errKey: `"bind_ips"`},
		{name: "forward_zones list", in: `{"forward_zones": ["a"]}`, errKey: `"forward_zones"`},
		{name: "handler_limit zero", in: `{"handler_limit": 0}`, errKey: `"handler_limit"`},
		{name: "bind_interface number", in: `{"bind_interface": 1}`, errKey: `"bind_interface"`},
		{name: "one bad upstream skipped", in: `{"upstream_resolvers": ["10.0.0.2", "nope", "::1", "10.0.0.3:0"]}`, warnHas: `"nope"`},
		{name: "bad blacklist item", in: `{"bind_ip_blacklist": ["x", "10.0.0.1"]}`, warnHas: `"x" is not an IP`},
		{name: "zone without upstreams", in: `{"forward_zones": {"a.example": ["bad"]}}`, warnHas: "no usable upstream"},
		{name: "unknown key", in: `{"mystery": 1}`, warnHas: `unknown key "mystery"`},
		{name: "custom zone reserved", in: `{"zones": {"l4lb.thisdcos.directory": [{"type":"cname","name":"a","value":"b.c"}]}}`, warnHas: "reserved"},
		{name: "custom zone non-cname", in: `{"zones": {"x.thisdcos.directory": [{"type":"a","name":"a","value":"1.2.3.4"}]}}`, warnHas: "only cname"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, warn, err := ParseConfig([]byte(tt.in))
			if tt.errKey != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errKey) {
					t.Fatalf("err %v, want one naming %s", err, tt.errKey)
				}
				if c != nil {
					t.Fatal("config returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, w := range warn {
				if strings.Contains(w, tt.warnHas) {
					found = true
				}
			}
			if !found {
				t.Fatalf("warnings %v lack %q", warn, tt.warnHas)
			}
		})
	}
	// One bad upstream is skipped, the rest kept.
	c, _, _ := ParseConfig([]byte(`{"upstream_resolvers": ["10.0.0.2", "nope", "10.0.0.3:5353"]}`))
	if !reflect.DeepEqual(c.UpstreamResolvers, []string{"10.0.0.2:53", "10.0.0.3:5353"}) {
		t.Fatalf("upstreams %v", c.UpstreamResolvers)
	}
}

func TestLoadConfigNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dcos-dns.json")
	if err := os.WriteFile(p, []byte(`{"udp_port": -1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadConfig(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "udp_port") {
		t.Fatalf("err %v", err)
	}
	if _, _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestBindIPs(t *testing.T) {
	ifaces := []Iface{
		{Name: "lo", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}},
		{Name: "eth0", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("fe80::1")}},
		{Name: "spartan", Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.3"), netip.MustParseAddr("198.51.100.1"),
			netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.4")}},
	}
	a := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, x := range s {
			out = append(out, netip.MustParseAddr(x))
		}
		return out
	}
	tests := []struct {
		name string
		cfg  Config
		want []netip.Addr
	}{
		{"agent spartan", Config{BindInterface: "spartan"}, a("198.51.100.1", "198.51.100.2", "198.51.100.3")},
		{"master all", Config{}, a("10.0.0.7", "127.0.0.1", "198.51.100.1", "198.51.100.2", "198.51.100.3", "::1")},
		{"blacklist", Config{BindInterface: "eth0", BindIPBlacklist: a("10.0.0.7")}, nil},
		{"bind_ips win", Config{BindIPs: a("10.0.0.9", "10.0.0.8", "10.0.0.9"), BindInterface: "eth0"}, a("10.0.0.8", "10.0.0.9")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BindIPs(&tt.cfg, ifaces); !reflect.DeepEqual(got, tt.want) && (len(got) != 0 || len(tt.want) != 0) {
				t.Fatalf("got %v want %v", got, tt.want)
			}
		})
	}
}

// FuzzParseConfig: any input gives a config or an error, never a panic;
// an accepted config has valid ports and normalised upstreams.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"upstream_resolvers": ["10.0.0.2", "10.0.0.3:5353"], "bind_interface": "spartan", "udp_port": 53, "tcp_port": 53}`))
	f.Add([]byte(`{"forward_zones": {"corp.example": ["10.1.1.1"]}, "bind_ips": ["127.0.0.1"], "bind_ip_blacklist": ["1.2.3.4"]}`))
	f.Add([]byte(`{"zones": {"c.thisdcos.directory": [{"type": "cname", "name": "r", "value": "master.dcos.thisdcos.directory"}]}}`))
	f.Add([]byte(`{"handler_limit": 5, "x": null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, _, err := ParseConfig(b)
		if err != nil {
			return
		}
		if c.UDPPort < 0 || c.UDPPort > 65535 || c.TCPPort < 0 || c.TCPPort > 65535 || c.HandlerLimit <= 0 {
			t.Fatalf("bad values accepted: %+v", c)
		}
		for _, u := range append(append([]string(nil), c.UpstreamResolvers...), flatten(c.ForwardZones)...) {
			if _, err := netip.ParseAddrPort(u); err != nil {
				t.Fatalf("upstream %q not normalised", u)
			}
		}
		_ = c.CustomZones()
	})
}

func flatten(m map[string][]string) []string {
	var out []string
	for _, l := range m {
		out = append(out, l...)
	}
	return out
}
