// Package forward sends DNS queries that a Sextant server does not answer
// itself to upstream resolvers.
//
// Three pieces, each a Forwarder:
//
//   - Sequential tries the upstreams one after the other, as Mesos-DNS does
//     (spec/mesos-dns.md §6.6).
//   - Racing races two upstreams chosen by their failure counts, as dcos-dns
//     does (spec/dcos-net.md §A.3).
//   - Cache sits in front of either and answers repeats from a bounded cache
//     that honours TTLs and negative TTLs (RFC 2308); neither original had
//     one (spec/dcos-net.md §F.2).
//
// Every Forwarder returns a reply message whenever it returns at all: the
// upstream's reply unchanged (any rcode counts as a reply), or a SERVFAIL /
// REFUSED reply built from the request together with an error that says
// why. Callers relay the message and apply their own size and TC rules.
//
// Imports: the standard library and third-party modules only, no package of Sextant's.
package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// Forwarder sends a query upstream and returns the reply.
//
// network is the transport the client used ("udp" or "tcp"; "udp4",
// "tcp6" and so on are accepted); the query goes upstream over the same
// one. Implementations are safe for concurrent use; Forward blocks until
// a reply arrives, every attempt failed, or ctx ends. The request is not
// modified and the returned message is never shared with another caller.
type Forwarder interface {
	Forward(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error)
}

// RawForwarder is a Forwarder that can relay the client's bytes: raw,
// when not nil, is req in wire format exactly as the client sent it.
type RawForwarder interface {
	Forwarder
	ForwardRaw(ctx context.Context, req *dns.Msg, raw []byte, network string) (*dns.Msg, error)
}

// Func adapts a function to the Forwarder interface.
type Func func(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error)

// Forward calls f.
func (f Func) Forward(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error) {
	return f(ctx, req, network)
}

// DefaultPort is the port an upstream without one is asked on.
const DefaultPort = "53"

// Errors returned next to the SERVFAIL or REFUSED reply.
var (
	// ErrNoUpstreams: no upstream is configured (the reply is REFUSED for
	// Sequential, SERVFAIL for Racing, as each original did).
	ErrNoUpstreams = errors.New("no upstream resolvers configured")
	// ErrAllFailed: every upstream asked failed (the reply is SERVFAIL).
	ErrAllFailed = errors.New("every upstream failed")
)

// AttemptError describes one failed exchange with one upstream.
type AttemptError struct {
	Upstream string
	Reason   string // "timeout", "refused", "tcp_closed", "canceled", "error"
	Err      error
}

func (e *AttemptError) Error() string {
	return fmt.Sprintf("upstream %s: %s: %v", e.Upstream, e.Reason, e.Err)
}

func (e *AttemptError) Unwrap() error { return e.Err }

// NormalizeUpstream turns "ip" or "ip:port" (or "[v6]:port") into
// "host:port", adding DefaultPort when the port is missing.
func NormalizeUpstream(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty upstream address")
	}
	if ip := net.ParseIP(s); ip != nil {
		return net.JoinHostPort(s, DefaultPort), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("upstream %q: %w", s, err)
	}
	if net.ParseIP(host) == nil {
		return "", fmt.Errorf("upstream %q: host is not an IP address", s)
	}
	if p, perr := parsePort(port); perr != nil || p == 0 {
		return "", fmt.Errorf("upstream %q: bad port %q", s, port)
	}
	return net.JoinHostPort(host, port), nil
}

func parsePort(s string) (uint16, error) {
	var n uint32
	if s == "" || len(s) > 5 {
		return 0, errors.New("bad port")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("bad port")
		}
		n = n*10 + uint32(c-'0')
	}
	if n > 65535 {
		return 0, errors.New("bad port")
	}
	return uint16(n), nil
}

// transport maps the client's network name onto the one used upstream.
func transport(network string) string {
	if strings.HasPrefix(network, "tcp") {
		return "tcp"
	}
	return "udp"
}

// exchange does one query/reply exchange with one upstream. timeout
// bounds the whole attempt (dial, write and read); cancelling ctx closes
// the socket at once so a lost race does not hold a goroutine for the
// whole timeout. UDP goes through pool when it is not nil (see
// exchangeUDP); raw, when not nil, is req in wire format (the client's
// bytes, sent unchanged).
func exchange(ctx context.Context, req *dns.Msg, raw []byte, network, addr string, timeout time.Duration, pool *connPool) (*dns.Msg, error) {
	proto := transport(network)
	if proto == "udp" && pool != nil {
		return pool.exchange(ctx, req, raw, timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &dns.Client{Net: proto, Timeout: timeout}
	conn, err := c.DialContext(ctx, addr)
	if err != nil {
		return nil, &AttemptError{Upstream: addr, Reason: reason(ctx, err), Err: err}
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	r, _, err := c.ExchangeWithConnContext(ctx, req, conn)
	if err != nil {
		// A reply that unpacked only partly (e.g. a truncated UDP answer
		// cut mid-record) still counts when its header says it is the
		// reply to this query.
		if r != nil && r.Id == req.Id && r.Response && r.Truncated {
			return r, nil
		}
		return nil, &AttemptError{Upstream: addr, Reason: reason(ctx, err), Err: err}
	}
	if !sameQuestion(req, r) {
		return nil, &AttemptError{Upstream: addr, Reason: "error", Err: errors.New("reply is for another question")}
	}
	return r, nil
}

func sameQuestion(req, r *dns.Msg) bool {
	if len(req.Question) != len(r.Question) {
		// Some servers drop the question on errors (FORMERR, REFUSED).
		return len(r.Question) == 0
	}
	for i, q := range req.Question {
		o := r.Question[i]
		if q.Qtype != o.Qtype || q.Qclass != o.Qclass || !strings.EqualFold(q.Name, o.Name) {
			return false
		}
	}
	return true
}

// reason classifies an attempt failure for the worker_failures_total
// metric, with the names dcos-dns used where they exist.
func reason(ctx context.Context, err error) string {
	switch {
	case errors.Is(context.Cause(ctx), errLostRace), errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "timeout"
	case errors.Is(ctx.Err(), context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "tcp_closed"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error"
}

// Reply builds the header-only answer a forwarder gives when it could not
// get one upstream: QR set, ID, opcode, RD, CD and the question copied.
// (dcos-dns echoed the request without QR; spec §F.2 asks for QR.)
func Reply(req *dns.Msg, rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(req, rcode)
	m.RecursionAvailable = false
	m.Authoritative = false
	return m
}
