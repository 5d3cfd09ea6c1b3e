package native

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// upConn is a keep-alive connection to a server with its buffers.
type upConn struct {
	c    net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	idle time.Time
	// scratch holds a response's header values while they are read.
	scratch []byte
}

// pool is a server's idle connections, last in first out (the warmest
// connection is reused, the coldest times out at the server).
type pool struct {
	mu      sync.Mutex
	idle    []*upConn
	max     int
	retired bool
}

// idleMax is how long an idle connection is trusted: servers close
// idle keep-alive connections (nginx after 75 s, Go's after its
// IdleTimeout), and one closed under a request costs a retry.
const idleMax = 30 * time.Second

func (p *pool) get(now time.Time) *upConn {
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if now.Sub(c.idle) < idleMax {
			p.mu.Unlock()
			return c
		}
		go c.c.Close()
	}
	p.mu.Unlock()
	return nil
}

func (p *pool) put(c *upConn, now time.Time) {
	c.idle = now
	p.mu.Lock()
	if p.retired || len(p.idle) >= p.max {
		p.mu.Unlock()
		c.c.Close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// retire closes the idle connections; those in use close when their
// request ends.
func (p *pool) retire() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.retired = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		c.c.Close()
	}
}

func (p *pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

func (e *Engine) dial(addr string) (*upConn, error) {
	c, err := net.DialTimeout("tcp", addr, e.o.ConnectTimeout)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return &upConn{c: c, br: bufio.NewReaderSize(c, 8<<10), bw: bufio.NewWriterSize(c, 4<<10)}, nil
}
