package forward

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// muxes maps upstream addresses to their sockets.
type muxes map[string]*muxUpstream

func newMuxes(addrs []string, m *Metrics) muxes {
	ms := muxes{}
	for _, a := range addrs {
		if ms[a] == nil {
			ms[a] = &muxUpstream{addr: a, done: m.workerRequests.WithLabelValues("udp", a), retireAfter: muxSocketQueries}
		}
	}
	return ms
}

func (ms muxes) close() {
	for _, u := range ms {
		u.close()
	}
}

// UDP multiplexing for the Racing forwarder.
//
// Each upstream has a few connected UDP sockets, each with one reader
// goroutine; queries from any number of clients share them, told apart by
// the DNS ID, which is rewritten to a random ID free on that socket and
// restored in the reply. A query is sent from the caller's goroutine and
// its reply is read, matched (ID and question) and unpacked by the reader,
// so a forwarded query costs no goroutine and no socket of its own, and a
// race of two upstreams is two writes and one wait. (A goroutine per query
// also grew its stack for miekg/dns' unpacking on every query, which was a
// sixth of the CPU time of forwarding.) A socket is replaced after
// muxSocketQueries queries, so source ports keep changing as they did
// with a socket per query.

const (
	// muxSockets is how many sockets each upstream uses.
	muxSockets = 4
	// muxSocketQueries retires a socket (a fresh source port) after this
	// many queries.
	muxSocketQueries = 4096
	// muxMaxPending bounds the queries waiting on one socket (IDs are 16
	// bits; staying well below keeps picking a free random ID fast).
	muxMaxPending = 16384
)

var (
	errMuxClosed = errors.New("forwarder closed")
	errMuxBusy   = errors.New("too many queries waiting on this upstream")
)

// muxUpstream is the sockets to one upstream.
type muxUpstream struct {
	addr string
	// done observes the exchange time of an answered attempt.
	done prometheus.Observer
	// retireAfter is muxSocketQueries; tests lower it.
	retireAfter int

	mu     sync.Mutex
	socks  [muxSockets]*muxSock // guarded by mu; nil until first used
	next   int                  // guarded by mu: round robin
	closed bool                 // guarded by mu
}

// muxSock is one connected socket and the attempts waiting on it.
type muxSock struct {
	up *muxUpstream
	c  *net.UDPConn

	mu       sync.Mutex
	pending  map[uint16]*attempt // guarded by mu
	sent     int                 // guarded by mu
	retiring bool                // guarded by mu: no new attempts; closed when pending is empty
	closed   bool                // guarded by mu
}

// race is one forwarded query: its attempts report to ch.
type race struct {
	req    *dns.Msg
	origID uint16
	ch     chan attemptResult // buffered for every attempt: never blocks
}

// attempt is one query to one upstream. Whoever removes it from its
// socket's pending map (reader, timer, write error, cancel, close) owns
// its outcome.
type attempt struct {
	r        *race
	sock     *muxSock
	id       uint16
	start    time.Time
	deadline time.Time
	timer    *time.Timer
	// m receives the attempt's failure.
	m *Metrics
}

type attemptResult struct {
	a   *attempt
	msg *dns.Msg
	err error
}

// sock returns a socket for a new attempt, dialling (and starting its
// reader) when the slot is empty or its socket retired.
func (u *muxUpstream) sock() (*muxSock, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil, errMuxClosed
	}
	i := u.next
	u.next = (u.next + 1) % muxSockets
	if s := u.socks[i]; s != nil {
		s.mu.Lock()
		ok := !s.retiring && !s.closed
		s.mu.Unlock()
		if ok {
			return s, nil
		}
	}
	c, err := net.Dial("udp", u.addr)
	if err != nil {
		return nil, err
	}
	s := &muxSock{up: u, c: c.(*net.UDPConn), pending: map[uint16]*attempt{}}
	u.socks[i] = s
	go s.read()
	return s, nil
}

func (u *muxUpstream) close() {
	u.mu.Lock()
	u.closed = true
	socks := u.socks
	u.mu.Unlock()
	for _, s := range socks {
		if s != nil {
			s.shutdown(errMuxClosed, "error")
		}
	}
}

// start registers an attempt under a free random ID and sends the query
// (wire, whose ID is overwritten). On error nothing is pending.
func (s *muxSock) start(a *attempt, wire []byte, timeout time.Duration) error {
	s.mu.Lock()
	if s.closed || s.retiring {
		s.mu.Unlock()
		return errMuxClosed
	}
	if len(s.pending) >= muxMaxPending {
		s.mu.Unlock()
		return errMuxBusy
	}
	for {
		a.id = uint16(rand.Uint32())
		if s.pending[a.id] == nil {
			break
		}
	}
	s.pending[a.id] = a
	s.sent++
	if s.sent >= s.up.retireAfter {
		s.retiring = true
	}
	a.sock = s
	a.start = time.Now()
	a.deadline = a.start.Add(timeout)
	a.timer = time.AfterFunc(timeout, func() { s.finish(a, nil, errAttemptTimeout, "timeout") })
	s.mu.Unlock()
	binary.BigEndian.PutUint16(wire, a.id)
	if _, err := s.c.Write(wire); err != nil {
		s.finish(a, nil, err, netReason(err))
		return nil // reported through the race channel
	}
	return nil
}

var errAttemptTimeout = errors.New("no reply within the attempt timeout")

// take removes a pending attempt; false when someone else already did.
func (s *muxSock) take(a *attempt) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.takeLocked(a)
}

func (s *muxSock) takeLocked(a *attempt) bool {
	if s.pending[a.id] != a {
		return false
	}
	delete(s.pending, a.id)
	if s.retiring && len(s.pending) == 0 && !s.closed {
		s.closed = true
		s.c.Close()
	}
	return true
}

// finish ends an attempt if it is still pending: a failure (err, reason
// for the metrics; reason "" is not counted) or a reply.
func (s *muxSock) finish(a *attempt, msg *dns.Msg, err error, reason string) {
	if !s.take(a) {
		return
	}
	a.timer.Stop()
	if err != nil {
		if reason != "" {
			a.m.recordFailure(s.up.addr, "udp", reason)
		}
		a.r.ch <- attemptResult{a: a, err: &AttemptError{Upstream: s.up.addr, Reason: reasonOr(reason, "canceled"), Err: err}}
		return
	}
	s.up.done.Observe(time.Since(a.start).Seconds())
	a.r.ch <- attemptResult{a: a, msg: msg}
}

func reasonOr(r, def string) string {
	if r == "" {
		return def
	}
	return r
}

// cutShort lets a losing attempt run at most grace longer (its own
// timeout still applies when that comes first).
func (a *attempt) cutShort(grace time.Duration) {
	if time.Until(a.deadline) > grace {
		// Counted as a timeout when it fires, as a lost attempt that
		// never answered would have been.
		a.timer.Reset(grace)
	}
}

// shutdown fails every pending attempt and closes the socket.
func (s *muxSock) shutdown(err error, reason string) {
	s.mu.Lock()
	var as []*attempt
	for _, a := range s.pending {
		as = append(as, a)
	}
	if !s.closed {
		s.closed = true
		s.c.Close()
	}
	s.mu.Unlock()
	for _, a := range as {
		s.finish(a, nil, err, reason)
	}
}

// read is the socket's reader: it matches replies to attempts until the
// socket is closed. A refused port (ICMP port unreachable, reported on
// the next read of a connected socket) fails every attempt waiting on it:
// they all went to that port.
func (s *muxSock) read() {
	buf := make([]byte, dns.MaxMsgSize)
	for {
		n, err := s.c.Read(buf)
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				s.shutdown(errMuxClosed, "error")
				return
			}
			why := netReason(err)
			if why == "refused" {
				s.failAll(err, why)
				continue
			}
			s.shutdown(err, why)
			return
		}
		if n < 12 || buf[2]&0x80 == 0 {
			continue
		}
		id := binary.BigEndian.Uint16(buf)
		s.mu.Lock()
		a := s.pending[id]
		s.mu.Unlock()
		if a == nil {
			continue // late (timed out, lost race) or foreign
		}
		// The ID goes back to the client's before unpacking, so a reply
		// relayed whole carries it.
		binary.BigEndian.PutUint16(buf, a.r.origID)
		msg, err := unpackReply(a.r.req, buf[:n])
		if err != nil {
			// Not this query's reply (another question) or garbage: the
			// attempt keeps waiting for the right one until its timeout.
			continue
		}
		s.finish(a, msg, nil, "")
	}
}

// failAll fails the attempts pending on the socket (the socket stays).
func (s *muxSock) failAll(err error, reason string) {
	s.mu.Lock()
	var as []*attempt
	for _, a := range s.pending {
		as = append(as, a)
	}
	s.mu.Unlock()
	for _, a := range as {
		s.finish(a, nil, err, reason)
	}
}
