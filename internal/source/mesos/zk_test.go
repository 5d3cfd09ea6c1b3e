package mesos

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
	tu "github.com/sextantdc/sextant/internal/testutil"
)

// masterInfoJSON renders a JSON MasterInfo as Mesos writes it to ZooKeeper.
func masterInfoJSON(t *testing.T, addr string) []byte {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	ip := netip.MustParseAddr(host).As4()
	b, err := json.Marshal(state.MasterInfo{
		ID: "id-" + addr, IP: binary.LittleEndian.Uint32(ip[:]), Port: p, Hostname: host,
		PID:     "master@" + addr,
		Address: &state.Address{IP: host, Port: p, Hostname: host},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func zkConnect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(zkLogger{slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func zkCreateMaster(t *testing.T, c *zk.Conn, path string, data []byte) string {
	t.Helper()
	name, err := c.Create(path+"/json.info_", data, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func TestZooKeeperLeaderDetection(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	zkAddr := tu.StartZooKeeper(t)
	c := zkConnect(t, zkAddr)
	if _, err := c.Create("/mesos", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// Noise Mesos also keeps under the path: must be ignored.
	if _, err := c.Create("/mesos/log_replicas", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	a, b := newMaster(t), newMaster(t)
	a.set(testState(t, a.addr(), "from-a"), 0)
	b.set(testState(t, b.addr(), "from-b"), 0)
	nodeA := zkCreateMaster(t, c, "/mesos", masterInfoJSON(t, a.addr()))
	zkCreateMaster(t, c, "/mesos", masterInfoJSON(t, b.addr()))

	zu, err := ParseZKURL("zk://"+zkAddr+"/mesos", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := run(t, Options{ZK: &zu, ZKDetectionTimeout: time.Minute})
	tu.Eventually(t, wait, "snapshot from the leader a", func() bool { return h.rec.taskName() == "from-a" })
	if got := h.src.Status().Masters; !slices.Equal(got, []string{a.addr(), b.addr()}) {
		t.Fatalf("masters %v, want [%s %s]", got, a.addr(), b.addr())
	}
	n := h.rec.n()

	// The leader's znode goes: b becomes leader, a reload follows at once
	// (the refresh interval is an hour).
	if err := c.Delete(nodeA, -1); err != nil {
		t.Fatal(err)
	}
	tu.Eventually(t, wait, "leader change seen", func() bool {
		return slices.Equal(h.src.Status().Masters, []string{b.addr()})
	})
	tu.Eventually(t, wait, "reload from the new leader", func() bool { return h.rec.n() > n && h.rec.taskName() == "from-b" })

	// A new master joins with a higher sequence: it is listed after b.
	cm := newMaster(t)
	zkCreateMaster(t, c, "/mesos", masterInfoJSON(t, cm.addr()))
	tu.Eventually(t, wait, "member added", func() bool {
		return slices.Equal(h.src.Status().Masters, []string{b.addr(), cm.addr()})
	})

	// Masters older than 0.24 register protobuf MasterInfo as info_*.
	if _, err := c.Create("/old", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(cm.addr())
	ip := netip.MustParseAddr(host).As4()
	p, _ := strconv.Atoi(port)
	cm.set(testState(t, cm.addr(), "from-proto"), 0)
	if _, err := c.Create("/old/info_", protoMasterInfo("old", binary.LittleEndian.Uint32(ip[:]), uint32(p), "", "", 0),
		zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	zo := ZKURL{Servers: []string{zkAddr}, Path: "/old"}
	h2 := run(t, Options{ZK: &zo})
	tu.Eventually(t, wait, "snapshot via a protobuf info node", func() bool { return h2.rec.taskName() == "from-proto" })
}

func TestZooKeeperDetectionTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	zkAddr := tu.StartZooKeeper(t)
	zu, err := ParseZKURL("zk://"+zkAddr+"/nomaster", nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := New(Options{ZK: &zu, ZKDetectionTimeout: 500 * time.Millisecond, RefreshInterval: time.Hour, Logger: discardLogger()},
		SinkFunc(func(*model.MesosObservation) {}))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- src.Run(t.Context()) }()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "master detection timed out after 500ms") {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not time out")
	}

	// After a leader was known: losing it starts the clock again.
	c := zkConnect(t, zkAddr)
	if _, err := c.Create("/m2", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	m := newMaster(t)
	m.set(testState(t, m.addr(), "x"), 0)
	node := zkCreateMaster(t, c, "/m2", masterInfoJSON(t, m.addr()))
	z2 := ZKURL{Servers: []string{zkAddr}, Path: "/m2"}
	got := make(chan struct{}, 16)
	src2, err := New(Options{ZK: &z2, ZKDetectionTimeout: time.Second, RefreshInterval: time.Hour, Logger: discardLogger()},
		SinkFunc(func(*model.MesosObservation) { got <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	errc2 := make(chan error, 1)
	go func() { errc2 <- src2.Run(t.Context()) }()
	select {
	case <-got:
	case err := <-errc2:
		t.Fatalf("Run returned %v before the first snapshot", err)
	case <-time.After(wait):
		t.Fatal("no snapshot")
	}
	// Longer than the timeout with a leader: Run keeps going.
	select {
	case err := <-errc2:
		t.Fatalf("Run returned %v while a leader is known", err)
	case <-time.After(1500 * time.Millisecond):
	}
	lost := time.Now()
	if err := c.Delete(node, -1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc2:
		if err == nil || !strings.Contains(err.Error(), "master detection timed out") {
			t.Fatalf("Run returned %v", err)
		}
		if d := time.Since(lost); d < 700*time.Millisecond {
			t.Fatalf("timed out %v after the leader left, before the 1s timeout", d)
		}
	case <-time.After(wait):
		t.Fatal("Run did not time out after the leader left")
	}
}

func TestZooKeeperUnreachableThenStatic(t *testing.T) {
	// ZooKeeper never answers (closed port): before it reports, the
	// configured masters are the fallback the ticker polls.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	m := newMaster(t)
	m.set(testState(t, m.addr(), "static"), 0)
	zu := ZKURL{Servers: []string{dead}, Path: "/mesos"}
	h := run(t, Options{ZK: &zu, Masters: []string{m.addr()}, RefreshInterval: 50 * time.Millisecond})
	tu.Eventually(t, wait, "snapshot from the static fallback", func() bool { return h.rec.taskName() == "static" })
	if got := h.src.Status().Masters; !slices.Equal(got, []string{"", m.addr()}) {
		t.Fatalf("masters %v", got)
	}
}

func TestPickInfoNodes(t *testing.T) {
	got := pickInfoNodes([]string{"info_0000000007", "json.info_0000000010", "json.info_0000000002", "log_replicas", "json.info_x", "info_0000000001"})
	if len(got) != 2 || got[0].name != "json.info_0000000002" || got[1].name != "json.info_0000000010" {
		t.Fatalf("got %+v", got)
	}
	got = pickInfoNodes([]string{"info_0000000007", "info_0000000003"})
	if len(got) != 2 || got[0].name != "info_0000000003" || got[0].json {
		t.Fatalf("protobuf fallback: %+v", got)
	}
	if got := pickInfoNodes(nil); len(got) != 0 {
		t.Fatalf("empty: %+v", got)
	}
}

func TestMasterAddr(t *testing.T) {
	cases := []struct {
		name string
		mi   state.MasterInfo
		want string
		err  bool
	}{
		{"address", state.MasterInfo{Address: &state.Address{IP: "10.0.0.1", Port: 5050}, IP: 1, Port: 1}, "10.0.0.1:5050", false},
		{"ipv6 address", state.MasterInfo{Address: &state.Address{IP: "fd00::1", Port: 5050}}, "[fd00::1]:5050", false},
		// 127.0.0.1 packed in network order, read little-endian.
		{"packed ip", state.MasterInfo{IP: 0x0100007f, Port: 5050}, "127.0.0.1:5050", false},
		{"packed 10.2.3.4", state.MasterInfo{IP: 0x0403020a, Port: 5051}, "10.2.3.4:5051", false},
		{"address hostname", state.MasterInfo{Address: &state.Address{Hostname: "m1", Port: 5050}}, "m1:5050", false},
		{"hostname only", state.MasterInfo{Hostname: "m2", Port: 5050}, "m2:5050", false},
		{"nothing", state.MasterInfo{}, "", true},
		{"bad port", state.MasterInfo{IP: 0x0100007f, Port: 70000}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := MasterAddr(&c.mi)
			if (err != nil) != c.err || got != c.want {
				t.Fatalf("got %q, %v; want %q (error %v)", got, err, c.want, c.err)
			}
		})
	}
}

// protoMasterInfo encodes a protobuf MasterInfo by hand.
func protoMasterInfo(id string, ip uint32, port uint32, hostname string, addrIP string, addrPort int32) []byte {
	var b []byte
	str := func(num int, s string) {
		b = binary.AppendUvarint(b, uint64(num<<3|2))
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	vint := func(num int, v uint64) {
		b = binary.AppendUvarint(b, uint64(num<<3))
		b = binary.AppendUvarint(b, v)
	}
	str(1, id)
	vint(2, uint64(ip))
	vint(3, uint64(port))
	str(5, hostname)
	// an unknown fixed32 and fixed64 field, skipped
	b = append(b, byte(12<<3|5), 1, 2, 3, 4)
	b = append(b, byte(13<<3|1), 1, 2, 3, 4, 5, 6, 7, 8)
	if addrIP != "" {
		var a []byte
		a = binary.AppendUvarint(a, uint64(2<<3|2))
		a = binary.AppendUvarint(a, uint64(len(addrIP)))
		a = append(a, addrIP...)
		a = binary.AppendUvarint(a, uint64(3<<3))
		a = binary.AppendUvarint(a, uint64(uint32(addrPort)))
		b = binary.AppendUvarint(b, uint64(7<<3|2))
		b = binary.AppendUvarint(b, uint64(len(a)))
		b = append(b, a...)
	}
	return b
}

func TestParseMasterInfoProto(t *testing.T) {
	mi, err := ParseMasterInfoProto(protoMasterInfo("m1", 0x0100007f, 5050, "host1", "10.0.0.5", 5051))
	if err != nil {
		t.Fatal(err)
	}
	if mi.ID != "m1" || mi.IP != 0x0100007f || mi.Port != 5050 || mi.Hostname != "host1" || mi.Address == nil || mi.Address.IP != "10.0.0.5" || mi.Address.Port != 5051 {
		t.Fatalf("decoded %+v %+v", mi, mi.Address)
	}
	if a, _ := MasterAddr(mi); a != "10.0.0.5:5051" {
		t.Fatalf("addr %q", a)
	}
	mi, err = ParseMasterInfoProto(protoMasterInfo("m1", 0x0100007f, 5050, "host1", "", 0))
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := MasterAddr(mi); a != "127.0.0.1:5050" {
		t.Fatalf("legacy addr %q", a)
	}
	bad := [][]byte{
		{0x0a, 0x05, 'a'},        // length past the end
		{0x10},                   // varint missing
		{0x0b},                   // wire type 3 (groups) unsupported
		{0x00, 0x01},             // field 0
		{0x15, 1, 2},             // short fixed32
		{0x3a, 0x02, 0x1a, 0xff}, // address with a bad varint
		{0xff, 0xff, 0xff, 0xff}, // bad key
	}
	for i, b := range bad {
		if _, err := ParseMasterInfoProto(b); err == nil {
			t.Errorf("bad input %d (%x) decoded", i, b)
		}
	}
}

func TestParseZKURL(t *testing.T) {
	files := map[string]string{"/etc/mesos/zk": "zk://10.0.0.1:2181,10.0.0.2:2181/mesos\n", "/loop": "file:///loop"}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, errors.New("no such file")
	}
	good := []struct {
		in   string
		want ZKURL
	}{
		{"zk://127.0.0.1:2181/mesos", ZKURL{Servers: []string{"127.0.0.1:2181"}, Path: "/mesos"}},
		{"zk://a:1,b:2/mesos/sub/", ZKURL{Servers: []string{"a:1", "b:2"}, Path: "/mesos/sub"}},
		{"zk://user:p%40ss@a:1/mesos", ZKURL{Servers: []string{"a:1"}, Path: "/mesos", User: "user", Password: "p@ss"}},
		{"zk://[::1]:2181/m", ZKURL{Servers: []string{"[::1]:2181"}, Path: "/m"}},
		{"file:///etc/mesos/zk", ZKURL{Servers: []string{"10.0.0.1:2181", "10.0.0.2:2181"}, Path: "/mesos"}},
	}
	for _, c := range good {
		got, err := ParseZKURL(c.in, read)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) || got.User != c.want.User || got.Password != c.want.Password {
			t.Errorf("ParseZKURL(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	bad := map[string]string{
		"":                    "want zk://",
		"http://a:1/mesos":    "want zk://",
		"zk://a:1":            "no path",
		"zk://a:1/":           "empty path",
		"zk://a/mesos":        "want host:port",
		"zk://a:0/mesos":      "port",
		"zk://a:1,,b:2/mesos": "empty server",
		"zk://:1/mesos":       "empty host",
		"zk://a:1/me//sos":    "empty element",
		"zk://:pw@a:1/mesos":  "user:password",
		"file://":             "names no file",
		"file:///missing":     "no such file",
		"file:///loop":        "nested",
	}
	for in, want := range bad {
		_, err := ParseZKURL(in, read)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseZKURL(%q) error %v, want one containing %q", in, err, want)
		}
	}
	if s := (ZKURL{Servers: []string{"a:1"}, Path: "/m", User: "u", Password: "secret"}).String(); strings.Contains(s, "secret") {
		t.Errorf("String leaks the password: %s", s)
	}
}

func FuzzParseMasterInfo(f *testing.F) {
	f.Add([]byte(`{"address":{"ip":"10.0.0.1","port":5050},"ip":16777343,"port":5050}`), false)
	f.Add(protoMasterInfo("m1", 0x0100007f, 5050, "host1", "10.0.0.5", 5051), true)
	f.Add([]byte{0x3a, 0x02, 0x1a, 0xff}, true)
	f.Fuzz(func(t *testing.T, b []byte, proto bool) {
		var mi *state.MasterInfo
		var err error
		if proto {
			mi, err = ParseMasterInfoProto(b)
		} else {
			mi, err = ParseMasterInfoJSON(b)
		}
		if err != nil {
			return
		}
		addr, err := MasterAddr(mi)
		if err != nil {
			return
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			t.Fatalf("MasterAddr gave %q, not host:port", addr)
		}
	})
}

func FuzzParseZKURL(f *testing.F) {
	for _, s := range []string{"zk://127.0.0.1:2181/mesos", "zk://u:p@a:1,b:2/m/", "zk://[::1]:1/x", "file:///x", "zk://a:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		z, err := ParseZKURL(s, func(string) ([]byte, error) { return []byte(s), nil })
		if err != nil {
			return
		}
		if len(z.Servers) == 0 || !strings.HasPrefix(z.Path, "/") || strings.HasSuffix(z.Path, "/") {
			t.Fatalf("ParseZKURL(%q) = %+v", s, z)
		}
		for _, sv := range z.Servers {
			if _, _, err := net.SplitHostPort(sv); err != nil {
				t.Fatalf("server %q is not host:port", sv)
			}
		}
	})
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestZooKeeperDigestAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	zkAddr := tu.StartZooKeeper(t)
	c := zkConnect(t, zkAddr)
	if err := c.AddAuth("digest", []byte("mesos:s3cret")); err != nil {
		t.Fatal(err)
	}
	acl := zk.DigestACL(zk.PermAll, "mesos", "s3cret")
	if _, err := c.Create("/secure", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	m := newMaster(t)
	m.set(testState(t, m.addr(), "secure"), 0)
	if _, err := c.Create("/secure/json.info_", masterInfoJSON(t, m.addr()), zk.FlagEphemeral|zk.FlagSequence, acl); err != nil {
		t.Fatal(err)
	}
	// Without the credential the path cannot be listed: no leader.
	noAuth := ZKURL{Servers: []string{zkAddr}, Path: "/secure"}
	h0 := run(t, Options{ZK: &noAuth})
	// With it, the master is found.
	zu, err := ParseZKURL("zk://mesos:s3cret@"+zkAddr+"/secure", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := run(t, Options{ZK: &zu})
	tu.Eventually(t, wait, "snapshot via the authenticated path", func() bool { return h.rec.taskName() == "secure" })
	if h0.rec.n() != 0 || h0.src.Status().Masters[0] != "" {
		t.Fatalf("unauthenticated detector found masters %v", h0.src.Status().Masters)
	}
}
