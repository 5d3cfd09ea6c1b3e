package gateway

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextantdc/sextant/internal/httpfast"
)

// Server serves a Gateway on a listener. The hot path, requests proxied
// to /service/, runs on internal/httpfast's server loop: net/http's
// server costs a background read and several allocations per request,
// and on a loaded machine the thread hand-offs around them cost more
// than the proxying. Any other request (the dashboard, the APIs, the
// watch API's long polls and events, /metadata, which need net/http's
// per-request context) hands its connection, with what was read of it,
// to the net/http server for the rest of the connection's life.
type Server struct {
	http    *http.Server
	fast    *httpfast.Server
	handoff *handoff
	closing atomic.Bool

	mu    sync.Mutex
	ln    net.Listener
	conns map[*httpfast.Conn]struct{}
}

// NewServer serves g with srv for the requests off the hot path (its
// Handler is set to g). srv's ReadHeaderTimeout and IdleTimeout also
// bound the hot path's request heads and keep-alive waits (10 s and
// 5 min when unset); its BaseContext, called with the listener Serve
// gets, is every hot-path request's context.
func NewServer(g *Gateway, srv *http.Server) *Server {
	srv.Handler = g
	s := &Server{http: srv, handoff: newHandoff(), conns: map[*httpfast.Conn]struct{}{}}
	rt, idle := srv.ReadHeaderTimeout, srv.IdleTimeout
	if rt <= 0 {
		rt = 10 * time.Second
	}
	if idle <= 0 {
		idle = 5 * time.Minute
	}
	s.fast = &httpfast.Server{Handler: g, RequestTimeout: rt, KeepAliveTimeout: idle, Logger: g.log, ParseURL: true,
		Closing: s.closing.Load, Track: s.track, Divert: divert, Fallback: s.handoff.give}
	return s
}

// divert says which requests leave the hot path: all but those for
// /service/, and of those the endpoints and watch API (long polls).
func divert(head []byte) bool {
	sp := bytes.IndexByte(head, ' ')
	if sp < 0 {
		return true
	}
	target := head[sp+1:]
	if !bytes.HasPrefix(target, []byte("/service/")) {
		return true
	}
	// Without the end of the target the route is unknown.
	end := bytes.IndexByte(target, ' ')
	if end < 0 {
		return true
	}
	return bytes.Contains(target[:end], []byte("/v1/endpoints"))
}

// Serve accepts ln's connections until ln closes or Shutdown or Close
// is called; it then returns http.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.ln != nil {
		s.mu.Unlock()
		return errors.New("gateway: Serve called twice")
	}
	s.ln = ln
	s.handoff.addr = ln.Addr()
	s.mu.Unlock()
	if s.http.BaseContext != nil {
		s.fast.BaseContext = s.http.BaseContext(ln)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = s.http.Serve(s.handoff)
	}()
	defer func() { s.handoff.Close(); <-served }()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || !errors.Is(err, net.ErrClosed) {
				// Out of descriptors and the like: wait a little, as
				// net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		go s.fast.ServeConn(c)
	}
}

// Shutdown stops accepting, ends the hot path's idle connections and
// waits for its requests in flight, then shuts the net/http server down,
// all within ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopAccepting()
	for s.cut(false) > 0 {
		select {
		case <-ctx.Done():
			s.cut(true)
			_ = s.http.Close()
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return s.http.Shutdown(ctx)
}

// Close ends every connection at once.
func (s *Server) Close() error {
	s.stopAccepting()
	s.cut(true)
	return s.http.Close()
}

func (s *Server) stopAccepting() {
	s.closing.Store(true)
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	s.handoff.Close()
}

// cut ends the idle hot-path connections (all of them when all) and
// returns how many are left.
func (s *Server) cut(all bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for cc := range s.conns {
		if all {
			_ = cc.NetConn().Close()
		} else if cc.Idle() {
			_ = cc.NetConn().SetReadDeadline(time.Unix(1, 0))
		}
	}
	return len(s.conns)
}

func (s *Server) track(cc *httpfast.Conn, start bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if start {
		s.conns[cc] = struct{}{}
	} else {
		delete(s.conns, cc)
	}
}

// handoff is the net/http server's listener: it accepts the connections
// the hot path hands over.
type handoff struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func newHandoff() *handoff {
	return &handoff{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (h *handoff) give(c net.Conn) {
	select {
	case h.ch <- c:
	case <-h.done:
		c.Close()
	}
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.ch:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }

// clientWatcher is the hot path's ResponseWriter: net/http's server
// cancels a request's context when its client leaves, httpfast's only
// when asked (httpfast's WatchClient).
type clientWatcher interface {
	WatchClient(gone func()) (stop func())
}

// proxyRoute proxies r along rt. On the hot path a streamed response
// watches its client, so that the upstream stream is let go when the
// client leaves, as net/http's per-request context does.
func (g *Gateway) proxyRoute(w http.ResponseWriter, r *http.Request, rt *route) {
	ctx := r.Context()
	if sw, ok := w.(*statusWriter); ok {
		if cw, ok := sw.ResponseWriter.(clientWatcher); ok {
			ctx, rt.cancel = context.WithCancel(ctx)
			rt.watcher = cw
			defer func() {
				if rt.stop != nil {
					rt.stop()
				}
				rt.cancel()
			}()
		}
	}
	g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(ctx, routeKey{}, rt)))
}
