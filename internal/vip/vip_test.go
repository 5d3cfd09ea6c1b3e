package vip

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

func loadSnapshot(t testing.TB, path string) *model.Snapshot {
	t.Helper()
	return modeltest.LoadSnapshot(t, path, 7)
}

// snapshotOf builds a snapshot from one framework's tasks on two agents.
func snapshotOf(t *testing.T, fw string, tasks ...state.Task) *model.Snapshot {
	t.Helper()
	st := &state.State{
		Leader: "master@10.0.0.1:5050",
		Slaves: []state.Slave{
			{ID: "agent-a", PID: "slave(1)@10.0.0.7:5051", Hostname: "a.example"},
			{ID: "agent-b", PID: "slave(1)@10.0.0.8:5051", Hostname: "b.example"},
		},
		Frameworks: []state.Framework{{ID: "fw", Name: fw, Tasks: tasks}},
	}
	return modeltest.FromState(st, modeltest.Options{Version: 1})
}

func discovery(ports ...state.DiscoveryPort) *state.Discovery {
	return &state.Discovery{Ports: &state.Ports{Ports: ports}}
}

func labels(kv ...string) *state.Labels {
	ls := &state.Labels{}
	for i := 0; i+1 < len(kv); i += 2 {
		ls.Labels = append(ls.Labels, state.Label{Key: kv[i], Value: kv[i+1]})
	}
	return ls
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in    string
		host  string
		port  uint16
		ip    string
		named bool
	}{
		{"myapp:80", "myapp", 80, "", true},
		{"/myapp:80", "/myapp", 80, "", true},
		{"/mygroup/myapp:80", "/mygroup/myapp", 80, "", true},
		{"api.hello-world:80", "api.hello-world", 80, "", true},
		{"1.2.3.4:5000", "1.2.3.4", 5000, "1.2.3.4", false},
		{"fd01:c::10:80", "fd01:c::10", 80, "fd01:c::10", false},
		{"a:b:65535", "a:b", 65535, "", true},
	}
	for _, tc := range tests {
		sp, err := ParseSpec(tc.in)
		if err != nil {
			t.Errorf("ParseSpec(%q): %v", tc.in, err)
			continue
		}
		if sp.Host != tc.host || sp.Port != tc.port || sp.Named() != tc.named {
			t.Errorf("ParseSpec(%q) = %+v", tc.in, sp)
		}
		if !tc.named && sp.IP != netip.MustParseAddr(tc.ip) {
			t.Errorf("ParseSpec(%q).IP = %s", tc.in, sp.IP)
		}
	}
}

func TestParseSpecBad(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"myapp", ErrNoPort},
		{"", ErrNoPort},
		{"myapp:", ErrBadPort},
		{"myapp:0", ErrBadPort},
		{"myapp:-1", ErrBadPort},
		{"myapp:65536", ErrBadPort},
		{"myapp:http", ErrBadPort},
		{"myapp:80 ", ErrBadPort},
		{":80", ErrNoHost},
		{"fe80::1%eth0:80", ErrBadIPVIP},
	}
	for _, tc := range tests {
		_, err := ParseSpec(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("ParseSpec(%q) error = %v, want %v", tc.in, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), tc.in) {
			t.Errorf("error %q does not name the value %q", err, tc.in)
		}
	}
}

func TestParseProtocol(t *testing.T) {
	for in, want := range map[string]Protocol{"tcp": TCP, "TCP": TCP, "Udp": UDP} {
		if p, err := ParseProtocol(in); err != nil || p != want {
			t.Errorf("ParseProtocol(%q) = %v, %v", in, p, err)
		}
	}
	for _, in := range []string{"", "sctp", "tcp "} {
		if _, err := ParseProtocol(in); err == nil {
			t.Errorf("ParseProtocol(%q) accepted", in)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"myapp:80", "/mygroup/myapp:80", "1.2.3.4:5000", "fd01:c::10:80", "api.hello-world:80", ":", "x:0", "[::1]:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseSpec(s)
		if err != nil {
			return
		}
		if sp.Port == 0 || sp.Host == "" {
			t.Fatalf("ParseSpec(%q) = %+v without error", s, sp)
		}
		i := strings.LastIndexByte(s, ':')
		if sp.Host != s[:i] {
			t.Fatalf("ParseSpec(%q).Host = %q, want the part before the last colon", s, sp.Host)
		}
		if !sp.Named() && sp.IP.String() != strings.ToLower(sp.Host) {
			if _, err := netip.ParseAddr(sp.Host); err != nil {
				t.Fatalf("IP VIP from unparsable host %q", sp.Host)
			}
		}
	})
}

// FuzzTaskPorts feeds arbitrary labels through the whole label pipeline:
// it must never panic and every VIP it produces must be well formed.
func FuzzTaskPorts(f *testing.F) {
	f.Add("VIP_0", "/myapp:80", "tcp", "container", "VIP_PORT0", "tcp://1.2.3.4:80", uint32(80))
	f.Add("vip", "x:1", "UDP", "host", "vip_port9", "udp://y:2", uint32(0))
	f.Add("VIPx", ":", "sctp", "bogus", "VIP_PORT-1", "http://z:3", uint32(65535))
	f.Fuzz(func(t *testing.T, k1, v1, proto, scope, k2, v2 string, num uint32) {
		task := state.Task{ID: "t", Name: "n", SlaveID: "agent-a", State: "TASK_RUNNING",
			Resources: state.Resources{Ports: "[31000-31001]"},
			Labels:    []state.Label{{Key: k2, Value: v2}},
			Discovery: discovery(state.DiscoveryPort{Number: num, Protocol: proto, Labels: labels(k1, v1, "network-scope", scope)}),
			Statuses:  testutil.RunningStatuses("9.0.1.2"),
		}
		snap := snapshotOf(t, "marathon", task)
		tab, _ := BuildTable(snap, Config{})
		for _, v := range tab.VIPs {
			if v.Port == 0 || (v.Name == "" && !v.IP.IsValid()) || len(v.Addrs) == 0 && len(v.Backends) > 0 {
				t.Fatalf("bad VIP %+v", v)
			}
			if v.Name != "" && !strings.HasSuffix(v.FQDN, ".l4lb.thisdcos.directory") {
				t.Fatalf("bad FQDN %q", v.FQDN)
			}
		}
		if _, err := json.Marshal(tab); err != nil {
			t.Fatal(err)
		}
	})
}
