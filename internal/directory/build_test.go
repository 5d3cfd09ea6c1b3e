package directory

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/mesosdns/records"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
	"github.com/sextantdc/sextant/internal/vip"
)

var addr = netip.MustParseAddr

func loadSnapshot(t testing.TB, path string) *model.Snapshot {
	t.Helper()
	return modeltest.LoadSnapshot(t, path, 3)
}

var masters = []netip.Addr{addr("10.0.0.1"), addr("10.0.0.2"), addr("10.0.0.3")}

// workedExample builds every zone of §G.
func workedExample(t testing.TB) (*Index, []*Zone) {
	t.Helper()
	snap := loadSnapshot(t, "../vip/testdata/worked_example.json")
	tab, probs := vip.BuildTable(snap, vip.Config{IPv4: vip.Range{Min: vip.DefaultMinIPv4, Max: vip.DCOSMaxIPv4}})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	zones, probs := Build(snap, tab, Config{Masters: masters, NodeIP: addr("10.0.0.7"), PublicIPs: []netip.Addr{addr("52.1.2.3")},
		CustomZones: []CustomZone{{Name: "component.thisdcos.directory", CNAMEs: []CNAME{{Name: "registry", Value: "master.dcos.thisdcos.directory"}}}}})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return NewIndex(Options{ClusterID: "ybndrfg8ejkmcpqxot1uwisza345h769"}, zones...), zones
}

// rrs renders an answer section as sorted RR strings.
func rrs(in []dns.RR) []string {
	out := make([]string, 0, len(in))
	for _, rr := range in {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	slices.Sort(out)
	return out
}

func TestWorkedExampleDNS(t *testing.T) {
	ix, _ := workedExample(t)
	const soa = "dcos.thisdcos.directory. 5 IN SOA ns.spartan. support.mesosphere.com. 1 60 180 86400 1"
	tests := []struct {
		q      string
		qtype  uint16
		rcode  int
		answer []string
		ns     []string
	}{
		{"myapp-mygroup.marathon.containerip.dcos.thisdcos.directory.", dns.TypeA, 0, []string{
			"myapp-mygroup.marathon.containerip.dcos.thisdcos.directory. 5 IN A 9.0.1.2",
			"myapp-mygroup.marathon.containerip.dcos.thisdcos.directory. 5 IN A 9.0.2.3"}, nil},
		{"myapp-mygroup.marathon.autoip.dcos.thisdcos.directory.", dns.TypeA, 0, []string{
			"myapp-mygroup.marathon.autoip.dcos.thisdcos.directory. 5 IN A 9.0.1.2",
			"myapp-mygroup.marathon.autoip.dcos.thisdcos.directory. 5 IN A 9.0.2.3"}, nil},
		{"MyApp-MyGroup.marathon.agentip.dcos.thisdcos.directory.", dns.TypeA, 0, []string{
			"myapp-mygroup.marathon.agentip.dcos.thisdcos.directory. 5 IN A 10.0.0.7",
			"myapp-mygroup.marathon.agentip.dcos.thisdcos.directory. 5 IN A 10.0.0.8"}, nil},
		{"mygroupmyapp.marathon.l4lb.thisdcos.directory.", dns.TypeA, 0, []string{
			"mygroupmyapp.marathon.l4lb.thisdcos.directory. 5 IN A 11.198.144.68"}, nil},
		{"master.dcos.thisdcos.directory.", dns.TypeA, 0, []string{
			"master.dcos.thisdcos.directory. 5 IN A 10.0.0.1", "master.dcos.thisdcos.directory. 5 IN A 10.0.0.2",
			"master.dcos.thisdcos.directory. 5 IN A 10.0.0.3"}, nil},
		{"leader.dcos.thisdcos.directory.", dns.TypeA, 0, []string{"leader.dcos.thisdcos.directory. 5 IN A 10.0.0.1"}, nil},
		{"dcos.thisdcos.directory.", dns.TypeSOA, 0, []string{soa}, nil},
		{"dcos.thisdcos.directory.", dns.TypeNS, 0, []string{"dcos.thisdcos.directory. 3600 IN NS ns.spartan."}, nil},
		// NODATA: the name exists, the type does not.
		{"myapp-mygroup.marathon.autoip.dcos.thisdcos.directory.", dns.TypeAAAA, 0, nil, []string{soa}},
		// Empty non-terminal: NODATA.
		{"marathon.autoip.dcos.thisdcos.directory.", dns.TypeA, 0, nil, []string{soa}},
		// NXDOMAIN with the SOA.
		{"nope.marathon.autoip.dcos.thisdcos.directory.", dns.TypeA, dns.RcodeNameError, nil, []string{soa}},
		// No zone covers it: empty authoritative NOERROR (dcos-dns QUIRK).
		{"foo.bar.thisdcos.directory.", dns.TypeA, 0, nil, nil},
		{"x.dcos.thisdcos.directory.", dns.TypeRRSIG, dns.RcodeRefused, nil, nil},
		// Static zones.
		{"ready.spartan.", dns.TypeA, 0, []string{"ready.spartan. 5 IN A 127.0.0.1"}, nil},
		{"ns.spartan.", dns.TypeA, 0, []string{"ns.spartan. 5 IN A 198.51.100.1"}, nil},
		{"localhost.", dns.TypeA, 0, []string{"localhost. 5 IN A 127.0.0.1"}, nil},
		{"zk-4.zk.", dns.TypeA, 0, []string{"zk-4.zk. 5 IN A 10.0.0.1"}, nil},
		{"zk-5.zk.", dns.TypeA, 0, []string{"zk-5.zk. 5 IN A 10.0.0.2"}, nil},
		{"thisnode.thisdcos.directory.", dns.TypeA, 0, []string{"thisnode.thisdcos.directory. 5 IN A 10.0.0.7"}, nil},
		{"public.thisnode.thisdcos.directory.", dns.TypeA, 0, []string{"public.thisnode.thisdcos.directory. 5 IN A 52.1.2.3"}, nil},
		// Custom CNAME zone, chain followed into dcos.thisdcos.directory.
		{"registry.component.thisdcos.directory.", dns.TypeA, 0, []string{
			"master.dcos.thisdcos.directory. 5 IN A 10.0.0.1", "master.dcos.thisdcos.directory. 5 IN A 10.0.0.2",
			"master.dcos.thisdcos.directory. 5 IN A 10.0.0.3",
			"registry.component.thisdcos.directory. 5 IN CNAME master.dcos.thisdcos.directory."}, nil},
		{"registry.component.thisdcos.directory.", dns.TypeCNAME, 0, []string{
			"registry.component.thisdcos.directory. 5 IN CNAME master.dcos.thisdcos.directory."}, nil},
		// Aliases (§A.2 rules 1–4), renamed back in the answer.
		{"mygroupmyapp.marathon.dclb.thisdcos.directory.", dns.TypeA, 0, []string{
			"mygroupmyapp.marathon.dclb.thisdcos.directory. 5 IN A 11.198.144.68"}, nil},
		{"mygroupmyapp.marathon.dclb.thisdcos.global.", dns.TypeA, 0, []string{
			"mygroupmyapp.marathon.dclb.thisdcos.global. 5 IN A 11.198.144.68"}, nil},
		{"mygroupmyapp.marathon.l4lb.thisdcos.global.", dns.TypeA, 0, []string{
			"mygroupmyapp.marathon.l4lb.thisdcos.global. 5 IN A 11.198.144.68"}, nil},
		{"mygroupmyapp.marathon.l4lb.ybndrfg8ejkmcpqxot1uwisza345h769.dcos.directory.", dns.TypeA, 0, []string{
			"mygroupmyapp.marathon.l4lb.ybndrfg8ejkmcpqxot1uwisza345h769.dcos.directory. 5 IN A 11.198.144.68"}, nil},
		{"leader.dcos.thisdcos.global.", dns.TypeA, 0, []string{"leader.dcos.thisdcos.global. 5 IN A 10.0.0.1"}, nil},
		{"nope.l4lb.thisdcos.global.", dns.TypeA, dns.RcodeNameError, nil, []string{
			"l4lb.thisdcos.global. 5 IN SOA ns.spartan. support.mesosphere.com. 1 60 180 86400 1"}},
		// Another cluster's id is not an alias (it is forwarded by the router).
		{"mygroupmyapp.marathon.l4lb.otherclusterid.dcos.directory.", dns.TypeA, 0, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.q+dns.TypeToString[tc.qtype], func(t *testing.T) {
			res := ix.Lookup(tc.q, tc.qtype)
			if res.Rcode != tc.rcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[res.Rcode], dns.RcodeToString[tc.rcode])
			}
			want := slices.Clone(tc.answer)
			slices.Sort(want)
			if got := rrs(res.Answer); !slices.Equal(got, want) {
				t.Errorf("answer = %q\nwant %q", got, want)
			}
			if got := rrs(res.Ns); !slices.Equal(got, tc.ns) && !(len(got) == 0 && len(tc.ns) == 0) {
				t.Errorf("ns = %q\nwant %q", got, tc.ns)
			}
		})
	}
}

func TestReplyRoundRobin(t *testing.T) {
	ix, _ := workedExample(t)
	seen := map[string]bool{}
	for id := range uint16(3) {
		req := new(dns.Msg)
		req.SetQuestion("master.dcos.thisdcos.directory.", dns.TypeA)
		req.Id = id
		req.RecursionDesired = true
		m := ix.Reply(req)
		if !m.Response || !m.Authoritative || m.RecursionAvailable || m.Rcode != 0 || m.Id != id || len(m.Answer) != 3 {
			t.Fatalf("reply = %v", m)
		}
		want := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}
		k := int(id) % 3
		if first := m.Answer[0].(*dns.A).A.String(); first != want[k] {
			t.Errorf("id %d: first = %s, want %s", id, first, want[k])
		}
		seen[m.Answer[0].String()] = true
		if _, err := m.Pack(); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 3 {
		t.Errorf("rotation did not vary the first answer: %v", seen)
	}
	if m := ix.Reply(new(dns.Msg)); m.Rcode != dns.RcodeFormatError {
		t.Errorf("no question: rcode %d", m.Rcode)
	}
}

func TestRotateKeepsCNAMEFirst(t *testing.T) {
	ix, _ := workedExample(t)
	res := ix.Lookup("registry.component.thisdcos.directory", dns.TypeA)
	for id := range uint16(4) {
		out := Rotate(res.Answer, id)
		if out[0].Header().Rrtype != dns.TypeCNAME || len(out) != 4 {
			t.Errorf("id %d: %v", id, out)
		}
	}
}

// §A.5 examples from the upstream tests (agent 172.17.0.4).
func TestTaskRecordModes(t *testing.T) {
	st := &state.State{
		Leader: "master@172.17.0.2:5050",
		Slaves: []state.Slave{{ID: "s1", PID: "slave(1)@172.17.0.4:5051", Hostname: "172.17.0.4"}},
		Frameworks: []state.Framework{{ID: "f", Name: "marathon", Tasks: []state.Task{
			{ID: "bridge", Name: "docker-bridge", SlaveID: "s1", State: "TASK_RUNNING",
				Container: &state.Container{Type: "DOCKER", Docker: &state.Docker{Network: "BRIDGE",
					PortMappings: []state.PortMapping{{HostPort: 31001, ContainerPort: 80, Protocol: "tcp"}}}},
				Statuses: testutil.RunningStatuses("172.18.0.2")},
			{ID: "overlay", Name: "ucr-overlay", SlaveID: "s1", State: "TASK_RUNNING", Statuses: testutil.RunningStatuses("9.0.1.6")},
			{ID: "host", Name: "host-net", SlaveID: "s1", State: "TASK_RUNNING", Statuses: testutil.RunningStatuses("172.17.0.4")},
			{ID: "v6", Name: "docker-dcos6", SlaveID: "s1", State: "TASK_RUNNING", Statuses: testutil.RunningStatuses("fd01:b::2:8000:0:2")},
			{ID: "noip", Name: "no-ip", SlaveID: "s1", State: "TASK_RUNNING", Statuses: testutil.RunningStatuses()},
			{ID: "staging", Name: "staging", SlaveID: "s1", State: "TASK_STAGING", Statuses: testutil.RunningStatuses("9.0.1.7")},
			{ID: "killing", Name: "killing", SlaveID: "s1", State: "TASK_KILLING", Statuses: testutil.RunningStatuses("9.0.1.8")},
			{ID: "disc", Name: "ignored", SlaveID: "s1", State: "TASK_RUNNING", Discovery: &state.Discovery{Name: "Disc.Name"}, Statuses: testutil.RunningStatuses("9.0.1.9")},
			{ID: "empty", Name: "$$$", SlaveID: "s1", State: "TASK_RUNNING", Statuses: testutil.RunningStatuses("9.0.1.10")},
		}}},
	}
	snap := modeltest.FromState(st, modeltest.Options{Version: 1})
	z, probs := BuildDCOS(snap, Config{})
	if len(probs) != 1 || !strings.Contains(probs[0].Item, `"empty"`) {
		t.Errorf("problems = %v", probs)
	}
	ix := NewIndex(Options{}, z)
	check := func(name string, qtype uint16, want ...string) {
		t.Helper()
		var got []string
		for _, rr := range ix.Lookup(name+".dcos.thisdcos.directory", qtype).Answer {
			switch v := rr.(type) {
			case *dns.A:
				got = append(got, v.A.String())
			case *dns.AAAA:
				got = append(got, v.AAAA.String())
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s %s = %v, want %v", name, dns.TypeToString[qtype], got, want)
		}
	}
	A, AAAA := dns.TypeA, dns.TypeAAAA
	check("docker-bridge.marathon.containerip", A, "172.18.0.2")
	check("docker-bridge.marathon.autoip", A, "172.17.0.4")
	check("docker-bridge.marathon.agentip", A, "172.17.0.4")
	check("ucr-overlay.marathon.containerip", A, "9.0.1.6")
	check("ucr-overlay.marathon.autoip", A, "9.0.1.6")
	check("ucr-overlay.marathon.agentip", A, "172.17.0.4")
	check("host-net.marathon.containerip", A, "172.17.0.4")
	check("host-net.marathon.autoip", A, "172.17.0.4")
	check("docker-dcos6.marathon.containerip", AAAA, "fd01:b::2:8000:0:2")
	check("docker-dcos6.marathon.autoip", AAAA, "fd01:b::2:8000:0:2")
	check("docker-dcos6.marathon.agentip", A, "172.17.0.4")
	check("no-ip.marathon.autoip", A, "172.17.0.4")
	check("no-ip.marathon.containerip", A)
	check("staging.marathon.agentip", A)
	check("killing.marathon.agentip", A)
	check("disc-name.marathon.autoip", A, "9.0.1.9")
	check("ignored.marathon.autoip", A)
}

// Several tasks with one name share the name; equal records appear once.
func TestDuplicatesAndHealth(t *testing.T) {
	f := false
	st := &state.State{
		Slaves: []state.Slave{{ID: "s1", PID: "slave(1)@10.0.0.7:5051"}},
		Frameworks: []state.Framework{{ID: "f", Name: "marathon", Tasks: []state.Task{
			{ID: "a", Name: "web", SlaveID: "s1", State: "TASK_RUNNING", Statuses: testutil.RunningStatuses("9.0.1.2")},
			{ID: "b", Name: "web", SlaveID: "s1", State: "TASK_RUNNING", Statuses: testutil.RunningStatuses("9.0.1.3")},
			{ID: "c", Name: "web", SlaveID: "s1", State: "TASK_RUNNING", Statuses: []state.Status{{State: "TASK_RUNNING", Healthy: &f,
				ContainerStatus: &state.ContainerStatus{NetworkInfos: []state.NetworkInfo{{IPAddresses: []state.IPAddress{{IPAddress: "9.0.1.4"}}}}}}}},
		}}},
	}
	snap := modeltest.FromState(st, modeltest.Options{Version: 1})
	z, _ := BuildDCOS(snap, Config{})
	ix := NewIndex(Options{}, z)
	if n := len(ix.Lookup("web.marathon.agentip.dcos.thisdcos.directory", dns.TypeA).Answer); n != 1 {
		t.Errorf("agentip records = %d, want 1 (same agent)", n)
	}
	if n := len(ix.Lookup("web.marathon.containerip.dcos.thisdcos.directory", dns.TypeA).Answer); n != 3 {
		t.Errorf("containerip records = %d, want 3", n)
	}
	z, _ = BuildDCOS(snap, Config{HealthyOnly: true})
	ix = NewIndex(Options{}, z)
	if n := len(ix.Lookup("web.marathon.containerip.dcos.thisdcos.directory", dns.TypeA).Answer); n != 2 {
		t.Errorf("HealthyOnly containerip records = %d, want 2", n)
	}
}

func TestMesosMirrorAndAPI(t *testing.T) {
	rs := &records.RecordSet{
		Domain: "mesos",
		A: map[string][]string{
			"myapp.marathon.mesos.":                {"10.0.0.7"},
			"myapp-7qzpn-s0.marathon.slave.mesos.": {"10.0.0.7"},
			"leader.mesos.":                        {"10.0.0.1", "unresolved-host"},
			"outside.example.":                     {"1.2.3.4"},
		},
		AAAA: map[string][]string{"myapp.marathon.mesos.": {"fd01:b::2"}},
		SRV: map[string][]string{
			"_myapp._tcp.marathon.mesos.": {"myapp-7qzpn-s0.marathon.slave.mesos.:31000", "nohost.marathon.mesos.:31001", "bad"},
		},
	}
	z, probs := BuildMesosMirror(rs, 9)
	if z.Name != ZoneMesos || z.Version != 9 {
		t.Fatalf("zone %s v%d", z.Name, z.Version)
	}
	if len(probs) != 2 {
		t.Errorf("problems = %v", probs)
	}
	ix := NewIndex(Options{}, z)
	got := ix.Services("_myapp._tcp.marathon.mesos.thisdcos.directory")
	b, _ := json.Marshal(got)
	const want = `[{"service":"_myapp._tcp.marathon.mesos.thisdcos.directory","host":"myapp-7qzpn-s0.marathon.slave.mesos.thisdcos.directory","port":31000,"ip":"10.0.0.7"},` +
		`{"service":"_myapp._tcp.marathon.mesos.thisdcos.directory","host":"nohost.marathon.mesos.thisdcos.directory","port":31001}]`
	if string(b) != want {
		t.Errorf("services = %s\nwant       %s", b, want)
	}
	for _, rr := range ix.Lookup("_myapp._tcp.marathon.mesos.thisdcos.directory", dns.TypeSRV).Answer {
		if s := rr.(*dns.SRV); s.Priority != 1 || s.Weight != 1 || s.Hdr.Ttl != 5 {
			t.Errorf("srv = %v", s)
		}
	}
	hosts, _ := json.Marshal(ix.Hosts("leader.mesos.thisdcos.directory"))
	if string(hosts) != `[{"host":"leader.mesos.thisdcos.directory","ip":"10.0.0.1"}]` {
		t.Errorf("hosts = %s", hosts)
	}
	if h, _ := json.Marshal(ix.Hosts("nothing.here")); string(h) != "[]" {
		t.Errorf("hosts of unknown = %s", h)
	}
	if s, _ := json.Marshal(ix.Services("nothing.here")); string(s) != "[]" {
		t.Errorf("services of unknown = %s", s)
	}

	var buf bytes.Buffer
	if err := ix.WriteRecords(&buf); err != nil {
		t.Fatal(err)
	}
	var recs []APIRecord
	if err := json.Unmarshal(buf.Bytes(), &recs); err != nil {
		t.Fatalf("records not JSON: %v\n%s", err, buf.String())
	}
	if !slices.Equal(recs, ix.Records()) {
		t.Errorf("WriteRecords and Records differ")
	}
	if !strings.Contains(buf.String(), "},\n{") {
		t.Errorf("elements not separated by ,\\n: %s", buf.String())
	}
	wantRecs := []APIRecord{
		{"_myapp._tcp.marathon.mesos.thisdcos.directory", "myapp-7qzpn-s0.marathon.slave.mesos.thisdcos.directory:31000", "SRV"},
		{"_myapp._tcp.marathon.mesos.thisdcos.directory", "nohost.marathon.mesos.thisdcos.directory:31001", "SRV"},
		{"leader.mesos.thisdcos.directory", "10.0.0.1", "A"},
		{"myapp-7qzpn-s0.marathon.slave.mesos.thisdcos.directory", "10.0.0.7", "A"},
		{"myapp.marathon.mesos.thisdcos.directory", "10.0.0.7", "A"},
		{"myapp.marathon.mesos.thisdcos.directory", "fd01:b::2", "AAAA"},
	}
	if !slices.Equal(recs, wantRecs) {
		t.Errorf("records = %+v", recs)
	}
}

func TestCustomZoneValidation(t *testing.T) {
	for _, name := range []string{"l4lb.thisdcos.directory", "x.mesos.thisdcos.directory", "dcos.thisdcos.directory", "bad name"} {
		zones, probs := BuildLocal(Config{CustomZones: []CustomZone{{Name: name, CNAMEs: []CNAME{{Name: "a", Value: "b.c"}}}}})
		if len(probs) != 1 || !strings.Contains(probs[0].Reason, "name") {
			t.Errorf("%s: problems = %v", name, probs)
		}
		if len(zones) != 3 {
			t.Errorf("%s: zones = %d, want the 3 static ones", name, len(zones))
		}
	}
	if err := (CustomZone{Name: "ok.thisdcos.directory", CNAMEs: []CNAME{{Name: "a b", Value: "c"}}}).Validate(); err == nil || !strings.Contains(err.Error(), "cnames[0].name") {
		t.Errorf("bad cname name: %v", err)
	}
}

// Bad master addresses are dropped and reported; the zone survives.
func TestBadMasterAddress(t *testing.T) {
	snap := loadSnapshot(t, "../vip/testdata/worked_example.json")
	z, probs := BuildDCOS(snap, Config{Masters: []netip.Addr{{}, addr("10.0.0.1")}})
	if len(probs) != 1 {
		t.Errorf("problems = %v", probs)
	}
	if n := len(NewIndex(Options{}, z).Lookup("master.dcos.thisdcos.directory", dns.TypeA).Answer); n != 1 {
		t.Errorf("master records = %d", n)
	}
}

func TestIndexWith(t *testing.T) {
	ix, zones := workedExample(t)
	var dcos *Zone
	for _, z := range zones {
		if z.Name == ZoneDCOS {
			dcos = z
		}
	}
	b, _ := dcos.MarshalBinary()
	var got Zone
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	empty, _ := NewZone(ZoneDCOS, dcos.Version+1, Apex(ZoneDCOS))
	ix2 := ix.With(empty)
	if ix2.Lookup("leader.dcos.thisdcos.directory", dns.TypeA).Rcode != dns.RcodeNameError {
		t.Error("With did not replace the zone")
	}
	if ix.Lookup("leader.dcos.thisdcos.directory", dns.TypeA).Rcode != 0 {
		t.Error("With modified the original index")
	}
	if ix2.Lookup("ready.spartan", dns.TypeA).Rcode != 0 {
		t.Error("With lost other zones")
	}
	if ix2.Without(ZoneSpartan).Zone(ZoneSpartan) != nil {
		t.Error("Without kept the zone")
	}
	if n := ix.Names(); !slices.IsSorted(n) || !slices.Contains(n, "ready.spartan") {
		t.Errorf("names = %v", n)
	}
}

// A named VIP with backends of both families has an A and an AAAA record.
func TestL4LBBothFamilies(t *testing.T) {
	tab := &vip.Table{Names: []vip.Name{
		{FQDN: "db.marathon.l4lb.thisdcos.directory", IPv4: addr("11.1.2.3"), IPv6: addr("fd01:c::1")},
		{FQDN: "v6only.marathon.l4lb.thisdcos.directory", IPv6: addr("fd01:c::2")},
	}}
	z, probs := BuildL4LB(tab, 4)
	if len(probs) != 0 || z.Version != 4 {
		t.Fatalf("problems %v, version %d", probs, z.Version)
	}
	ix := NewIndex(Options{}, z)
	if got := rrs(ix.Lookup("db.marathon.l4lb.thisdcos.directory", dns.TypeANY).Answer); !slices.Equal(got, []string{
		"db.marathon.l4lb.thisdcos.directory. 5 IN A 11.1.2.3", "db.marathon.l4lb.thisdcos.directory. 5 IN AAAA fd01:c::1"}) {
		t.Errorf("ANY = %q", got)
	}
	if res := ix.Lookup("v6only.marathon.l4lb.thisdcos.directory", dns.TypeA); res.Rcode != 0 || len(res.Answer) != 0 || len(res.Ns) != 1 {
		t.Errorf("A of an IPv6-only VIP = %+v, want NODATA", res)
	}
}
