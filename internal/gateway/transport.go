package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// directTransport is the proxy's HTTP/1.1 client for plain-HTTP
// upstreams: each exchange runs in the goroutine of the request it
// serves, on a kept-alive connection from a per-host pool. http.Transport
// hands every exchange to a reader and a writer goroutine per connection;
// on a busy machine each of those hand-offs waits for the OS scheduler,
// which costs more than the proxying itself. HTTPS and protocol upgrades
// (WebSockets) go to the fallback.
type directTransport struct {
	fallback http.RoundTripper
	dialer   net.Dialer
	maxIdle  int
	idleTime time.Duration

	mu   sync.Mutex
	idle map[string][]*pconn
	// swept is when put last closed the expired connections of every
	// host: a task that moved leaves its host's connections behind.
	swept time.Time
}

type pconn struct {
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	lastUsed time.Time
}

func newDirectTransport(fallback http.RoundTripper) *directTransport {
	return &directTransport{fallback: fallback, dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		maxIdle: 256, idleTime: 90 * time.Second, idle: map[string][]*pconn{}}
}

func (t *directTransport) get(host string) *pconn {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.idle[host]
	for len(list) > 0 {
		pc := list[len(list)-1]
		list = list[:len(list)-1]
		if time.Since(pc.lastUsed) < t.idleTime {
			t.idle[host] = list
			return pc
		}
		pc.c.Close()
	}
	t.idle[host] = list
	return nil
}

func (t *directTransport) put(host string, pc *pconn) {
	now := time.Now()
	pc.lastUsed = now
	var expired []*pconn
	t.mu.Lock()
	if len(t.idle[host]) < t.maxIdle {
		t.idle[host] = append(t.idle[host], pc)
		pc = nil
	}
	if now.Sub(t.swept) > t.idleTime/3 {
		t.swept = now
		for h, list := range t.idle {
			kept := list[:0]
			for _, c := range list {
				if now.Sub(c.lastUsed) < t.idleTime {
					kept = append(kept, c)
				} else {
					expired = append(expired, c)
				}
			}
			if len(kept) == 0 {
				delete(t.idle, h)
			} else {
				t.idle[h] = kept
			}
		}
	}
	t.mu.Unlock()
	if pc != nil {
		pc.c.Close()
	}
	for _, c := range expired {
		c.c.Close()
	}
}

func (t *directTransport) dial(ctx context.Context, host string) (*pconn, error) {
	c, err := t.dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	return &pconn{c: c, br: bufio.NewReaderSize(c, 4096), bw: bufio.NewWriterSize(c, 4096)}, nil
}

// RoundTrip sends req and reads the response head; the body is read from
// the connection as the caller reads it, and the connection goes back to
// the pool at its end.
func (t *directTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.Header.Get("Upgrade") != "" {
		return t.fallback.RoundTrip(req)
	}
	host := req.URL.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "80")
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		pc, reused := t.get(host), true
		if pc == nil {
			var err error
			if pc, err = t.dial(ctx, host); err != nil {
				return nil, err
			}
			reused = false
		}
		resp, err := t.exchange(ctx, req, host, pc)
		if err == nil {
			return resp, nil
		}
		// A kept-alive connection the upstream closed meanwhile fails at
		// once; a request without a body is safe to send again on a new
		// one.
		if reused && attempt == 0 && (req.Body == nil || req.Body == http.NoBody) && ctx.Err() == nil {
			continue
		}
		return nil, err
	}
}

func (t *directTransport) exchange(ctx context.Context, req *http.Request, host string, pc *pconn) (*http.Response, error) {
	// Cancelling the request (the client went away) unblocks any read or
	// write on the connection, which is then not reused.
	stop := context.AfterFunc(ctx, func() { _ = pc.c.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		pc.c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if err := req.Write(pc.bw); err != nil {
		return fail(err)
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(err)
	}
	var resp *http.Response
	for {
		r, err := http.ReadResponse(pc.br, req)
		if err != nil {
			return fail(err)
		}
		// 1xx other than 101 precede the real response.
		if r.StatusCode >= 100 && r.StatusCode < 200 && r.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		resp = r
		break
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		stop()
		pc.c.Close()
		return nil, errors.New("upstream switched protocols without an Upgrade request")
	}
	reuse := !resp.Close && !req.Close
	if resp.Body == http.NoBody || resp.Body == nil {
		stop()
		if reuse {
			t.put(host, pc)
		} else {
			pc.c.Close()
		}
		return resp, nil
	}
	resp.Body = &pooledBody{rc: resp.Body, t: t, host: host, pc: pc, stop: stop, reuse: reuse}
	return resp, nil
}

// pooledBody returns its connection to the pool once read to the end, and
// closes it when abandoned before.
type pooledBody struct {
	rc    io.ReadCloser
	t     *directTransport
	host  string
	pc    *pconn
	stop  func() bool
	reuse bool
	once  sync.Once
}

func (b *pooledBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		b.finish(false)
	}
	return n, err
}

func (b *pooledBody) Close() error {
	b.finish(false)
	return nil
}

func (b *pooledBody) finish(complete bool) {
	b.once.Do(func() {
		stopped := b.stop()
		if complete && b.reuse && stopped {
			b.t.put(b.host, b.pc)
			return
		}
		b.pc.c.Close()
	})
}
