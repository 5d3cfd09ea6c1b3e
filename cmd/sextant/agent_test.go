package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/dcosdns"
)

func parseDNSFlags(t *testing.T, role dcosdns.Role, args ...string) (dcosdns.Options, error) {
	t.Helper()
	fs := newFlagSet(string(role), io.Discard)
	var f dnsFlags
	f.register(fs, role)
	if err := fs.Parse(args); err != nil {
		return dcosdns.Options{}, err
	}
	return f.options(role, slog.New(slog.DiscardHandler))
}

func TestDNSFlags(t *testing.T) {
	o, err := parseDNSFlags(t, dcosdns.RoleAgent, "--masters", "10.0.0.1,10.0.0.2", "--masters", "10.0.0.3",
		"--gossip-bind", "10.0.0.7:62501", "--dns-listen", "127.0.0.1:53", "--dns-listen", "127.0.0.2:53")
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
	o, err = parseDNSFlags(t, dcosdns.RoleMaster, "--gossip-bind", "127.0.0.2:0", "--gossip-key-file", key, "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Gossip.Key) == 0 || len(o.Gossip.Join) != 0 || o.Config.UpstreamResolvers[0] != "10.0.0.2:53" {
		t.Fatalf("options %+v", o)
	}

	bad := [][]string{
		{"--masters", "m1.example"},
		{"--node-ip", "x"},
		{"--join", "10.0.0.1:62501"},
		{"--gossip-bind", "127.0.0.1:0", "--gossip-key-file", filepath.Join(t.TempDir(), "missing")},
		{"--config", filepath.Join(t.TempDir(), "missing.json")},
		{"--gossip-bind", "nonsense"},
	}
	for _, args := range bad {
		if _, err := parseDNSFlags(t, dcosdns.RoleAgent, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestDNSFlagsNodeMeta(t *testing.T) {
	o, err := parseDNSFlags(t, dcosdns.RoleAgent, "--public-ip", "203.0.113.7", "--public-ip", "2001:db8::7",
		"--hostname", "agent-7", "--detect-ip-public", "/opt/detect", "--cache-mesos")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.PublicIPs) != 2 || o.PublicIPs[0].String() != "203.0.113.7" || o.Hostname != "agent-7" ||
		o.DetectIPPublic != "/opt/detect" || !o.CacheMesos {
		t.Fatalf("options %+v", o)
	}
	if _, err := parseDNSFlags(t, dcosdns.RoleAgent, "--public-ip", "nope"); err == nil || !strings.Contains(err.Error(), "--public-ip") {
		t.Fatalf("bad --public-ip: %v", err)
	}
}
