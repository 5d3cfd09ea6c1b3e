package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// connCounter counts the connections a test server accepts.
type connCounter struct{ n atomic.Int64 }

func (c *connCounter) hook(_ net.Conn, s http.ConnState) {
	if s == http.StateNew {
		c.n.Add(1)
	}
}

func newCounted(t *testing.T, h http.HandlerFunc) (*httptest.Server, *connCounter) {
	cc := &connCounter{}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = cc.hook
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, cc
}

func get(t *testing.T, tr http.RoundTripper, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// TestDirectTransportReusesConnections: sequential exchanges share one
// kept-alive connection; a response saying Connection: close is not
// reused.
func TestDirectTransportReusesConnections(t *testing.T) {
	srv, cc := newCounted(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		fmt.Fprint(w, "ok "+r.URL.Path)
	})
	tr := newDirectTransport(http.DefaultTransport)
	for i := 0; i < 5; i++ {
		if code, body := get(t, tr, srv.URL+"/a"); code != 200 || body != "ok /a" {
			t.Fatalf("%d %q", code, body)
		}
	}
	if n := cc.n.Load(); n != 1 {
		t.Errorf("%d connections for 5 sequential requests, want 1", n)
	}
	get(t, tr, srv.URL+"/close")
	get(t, tr, srv.URL+"/a")
	if n := cc.n.Load(); n != 2 {
		t.Errorf("%d connections after a Connection: close answer, want 2", n)
	}
}

// TestDirectTransportRetriesAStaleConnection: a pooled connection the
// upstream closed while idle is replaced transparently for a request
// without a body.
func TestDirectTransportRetriesAStaleConnection(t *testing.T) {
	srv, cc := newCounted(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	tr := newDirectTransport(http.DefaultTransport)
	get(t, tr, srv.URL+"/")
	// Close the server's side of the idle connection.
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	if code, body := get(t, tr, srv.URL+"/"); code != 200 || body != "ok" {
		t.Fatalf("after the upstream closed the idle connection: %d %q", code, body)
	}
	if n := cc.n.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// TestDirectTransportAbandonedBodyClosesConnection: a body closed before
// its end closes its connection (the rest of it would corrupt the next
// exchange); a cancelled request unblocks a read in progress.
func TestDirectTransportAbandonedBodyClosesConnection(t *testing.T) {
	release := make(chan struct{})
	srv, cc := newCounted(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			w.WriteHeader(200)
			fmt.Fprint(w, "part1")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		fmt.Fprint(w, strings.Repeat("x", 100))
	})
	t.Cleanup(func() { close(release) })
	tr := newDirectTransport(http.DefaultTransport)
	req, _ := http.NewRequest("GET", srv.URL+"/stream", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "part1" {
		t.Fatalf("%q %v", buf, err)
	}
	resp.Body.Close()
	if code, body := get(t, tr, srv.URL+"/x"); code != 200 || len(body) != 100 {
		t.Fatalf("the next exchange: %d %d bytes", code, len(body))
	}
	if n := cc.n.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (the abandoned one not reused)", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, "GET", srv.URL+"/stream", nil)
	resp, err = tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("cancelling the request did not unblock the body read")
	}
}

// TestDirectTransportFallsBack: HTTPS and upgrades go to the fallback.
func TestDirectTransportFallsBack(t *testing.T) {
	var used atomic.Int64
	fb := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return &http.Response{StatusCode: 204, Body: http.NoBody, Request: r}, nil
	})
	tr := newDirectTransport(fb)
	for _, r := range []*http.Request{
		httptest.NewRequest("GET", "https://127.0.0.1:1/x", nil),
		func() *http.Request {
			r := httptest.NewRequest("GET", "http://127.0.0.1:1/ws", nil)
			r.Header.Set("Upgrade", "websocket")
			return r
		}(),
	} {
		r.RequestURI = ""
		if _, err := tr.RoundTrip(r); err != nil {
			t.Fatal(err)
		}
	}
	if used.Load() != 2 {
		t.Errorf("fallback used %d times, want 2", used.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestDirectTransportSweepsIdleHosts: connections to a host nobody asks
// for any more are closed once idle past the idle time.
func TestDirectTransportSweepsIdleHosts(t *testing.T) {
	a, _ := newCounted(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "a") })
	b, _ := newCounted(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "b") })
	tr := newDirectTransport(http.DefaultTransport)
	tr.idleTime = 30 * time.Millisecond
	get(t, tr, a.URL+"/")
	time.Sleep(60 * time.Millisecond)
	get(t, tr, b.URL+"/") // its put sweeps a's expired connection
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if _, ok := tr.idle[strings.TrimPrefix(a.URL, "http://")]; ok {
		t.Errorf("the idle connection to %s was kept: %v", a.URL, tr.idle)
	}
}
