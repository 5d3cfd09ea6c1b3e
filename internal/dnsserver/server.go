// Package dnsserver is a lean DNS serving path shared by Sextant's DNS roles.
//
// UDP uses one socket per core bound with SO_REUSEPORT, each with its own
// read loop and reused buffers, so the kernel spreads clients over cores
// and a hot query never allocates. TCP serves any number of queries per
// connection (pipelined, no per-connection query limit).
//
// A Handler has two paths:
//
//   - AnswerFast works on wire bytes only. It may answer a query by writing
//     a prepared reply into out (returning its length and true), or decline
//     (false) so the query takes the slow path. It must not allocate, block
//     or keep query or out after it returns.
//   - ServeDNS receives the parsed message (or the unpack error) and returns
//     the reply to send, or nil to send nothing. It may block (forwarding):
//     UDP slow queries run on a bounded pool of long-lived worker
//     goroutines (their stacks grow once, not per query).
//
// The server drops packets shorter than a DNS header and packets with QR=1
// (replies are never answered) before either path runs.
//
// Imports: the standard library and third-party modules only, no package of Sextant's.
package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// Network is the transport a query arrived on.
type Network uint8

// Transports.
const (
	UDP Network = iota
	TCP
)

// String returns "udp" or "tcp", the names miekg/dns and forwarders use.
func (n Network) String() string {
	if n == TCP {
		return "tcp"
	}
	return "udp"
}

// Request is a query for the slow path.
type Request struct {
	// Raw is the packet as received. It is owned by the request.
	Raw []byte
	// Msg is the parsed query; nil when Err is set.
	Msg *dns.Msg
	// Err is the unpack error of a packet that did not parse.
	Err     error
	Network Network
	Remote  netip.AddrPort
}

// Handler answers queries. See the package comment for the contract.
type Handler interface {
	// AnswerFast answers from wire bytes into out, or returns ok=false.
	// Implementations must be safe for concurrent use.
	AnswerFast(query, out []byte, network Network) (n int, ok bool)
	// ServeDNS returns the reply for a query, or nil to send nothing. The
	// reply must already respect the transport's size limit (the server
	// only packs it). Implementations must be safe for concurrent use.
	ServeDNS(ctx context.Context, req *Request) *dns.Msg
}

// Config describes one server: UDP and TCP on the same address and port.
type Config struct {
	// Addr is "ip:port". Port 0 picks a free port (the same for UDP and TCP).
	Addr    string
	Handler Handler
	// UDPSockets is the number of SO_REUSEPORT UDP sockets; 0 means one per
	// core (GOMAXPROCS), at least 4.
	UDPSockets int
	// MaxSlowInFlight bounds concurrent slow-path UDP queries (default 1024):
	// it is the most worker goroutines the server starts. Workers start on
	// demand and stay until Serve returns. When every worker is busy and
	// the limit is reached, slow queries run inline on the read loop, which
	// slows that loop down instead of growing memory without bound.
	MaxSlowInFlight int
	// TCPIdleTimeout closes idle TCP connections (default 10s).
	TCPIdleTimeout time.Duration
	// NoUDP / NoTCP turn one transport off.
	NoUDP, NoTCP bool
	Logger       *slog.Logger
}

// Server is a bound DNS server. Create it with Listen, run it with Serve.
type Server struct {
	cfg  Config
	log  *slog.Logger
	udp  []*net.UDPConn
	tcp  *net.TCPListener
	addr netip.AddrPort
	// slow holds one token per started worker (its capacity is the limit).
	slow chan struct{}
	// jobs hands a slow query to an idle worker. It is unbuffered: a send
	// succeeds only when a worker is waiting, so no query queues behind
	// workers that are blocked on an upstream.
	jobs    chan slowJob
	workers sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
}

const maxMsg = 65535

// Listen binds the UDP sockets and the TCP listener. An error names the
// address that could not be bound. Nothing is served until Serve runs, but
// the kernel already queues packets and connections, so a caller may
// announce the server as started once Listen returns.
func Listen(cfg Config) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("dnsserver: no handler")
	}
	if cfg.NoUDP && cfg.NoTCP {
		return nil, errors.New("dnsserver: both UDP and TCP are off")
	}
	if cfg.UDPSockets <= 0 {
		// More sockets than cores: the kernel spreads clients over
		// SO_REUSEPORT sockets by a hash of their address, and a few
		// busy clients can otherwise land on the same socket.
		cfg.UDPSockets = max(runtime.GOMAXPROCS(0), 4)
	}
	if cfg.MaxSlowInFlight <= 0 {
		cfg.MaxSlowInFlight = 1024
	}
	if cfg.TCPIdleTimeout <= 0 {
		cfg.TCPIdleTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ap, err := netip.ParseAddrPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dns listener %q: %w", cfg.Addr, err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, slow: make(chan struct{}, cfg.MaxSlowInFlight), jobs: make(chan slowJob), conns: map[net.Conn]struct{}{}}
	// With port 0 the kernel picks the UDP port; TCP must then get the same
	// one, which may be taken: retry a few times with a fresh UDP port.
	tries := 1
	if ap.Port() == 0 {
		tries = 20
	}
	for i := 0; i < tries; i++ {
		err = s.bind(ap)
		if err == nil {
			return s, nil
		}
		s.closeAll()
	}
	return nil, err
}

func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

func (s *Server) bind(ap netip.AddrPort) error {
	s.udp = nil
	s.tcp = nil
	port := ap.Port()
	lc := net.ListenConfig{Control: reusePort}
	if !s.cfg.NoUDP {
		for i := 0; i < s.cfg.UDPSockets; i++ {
			a := netip.AddrPortFrom(ap.Addr(), port).String()
			pc, err := lc.ListenPacket(context.Background(), "udp", a)
			if err != nil {
				return fmt.Errorf("dns listener udp %s: %w", a, err)
			}
			c := pc.(*net.UDPConn)
			_ = c.SetReadBuffer(4 << 20)
			_ = c.SetWriteBuffer(4 << 20)
			s.udp = append(s.udp, c)
			port = c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		}
	}
	if !s.cfg.NoTCP {
		a := netip.AddrPortFrom(ap.Addr(), port).String()
		// No SO_REUSEPORT on TCP: a second process on the same port must
		// fail loudly instead of silently sharing connections.
		l, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("dns listener tcp %s: %w", a, err)
		}
		s.tcp = l.(*net.TCPListener)
		port = s.tcp.Addr().(*net.TCPAddr).AddrPort().Port()
	}
	s.addr = netip.AddrPortFrom(ap.Addr(), port)
	return nil
}

func (s *Server) closeAll() {
	for _, c := range s.udp {
		c.Close()
	}
	if s.tcp != nil {
		s.tcp.Close()
	}
}

// Addr is the bound address (the actual port when Config.Addr had port 0).
func (s *Server) Addr() netip.AddrPort { return s.addr }

// Serve answers queries until ctx ends, then closes every socket and
// connection and waits for in-flight work. It returns nil after a clean
// shutdown.
func (s *Server) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	errc := make(chan error, len(s.udp)+1)
	for _, c := range s.udp {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.serveUDP(ctx, c); err != nil {
				errc <- err
			}
		}()
	}
	if s.tcp != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.serveTCP(ctx, &wg); err != nil {
				errc <- err
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.mu.Lock()
	s.done = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.closeAll()
	wg.Wait()
	// The UDP read loops, the only senders on jobs, have returned: stop the
	// workers once they finish the queries still running.
	close(s.jobs)
	s.workers.Wait()
	return err
}

// serveUDPSimple is the portable loop: one read and one write per query.
func (s *Server) serveUDPSimple(ctx context.Context, c *net.UDPConn) error {
	in := make([]byte, maxMsg)
	out := make([]byte, maxMsg)
	for {
		n, from, err := c.ReadFromUDPAddrPort(in)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Transient errors (ICMP-induced ECONNREFUSED and such) must
			// not stop the loop.
			s.log.Debug("udp read", "err", err)
			continue
		}
		q := in[:n]
		if n < 12 || q[2]&0x80 != 0 {
			continue
		}
		if m, ok := s.cfg.Handler.AnswerFast(q, out, UDP); ok {
			if _, err := c.WriteToUDPAddrPort(out[:m], from); err != nil {
				s.log.Debug("udp write", "to", from, "err", err)
			}
			continue
		}
		s.slowPacket(ctx, c, q, from, out)
	}
}

// slowJob is one UDP query for a worker.
type slowJob struct {
	c    *net.UDPConn
	raw  []byte
	from netip.AddrPort
}

// slowPacket hands a UDP query to an idle worker, starts a new worker for
// it while under MaxSlowInFlight, or else runs it inline (using buf).
func (s *Server) slowPacket(ctx context.Context, c *net.UDPConn, q []byte, from netip.AddrPort, buf []byte) {
	j := slowJob{c: c, raw: append([]byte(nil), q...), from: from}
	select {
	case s.jobs <- j:
		return
	default:
	}
	select {
	case s.slow <- struct{}{}:
		s.workers.Add(1)
		go s.worker(ctx, j)
	default:
		s.slowUDP(ctx, c, j.raw, from, buf)
	}
}

// workerBuf is the largest reply buffer a worker keeps between queries;
// rarer, larger replies get a buffer of their own.
const workerBuf = 4096

// worker serves first, then every job it receives until jobs is closed.
// It is long-lived so the stack it grows while unpacking and handling
// queries is grown once, not once per query.
func (s *Server) worker(ctx context.Context, first slowJob) {
	defer s.workers.Done()
	buf := make([]byte, workerBuf)
	for j, ok := first, true; ok; j, ok = <-s.jobs {
		s.slowUDP(ctx, j.c, j.raw, j.from, buf)
	}
}

func (s *Server) slowUDP(ctx context.Context, c *net.UDPConn, raw []byte, from netip.AddrPort, buf []byte) {
	reply := s.serveSlow(ctx, raw, UDP, from)
	if reply == nil {
		return
	}
	b, err := reply.PackBuffer(buf)
	if err != nil {
		s.log.Warn("packing reply", "err", err)
		return
	}
	if _, err := c.WriteToUDPAddrPort(b, from); err != nil {
		s.log.Debug("udp write", "to", from, "err", err)
	}
}

// serveSlow parses the packet and asks the handler. A handler panic is
// turned into SERVFAIL (as miekg/dns servers do) instead of killing the
// process.
func (s *Server) serveSlow(ctx context.Context, raw []byte, nw Network, from netip.AddrPort) (reply *dns.Msg) {
	req := &Request{Raw: raw, Network: nw, Remote: from}
	m := new(dns.Msg)
	if err := m.Unpack(raw); err != nil {
		req.Err = err
	} else {
		req.Msg = m
	}
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("dns handler panic", "panic", r, "from", from)
			reply = ServFail(raw)
		}
	}()
	return s.cfg.Handler.ServeDNS(ctx, req)
}

// ServFail builds a bare SERVFAIL reply from a packet's header (ID, opcode
// and RD copied), or nil when not even the header is there.
func ServFail(raw []byte) *dns.Msg { return headerReply(raw, dns.RcodeServerFailure) }

// FormErr builds the FORMERR reply for a packet that did not parse: header
// only, ID, opcode and RD copied.
func FormErr(raw []byte) *dns.Msg { return headerReply(raw, dns.RcodeFormatError) }

func headerReply(raw []byte, rcode int) *dns.Msg {
	if len(raw) < 12 {
		return nil
	}
	m := new(dns.Msg)
	m.Id = binary.BigEndian.Uint16(raw)
	m.Response = true
	m.Opcode = int(raw[2]>>3) & 0xF
	m.RecursionDesired = raw[2]&1 != 0
	m.Rcode = rcode
	return m
}

func (s *Server) track(c net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.done {
			return false
		}
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	return true
}

func (s *Server) serveTCP(ctx context.Context, wg *sync.WaitGroup) error {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// EMFILE and friends: back off instead of spinning.
			s.log.Warn("tcp accept", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		if !s.track(c, true) {
			c.Close()
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.track(c, false)
			defer c.Close()
			s.serveConn(ctx, c)
		}()
	}
}

// serveConn answers length-prefixed queries until the client closes, goes
// idle, or sends garbage. Replies are buffered and flushed when no further
// query is already waiting, so pipelined clients get batched writes.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	r := newReader(c, 16<<10)
	w := newWriter(c, 16<<10)
	in := make([]byte, maxMsg)
	out := make([]byte, 2+maxMsg)
	remote := netip.AddrPort{}
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		remote = ta.AddrPort()
	}
	for {
		if r.buffered() < 2 {
			if err := w.flush(); err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(s.cfg.TCPIdleTimeout))
		}
		var hdr [2]byte
		if err := r.readFull(hdr[:]); err != nil {
			return
		}
		l := int(binary.BigEndian.Uint16(hdr[:]))
		if err := r.readFull(in[:l]); err != nil {
			return
		}
		q := in[:l]
		if l < 12 || q[2]&0x80 != 0 {
			continue
		}
		if n, ok := s.cfg.Handler.AnswerFast(q, out[2:], TCP); ok {
			binary.BigEndian.PutUint16(out, uint16(n))
			if err := w.write(out[:2+n]); err != nil {
				return
			}
			continue
		}
		reply := s.serveSlow(ctx, append([]byte(nil), q...), TCP, remote)
		if reply == nil {
			continue
		}
		b, err := reply.PackBuffer(out[2:])
		if err != nil || len(b) > maxMsg {
			s.log.Warn("packing reply", "err", err, "len", len(b))
			continue
		}
		var lp [2]byte
		binary.BigEndian.PutUint16(lp[:], uint16(len(b)))
		if err := w.write(lp[:]); err != nil {
			return
		}
		if err := w.write(b); err != nil {
			return
		}
	}
}
