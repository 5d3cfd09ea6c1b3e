package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const seed = `{
  "vtep_subnet": "44.128.0.0/20",
  "vtep_subnet6": "fd01:a::/64",
  "vtep_mac_oui": "70:B3:D5:00:00:00",
  "overlays": [
    {"name": "dcos", "subnet": "9.0.0.0/8", "prefix": 24},
    {"name": "dcos6", "subnet6": "fd01:b::/64", "prefix6": 80}
  ]
}`

func TestParseNetworkSeed(t *testing.T) {
	n, probs, err := ParseNetwork([]byte(seed), "")
	if err != nil || len(probs) != 0 {
		t.Fatalf("err %v, problems %v", err, probs)
	}
	if n.VTEPSubnet != netip.MustParsePrefix("44.128.0.0/20") || n.VTEPSubnet6 != netip.MustParsePrefix("fd01:a::/64") {
		t.Errorf("vtep subnets %v %v", n.VTEPSubnet, n.VTEPSubnet6)
	}
	if n.VTEPMACOUI != [3]byte{0x70, 0xb3, 0xd5} || n.VTEPMTU != 0 {
		t.Errorf("oui %x mtu %d", n.VTEPMACOUI, n.VTEPMTU)
	}
	if len(n.Overlays) != 2 {
		t.Fatalf("overlays %+v", n.Overlays)
	}
	d, d6 := n.Overlays[0], n.Overlays[1]
	if d.Name != "dcos" || d.Subnet != netip.MustParsePrefix("9.0.0.0/8") || d.Prefix != 24 || !d.Enabled || d.Subnet6.IsValid() {
		t.Errorf("dcos %+v", d)
	}
	if d6.Name != "dcos6" || d6.Subnet6 != netip.MustParsePrefix("fd01:b::/64") || d6.Prefix6 != 80 || d6.Subnet.IsValid() {
		t.Errorf("dcos6 %+v", d6)
	}
	if d.MesosBridge() != "m-dcos" || d.DockerBridge() != "d-dcos" {
		t.Errorf("bridges %s %s", d.MesosBridge(), d.DockerBridge())
	}
	if string(n.Raw) != strings.TrimSpace(seed) {
		t.Errorf("raw not kept verbatim")
	}
}

func TestParseNetworkSeveralAndMTU(t *testing.T) {
	n, probs, err := ParseNetwork([]byte(`{"vtep_subnet":"44.128.0.0/20","vtep_mac_oui":"70:b3:d5:00:00:00","vtep_mtu":1450,
	 "overlays":[{"name":"dcos","subnet":"9.0.0.0/8","prefix":26},{"name":"both","subnet":"10.8.0.0/16","prefix":24,"subnet6":"fd02::/48","prefix6":64},
	 {"name":"off","subnet":"10.9.0.0/16","prefix":24,"enabled":false}]}`), "")
	if err != nil || len(probs) != 0 {
		t.Fatalf("err %v, problems %v", err, probs)
	}
	if n.VTEPMTU != 1450 || len(n.Overlays) != 3 || n.Overlays[0].Prefix != 26 || n.Overlays[1].Prefix6 != 64 {
		t.Fatalf("%+v", n)
	}
	if en := n.Enabled(); len(en) != 2 || en[1].Name != "both" {
		t.Errorf("enabled %+v", en)
	}
	if o, ok := n.Overlay("off"); !ok || o.Enabled {
		t.Errorf("off %+v %v", o, ok)
	}
}

func TestParseNetworkBadKeys(t *testing.T) {
	base := func(repl string) string {
		return `{"vtep_subnet":"44.128.0.0/20","vtep_mac_oui":"70:B3:D5:00:00:00"` + repl + `}`
	}
	cases := []struct{ name, in, key string }{
		{"not object", `[1]`, "network"},
		{"bad json", `{"vtep_subnet":`, "network"},
		{"no vtep subnet", `{"vtep_mac_oui":"70:B3:D5:00:00:00"}`, "network.vtep_subnet"},
		{"vtep v6", `{"vtep_subnet":"fd01::/64","vtep_mac_oui":"70:B3:D5:00:00:00"}`, "network.vtep_subnet"},
		{"vtep /7", `{"vtep_subnet":"44.0.0.0/7","vtep_mac_oui":"70:B3:D5:00:00:00"}`, "network.vtep_subnet"},
		{"vtep host bits", `{"vtep_subnet":"44.128.0.1/20","vtep_mac_oui":"70:B3:D5:00:00:00"}`, "network.vtep_subnet"},
		{"vtep number", `{"vtep_subnet":44,"vtep_mac_oui":"70:B3:D5:00:00:00"}`, "network.vtep_subnet"},
		{"vtep6 v4", base(`,"vtep_subnet6":"10.0.0.0/8"`), "network.vtep_subnet6"},
		{"no oui", `{"vtep_subnet":"44.128.0.0/20"}`, "network.vtep_mac_oui"},
		{"oui tail", `{"vtep_subnet":"44.128.0.0/20","vtep_mac_oui":"70:B3:D5:00:00:01"}`, "network.vtep_mac_oui"},
		{"oui short", `{"vtep_subnet":"44.128.0.0/20","vtep_mac_oui":"70:B3:D5"}`, "network.vtep_mac_oui"},
		{"oui dashes", `{"vtep_subnet":"44.128.0.0/20","vtep_mac_oui":"70-B3-D5-00-00-00"}`, "network.vtep_mac_oui"},
		{"mtu small", base(`,"vtep_mtu":500`), "network.vtep_mtu"},
		{"mtu float", base(`,"vtep_mtu":1450.5`), "network.vtep_mtu"},
		{"overlays not list", base(`,"overlays":{}`), "network.overlays"},
	}
	for _, c := range cases {
		_, _, err := ParseNetwork([]byte(c.in), "network")
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != c.key {
			t.Errorf("%s: err %v, want key %s", c.name, err, c.key)
		}
	}
}

func TestParseNetworkBadOverlaySkipped(t *testing.T) {
	good := `{"name":"dcos","subnet":"9.0.0.0/8","prefix":24}`
	cases := []struct{ name, item, want string }{
		{"no name", `{"subnet":"10.0.0.0/8","prefix":24}`, "name: required"},
		{"long name", `{"name":"abcdefghijklmn","subnet":"10.0.0.0/8","prefix":24}`, "name: \"abcdefghijklmn\" is longer"},
		{"reserved", `{"name":"bridge","subnet":"10.0.0.0/8","prefix":24}`, "name: \"bridge\" is reserved"},
		{"slash", `{"name":"a/b","subnet":"10.0.0.0/8","prefix":24}`, "name: \"a/b\""},
		{"duplicate", `{"name":"dcos","subnet":"10.0.0.0/8","prefix":24}`, "name: \"dcos\" is used"},
		{"overlap", `{"name":"x","subnet":"9.1.0.0/16","prefix":24}`, "subnet: 9.1.0.0/16 overlaps overlay \"dcos\""},
		{"overlap vtep", `{"name":"x","subnet":"44.0.0.0/8","prefix":24}`, "subnet: 44.0.0.0/8 overlaps vtep_subnet"},
		{"no space", `{"name":"x"}`, "subnet: an overlay needs"},
		{"no prefix", `{"name":"x","subnet":"10.0.0.0/8"}`, "prefix: required with subnet"},
		{"no subnet", `{"name":"x","prefix":24}`, "subnet: required with prefix"},
		{"prefix short", `{"name":"x","subnet":"10.0.0.0/8","prefix":7}`, "prefix: 7 is outside 8–29"},
		{"prefix long", `{"name":"x","subnet":"10.0.0.0/8","prefix":30}`, "prefix: 30 is outside"},
		{"prefix6 long", `{"name":"x","subnet6":"fd09::/64","prefix6":127}`, "prefix6: 127 is outside"},
		{"subnet6 v4", `{"name":"x","subnet6":"10.0.0.0/8","prefix6":24}`, "subnet6: \"10.0.0.0/8\" is not an IPv6 CIDR"},
		{"enabled string", `{"name":"x","subnet":"10.0.0.0/8","prefix":24,"enabled":"yes"}`, "enabled: not a boolean"},
		{"unknown key", `{"name":"x","subnet":"10.0.0.0/8","prefix":24,"mtu":1}`, "mtu: unknown key"},
		{"not object", `"dcos2"`, "not a JSON object"},
	}
	for _, c := range cases {
		in := `{"vtep_subnet":"44.128.0.0/20","vtep_mac_oui":"70:B3:D5:00:00:00","overlays":[` + good + `,` + c.item + `]}`
		n, probs, err := ParseNetwork([]byte(in), "")
		if err != nil {
			t.Errorf("%s: whole config failed: %v", c.name, err)
			continue
		}
		if len(n.Overlays) != 1 || n.Overlays[0].Name != "dcos" {
			t.Errorf("%s: the good overlay is not kept alone: %+v", c.name, n.Overlays)
		}
		if len(probs) != 1 || probs[0].Key != "overlays[1]" || !strings.Contains(probs[0].Err.Error(), c.want) {
			t.Errorf("%s: problems %v, want overlays[1]: …%s…", c.name, probs, c.want)
		}
	}
}

func TestParseNetworkUnknownTopKeyIsAProblem(t *testing.T) {
	_, probs, err := ParseNetwork([]byte(`{"vtep_subnet":"44.128.0.0/20","vtep_mac_oui":"70:B3:D5:00:00:00","vtep_subnett":"x"}`), "network")
	if err != nil || len(probs) != 1 || probs[0].Key != "network.vtep_subnett" {
		t.Fatalf("err %v problems %v", err, probs)
	}
}

func TestParseCluster(t *testing.T) {
	c, _, err := ParseCluster([]byte(`{"dcos_overlay_network":` + seed + `,"other_key":1}`))
	if err != nil || !c.Enable || c.MTU != 1420 || c.ConfigAttempts != 4 || len(c.Network.Overlays) != 2 {
		t.Fatalf("%+v %v", c, err)
	}
	c, _, err = ParseCluster([]byte(`{"dcos_overlay_enable":false}`))
	if err != nil || c.Enable {
		t.Fatalf("%+v %v", c, err)
	}
	c, _, err = ParseCluster([]byte(`{"dcos_overlay_mtu":9000,"dcos_overlay_config_attempts":2,"dcos_overlay_network":` + seed + `}`))
	if err != nil || c.MTU != 9000 || c.ConfigAttempts != 2 {
		t.Fatalf("%+v %v", c, err)
	}
	for in, key := range map[string]string{
		`{}`:                                 "dcos_overlay_network",
		`{"dcos_overlay_enable":"true"}`:     "dcos_overlay_enable",
		`{"dcos_overlay_mtu":100}`:           "dcos_overlay_mtu",
		`{"dcos_overlay_config_attempts":0}`: "dcos_overlay_config_attempts",
		`{"dcos_overlay_network":{"x":1}}`:   "dcos_overlay_network.vtep_subnet",
		`{"dcos_overlay_network":"44/8"}`:    "dcos_overlay_network",
	} {
		_, _, err := ParseCluster([]byte(in))
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != key {
			t.Errorf("%s: %v, want key %s", in, err, key)
		}
	}
}

func TestParseMaster(t *testing.T) {
	m, _, err := ParseMaster([]byte(`{"replicated_log_dir":"/var/lib/x","network":` + seed + `}`))
	if err != nil || m.ReplicatedLogDir != "/var/lib/x" || len(m.Network.Overlays) != 2 {
		t.Fatalf("%+v %v", m, err)
	}
	if _, _, err := ParseMaster([]byte(`{}`)); err == nil || !strings.HasPrefix(err.Error(), "network:") {
		t.Errorf("no network: %v", err)
	}
}

func TestParseAgent(t *testing.T) {
	a, probs, err := ParseAgent([]byte(`{"cni_dir":"/c","cni_data_dir":"/d","network_config":{"allocate_subnet":true,"mesos_bridge":true,"docker_bridge":false,"overlay_mtu":1400,"enable_ipv6":false,"command_timeout":5000},"max_configuration_attempts":3,"extra":1}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Agent{AllocateSubnet: true, MesosBridge: true, OverlayMTU: 1400, CommandTimeout: 5 * time.Second, MaxConfigurationAttempts: 3, CNIDir: "/c", CNIDataDir: "/d"}
	if a != want || len(probs) != 1 || probs[0].Key != "extra" {
		t.Errorf("%+v %v", a, probs)
	}
	if d, _, _ := ParseAgent([]byte(`{}`)); d != DefaultAgent() {
		t.Errorf("defaults %+v", d)
	}
	if m := MasterAgent(); m.MesosBridge || m.DockerBridge || !m.AllocateSubnet {
		t.Errorf("master agent %+v", m)
	}
	for in, key := range map[string]string{
		`{"network_config":{"overlay_mtu":10}}`:        "network_config.overlay_mtu",
		`{"network_config":{"command_timeout":0}}`:     "network_config.command_timeout",
		`{"network_config":{"mesos_bridge":1}}`:        "network_config.mesos_bridge",
		`{"network_config":{"bogus":1}}`:               "network_config.bogus",
		`{"network_config":{"allocate_subnet":false}}`: "network_config.allocate_subnet",
		`{"max_configuration_attempts":0}`:             "max_configuration_attempts",
		`{"cni_dir":3}`:                                "cni_dir",
		`{"network_config":[]}`:                        "network_config",
	} {
		_, _, err := ParseAgent([]byte(in))
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != key {
			t.Errorf("%s: %v, want key %s", in, err, key)
		}
	}
}

func TestDefault(t *testing.T) {
	n := Default()
	if o, ok := n.Overlay("dcos"); !ok || o.Subnet.String() != "9.0.0.0/8" || o.Prefix != 24 || n.VTEPSubnet.String() != "44.128.0.0/20" {
		t.Fatalf("%+v", n)
	}
}
