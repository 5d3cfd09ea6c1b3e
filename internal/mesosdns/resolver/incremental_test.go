package resolver

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/dnsserver"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/mesosdns/records"
	"github.com/sextantdc/sextant/internal/mesosdns/records/synth"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

// changeState applies one random change of the kinds a cluster sees.
func changeState(r *rand.Rand, st *state.State) string {
	f := &st.Frameworks[r.IntN(len(st.Frameworks))]
	if len(f.Tasks) == 0 {
		return "nothing"
	}
	i := r.IntN(len(f.Tasks))
	t := &f.Tasks[i]
	switch r.IntN(8) {
	case 0:
		t.ID += "-restarted" // a new instance: new canonical names
		return "restart"
	case 1:
		t.State = []string{"TASK_RUNNING", "TASK_KILLED"}[r.IntN(2)]
		return "state"
	case 2:
		t.SlaveID = st.Slaves[r.IntN(len(st.Slaves))].ID
		return "move"
	case 3:
		f.Tasks = append(f.Tasks[:i], f.Tasks[i+1:]...)
		return "remove"
	case 4:
		a := &st.Slaves[r.IntN(len(st.Slaves))]
		a.PID = fmt.Sprintf("slave(1)@10.250.%d.%d:5051", r.IntN(3), 1+r.IntN(3))
		return "agent address"
	case 5:
		f.Tasks[i], f.Tasks[len(f.Tasks)-1] = f.Tasks[len(f.Tasks)-1], f.Tasks[i]
		return "reorder"
	case 6:
		f.Tasks = append(f.Tasks, f.Tasks[i]) // the same task twice
		return "duplicate"
	default:
		t.Name = []string{"web.payments", "api.search", "fresh"}[r.IntN(3)]
		return "rename"
	}
}

// cached returns the built answers of name in the zone being served, or
// nil when they are not built.
func cached(r *Resolver, name string) *entry { return cachedIn(r.cur.Load(), name) }

func cachedIn(z *zone, name string) *entry {
	sh := z.cache.shard([]byte(name))
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.m[name]
}

// allNames lists every name of rs.
func allNames(rs *records.RecordSet) []string {
	var out []string
	if rs == nil {
		return nil
	}
	for _, m := range []map[string][]string{rs.A, rs.AAAA, rs.SRV} {
		for name := range m {
			out = append(out, name)
		}
	}
	return out
}

// TestIncrementalPrepareMatchesFresh: answers carried over from the
// previous zone on a reload (the cached names that did not change) are
// exactly those built from scratch for the same record set, after any
// sequence of changes.
func TestIncrementalPrepareMatchesFresh(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 4))
	st := synth.State(400, 3)
	rcfg := records.Config{Domain: "mesos", IPSources: []string{"netinfo", "mesos", "host"}, SOAMname: "ns1.mesos.",
		Listener: "127.0.0.1", Masters: []string{"10.0.0.1:5050"}}
	g := records.NewGenerator()
	inc, err := New(fakeConfig(), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	shared, deltas := 0, 0
	for round := range 30 {
		what := ""
		if round > 0 {
			st = testutil.CloneState(t, st)
			for range 1 + r.IntN(3) {
				what += changeState(r, st) + " "
			}
		}
		snap := modeltest.FromState(st, modeltest.Options{Version: uint64(round)})
		rs, _ := g.Generate(snap, rcfg)
		before := inc.cur.Load()
		inc.Update(rs, uint32(round))
		fresh, err := New(fakeConfig(), nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		fresh.Update(rs, uint32(round))
		got, want := inc.cur.Load(), fresh.cur.Load()
		if got.delta {
			deltas++
		}
		// What was carried over must be what a fresh zone builds.
		got.cache.each(func(name string, e *entry) {
			if cachedIn(before, name) == e {
				shared++
			}
			if w := want.get([]byte(name)); !reflect.DeepEqual(e, w) {
				t.Errorf("round %d (%s): carried-over entry %s differs", round, what, name)
			}
		})
		for _, name := range allNames(rs) {
			if g, w := got.get([]byte(name)), want.get([]byte(name)); !reflect.DeepEqual(g, w) {
				t.Fatalf("round %d (%s): entry %s differs", round, what, name)
			}
		}
		for _, name := range allNames(before.rs) {
			if !rs.Has(name) && got.get([]byte(name)) != nil {
				t.Fatalf("round %d (%s): entry %s should be gone", round, what, name)
			}
		}
		if got.counts != want.counts || got.nameCount != want.nameCount {
			t.Fatalf("round %d (%s): record counts %v/%d, want %v/%d", round, what, got.counts, got.nameCount, want.counts, want.nameCount)
		}
	}
	if deltas < 20 {
		t.Fatalf("only %d of 30 reloads carried the previous answers over", deltas)
	}
	if shared == 0 {
		t.Fatal("no built entry was ever carried over across reloads")
	}
}

// TestCacheBounded: past CacheEntries, built answers are dropped and built
// again when asked for; every answer stays right and the cache stays
// within its bound. Missing names are never cached.
func TestCacheBounded(t *testing.T) {
	rs := &records.RecordSet{Domain: "mesos", A: map[string][]string{}, AAAA: map[string][]string{},
		SRV: map[string][]string{}}
	for i := range 1000 {
		name := fmt.Sprintf("app-%d.marathon.mesos.", i)
		rs.A[name] = []string{fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)}
		rs.SRV["_app-"+fmt.Sprint(i)+"._tcp.marathon.mesos."] = []string{name[:len(name)-1] + ".:" + fmt.Sprint(31000+i)}
	}
	cfg := fakeConfig()
	cfg.CacheEntries = 128
	r := newResolver(t, cfg, rs)
	for round := range 3 {
		for i := range 1000 {
			name := fmt.Sprintf("app-%d.marathon.mesos.", i)
			m, fast := ask(t, r, q(name, dns.TypeA), dnsserver.UDP)
			if !fast || len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != rs.A[name][0] {
				t.Fatalf("round %d: %s: fast %v, %v", round, name, fast, m.Answer)
			}
			srv := "_app-" + fmt.Sprint(i) + "._tcp.marathon.mesos."
			m, fast = ask(t, r, q(srv, dns.TypeSRV), dnsserver.UDP)
			if !fast || len(m.Answer) != 1 || len(m.Extra) != 1 || m.Answer[0].(*dns.SRV).Port != uint16(31000+i) {
				t.Fatalf("round %d: %s: fast %v, %v %v", round, srv, fast, m.Answer, m.Extra)
			}
			if _, fast := ask(t, r, q(fmt.Sprintf("missing-%d.mesos.", i), dns.TypeA), dnsserver.UDP); !fast {
				t.Fatal("NXDOMAIN not answered fast")
			}
		}
		if n := r.cur.Load().cache.len(); n > cfg.CacheEntries {
			t.Fatalf("round %d: %d cached entries, bound %d", round, n, cfg.CacheEntries)
		}
	}
	if cached(r, "missing-1.mesos.") != nil {
		t.Fatal("a missing name was cached")
	}
}
