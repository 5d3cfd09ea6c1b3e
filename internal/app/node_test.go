package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/dcosdns"
)

func nodeOptions(t *testing.T, role dcosdns.Role, c NodeDNSConfig) (dcosdns.Options, error) {
	t.Helper()
	return c.options(role, slog.New(slog.DiscardHandler))
}

func TestNodeDNSConfig(t *testing.T) {
	o, err := nodeOptions(t, dcosdns.RoleAgent, NodeDNSConfig{Masters: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"},
		GossipBind: "10.0.0.7:62501", Listen: []string{"127.0.0.1:53", "127.0.0.2:53"}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.MesosDNS, []string{"10.0.0.1:61053", "10.0.0.2:61053", "10.0.0.3:61053"}) {
		t.Fatalf("mesos-dns %v", o.MesosDNS)
	}
	if !reflect.DeepEqual(o.Gossip.Join, []string{"10.0.0.1:62501", "10.0.0.2:62501", "10.0.0.3:62501"}) {
		t.Fatalf("join %v", o.Gossip.Join)
	}
	if o.NodeIP.String() != "10.0.0.7" || !strings.HasSuffix(o.Gossip.NodeName, "-10.0.0.7") || len(o.Listen) != 2 {
		t.Fatalf("options %+v", o)
	}
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "dcos-dns.json")
	if err := os.WriteFile(cfg, []byte(`{"upstream_resolvers": ["10.0.0.2"], "unknown": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err = nodeOptions(t, dcosdns.RoleMaster, NodeDNSConfig{GossipBind: "127.0.0.2:0", KeyFile: key, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Gossip.Key) == 0 || len(o.Gossip.Join) != 0 || o.Config.UpstreamResolvers[0] != "10.0.0.2:53" {
		t.Fatalf("options %+v", o)
	}
	bad := []NodeDNSConfig{
		{Masters: []string{"m1.example"}},
		{NodeIP: "x"},
		{Join: []string{"10.0.0.1:62501"}},
		{GossipBind: "127.0.0.1:0", KeyFile: filepath.Join(t.TempDir(), "missing")},
		{Config: filepath.Join(t.TempDir(), "missing.json")},
		{GossipBind: "nonsense"},
		{PublicIPs: []string{"nope"}},
	}
	for _, c := range bad {
		if _, err := nodeOptions(t, dcosdns.RoleAgent, c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestNodeDNSConfigNodeMeta(t *testing.T) {
	o, err := nodeOptions(t, dcosdns.RoleAgent, NodeDNSConfig{PublicIPs: []string{"203.0.113.7", "2001:db8::7"},
		Hostname: "agent-7", DetectIPPublic: "/opt/detect", CacheMesos: true, IgnoreHealth: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.PublicIPs) != 2 || o.PublicIPs[0].String() != "203.0.113.7" || o.Hostname != "agent-7" ||
		o.DetectIPPublic != "/opt/detect" || !o.CacheMesos {
		t.Fatalf("options %+v", o)
	}
}
