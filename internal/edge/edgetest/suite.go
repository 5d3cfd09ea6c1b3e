package edgetest

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// authHash is crypt("Hello world!", "$6$saltstring"), from the SHA-crypt
// specification's vectors.
const authHash = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"

// Run is the routing suite: one engine from f, one configuration per
// case.
func Run(t *testing.T, f Factory) {
	e := NewEnv(t, f)
	for _, c := range []struct {
		name string
		run  func(*Env)
	}{
		{"host", caseHost},
		{"vhosts", caseVhosts},
		{"path-proxypass", casePath},
		{"sni", caseSNI},
		{"appid", caseAppID},
		{"sticky", caseSticky},
		{"redirect", caseRedirect},
		{"auth", caseAuth},
		{"tcp", caseTCP},
		{"groups", caseGroups},
		{"weights", caseWeights},
		{"bad-label", caseBadLabel},
		{"curl", caseCurl},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub := *e
			sub.T = t
			c.run(&sub)
		})
	}
}

func caseHost(e *Env) {
	a1, a2 := StartBackend(e.T, "web-1"), StartBackend(e.T, "web-2")
	o := StartBackend(e.T, "other")
	sp, so := FreePort(e.T), FreePort(e.T)
	e.Apply(App("/web", sp, map[string]string{"HAPROXY_0_VHOST": "web.example.com"}, Ports(a1, a2)...),
		App("/other", so, map[string]string{"HAPROXY_0_VHOST": "other.example.com"}, o.Port))
	seen := map[string]bool{}
	for range 6 {
		r := e.Await(Req{Addr: e.Addrs.HTTP, Host: "web.example.com"}, "host web", Routed("web-1", "web-2"))
		seen[r.Backend] = true
	}
	if len(seen) != 2 {
		e.T.Errorf("roundrobin over two servers answered only from %v", seen)
	}
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "OTHER.example.com"}, "host, any case", Routed("other"))
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "nobody.example.com"}, "unknown host", Status(http.StatusServiceUnavailable))
	// The Host match is exact: a port in it matches no vhost (quirk 6).
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "web.example.com:80"}, "host with port", Status(http.StatusServiceUnavailable))
	// The service port itself, and the forwarding headers.
	r := e.Await(Req{Addr: "127.0.0.1:" + strconv.Itoa(int(sp)), Host: "anything"}, "service port", Routed("web-1", "web-2"))
	if r.Header.Get("X-Seen-For") != "127.0.0.1" || r.Header.Get("X-Seen-Host") != "anything" {
		e.T.Errorf("backend saw X-Forwarded-For %q, Host %q", r.Header.Get("X-Seen-For"), r.Header.Get("X-Seen-Host"))
	}
}

func caseVhosts(e *Env) {
	m, o := StartBackend(e.T, "multi"), StartBackend(e.T, "single")
	e.Apply(App("/multi", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "a.example.com,b.example.com"}, m.Port),
		App("/single", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "c.example.com"}, o.Port))
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "a.example.com"}, "first vhost", Routed("multi"))
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "b.example.com"}, "second vhost", Routed("multi"))
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "c.example.com"}, "other app", Routed("single"))
	e.Await(Req{Addr: e.Addrs.HTTPS, TLS: true, SNI: "b.example.com"}, "second vhost on 443", Routed("multi"))
}

func casePath(e *Env) {
	api, shop := StartBackend(e.T, "api"), StartBackend(e.T, "shop")
	e.Apply(App("/api", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "shop.example.com", "HAPROXY_0_PATH": "/api",
		"HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH": "/api"}, api.Port),
		App("/shop", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "shop.example.com"}, shop.Port))
	r := e.Await(Req{Addr: e.Addrs.HTTP, Host: "shop.example.com", Path: "/api/v1/items?x=1"}, "path", Routed("api"))
	if got := r.Header.Get("X-Seen-Uri"); got != "/v1/items?x=1" {
		e.T.Errorf("proxypass: backend saw %q, want /v1/items?x=1", got)
	}
	if got := r.Header.Get("X-Seen-Host"); got != "shop.example.com" {
		e.T.Errorf("proxypass: backend saw Host %q", got)
	}
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "shop.example.com", Path: "/cart"}, "no path", Routed("shop"))
	e.Await(Req{Addr: e.Addrs.HTTPS, TLS: true, SNI: "shop.example.com", Path: "/api/x"}, "path on 443", Routed("api"))
}

func caseSNI(e *Env) {
	s, o := StartBackend(e.T, "secure"), StartBackend(e.T, "plain")
	e.Apply(App("/secure", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "secure.example.com"}, s.Port),
		App("/plain", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "plain.example.com"}, o.Port))
	r := e.Await(Req{Addr: e.Addrs.HTTPS, TLS: true, SNI: "secure.example.com"}, "sni", Routed("secure"))
	if r.Header.Get("X-Seen-Proto") != "https" {
		e.T.Errorf("X-Forwarded-Proto %q, want https", r.Header.Get("X-Seen-Proto"))
	}
	// :443 routes by SNI, not by the Host header.
	e.Await(Req{Addr: e.Addrs.HTTPS, TLS: true, SNI: "plain.example.com", Host: "secure.example.com"}, "sni wins over host", Routed("plain"))
	e.Await(Req{Addr: e.Addrs.HTTPS, TLS: true, SNI: "none.example.com"}, "unknown sni", Status(http.StatusServiceUnavailable))
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "secure.example.com"}, "plain http", Routed("secure"))
}

func caseAppID(e *Env) {
	a, b := StartBackend(e.T, "app-a"), StartBackend(e.T, "app-b")
	e.Apply(App("/team/a", FreePort(e.T), map[string]string{"HAPROXY_0_MODE": "http"}, a.Port),
		App("/team/b", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "b.example.com"}, b.Port))
	e.Await(Req{Addr: e.Addrs.AppID, Header: http.Header{"X-Marathon-App-Id": {"/team/a"}}}, "app id", Routed("app-a"))
	e.Await(Req{Addr: e.Addrs.AppID, Header: http.Header{"X-Marathon-App-Id": {"/TEAM/B"}}}, "app id, any case", Routed("app-b"))
	e.Await(Req{Addr: e.Addrs.AppID, Header: http.Header{"X-Marathon-App-Id": {"/team/c"}}}, "unknown app id",
		Status(http.StatusServiceUnavailable))
}

func caseSticky(e *Env) {
	bs := []*Backend{StartBackend(e.T, "s-1"), StartBackend(e.T, "s-2"), StartBackend(e.T, "s-3")}
	e.Apply(App("/sticky", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "sticky.example.com", "HAPROXY_0_STICKY": "true"},
		Ports(bs...)...))
	q := Req{Addr: e.Addrs.HTTP, Host: "sticky.example.com"}
	first := e.Await(q, "sticky", Routed("s-1", "s-2", "s-3"))
	var cookie string
	for _, c := range (&http.Response{Header: first.Header}).Cookies() {
		if c.Name == "mesosphere_server_id" {
			cookie = c.Value
		}
	}
	if cookie == "" {
		e.T.Fatalf("no mesosphere_server_id cookie in %v", first.Header["Set-Cookie"])
	}
	q.Header = http.Header{"Cookie": {"mesosphere_server_id=" + cookie + "; theme=dark"}}
	for range 8 {
		r := e.Await(q, "sticky with cookie", Routed(first.Backend))
		if sc := r.Header.Get("X-Seen-Cookie"); strings.Contains(sc, "mesosphere_server_id") || !strings.Contains(sc, "theme=dark") {
			e.T.Errorf("server saw Cookie %q: the persistence cookie goes, the others stay", sc)
		}
	}
}

func caseRedirect(e *Env) {
	b := StartBackend(e.T, "redir")
	e.Apply(App("/redir", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "redir.example.com",
		"HAPROXY_0_REDIRECT_TO_HTTPS": "true", "HAPROXY_0_USE_HSTS": "true"}, b.Port))
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "redir.example.com", Path: "/a?b=c"}, "redirect", func(r Resp) error {
		if r.Status != http.StatusMovedPermanently || r.Header.Get("Location") != "https://redir.example.com/a?b=c" {
			return fmt.Errorf("status %d, Location %q", r.Status, r.Header.Get("Location"))
		}
		return nil
	})
	r := e.Await(Req{Addr: e.Addrs.HTTPS, TLS: true, SNI: "redir.example.com"}, "https served", Routed("redir"))
	if got := r.Header.Get("Strict-Transport-Security"); !strings.Contains(got, "max-age=15768000") {
		e.T.Errorf("HSTS header %q", got)
	}
}

func caseAuth(e *Env) {
	b := StartBackend(e.T, "private")
	e.Apply(App("/private", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "private.example.com",
		"HAPROXY_0_AUTH": "Private zone:alice:" + authHash}, b.Port))
	basic := func(s string) http.Header {
		return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(s))}}
	}
	challenge := func(r Resp) error {
		if r.Status != http.StatusUnauthorized || r.Backend != "" {
			return fmt.Errorf("status %d from %q, want 401", r.Status, r.Backend)
		}
		if got := r.Header.Get("Www-Authenticate"); got != `Basic realm="Private zone"` {
			return fmt.Errorf("WWW-Authenticate %q", got)
		}
		return nil
	}
	for _, addr := range []Req{{Addr: e.Addrs.HTTP, Host: "private.example.com"}, {Addr: e.Addrs.HTTPS, TLS: true, SNI: "private.example.com"}} {
		e.Await(addr, "no credentials", challenge)
		addr.Header = basic("alice:wrong")
		e.Await(addr, "wrong password", challenge)
		addr.Header = basic("alice:Hello world!")
		e.Await(addr, "right password", Routed("private"))
	}
}

func caseTCP(e *Env) {
	b1, b2 := StartTCPBackend(e.T, "tcp-1"), StartTCPBackend(e.T, "tcp-2")
	sp := FreePort(e.T)
	e.Apply(App("/db", sp, map[string]string{"HAPROXY_0_MODE": "tcp"}, b1.Port, b2.Port))
	addr := "127.0.0.1:" + strconv.Itoa(int(sp))
	seen := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < 2 {
		if time.Now().After(deadline) {
			e.T.Fatalf("tcp: answered by %v, want tcp-1 and tcp-2", seen)
		}
		name, echo, err := tcpExchange(addr, "ping")
		if err != nil || echo != "ping" {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		seen[name] = true
	}
}

func tcpExchange(addr, line string) (string, string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	name, err := br.ReadString('\n')
	if err != nil {
		return "", "", err
	}
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", "", err
	}
	echo, err := br.ReadString('\n')
	return strings.TrimSpace(name), strings.TrimSpace(echo), err
}

func caseGroups(e *Env) {
	ext, in := StartBackend(e.T, "external"), StartBackend(e.T, "internal")
	spIn := FreePort(e.T)
	e.Apply(App("/ext", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "ext.example.com"}, ext.Port),
		App("/int", spIn, map[string]string{"HAPROXY_GROUP": "internal", "HAPROXY_0_VHOST": "int.example.com"}, in.Port))
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "ext.example.com"}, "own group", Routed("external"))
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "int.example.com"}, "other group", Status(http.StatusServiceUnavailable))
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(int(spIn)), time.Second); err == nil {
		c.Close()
		e.T.Errorf("the other group's service port is bound")
	}
}

func caseWeights(e *Env) {
	a, b := StartBackend(e.T, "light"), StartBackend(e.T, "heavy")
	apply := func(wa, wb string) {
		e.Apply(App("/light", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "w.example.com", "HAPROXY_0_PATH": "/",
			"HAPROXY_0_BACKEND_WEIGHT": wa}, a.Port),
			App("/heavy", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "w.example.com", "HAPROXY_0_PATH": "/",
				"HAPROXY_0_BACKEND_WEIGHT": wb}, b.Port))
	}
	apply("1", "5")
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "w.example.com"}, "larger weight first", Routed("heavy"))
	apply("9", "5")
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "w.example.com"}, "weights swapped", Routed("light"))
	e.Await(Req{Addr: e.Addrs.HTTPS, TLS: true, SNI: "w.example.com"}, "weights on 443", Routed("light"))
}

func caseBadLabel(e *Env) {
	good, bad := StartBackend(e.T, "good"), StartBackend(e.T, "bad")
	e.Apply(App("/good", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "good.example.com"}, good.Port),
		App("/bad", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "bad.example.com", "HAPROXY_0_BACKEND_WEIGHT": "heavy"}, bad.Port))
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "good.example.com"}, "good app", Routed("good"))
	e.Await(Req{Addr: e.Addrs.HTTP, Host: "bad.example.com"}, "bad app", Status(http.StatusServiceUnavailable))
	found := false
	for _, p := range e.Target.Engine.Current().Config.Problems {
		if p.App == "/bad" && strings.Contains(p.Label, "BACKEND_WEIGHT") {
			found = true
		}
	}
	if !found {
		e.T.Errorf("problems %v do not name /bad's HAPROXY_0_BACKEND_WEIGHT", e.Target.Engine.Current().Config.Problems)
	}
}

// caseCurl checks with curl, when installed: Host routing and SNI.
func caseCurl(e *Env) {
	if _, err := exec.LookPath("curl"); err != nil {
		e.T.Skip("curl not installed")
	}
	b := StartBackend(e.T, "curled")
	e.Apply(App("/curled", FreePort(e.T), map[string]string{"HAPROXY_0_VHOST": "curl.example.com"}, b.Port))
	_, httpsPort, _ := net.SplitHostPort(e.Addrs.HTTPS)
	for _, args := range [][]string{
		{"-H", "Host: curl.example.com", "http://" + e.Addrs.HTTP + "/"},
		{"--cacert", e.CertFile, "--resolve", "curl.example.com:" + httpsPort + ":127.0.0.1", "https://curl.example.com:" + httpsPort + "/"},
	} {
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, err := exec.Command("curl", append([]string{"-sS", "--max-time", "10"}, args...)...).CombinedOutput()
			if err == nil && strings.TrimSpace(string(out)) == "curled" {
				break
			}
			if time.Now().After(deadline) {
				e.T.Fatalf("curl %v: %v: %s", args, err, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
