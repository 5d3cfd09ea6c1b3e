package forward

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// udpPoolSize bounds the idle connected UDP sockets kept per upstream.
const udpPoolSize = 64

// udpConn is a connected UDP socket to one upstream with its own reply
// buffer, reused from query to query.
type udpConn struct {
	c   *net.UDPConn
	buf []byte
}

// connPool keeps connected UDP sockets to one upstream for reuse: a
// socket per query costs socket, connect, epoll registration and close,
// which dominated forwarding time. Each socket carries one query at a
// time, so the query goes out with the client's ID unchanged (as dcos-dns
// and Mesos-DNS send it). A socket goes back to the pool only after a
// clean exchange; one that timed out or failed is closed, so a late reply
// can never be read by the next query (IDs and the question are checked
// too).
type connPool struct {
	addr string
	idle chan *udpConn
	// bufs holds request buffers for queries that arrive already parsed.
	bufs sync.Pool
}

func newConnPool(addr string) *connPool {
	return &connPool{addr: addr, idle: make(chan *udpConn, udpPoolSize)}
}

func (p *connPool) get() (*udpConn, error) {
	select {
	case c := <-p.idle:
		return c, nil
	default:
	}
	c, err := net.Dial("udp", p.addr)
	if err != nil {
		return nil, err
	}
	return &udpConn{c: c.(*net.UDPConn)}, nil
}

func (p *connPool) put(c *udpConn) {
	select {
	case p.idle <- c:
	default:
		c.c.Close()
	}
}

// close closes the idle sockets (sockets in use are closed by their
// exchange when it ends).
func (p *connPool) close() {
	for {
		select {
		case c := <-p.idle:
			c.c.Close()
		default:
			return
		}
	}
}

// pools maps upstream addresses to their pools.
type pools map[string]*connPool

func newPools(addrs []string) pools {
	ps := pools{}
	for _, a := range addrs {
		if ps[a] == nil {
			ps[a] = newConnPool(a)
		}
	}
	return ps
}

// errReplyTooLarge: the upstream's datagram filled the whole buffer,
// which is larger than anything the client allowed.
var errReplyTooLarge = errors.New("reply larger than the client's UDP size")

// exchange sends one query over a pooled socket and reads the reply. It
// works on wire bytes and a per-socket buffer, without miekg/dns' client
// (its per-exchange allocations, contexts and deep call stacks were most
// of the forwarding cost; see docs/benchmarks/dcosdns.md): raw (the
// client's bytes) goes out unchanged, or req packed when raw is nil. The
// read deadline is the earlier of ctx's and timeout; cancelling ctx cuts
// the read short.
func (p *connPool) exchange(ctx context.Context, req *dns.Msg, raw []byte, timeout time.Duration) (*dns.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, &AttemptError{Upstream: p.addr, Reason: "canceled", Err: err}
	}
	if raw == nil {
		bp, _ := p.bufs.Get().(*[]byte)
		if bp == nil {
			bp = new([]byte)
		}
		defer p.bufs.Put(bp)
		b, err := req.PackBuffer(*bp)
		if err != nil {
			return nil, &AttemptError{Upstream: p.addr, Reason: "error", Err: err}
		}
		*bp, raw = b, b
	}
	uc, err := p.get()
	if err != nil {
		return nil, &AttemptError{Upstream: p.addr, Reason: netReason(err), Err: err}
	}
	r, err := uc.roundTrip(ctx, req, raw, timeout)
	if err != nil {
		uc.c.Close()
		why := netReason(err)
		if ctx.Err() != nil {
			why = reason(ctx, err)
		}
		return nil, &AttemptError{Upstream: p.addr, Reason: why, Err: err}
	}
	p.put(uc)
	return r, nil
}

// roundTrip writes raw and reads until the reply with raw's ID arrives
// (anything else on the socket is dropped), then unpacks it.
func (uc *udpConn) roundTrip(ctx context.Context, req *dns.Msg, raw []byte, timeout time.Duration) (*dns.Msg, error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := uc.c.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if ctx.Done() != nil {
		// A lost race or a client that went away interrupts the read.
		stop := context.AfterFunc(ctx, func() { _ = uc.c.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	if _, err := uc.c.Write(raw); err != nil {
		return nil, err
	}
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
		size = int(opt.UDPSize())
	}
	// One byte more than the client allows, so an oversize datagram
	// (the kernel cuts it to the buffer) is recognised instead of being
	// parsed cut.
	if cap(uc.buf) < size+1 {
		uc.buf = make([]byte, size+1)
	}
	buf := uc.buf[:size+1]
	id := binary.BigEndian.Uint16(raw)
	for {
		n, err := uc.c.Read(buf)
		if err != nil {
			return nil, err
		}
		if n < 12 || binary.BigEndian.Uint16(buf) != id || buf[2]&0x80 == 0 {
			continue // not the reply to this query
		}
		if n > size {
			return nil, errReplyTooLarge
		}
		return unpackReply(req, buf[:n])
	}
}

// unpackReply parses a reply and checks it answers req.
func unpackReply(req *dns.Msg, b []byte) (*dns.Msg, error) {
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		// A reply that unpacked only partly (e.g. a truncated UDP answer
		// cut mid-record) still counts: its header says it is the reply.
		if r.Truncated {
			return r, nil
		}
		return nil, err
	}
	if !sameQuestion(req, r) {
		return nil, errOtherQuestion
	}
	return r, nil
}

var errOtherQuestion = errors.New("reply is for another question")

// netReason classifies a socket error without a context.
func netReason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error"
}
