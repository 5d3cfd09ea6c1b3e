package gossip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sxtest "github.com/sextantdc/sextant/internal/testutil"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// wait is the generous bound for cluster outcomes on a loaded 2-core box;
// the goals (sub-second dissemination, failover in a few seconds) are far
// below it.
const wait = 20 * time.Second

type delivery struct {
	version uint64
	payload []byte
}

type tnode struct {
	*Node
	reg *prometheus.Registry

	mu      sync.Mutex
	got     map[string][]delivery
	leaders []string
}

type nodeOpt func(*Config)

func withKey(k []byte) nodeOpt   { return func(c *Config) { c.Key = k } }
func withLabel(l string) nodeOpt { return func(c *Config) { c.Label = l } }
func withPort(p int) nodeOpt     { return func(c *Config) { c.BindPort = p } }

// startNode starts a member on 127.0.0.1 with a free port. Its node IP (in
// metadata) is 10.0.0.<n> so reachability can be checked per node.
func startNode(t testing.TB, name string, ipLast byte, opts ...nodeOpt) *tnode {
	t.Helper()
	tn, err := tryStartNode(t, name, ipLast, opts...)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return tn
}

func tryStartNode(t testing.TB, name string, ipLast byte, opts ...nodeOpt) (*tnode, error) {
	tn := &tnode{reg: prometheus.NewRegistry(), got: map[string][]delivery{}}
	cfg := Config{
		NodeName: name,
		BindAddr: "127.0.0.1",
		Role:     RoleAgent,
		NodeIP:   netip.AddrFrom4([4]byte{10, 0, 0, ipLast}),
		Key:      testKey,
		Label:    "test-cluster",
		Timers:   FastTimers(),
		OnUpdate: func(zone string, v uint64, p []byte) {
			tn.mu.Lock()
			tn.got[zone] = append(tn.got[zone], delivery{v, p})
			tn.mu.Unlock()
		},
		OnLeaderChange: func(leader string, _ bool) {
			tn.mu.Lock()
			tn.leaders = append(tn.leaders, leader)
			tn.mu.Unlock()
		},
	}
	if strings.HasPrefix(name, "m") {
		cfg.Role = RoleMaster
	}
	for _, o := range opts {
		o(&cfg)
	}
	level := slog.LevelWarn
	if os.Getenv("GOSSIP_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	n, err := New(cfg, log, tn.reg)
	if err != nil {
		return nil, err
	}
	tn.Node = n
	t.Cleanup(func() { tn.stopNode() })
	return tn, nil
}

func (tn *tnode) stopNode() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = tn.Shutdown(ctx)
}

func (tn *tnode) port() int {
	_, p, _ := strings.Cut(tn.Addr(), "127.0.0.1:")
	v, _ := strconv.Atoi(p)
	return v
}

// last returns the last delivery of zone, and checks that deliveries only
// ever went up.
func (tn *tnode) last(t testing.TB, zone string) (delivery, bool) {
	t.Helper()
	tn.mu.Lock()
	defer tn.mu.Unlock()
	ds := tn.got[zone]
	for i := 1; i < len(ds); i++ {
		if ds[i].version <= ds[i-1].version {
			t.Fatalf("%s: OnUpdate(%s) went from version %d to %d", tn.Name(), zone, ds[i-1].version, ds[i].version)
		}
	}
	if len(ds) == 0 {
		return delivery{}, false
	}
	return ds[len(ds)-1], true
}

func (tn *tnode) hasVersion(t testing.TB, zone string, v uint64) bool {
	d, ok := tn.last(t, zone)
	return ok && d.version >= v
}

func join(t testing.TB, n *tnode, to ...*tnode) {
	t.Helper()
	addrs := make([]string, len(to))
	for i, o := range to {
		addrs[i] = o.Addr()
	}
	if _, err := n.Join(addrs); err != nil {
		t.Fatalf("%s join: %v", n.Name(), err)
	}
}

// cluster starts named nodes and joins them all to the first.
func cluster(t testing.TB, names ...string) []*tnode {
	t.Helper()
	var ns []*tnode
	for i, name := range names {
		ns = append(ns, startNode(t, name, byte(i+1)))
		if i > 0 {
			join(t, ns[i], ns[0])
		}
	}
	waitAlive(t, ns, len(ns))
	return ns
}

func aliveCount(n *tnode) int {
	c := 0
	for _, m := range n.Members() {
		if m.State == StateAlive {
			c++
		}
	}
	return c
}

func waitAlive(t testing.TB, ns []*tnode, want int) {
	t.Helper()
	sxtest.Eventually(t, wait, fmt.Sprintf("%d alive members everywhere", want), func() bool {
		for _, n := range ns {
			if aliveCount(n) != want {
				return false
			}
		}
		return true
	})
}

func waitVersion(t testing.TB, ns []*tnode, zone string, v uint64) {
	t.Helper()
	sxtest.Eventually(t, wait, fmt.Sprintf("version %d of %s everywhere", v, zone), func() bool {
		for _, n := range ns {
			if !n.hasVersion(t, zone, v) {
				return false
			}
		}
		return true
	})
}

// bigZone is a payload shaped like a zone of n tasks.
func bigZone(n, gen int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "task-%d-gen%d.app%d.marathon.autoip.dcos.thisdcos.directory. 5 IN A 10.%d.%d.%d\n",
			i, gen, i%97, i/65536%256, i/256%256, i%256)
	}
	return b.Bytes()
}

func TestPublishReachesEveryNode(t *testing.T) {
	ns := cluster(t, "m1", "m2", "a1")
	m1, m2, a1 := ns[0], ns[1], ns[2]
	sxtest.Eventually(t, wait, "m1 leads everywhere", func() bool {
		return m1.IsLeader() && m2.LeaderName() == "m1" && a1.LeaderName() == "m1" && !m2.IsLeader()
	})
	if _, err := m2.Publish("z", []byte("x")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("non-leader publish: %v", err)
	}
	if _, err := a1.Publish("z", []byte("x")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("agent publish: %v", err)
	}

	// Small zone: gossip broadcast path.
	v1, err := m1.Publish("small.thisdcos.directory", []byte("ready.spartan. 5 IN A 127.0.0.1"))
	if err != nil || v1 != 1 {
		t.Fatalf("publish = %d, %v; want version 1", v1, err)
	}
	waitVersion(t, ns, "small.thisdcos.directory", v1)

	// Large zone (10k tasks, about 1 MB): reliable TCP path, compressed.
	big := bigZone(10000, 1)
	v, err := m1.Publish("dcos.thisdcos.directory", big)
	if err != nil {
		t.Fatal(err)
	}
	waitVersion(t, ns, "dcos.thisdcos.directory", v)
	for _, n := range ns {
		d, _ := n.last(t, "dcos.thisdcos.directory")
		if !bytes.Equal(d.payload, big) {
			t.Fatalf("%s: payload differs", n.Name())
		}
		if gv, gp, ok := n.Get("dcos.thisdcos.directory"); !ok || gv != v || !bytes.Equal(gp, big) {
			t.Fatalf("%s: Get = %d, ok=%v", n.Name(), gv, ok)
		}
	}
	if out := testutil.ToFloat64(m1.met.bytesOut); out > float64(len(big)) {
		t.Errorf("sent %v bytes for two copies of a %d-byte zone: not compressed", out, len(big))
	}

	// A burst of changes: everyone ends on the last one, never going back.
	var last uint64
	for i := range 5 {
		if last, err = m1.Publish("dcos.thisdcos.directory", bigZone(2000, i+2)); err != nil {
			t.Fatal(err)
		}
	}
	waitVersion(t, ns, "dcos.thisdcos.directory", last)

	// Reachability and membership from every node's point of view.
	for _, n := range ns {
		for i := range 3 {
			ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
			if !n.Reachable(ip) {
				t.Errorf("%s: %v not reachable", n.Name(), ip)
			}
		}
		if n.Reachable(netip.MustParseAddr("10.9.9.9")) || n.Known(netip.MustParseAddr("10.9.9.9")) {
			t.Errorf("%s: unknown IP reported", n.Name())
		}
		ms := n.Members()
		if len(ms) != 3 || ms[0].Name != "a1" || ms[0].Role != RoleAgent || ms[1].Role != RoleMaster {
			t.Errorf("%s: members %+v", n.Name(), ms)
		}
		if got := testutil.ToFloat64(n.met.members.WithLabelValues("alive")); got != 3 {
			t.Errorf("%s: alive gauge %v", n.Name(), got)
		}
	}
	if got := testutil.ToFloat64(a1.met.applied); got < 3 {
		t.Errorf("a1 applied %v versions", got)
	}

	// Periodic anti-entropy: a1 loses its copy without any membership
	// change or publish; the next push/pull digest exchange restores it.
	a1.mu.Lock()
	delete(a1.zones, "dcos.thisdcos.directory")
	a1.mu.Unlock()
	sxtest.Eventually(t, wait, "a1 restored by push/pull", func() bool {
		v, _, ok := a1.Get("dcos.thisdcos.directory")
		return ok && v == last
	})
}

func TestLeaderFailover(t *testing.T) {
	ns := cluster(t, "m1", "m2", "a1")
	m1, m2, a1 := ns[0], ns[1], ns[2]
	sxtest.Eventually(t, wait, "m1 leads", func() bool { return m1.IsLeader() && a1.LeaderName() == "m1" })
	var v uint64
	var err error
	for i := range 3 {
		if v, err = m1.Publish("dcos.thisdcos.directory", []byte(fmt.Sprintf("gen %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitVersion(t, ns, "dcos.thisdcos.directory", v)

	// Crash the leader (no Leave): the failure detector must notice.
	start := time.Now()
	m1.stopNode()
	sxtest.Eventually(t, wait, "m2 takes over", func() bool { return m2.IsLeader() && a1.LeaderName() == "m2" })
	t.Logf("failover detected in %v", time.Since(start).Round(time.Millisecond))
	if a1.Reachable(netip.AddrFrom4([4]byte{10, 0, 0, 1})) || !a1.Known(netip.AddrFrom4([4]byte{10, 0, 0, 1})) {
		t.Error("a1 still sees the dead leader as reachable")
	}
	for _, m := range a1.Members() {
		if m.Name == "m1" && m.State != StateDead {
			t.Errorf("m1 state on a1: %s", m.State)
		}
	}
	m2.mu.Lock()
	sawLeader := len(m2.leaders) > 0 && m2.leaders[len(m2.leaders)-1] == "m2"
	m2.mu.Unlock()
	if !sawLeader {
		sxtest.Eventually(t, wait, "m2 told it leads", func() bool {
			m2.mu.Lock()
			defer m2.mu.Unlock()
			return len(m2.leaders) > 0 && m2.leaders[len(m2.leaders)-1] == "m2"
		})
	}

	v2, err := m2.Publish("dcos.thisdcos.directory", []byte("new leader"))
	if err != nil {
		t.Fatal(err)
	}
	if v2 <= v {
		t.Fatalf("new leader published version %d, not above the old leader's %d", v2, v)
	}
	waitVersion(t, ns[1:], "dcos.thisdcos.directory", v2)
	if d, _ := a1.last(t, "dcos.thisdcos.directory"); string(d.payload) != "new leader" {
		t.Fatalf("a1 holds %q", d.payload)
	}
}

func TestRestartedNodeCatchesUp(t *testing.T) {
	ns := cluster(t, "m1", "a1", "a2")
	m1, a2 := ns[0], ns[2]
	sxtest.Eventually(t, wait, "m1 leads", func() bool { return m1.IsLeader() })
	v, err := m1.Publish("dcos.thisdcos.directory", bigZone(500, 1))
	if err != nil {
		t.Fatal(err)
	}
	waitVersion(t, ns, "dcos.thisdcos.directory", v)

	port := a2.port()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a2.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	a2.stopNode()
	waitAlive(t, ns[:2], 2)

	// Changes while a2 is away; the small one travels only by broadcast,
	// the large one only to the members alive when it was published.
	if _, err := m1.Publish("small.thisdcos.directory", []byte("while away")); err != nil {
		t.Fatal(err)
	}
	var last uint64
	for i := range 3 {
		if last, err = m1.Publish("dcos.thisdcos.directory", bigZone(500, i+2)); err != nil {
			t.Fatal(err)
		}
	}
	waitVersion(t, ns[:2], "dcos.thisdcos.directory", last)
	waitVersion(t, ns[:2], "small.thisdcos.directory", 1)

	// Take the leader away too, so nobody publishes or pushes to newcomers:
	// only a1's copy and the push/pull digest exchange are left.
	m1.stopNode()
	sxtest.Eventually(t, wait, "a1 sees no leader", func() bool { return ns[1].LeaderName() == "" })

	// Restart a2 on the same address with empty state; it must catch up
	// through the push/pull exchange of Join.
	var back *tnode
	sxtest.Eventually(t, wait, "a2 restarts on its port", func() bool {
		back, err = tryStartNode(t, "a2", 3, withPort(port))
		return err == nil
	})
	join(t, back, ns[1])
	waitVersion(t, []*tnode{back}, "dcos.thisdcos.directory", last)
	waitVersion(t, []*tnode{back}, "small.thisdcos.directory", 1)
	d, _ := back.last(t, "dcos.thisdcos.directory")
	if !bytes.Equal(d.payload, bigZone(500, 4)) {
		t.Fatal("restarted node holds the wrong payload")
	}
	back.mu.Lock()
	n := len(back.got["dcos.thisdcos.directory"])
	back.mu.Unlock()
	if n != 1 {
		t.Errorf("restarted node saw %d updates, want only the newest", n)
	}
}

func TestForeignClusterCannotJoin(t *testing.T) {
	ns := cluster(t, "m1", "a1")
	for _, tc := range []struct {
		name string
		opts []nodeOpt
	}{
		{"other key", []nodeOpt{withKey([]byte("fedcba9876543210fedcba9876543210"))}},
		{"no key", []nodeOpt{withKey(nil)}},
		{"other label", []nodeOpt{withLabel("other-cluster")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := startNode(t, "a9", 9, tc.opts...)
			if _, err := x.Join([]string{ns[0].Addr()}); err == nil {
				t.Fatal("join succeeded")
			}
			time.Sleep(300 * time.Millisecond) // a few gossip rounds
			for _, n := range ns {
				if aliveCount(n) != 2 || n.Known(netip.AddrFrom4([4]byte{10, 0, 0, 9})) {
					t.Fatalf("%s sees the foreign node: %+v", n.Name(), n.Members())
				}
			}
			if aliveCount(x) != 1 {
				t.Fatalf("foreign node sees %d members", aliveCount(x))
			}
			x.stopNode()
		})
	}
}

func TestOldVersionsNeverWin(t *testing.T) {
	ns := cluster(t, "m1", "a1", "a2")
	m1, a1 := ns[0], ns[1]
	sxtest.Eventually(t, wait, "m1 leads", func() bool { return m1.IsLeader() })
	var v uint64
	var err error
	for i := range 5 {
		if v, err = m1.Publish("dcos.thisdcos.directory", []byte(fmt.Sprintf("gen %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitVersion(t, ns, "dcos.thisdcos.directory", v)

	// Replayed and forged older versions, sent straight to every node as an
	// old leader would: lower versions (whatever the origin and however
	// recent the clock), and the same version from a higher name.
	staleMsgs := [][]byte{
		mustZoneAt(t, "m0", v-1, time.Now().Add(time.Hour).UnixNano(), "old leader, fast clock"),
		mustZoneAt(t, "m9", 1, time.Now().UnixNano(), "replayed"),
		mustZoneAt(t, "m2", v, time.Now().UnixNano(), "tie, higher name"),
	}
	before := make([]float64, len(ns))
	for i, n := range ns {
		before[i] = testutil.ToFloat64(n.met.stale)
	}
	for _, msg := range staleMsgs {
		for _, target := range ns {
			if err := a1.ml.SendReliable(target.ml.LocalNode(), msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	sxtest.Eventually(t, wait, "stale versions counted", func() bool {
		for i, n := range ns {
			if testutil.ToFloat64(n.met.stale) < before[i]+3 {
				return false
			}
		}
		return true
	})
	for _, n := range ns {
		if d, _ := n.last(t, "dcos.thisdcos.directory"); d.version != v || string(d.payload) != "gen 4" {
			t.Fatalf("%s: holds %d %q after stale messages", n.Name(), d.version, d.payload)
		}
	}

	// An old leader comes back: m0 (the lowest name, so the leader once it
	// is back) held version 1 of its own. Its version 1 must not overwrite
	// anything; it takes over the newer version, then re-publishes its
	// zone above it, so its payload wins with a strictly greater version.
	m0 := startNode(t, "m0", 10)
	sxtest.Eventually(t, wait, "m0 leads itself", func() bool { return m0.IsLeader() })
	v0, err := m0.Publish("dcos.thisdcos.directory", []byte("from m0"))
	if err != nil || v0 != 1 {
		t.Fatalf("m0 publish = %d, %v", v0, err)
	}
	join(t, m0, m1)
	all := append(ns, m0)
	sxtest.Eventually(t, wait, "m0 leads everywhere and its zone wins above the old versions", func() bool {
		for _, n := range all {
			st, ok := n.Stamp("dcos.thisdcos.directory")
			d, _ := n.last(t, "dcos.thisdcos.directory")
			if n.LeaderName() != "m0" || !ok || st.Origin != "m0" || st.Version <= v || string(d.payload) != "from m0" {
				return false
			}
		}
		return true
	})
	if got := testutil.ToFloat64(m0.met.reasserted); got < 1 {
		t.Errorf("m0 reasserted %v times", got)
	}
	// m1 stepped down and can no longer publish.
	if _, err := m1.Publish("dcos.thisdcos.directory", []byte("late")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("old leader publish: %v", err)
	}
}

func mustZoneAt(t testing.TB, origin string, v uint64, published int64, payload string) []byte {
	t.Helper()
	b, err := EncodeZone("dcos.thisdcos.directory", origin, v, published, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBadPeerInputIsDropped(t *testing.T) {
	n := startNode(t, "m1", 1)
	sxtest.Eventually(t, wait, "leader", n.IsLeader)
	v, err := n.Publish("z", []byte("good"))
	if err != nil {
		t.Fatal(err)
	}
	n.maxWire = 4000
	random := make([]byte, 5000)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(random) // incompressible
	if _, err := n.Publish("z", random); err == nil || !strings.Contains(err.Error(), "message limit") {
		t.Fatalf("oversized publish: %v", err)
	}
	if _, err := n.Publish("", []byte("x")); err == nil {
		t.Fatal("empty zone name published")
	}
	corrupt := mustZone(t, "z", "m0", v+1, bytes.Repeat([]byte("x"), 5000))
	corrupt[len(corrupt)-1] ^= 0xff
	for _, b := range [][]byte{nil, []byte("garbage"), corrupt, goodFields().bytes()[:20]} {
		n.handleZone(b)
		n.handleDigest(b)
	}
	if got := testutil.ToFloat64(n.met.invalid.WithLabelValues("zone")); got != 4 {
		t.Errorf("invalid zone messages counted %v, want 4", got)
	}
	if gv, gp, _ := n.Get("z"); gv != v || string(gp) != "good" {
		t.Fatalf("bad input replaced the zone: %d %q", gv, gp)
	}

	// A flood of zone names stops at the bound; held zones still update.
	for i := range maxZones + 10 {
		n.handleZone(mustZone(t, fmt.Sprintf("flood-%d", i), "m9", 1, []byte("x")))
	}
	n.handleZone(mustZone(t, "z", "m0", v+5, []byte("newer")))
	n.mu.Lock()
	held := len(n.zones)
	n.mu.Unlock()
	if held != maxZones {
		t.Fatalf("holding %d zones, bound is %d", held, maxZones)
	}
	if gv, gp, _ := n.Get("z"); gv != v+5 || string(gp) != "newer" {
		t.Fatalf("held zone not updated at the bound: %d %q", gv, gp)
	}
}

func TestConfigValidation(t *testing.T) {
	base := Config{NodeName: "n", Role: RoleAgent, BindAddr: "127.0.0.1"}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"no name", func(c *Config) { c.NodeName = "" }},
		{"long name", func(c *Config) { c.NodeName = strings.Repeat("n", 300) }},
		{"bad role", func(c *Config) { c.Role = "boss" }},
		{"bad key", func(c *Config) { c.Key = []byte("short") }},
		{"long label", func(c *Config) { c.Label = strings.Repeat("l", 300) }},
		{"no ip", func(c *Config) { c.BindAddr = "0.0.0.0" }},
		{"bad port", func(c *Config) { c.BindPort = 70000 }},
		{"long hostname", func(c *Config) { c.Hostname = strings.Repeat("h", MaxHostnameLen+1) }},
		{"too many public ips", func(c *Config) { c.PublicIPs = make([]netip.Addr, MaxPublicIPs+1) }},
		{"invalid public ip", func(c *Config) { c.PublicIPs = []netip.Addr{{}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			if _, err := New(c, nil, prometheus.NewRegistry()); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	c := base
	if err := c.validate(); err != nil || c.NodeIP != netip.MustParseAddr("127.0.0.1") || c.Timers != LANTimers() || c.MaxPayload != DefaultMaxPayload {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
}

// TestMembersChange: OnMembersChange reports joins and deaths with the
// members' metadata (hostname, public IPs) and the time each member's
// state last changed; a member whose state does not change keeps its time.
func TestMembersChange(t *testing.T) {
	type call struct {
		at      time.Time
		members []MemberInfo
	}
	var mu sync.Mutex
	var calls []call
	latest := func() []MemberInfo {
		mu.Lock()
		defer mu.Unlock()
		if len(calls) == 0 {
			return nil
		}
		return calls[len(calls)-1].members
	}
	find := func(ms []MemberInfo, name string) (MemberInfo, bool) {
		for _, m := range ms {
			if m.Name == name {
				return m, true
			}
		}
		return MemberInfo{}, false
	}
	pub := netip.MustParseAddr("52.1.2.3")
	m1 := startNode(t, "m1", 1, func(c *Config) {
		c.OnMembersChange = func(ms []MemberInfo) {
			mu.Lock()
			calls = append(calls, call{time.Now(), ms})
			mu.Unlock()
		}
	})
	start := time.Now()
	a1 := startNode(t, "a1", 2, func(c *Config) { c.Hostname = "ip-10-0-0-2"; c.PublicIPs = []netip.Addr{pub} })
	join(t, a1, m1)
	sxtest.Eventually(t, wait, "m1 told a1 joined", func() bool {
		m, ok := find(latest(), "a1")
		return ok && m.State == StateAlive
	})
	a, _ := find(latest(), "a1")
	if a.Hostname != "ip-10-0-0-2" || !slices.Equal(a.PublicIPs, []netip.Addr{pub}) || a.IP != netip.AddrFrom4([4]byte{10, 0, 0, 2}) {
		t.Fatalf("a1 as m1 sees it: %+v", a)
	}
	if a.Since.Before(start) || a.Since.After(time.Now()) {
		t.Fatalf("a1 since %v, joined after %v", a.Since, start)
	}
	self, ok := find(latest(), "m1")
	if !ok || self.Since.IsZero() || self.Hostname != "" || len(self.PublicIPs) != 0 {
		t.Fatalf("m1 as it sees itself: %+v", self)
	}

	// a1 changes its public IPs: m1 is told, with a new time.
	pub2 := netip.MustParseAddr("52.1.2.4")
	if err := a1.UpdateMeta("ip-10-0-0-2", []netip.Addr{pub2}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	sxtest.Eventually(t, wait, "m1 told a1's new public IP", func() bool {
		m, ok := find(latest(), "a1")
		return ok && slices.Equal(m.PublicIPs, []netip.Addr{pub2})
	})
	if m, _ := find(latest(), "a1"); !m.Since.After(a.Since) || m.State != StateAlive {
		t.Fatalf("a1 after its metadata changed: %+v (before %+v)", m, a)
	}
	if err := a1.UpdateMeta(strings.Repeat("h", MaxHostnameLen+1), nil, time.Second); err == nil {
		t.Fatal("UpdateMeta accepted an over-long hostname")
	}
	self, _ = find(latest(), "m1")

	// Crash a1: the failure detector's verdict is reported with a new time;
	// m1's own entry keeps its time.
	crash := time.Now()
	a1.stopNode()
	sxtest.Eventually(t, wait, "m1 told a1 died", func() bool {
		m, ok := find(latest(), "a1")
		return ok && m.State == StateDead
	})
	dead, _ := find(latest(), "a1")
	if !dead.Since.After(crash) {
		t.Fatalf("a1 died at %v, before the crash at %v", dead.Since, crash)
	}
	if again, _ := find(latest(), "m1"); !again.Since.Equal(self.Since) {
		t.Fatalf("m1's own time moved from %v to %v without a change", self.Since, again.Since)
	}
	if ms := m1.Members(); len(ms) != 2 {
		t.Fatalf("Members() = %+v", ms)
	}
}
