package edge

import "testing"

// The test vectors are marathon-lb's (spec §6.2, all verified against
// calculate_server_id and its tests).
func TestServerID(t *testing.T) {
	for name, want := range map[string]int{
		"0": 17068, "1": 25733, "a": 25929, "10_0_6_25_23336": 14676, "agent1_1_1_1_1_1024": 28363,
		"agent1_192_0_2_1_1234": 15582, "10_0_2_148_1565": 16827,
	} {
		if got := serverID(name, map[int]bool{}); got != want {
			t.Errorf("serverID(%q) = %d, want %d", name, got, want)
		}
	}
	// A taken id retries with "<name> <sha256 hex>": stable, and distinct.
	taken := map[int]bool{}
	a, b := serverID("10_0_2_148_1565", taken), serverID("10_0_2_148_1565", taken)
	if a != 16827 || b == a || b <= 0 || b >= 32767 {
		t.Errorf("ids for a repeated name: %d, %d", a, b)
	}
	if c := serverID("10_0_2_148_1565", map[int]bool{16827: true}); c != b {
		t.Errorf("the retry is not stable: %d then %d", b, c)
	}
}

func TestCookie(t *testing.T) {
	if got := cookie("agent1_1_1_1_1_1024"); got != "d6ad48c81f" {
		t.Errorf("cookie = %q", got)
	}
}

func TestNames(t *testing.T) {
	cases := []struct{ got, want string }{
		{backendName("/nginx", 10000), "nginx_10000"},
		{backendName("/a/b.c", 10001), "a_b.c_10001"},
		{serverName("agent1", "1.1.1.1", 1024), "agent1_1_1_1_1_1024"},
		{serverName("10.0.2.148", "10.0.2.148", 1565), "10_0_2_148_1565"},
		{clean("test.example.com"), "test_example_com"},
		{clean("ünï-cödé.x"), "_n_-c_d__x"},
		{clean("/nginx"), "_nginx"},
		{tail("/nginx"), "nginx"},
		{tail("ünginx"), "nginx"},
		{tail(""), ""},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestDirname(t *testing.T) {
	for in, want := range map[string]string{
		"/etc/haproxy/haproxy.cfg": "/etc/haproxy", "haproxy.cfg": "", "/haproxy.cfg": "/", "//a//b": "//a",
		"a/b/": "a/b", "/": "/", "/marathon-lb/haproxy.cfg": "/marathon-lb",
	} {
		if got := dirname(in); got != want {
			t.Errorf("dirname(%q) = %q, want %q (os.path.dirname)", in, got, want)
		}
	}
}

func TestPortAssigner(t *testing.T) {
	p := newPortAssigner(PortRange{10050, 10100}, true)
	a := p.port("/app", 80)
	if a < 10050 || a > 10100 || p.port("/app", 80) != a {
		t.Fatalf("port = %d, or not stable", a)
	}
	// A full range: every port once, then none.
	small := newPortAssigner(PortRange{11000, 11001}, true)
	x, y, z := small.port("/a", 1), small.port("/b", 1), small.port("/c", 1)
	if x == y || x == 0 || y == 0 || z != 0 {
		t.Errorf("range of two: %d %d %d", x, y, z)
	}
}
