package records

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

// fixtureState reads fake.json, the Mesos-DNS state fixture.
func fixtureState(t *testing.T) *state.State {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.Fixtures(t, "mesos"), "fake.json"))
	if err != nil {
		t.Fatal(err)
	}
	st, skipped, err := state.Parse(b)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("parse state: skipped %v, err %v", skipped, err)
	}
	return st
}

// fixtureStateOrNil reads fake.json when the fixtures are there.
func fixtureStateOrNil() *state.State {
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "..", "shared", "fixtures", "mesos", "fake.json"))
	if err != nil {
		return nil
	}
	st, _, err := state.Parse(b)
	if err != nil {
		return nil
	}
	return st
}

// localhost is what the source resolved for the fixture's "no pid"
// framework, whose hostname is "localhost".
var localhost = map[string][]netip.Addr{"localhost": {netip.MustParseAddr("127.0.0.1")}}

func build(st *state.State, resolved map[string][]netip.Addr) *model.Snapshot {
	return modeltest.FromState(st, modeltest.Options{Version: 7, Resolved: resolved})
}

// zone is a record set in the fixtures' shape: sorted values per name.
type zone struct {
	As    map[string][]string `json:"As"`
	AAAAs map[string][]string `json:"AAAAs"`
	SRVs  map[string][]string `json:"SRVs"`
}

func sortedCopy(m map[string][]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		v = slices.Clone(v)
		sort.Strings(v)
		out[k] = v
	}
	return out
}

func diffMaps(t *testing.T, what string, got, want map[string][]string) {
	t.Helper()
	got, want = sortedCopy(got), sortedCopy(want)
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s %s: missing, want %v", what, k, w)
		} else if !slices.Equal(g, w) {
			t.Errorf("%s %s: got %v, want %v", what, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s %s: unexpected %v", what, k, g)
		}
	}
}

func noDuplicates(t *testing.T, rs *RecordSet) {
	t.Helper()
	for kind, m := range map[string]map[string][]string{"A": rs.A, "AAAA": rs.AAAA, "SRV": rs.SRV} {
		for name, vals := range m {
			if len(vals) == 0 {
				t.Errorf("%s %s: empty value list", kind, name)
			}
			seen := map[string]bool{}
			for _, v := range vals {
				if seen[v] {
					t.Errorf("%s %s: duplicate value %q", kind, name, v)
				}
				seen[v] = true
			}
		}
	}
}

var allSources = []string{"netinfo", "docker", "mesos", "host"}

// TestZoneFixtures compares whole generated zones with the ones the
// Mesos-DNS generator produced from the same state and settings.
func TestZoneFixtures(t *testing.T) {
	dir := testutil.Fixtures(t, "mesos")
	cases := []struct {
		file   string
		leader string // overrides the state's leader when set
		cfg    Config
	}{
		{"fake.zone.default-settings.json", "", Config{
			Domain: "mesos", IPSources: []string{"netinfo", "mesos", "host"},
			SOAMname: "ns1.mesos.", Listener: "127.0.0.1", Masters: []string{"1.2.3.4:5050"},
		}},
		{"fake.zone.generator-test-settings.json", "master@144.76.157.37:5050", Config{
			Domain: "mesos", EnforceRFC952: true, IPSources: allSources,
			SOAMname: "mesos-dns.mesos.", Listener: "127.0.0.1", Masters: []string{"144.76.157.37:5050"},
		}},
		{"fake.zone.resolver-test-settings.json", "", Config{
			Domain: "mesos", EnforceRFC952: true, IPSources: allSources,
			SOAMname: "mesos-dns.mesos.", Listener: "127.0.0.1", Masters: []string{"144.76.157.37:5050"},
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			var want zone
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			st := fixtureState(t)
			if c.leader != "" {
				st.Leader = c.leader
			}
			snap := build(st, localhost)
			for _, gen := range []struct {
				name string
				run  func() (*RecordSet, []model.Problem)
			}{
				{"Generate", func() (*RecordSet, []model.Problem) { return Generate(snap, c.cfg) }},
				{"Generator", func() (*RecordSet, []model.Problem) {
					g := NewGenerator()
					g.Generate(snap, c.cfg)
					return g.Generate(snap, c.cfg) // second build: all from memory
				}},
			} {
				rs, probs := gen.run()
				if len(probs) != 0 {
					t.Errorf("%s: problems: %v", gen.name, probs)
				}
				diffMaps(t, gen.name+" A", rs.A, want.As)
				diffMaps(t, gen.name+" AAAA", rs.AAAA, want.AAAAs)
				diffMaps(t, gen.name+" SRV", rs.SRV, want.SRVs)
				noDuplicates(t, rs)
				if rs.Domain != "mesos" || rs.Version != 7 {
					t.Errorf("%s: Domain %q Version %d", gen.name, rs.Domain, rs.Version)
				}
			}
		})
	}
}

// TestInsertState holds the expectations of Mesos-DNS' TestInsertState.
func TestInsertState(t *testing.T) {
	st := fixtureState(t)
	st.Leader = "master@144.76.157.37:5050"
	snap := build(st, localhost)
	base := Config{Domain: "mesos", EnforceRFC952: true, SOAMname: "mesos-dns.mesos.",
		Listener: "127.0.0.1", Masters: []string{"144.76.157.37:5050"}}
	gens := map[string][]string{
		"rg":        {"netinfo", "docker", "mesos", "host"},
		"rgDocker":  {"docker", "host"},
		"rgMesos":   {"mesos", "host"},
		"rgSlave":   {"host"},
		"rgNetinfo": {"netinfo"},
	}
	sets := map[string]*RecordSet{}
	for name, src := range gens {
		cfg := base
		cfg.IPSources = src
		sets[name], _ = Generate(snap, cfg)
	}
	none := []string(nil)
	rows := []struct {
		gen, kind, name string
		want            []string
	}{
		{"rg", "A", "big-dog.marathon.mesos.", []string{"10.3.0.1"}},
		{"rg", "A", "liquor-store.marathon.mesos.", []string{"10.3.0.1", "10.3.0.2"}},
		{"rg", "A", "liquor-store.marathon.slave.mesos.", []string{"1.2.3.11", "1.2.3.12"}},
		{"rg", "A", "car-store.marathon.slave.mesos.", []string{"1.2.3.11"}},
		{"rg", "A", "nginx.marathon.mesos.", []string{"10.3.0.3"}},
		{"rg", "A", "poseidon.marathon.mesos.", none},
		{"rg", "A", "poseidon.marathon.slave.mesos.", none},
		{"rg", "A", "master.mesos.", []string{"144.76.157.37"}},
		{"rg", "A", "master0.mesos.", []string{"144.76.157.37"}},
		{"rg", "A", "leader.mesos.", []string{"144.76.157.37"}},
		{"rg", "A", "slave.mesos.", []string{"1.2.3.10", "1.2.3.11", "1.2.3.12"}},
		{"rg", "A", "some-box.chronoswithaspaceandmixe.mesos.", []string{"1.2.3.11"}},
		{"rg", "A", "marathon.mesos.", []string{"1.2.3.11"}},
		{"rg", "AAAA", "toy-store.ipv6-framework.mesos.", []string{"fd01:b::1:8000:2"}},
		{"rg", "AAAA", "toy-store.ipv6-framework.slave.mesos.", []string{"2001:db8::1"}},
		{"rg", "AAAA", "ipv6-framework.mesos.", []string{"2001:db8::1"}},
		{"rg", "AAAA", "slave.mesos.", []string{"2001:db8::1"}},
		{"rg", "SRV", "_big-dog._tcp.marathon.mesos.", []string{"big-dog-4dfjd-0.marathon.mesos.:80", "big-dog-4dfjd-0.marathon.mesos.:443"}},
		{"rg", "SRV", "_poseidon._tcp.marathon.mesos.", none},
		{"rg", "SRV", "_leader._tcp.mesos.", []string{"leader.mesos.:5050"}},
		{"rg", "SRV", "_liquor-store._tcp.marathon.mesos.", []string{"liquor-store-4dfjd-0.marathon.mesos.:80",
			"liquor-store-4dfjd-0.marathon.mesos.:443", "liquor-store-zasmd-1.marathon.mesos.:80", "liquor-store-zasmd-1.marathon.mesos.:443"}},
		{"rg", "SRV", "_liquor-store._udp.marathon.mesos.", none},
		{"rg", "SRV", "_liquor-store.marathon.mesos.", none},
		{"rg", "SRV", "_https._liquor-store._tcp.marathon.mesos.", []string{"liquor-store-4dfjd-0.marathon.mesos.:443", "liquor-store-zasmd-1.marathon.mesos.:443"}},
		{"rg", "SRV", "_http._liquor-store._tcp.marathon.mesos.", []string{"liquor-store-4dfjd-0.marathon.mesos.:80", "liquor-store-zasmd-1.marathon.mesos.:80"}},
		{"rg", "SRV", "_car-store._tcp.marathon.mesos.", []string{"car-store-zinaz-0.marathon.slave.mesos.:31364", "car-store-zinaz-0.marathon.slave.mesos.:31365"}},
		{"rg", "SRV", "_car-store._udp.marathon.mesos.", []string{"car-store-zinaz-0.marathon.slave.mesos.:31364", "car-store-zinaz-0.marathon.slave.mesos.:31365"}},
		{"rg", "SRV", "_slave._tcp.mesos.", []string{"slave.mesos.:5051"}},
		{"rg", "SRV", "_framework._tcp.marathon.mesos.", []string{"marathon.mesos.:25501"}},
		{"rgSlave", "A", "liquor-store.marathon.mesos.", []string{"1.2.3.11", "1.2.3.12"}},
		{"rgSlave", "A", "liquor-store.marathon.slave.mesos.", []string{"1.2.3.11", "1.2.3.12"}},
		{"rgSlave", "A", "nginx.marathon.mesos.", []string{"1.2.3.11"}},
		{"rgSlave", "A", "car-store.marathon.slave.mesos.", []string{"1.2.3.11"}},
		{"rgSlave", "AAAA", "toy-store.ipv6-framework.mesos.", []string{"2001:db8::1"}},
		{"rgSlave", "AAAA", "toy-store.ipv6-framework.slave.mesos.", []string{"2001:db8::1"}},
		{"rgMesos", "A", "liquor-store.marathon.mesos.", []string{"1.2.3.11", "1.2.3.12"}},
		{"rgMesos", "A", "liquor-store.marathon.slave.mesos.", []string{"1.2.3.11", "1.2.3.12"}},
		{"rgMesos", "A", "nginx.marathon.mesos.", []string{"10.3.0.3"}},
		{"rgMesos", "A", "car-store.marathon.slave.mesos.", []string{"1.2.3.11"}},
		{"rgMesos", "AAAA", "toy-store.ipv6-framework.mesos.", []string{"2001:db8::1"}},
		{"rgMesos", "AAAA", "toy-store.ipv6-framework.slave.mesos.", []string{"2001:db8::1"}},
		{"rgNetinfo", "A", "toy-store.ipv6-framework.mesos.", []string{"12.0.1.3", "12.0.1.2"}},
		{"rgNetinfo", "AAAA", "toy-store.ipv6-framework.mesos.", []string{"fd01:b::1:8000:2"}},
		{"rgNetinfo", "AAAA", "toy-store.ipv6-framework.slave.mesos.", []string{"2001:db8::1"}},
		{"rgDocker", "A", "liquor-store.marathon.mesos.", []string{"10.3.0.1", "10.3.0.2"}},
		{"rgDocker", "A", "liquor-store.marathon.slave.mesos.", []string{"1.2.3.11", "1.2.3.12"}},
		{"rgDocker", "A", "nginx.marathon.mesos.", []string{"1.2.3.11"}},
		{"rgDocker", "A", "car-store.marathon.slave.mesos.", []string{"1.2.3.11"}},
		{"rgDocker", "AAAA", "toy-store.ipv6-framework.mesos.", []string{"2001:db8::1"}},
		{"rgDocker", "AAAA", "toy-store.ipv6-framework.slave.mesos.", []string{"2001:db8::1"}},
	}
	for _, r := range rows {
		rs := sets[r.gen]
		m := map[string]map[string][]string{"A": rs.A, "AAAA": rs.AAAA, "SRV": rs.SRV}[r.kind]
		got, ok := m[r.name]
		if r.want == nil {
			if ok {
				t.Errorf("%s %s %s: got %v, want none", r.gen, r.kind, r.name, got)
			}
			continue
		}
		// Upstream compares sets; netinfo order is also the state's order.
		if r.gen == "rgNetinfo" && r.kind == "A" {
			if !slices.Equal(got, r.want) {
				t.Errorf("%s %s %s: got %v, want %v in this order", r.gen, r.kind, r.name, got, r.want)
			}
			continue
		}
		g, w := slices.Clone(got), slices.Clone(r.want)
		sort.Strings(g)
		sort.Strings(w)
		if !slices.Equal(g, w) {
			t.Errorf("%s %s %s: got %v, want %v", r.gen, r.kind, r.name, got, r.want)
		}
	}
}

// leaderOnly builds a snapshot with nothing but a leader.
func leaderOnly(leader string) *model.Snapshot {
	return build(&state.State{Leader: leader}, nil)
}

// TestMasterRecord holds the cases of Mesos-DNS' TestMasterRecord.
func TestMasterRecord(t *testing.T) {
	type recs map[string][]string // "A name" / "AAAA name" / "SRV name" → values
	v4 := recs{
		"A leader.foo.com.":         {"0.0.0.6"},
		"A master.foo.com.":         {"0.0.0.6"},
		"A master0.foo.com.":        {"0.0.0.6"},
		"SRV _leader._tcp.foo.com.": {"leader.foo.com.:7"},
		"SRV _leader._udp.foo.com.": {"leader.foo.com.:7"},
	}
	v6 := recs{
		"AAAA leader.foo.com.":      {"2001:db8::1"},
		"AAAA master.foo.com.":      {"2001:db8::1"},
		"AAAA master0.foo.com.":     {"2001:db8::1"},
		"SRV _leader._tcp.foo.com.": {"leader.foo.com.:7"},
		"SRV _leader._udp.foo.com.": {"leader.foo.com.:7"},
	}
	two := recs{
		"A leader.foo.com.":         {"0.0.0.6"},
		"A master.foo.com.":         {"0.0.0.6", "0.0.0.8"},
		"A master0.foo.com.":        {"0.0.0.8"},
		"A master1.foo.com.":        {"0.0.0.6"},
		"SRV _leader._tcp.foo.com.": {"leader.foo.com.:7"},
		"SRV _leader._udp.foo.com.": {"leader.foo.com.:7"},
	}
	three := recs{
		"A leader.foo.com.":         {"0.0.0.6"},
		"A master.foo.com.":         {"0.0.0.6", "0.0.0.8", "0.0.0.7"},
		"A master0.foo.com.":        {"0.0.0.8"},
		"A master1.foo.com.":        {"0.0.0.6"},
		"A master2.foo.com.":        {"0.0.0.7"},
		"SRV _leader._tcp.foo.com.": {"leader.foo.com.:7"},
		"SRV _leader._udp.foo.com.": {"leader.foo.com.:7"},
	}
	threeV6 := recs{
		"A leader.foo.com.":         {"0.0.0.6"},
		"A master.foo.com.":         {"0.0.0.6", "0.0.0.8"},
		"AAAA master.foo.com.":      {"2001:db8::1"},
		"A master0.foo.com.":        {"0.0.0.8"},
		"A master1.foo.com.":        {"0.0.0.6"},
		"AAAA master2.foo.com.":     {"2001:db8::1"},
		"SRV _leader._tcp.foo.com.": {"leader.foo.com.:7"},
		"SRV _leader._udp.foo.com.": {"leader.foo.com.:7"},
	}
	cases := []struct {
		masters []string
		leader  string
		want    recs
	}{
		{nil, "", recs{}},
		{nil, "@", recs{}},
		{nil, "1@", recs{}},
		{nil, "@2", recs{}},
		{nil, "3@4", recs{}},
		{nil, "5@0.0.0.6:7", v4},
		{nil, "5@[2001:db8::1]:7", v6},
		{[]string{"0.0.0.6:7"}, "5@0.0.0.6:7", v4},
		{[]string{"0.0.0.8:9"}, "5@0.0.0.6:7", two},
		{[]string{"0.0.0.8:9", "0.0.0.8:9"}, "5@0.0.0.6:7", two},
		{[]string{"0.0.0.8:9", "0.0.0.6:7"}, "5@0.0.0.6:7", two},
		{[]string{"0.0.0.8:9", "0.0.0.6:7", "0.0.0.6:7"}, "5@0.0.0.6:7", two},
		{[]string{"0.0.0.8:9", "0.0.0.6:7", "0.0.0.7:0"}, "5@0.0.0.6:7", three},
		{[]string{"0.0.0.8:9", "0.0.0.6:7", "[2001:db8::1]:0"}, "5@0.0.0.6:7", threeV6},
	}
	for _, c := range cases {
		rs, _ := Generate(leaderOnly(c.leader), Config{Domain: "foo.com", Masters: c.masters})
		got := recs{}
		for kind, m := range map[string]map[string][]string{"A": rs.A, "AAAA": rs.AAAA, "SRV": rs.SRV} {
			for name, vals := range m {
				v := slices.Clone(vals)
				sort.Strings(v)
				got[kind+" "+name] = v
			}
		}
		want := recs{}
		for k, v := range c.want {
			v = slices.Clone(v)
			sort.Strings(v)
			want[k] = v
		}
		if len(got) != len(want) {
			t.Errorf("masters %v leader %q: got %v, want %v", c.masters, c.leader, got, want)
			continue
		}
		for k, v := range want {
			if !slices.Equal(got[k], v) {
				t.Errorf("masters %v leader %q: %s = %v, want %v", c.masters, c.leader, k, got[k], v)
			}
		}
	}
}

// TestSOAMname covers Mesos-DNS' TestParseState_SOAMname and the other
// listener forms.
func TestSOAMname(t *testing.T) {
	cases := []struct {
		listener, mname string
		addrs           []netip.Addr
		kind            string
		want            []string
	}{
		{"4.5.6.7", "jdef123.mesos.", nil, "A", []string{"4.5.6.7"}},
		{"2001:db8::1", "ack456.mesos.", nil, "AAAA", []string{"2001:db8::1"}},
		{"127.0.0.1", "ns1.mesos.", nil, "A", []string{"127.0.0.1"}},
		// 0.0.0.0: every non-loopback interface address the caller found.
		{"0.0.0.0", "ns1.mesos.", []netip.Addr{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("127.0.0.1"),
			netip.MustParseAddr("192.168.1.2")}, "A", []string{"10.0.0.5", "192.168.1.2"}},
		{"0.0.0.0", "ns1.mesos.", []netip.Addr{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("fd00::5"),
			netip.MustParseAddr("::1")}, "AAAA", []string{"fd00::5"}},
		// A name outside the domain is added all the same.
		{"4.5.6.7", "ns.example.org.", nil, "A", []string{"4.5.6.7"}},
	}
	for _, c := range cases {
		rs, probs := Generate(leaderOnly("master@1.2.3.4:5050"), Config{Domain: "mesos", Listener: c.listener,
			SOAMname: c.mname, ListenerAddrs: c.addrs})
		m := rs.A
		if c.kind == "AAAA" {
			m = rs.AAAA
		}
		if !slices.Equal(m[c.mname], c.want) {
			t.Errorf("listener %s: %s %s = %v, want %v", c.listener, c.kind, c.mname, m[c.mname], c.want)
		}
		if len(probs) != 0 {
			t.Errorf("listener %s: problems %v", c.listener, probs)
		}
	}
}

func TestHashID(t *testing.T) {
	cases := map[string]string{
		"test": "iffe9",
		"toy-store.b8db9f73-562f-11e4-a088-c20493233aa5":    "go588",
		"some-box.b8db9f73-562f-11e4-a088-c20493233aa5":     "h3dyr",
		"liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5": "4dfjd",
		"liquor-store.b71166c1-562f-11e4-a088-c20493233aa5": "zasmd",
		"car-store.43758382-562f-11e4-a088-c20493233aa5":    "zinaz",
		"chronos.49b91a9a-3dda-11e4-a088-c20493233aa5":      "rx8q6",
		"nginx.1bc32344-3dda-11e4-a088-c20493233aa5":        "6ud99",
		"reviewbot.8c9b3434-615a-11e4-a088-c20493233aa5":    "8sq89",
	}
	for id, want := range cases {
		if got := hashID(id); got != want {
			t.Errorf("hashID(%q) = %q, want %q", id, got, want)
		}
	}
	for id, want := range map[string]string{"20160107-001256-134875658-5050-27524-S3": "s3",
		"…-5050-2116-3": "3", "noDash": "nodash", "trailing-": ""} {
		if got := agentTail(id); got != want {
			t.Errorf("agentTail(%q) = %q, want %q", id, got, want)
		}
	}
}

// TestEnumerate checks the /v1/enumerate view: every framework in order,
// only eligible tasks, and each record listed by the first task to insert it.
func TestEnumerate(t *testing.T) {
	st := fixtureState(t)
	snap := build(st, localhost)
	rs, _ := Generate(snap, Config{Domain: "mesos", IPSources: allSources, SOAMname: "ns1.mesos.",
		Listener: "127.0.0.1", Masters: []string{"1.2.3.4:5050"}})
	var names []string
	for _, f := range rs.Frameworks {
		names = append(names, f.Name)
		if f.Tasks == nil {
			t.Errorf("framework %q: Tasks is nil, want an empty list", f.Name)
		}
	}
	wantFW := []string{"ipv6-framework", "chronos with a space AND MIXED CASE-2.0.1", "no pid", "marathon"}
	if !slices.Equal(names, wantFW) {
		t.Fatalf("frameworks %v, want %v", names, wantFW)
	}
	var tasks []string
	seen := map[EnumRecord]string{}
	for _, f := range rs.Frameworks {
		for _, task := range f.Tasks {
			tasks = append(tasks, task.Name)
			for _, r := range task.Records {
				if prev, dup := seen[r]; dup {
					t.Errorf("record %v listed by %q and %q", r, prev, task.Name)
				}
				seen[r] = task.Name
				m := map[string]map[string][]string{"A": rs.A, "AAAA": rs.AAAA, "SRV": rs.SRV}[r.RType]
				if !slices.Contains(m[r.Name], r.Host) {
					t.Errorf("record %v not in the record set", r)
				}
			}
		}
	}
	wantTasks := []string{"toy-store", "some-box", "liquor.store", "big.dog2", "non-human-readable-liquor-store",
		"car.store", "chronos", "nginx", "reviewbot"}
	if !slices.Equal(tasks, wantTasks) {
		t.Fatalf("tasks %v, want %v (poseidon is killed)", tasks, wantTasks)
	}
	// big.dog2 shares its id and agent with liquor.store: the .slave and
	// host-port records of its raw-named pass are new (different T), but
	// nothing under the liquor-store names may be listed again.
	for _, f := range rs.Frameworks {
		for _, task := range f.Tasks {
			if task.Name != "big.dog2" {
				continue
			}
			for _, r := range task.Records {
				if strings.Contains(r.Name, "liquor") {
					t.Errorf("big.dog2 lists %v", r)
				}
			}
			if len(task.Records) == 0 {
				t.Error("big.dog2 lists nothing")
			}
		}
	}
	// The first record of toy-store is its task-IP A record.
	if r := rs.Frameworks[0].Tasks[0].Records[0]; r != (EnumRecord{"toy-store.ipv6-framework.mesos.", "12.0.1.3", "A"}) {
		t.Errorf("first toy-store record %v", r)
	}
	// No frameworks: no framework list at all.
	rs, _ = Generate(build(&state.State{Leader: "master@1.2.3.4:5050"}, nil), Config{Domain: "mesos"})
	if rs.Frameworks != nil {
		t.Errorf("Frameworks = %v, want nil", rs.Frameworks)
	}
}
