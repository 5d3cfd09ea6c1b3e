package haproxy

import (
	"strings"
	"testing"
)

const sampleCfg = `global
  maxconn 50000
  stats socket /var/run/haproxy/socket expose-fd listeners
  server-state-base /var/state/haproxy/
  lua-load /marathon-lb/getpids.lua
defaults
  load-server-state-from-file global
listen stats
  bind 0.0.0.0:9090
  monitor-uri /_haproxy_health_check
  acl getpid path /_haproxy_getpids
  http-request use-service lua.getpids if getpid
frontend web_10000
  bind *:10000
  use_backend web_10000
backend web_10000
  balance roundrobin
  mode http
  server 10_0_0_1_31000 10.0.0.1:31000 id 7 check inter 2s
  server 10_0_0_2_31000 10.0.0.2:31000 id 8 disabled
`

func TestRunFile(t *testing.T) {
	rf := makeRunFile(sampleCfg, "/run/e", func(a string) string { return strings.Replace(a, "*", "127.0.0.1", 1) }, 18202, true)
	for _, want := range []string{"  maxconn 9000\n", "  stats socket /run/e/admin.sock mode 600 level admin expose-fd listeners\n",
		"  server-state-base /run/e/state/\n", "  bind /run/e/stats.sock mode 600\n", "  bind 127.0.0.1:10000\n",
		"  acl getpid path /_haproxy_getpids\n",
		"  mode http\n  retry-on conn-failure empty-response\n  http-request disable-l7-retry if METH_POST\n"} {
		if !strings.Contains(rf.text, want) {
			t.Errorf("run file lacks %q:\n%s", want, rf.text)
		}
	}
	for _, gone := range []string{"lua-load", "lua.getpids", "0.0.0.0:9090"} {
		if strings.Contains(rf.text, gone) {
			t.Errorf("run file still has %q", gone)
		}
	}
	if strings.Contains(rf.skeleton, "server 10_0_0") {
		t.Error("skeleton has server lines")
	}
	s := rf.backends["web_10000"]
	if len(s) != 2 || s[0].Name != "10_0_0_1_31000" || s[0].Args != "10.0.0.1:31000 id 7 check inter 2s" {
		t.Fatalf("servers %+v", s)
	}
	if args, dis := s[1].disabled(); !dis || args != "10.0.0.2:31000 id 8" {
		t.Fatalf("disabled %q %v", args, dis)
	}
}

func TestPlanRuntime(t *testing.T) {
	a := serverLine{"a", "10.0.0.1:1 id 1 check"}
	b := serverLine{"b", "10.0.0.2:1 id 2"}
	bOff := serverLine{"b", "10.0.0.2:1 id 2 disabled"}
	old := map[string][]serverLine{"be": {a}}
	p, ok := planRuntime(old, map[string][]serverLine{"be": {a, b}}, nil)
	if !ok || len(p.ops) != 2 || p.ops[0].cmd != "add server be/b 10.0.0.2:1 id 2" || p.ops[1].cmd != "enable server be/b" {
		t.Fatalf("add: %+v %v", p, ok)
	}
	p, ok = planRuntime(map[string][]serverLine{"be": {a, b}}, map[string][]serverLine{"be": {a, bOff}}, nil)
	if !ok || len(p.ops) != 1 || p.ops[0].cmd != "disable server be/b" {
		t.Fatalf("drain: %+v", p)
	}
	p, ok = planRuntime(map[string][]serverLine{"be": {a, b}}, map[string][]serverLine{"be": {b}}, nil)
	if !ok || p.ops[0].cmd != "disable server be/a" || len(p.drain) != 1 {
		t.Fatalf("remove: %+v", p)
	}
	p, ok = planRuntime(map[string][]serverLine{"be": {b}}, map[string][]serverLine{"be": {a, b}}, map[serverKey]serverLine{"be/a": a})
	if !ok || len(p.ops) != 1 || p.ops[0].cmd != "enable server be/a" || len(p.revive) != 1 {
		t.Fatalf("revive: %+v", p)
	}
	if _, ok := planRuntime(old, map[string][]serverLine{"be": {{"a", "10.0.0.1:1 id 1 check inter 9s"}}}, nil); ok {
		t.Fatal("changed options planned at run time")
	}
	if _, ok := planRuntime(old, map[string][]serverLine{"be": {a, {"c", "10.0.0.3:1 id 3 cookie x"}}}, nil); ok {
		t.Fatal("a sticky server added at run time")
	}
}

func FuzzRunFile(f *testing.F) {
	f.Add(sampleCfg)
	f.Add("backend x\n  server a b\nlisten stats\n  bind :1\n")
	f.Fuzz(func(t *testing.T, s string) {
		rf := makeRunFile(s, "/r", nil, 100, false)
		n := 0
		for _, ss := range rf.backends {
			n += len(ss)
		}
		lines := func(s string) (n int) {
			for range strings.Lines(s) {
				n++
			}
			return n
		}
		if d := lines(rf.text) - lines(rf.skeleton); d != n {
			t.Fatalf("%d server lines set apart, the texts differ by %d lines", n, d)
		}
	})
}
