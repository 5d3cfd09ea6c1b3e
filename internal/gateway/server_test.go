package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

func TestDivert(t *testing.T) {
	for _, c := range []struct {
		head string
		want bool
	}{
		{"GET /service/app/x HTTP/1.1\r\n", false},
		{"POST /service/a/b/c?x=1 HTTP/1.1\r\n", false},
		{"GET /service/app/v1/endpoints HTTP/1.1\r\n", true},
		{"GET /service/app/v1/endpoints/http?index=3 HTTP/1.1\r\n", true},
		{"GET /service/app/x", true}, // the target's end not read yet
		{"GET /mesos/state HTTP/1.1\r\n", true},
		{"GET / HTTP/1.1\r\n", true},
		{"G", true},
		{"", true},
	} {
		if got := divert([]byte(c.head)); got != c.want {
			t.Errorf("divert(%q) = %v, want %v", c.head, got, c.want)
		}
	}
}

// startServer serves f's gateway through a Server whose net/http side
// counts the connections it was handed.
func startServer(t *testing.T, f *fixture) (addr string, handed *atomic.Int64, gs *Server, served chan error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handed = &atomic.Int64{}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			handed.Add(1)
		}
	}}
	gs = NewServer(f.gw, srv)
	served = make(chan error, 1)
	go func() { served <- gs.Serve(ln) }()
	t.Cleanup(func() { _ = gs.Close() })
	return ln.Addr().String(), handed, gs, served
}

func exchange(t *testing.T, conn net.Conn, br *bufio.Reader, req string) (*http.Response, string) {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestServerHotPathThenHandoff(t *testing.T) {
	f := newFixture(t)
	addr, handed, _, _ := startServer(t, f)
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	svc := fmt.Sprintf("GET /service/group/app/x HTTP/1.1\r\nHost: gw\r\nAuthorization: token=%s\r\n\r\n", f.token)
	for i := range 3 {
		resp, _ := exchange(t, conn, br, svc)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Server") != "sextant" {
			t.Fatalf("request %d: %s, Server %q", i, resp.Status, resp.Header.Get("Server"))
		}
	}
	resp, body := exchange(t, conn, br, "GET /service/group/app/x HTTP/1.1\r\nHost: gw\r\n\r\n")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "oauthjwt" {
		t.Fatalf("without a token: %s %q, WWW-Authenticate %q", resp.Status, body, resp.Header.Get("WWW-Authenticate"))
	}
	if n := handed.Load(); n != 0 {
		t.Fatalf("%d connections reached net/http on the hot path", n)
	}
	if got := f.ups["app"].last.Load(); got == nil || got.Path != "/x" {
		t.Fatalf("upstream saw %v", got)
	}
	// Off the hot path the connection goes to net/http, with the
	// request already buffered, and stays there.
	resp, body = exchange(t, conn, br, "GET /nothing-here HTTP/1.1\r\nHost: gw\r\n\r\n")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/nothing-here: %s %q", resp.Status, body)
	}
	resp, _ = exchange(t, conn, br, svc)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the hand-off: %s", resp.Status)
	}
	if n := handed.Load(); n != 1 {
		t.Fatalf("net/http was handed %d connections, want 1", n)
	}
}

func TestServerShutdown(t *testing.T) {
	f := newFixture(t)
	addr, _, gs, served := startServer(t, f)
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	resp, _ := exchange(t, conn, br, fmt.Sprintf("GET /service/group/app/x HTTP/1.1\r\nHost: gw\r\nAuthorization: token=%s\r\n\r\n", f.token))
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := gs.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
	}
	// The idle connection was ended.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("idle connection still open after shutdown")
	}
}

// A client leaving a stream on the hot path lets the upstream stream go
// (the upstream here holds it 20 s unless its request is cancelled).
func TestServerStreamEndsWithClient(t *testing.T) {
	f := newFixture(t)
	addr, _, gs, _ := startServer(t, f)
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "GET /service/group/app/events HTTP/1.1\r\nHost: gw\r\nAuthorization: token=%s\r\n\r\n", f.token)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || l != "data: first\n" {
		t.Fatalf("first line %q, %v", l, err)
	}
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for gs.cut(false) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stream's handler still runs 10 s after its client left")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
