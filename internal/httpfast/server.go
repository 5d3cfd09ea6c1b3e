package httpfast

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves connections handed to ServeConn. Its fields are read
// while connections are served: set them before the first.
type Server struct {
	Handler http.Handler
	// RequestTimeout bounds reading a request head (and the TLS
	// handshake); KeepAliveTimeout the wait for the next request;
	// WriteTimeout each write to the client (inactivity, not the whole
	// response).
	RequestTimeout, KeepAliveTimeout, WriteTimeout time.Duration
	Logger                                         *slog.Logger
	// BaseContext is every request's context (nil: Background).
	BaseContext context.Context
	// ParseURL fills Request.URL from the request target (one
	// allocation a request); handlers that read only RequestURI leave it
	// off.
	ParseURL bool
	// Closing, when it reports true, ends a connection before its next
	// request.
	Closing func() bool
	// Track is told when a connection starts (true) and ends (false).
	Track func(cc *Conn, start bool)
	// Divert is shown what is buffered of a request's head (at least
	// one byte, at most its first line); true hands the connection, with
	// everything buffered, to Fallback, which then owns it.
	Divert   func(head []byte) bool
	Fallback func(net.Conn)
}

// Conn is one client connection.
type Conn struct {
	s     *Server
	c     net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	idle  atomic.Bool
	req   http.Request
	tls   *tls.ConnectionState
	body  io.LimitedReader
	w     respWriter
	vals  []byte
	hijak bool
	// src is what br reads: the connection, after a byte a watch read.
	src pendingReader
}

// pendingReader reads first the byte a client watch took off the
// connection.
type pendingReader struct {
	c    net.Conn
	b    [1]byte
	have bool
}

func (p *pendingReader) Read(b []byte) (int, error) {
	if p.have && len(b) > 0 {
		p.have = false
		b[0] = p.b[0]
		return 1, nil
	}
	return p.c.Read(b)
}

var errHeaderTooLarge = errors.New("request header too large")

// NewConn returns a connection reading requests from br and writing
// responses to bw, for tests of ReadRequest.
func NewConn(br *bufio.Reader, bw *bufio.Writer) *Conn {
	cc := &Conn{s: &Server{}, br: br, bw: bw}
	cc.req.Header = http.Header{}
	return cc
}

// Idle reports whether the connection waits for a request.
func (cc *Conn) Idle() bool { return cc.idle.Load() }

// NetConn is the connection served.
func (cc *Conn) NetConn() net.Conn { return cc.c }

// Request is the request ReadRequest read last.
func (cc *Conn) Request() *http.Request { return &cc.req }

// ReadRequest reads one request head into Request(); keep says whether
// the connection may carry another request.
func (cc *Conn) ReadRequest() (keep bool, err error) { return cc.readRequest() }

// ServeConn serves c until it closes, the client asks for the end, the
// server is closing or c is diverted.
func (s *Server) ServeConn(c net.Conn) {
	cc := &Conn{s: s, c: c, bw: bufio.NewWriterSize(deadlineWriter{c, s.WriteTimeout}, 4<<10)}
	cc.src.c = c
	cc.br = bufio.NewReaderSize(&cc.src, 8<<10)
	if s.Track != nil {
		s.Track(cc, true)
	}
	defer func() {
		if s.Track != nil {
			s.Track(cc, false)
		}
		if !cc.hijak {
			c.Close()
		}
	}()
	if tc, ok := c.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(s.RequestTimeout))
		if err := tc.Handshake(); err != nil {
			return
		}
		_ = tc.SetDeadline(time.Time{})
		st := tc.ConnectionState()
		cc.tls = &st
	}
	if s.BaseContext != nil {
		// A request made once per connection carries the context;
		// WithContext per request would copy the request every time.
		cc.req = *new(http.Request).WithContext(s.BaseContext)
	}
	cc.req.RemoteAddr = c.RemoteAddr().String()
	cc.req.Header = http.Header{}
	cc.w.h = http.Header{}
	cc.w.cc = cc
	first := true
	for {
		// Waiting for a request is the keep-alive timeout; reading it
		// the request timeout.
		wait := s.KeepAliveTimeout
		if first {
			wait = s.RequestTimeout
		}
		first = false
		cc.idle.Store(true)
		if s.Closing != nil && s.Closing() {
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		if _, err := cc.br.Peek(1); err != nil {
			return
		}
		cc.idle.Store(false)
		_ = c.SetReadDeadline(time.Now().Add(s.RequestTimeout))
		if s.Divert != nil && cc.tls == nil && s.Divert(cc.bufferedLine()) {
			_ = c.SetReadDeadline(time.Time{})
			cc.hijak = true
			s.Fallback(&prefixConn{Conn: c, r: cc.br})
			return
		}
		keep, err := cc.readRequest()
		if err != nil {
			code := http.StatusBadRequest
			if errors.Is(err, errHeaderTooLarge) {
				code = http.StatusRequestHeaderFieldsTooLarge
			}
			_, _ = io.WriteString(c, "HTTP/1.1 "+strconv.Itoa(code)+" "+http.StatusText(code)+
				"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			return
		}
		if s.ParseURL {
			u, err := url.ParseRequestURI(cc.req.RequestURI)
			if err != nil {
				_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				return
			}
			cc.req.URL = u
		}
		_ = c.SetReadDeadline(time.Time{})
		if !cc.serveOne(keep) {
			return
		}
	}
}

// bufferedLine is what is buffered of the next request, up to the end of
// its first line.
func (cc *Conn) bufferedLine() []byte {
	b, _ := cc.br.Peek(cc.br.Buffered())
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1]
	}
	return b
}

// prefixConn reads first what the loop had buffered.
type prefixConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if p.r != nil {
		if p.r.Buffered() > 0 {
			return p.r.Read(b)
		}
		p.r = nil
	}
	return p.Conn.Read(b)
}

// serveOne runs the handler on the request read; false ends the
// connection.
func (cc *Conn) serveOne(keep bool) (ok bool) {
	w := &cc.w
	w.reset(cc.req.Method == http.MethodHead, cc.req.ProtoMinor == 0)
	w.keep = keep
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				if cc.s.Logger != nil {
					cc.s.Logger.Error("http server: handler panic", "panic", p)
				}
			}
			ok = false
		}
	}()
	cc.s.Handler.ServeHTTP(w, &cc.req)
	w.stopWatch()
	if cc.hijak {
		return false
	}
	if err := w.finish(); err != nil || !w.keep {
		_ = cc.bw.Flush()
		return false
	}
	// A body the handler left unread is drained, or the connection ends.
	if cc.body.N > 0 {
		if _, _ = io.CopyN(io.Discard, &cc.body, 256<<10); cc.body.N > 0 {
			_ = cc.bw.Flush()
			return false
		}
	}
	// Flushed even when a pipelined request waits: its server may be
	// slow, and this response must not wait for it.
	return cc.bw.Flush() == nil
}

// request header names, canonical, so that reading them allocates
// nothing.
var requestHeaders = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Content-Length", "Content-Type", "Cookie", "Expect", "Host", "If-Modified-Since", "If-None-Match",
		"Keep-Alive", "Origin", "Pragma", "Referer", "Te", "Transfer-Encoding", "Upgrade", "User-Agent",
		"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Marathon-App-Id", "X-Requested-With",
		"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", "Sec-Websocket-Protocol"} {
		m[k] = k
	}
	return m
}()

// readRequest parses one request head into cc.req; keep says whether
// the connection may carry another request.
func (cc *Conn) readRequest() (bool, error) {
	r := &cc.req
	clear(r.Header)
	r.Body, r.ContentLength, r.TransferEncoding, r.Close, r.TLS = http.NoBody, 0, nil, false, cc.tls
	line, err := cc.br.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return false, errHeaderTooLarge
		}
		return false, err
	}
	line = bytes.TrimRight(line, "\r\n")
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return false, errMalformedRequest
	}
	proto := line[sp2+1:]
	switch string(proto) {
	case "HTTP/1.1":
		r.ProtoMajor, r.ProtoMinor, r.Proto = 1, 1, "HTTP/1.1"
	case "HTTP/1.0":
		r.ProtoMajor, r.ProtoMinor, r.Proto = 1, 0, "HTTP/1.0"
	default:
		return false, errMalformedRequest
	}
	r.Method = method(line[:sp1])
	target := line[sp1+1 : sp2]

	type kv struct {
		key        string
		start, end int
	}
	var kvs [32]kv
	list := kvs[:0]
	vals := append(cc.vals[:0], target...)
	uriEnd := len(vals)
	hostStart, hostEnd := -1, -1
	chunked := false
	clen := int64(-1)
	for {
		line, err := cc.br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return false, errHeaderTooLarge
			}
			return false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return false, errMalformedRequest
		}
		kb, v := line[:i], bytes.TrimSpace(line[i+1:])
		key, ok := requestHeaders[string(kb)]
		if !ok {
			key = textproto.CanonicalMIMEHeaderKey(string(kb))
		}
		switch key {
		case "Host":
			if hostStart >= 0 {
				return false, errMalformedRequest // two Host headers
			}
			hostStart = len(vals)
			vals = append(vals, v...)
			hostEnd = len(vals)
			continue
		case "Content-Length":
			n, ok := Atoi(v)
			if !ok || clen >= 0 && clen != n {
				return false, errMalformedRequest
			}
			clen = n
		case "Transfer-Encoding":
			if !bytes.EqualFold(v, []byte("chunked")) {
				return false, errMalformedRequest
			}
			chunked = true
		}
		start := len(vals)
		vals = append(vals, v...)
		list = append(list, kv{key, start, len(vals)})
	}
	cc.vals = vals[:0]
	all := string(vals)
	r.RequestURI = all[:uriEnd]
	r.Host = ""
	if hostStart >= 0 {
		r.Host = all[hostStart:hostEnd]
	}
	if len(list) > 0 {
		backing := make([]string, len(list))
		for i, x := range list {
			backing[i] = all[x.start:x.end]
			if old, dup := r.Header[x.key]; dup {
				r.Header[x.key] = append(old, backing[i])
				continue
			}
			r.Header[x.key] = backing[i : i+1 : i+1]
		}
	}
	keep := r.ProtoMinor == 1
	if conn := r.Header["Connection"]; len(conn) > 0 {
		if Listed(conn, "close") {
			keep = false
		} else if Listed(conn, "keep-alive") {
			keep = true
		}
	}
	r.Close = !keep
	switch {
	case chunked:
		r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
		r.Body = io.NopCloser(httputil.NewChunkedReader(cc.br))
		keep = false // what is left of an unread chunked body cannot be skipped cheaply
	case clen > 0:
		cc.body.R, cc.body.N = cc.br, clen
		r.ContentLength, r.Body = clen, io.NopCloser(&cc.body)
	}
	if r.ContentLength != 0 && Listed(r.Header["Expect"], "100-continue") {
		_, _ = cc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		_ = cc.bw.Flush()
	}
	return keep, nil
}

var errMalformedRequest = errors.New("malformed request")

func method(b []byte) string {
	switch string(b) {
	case "GET":
		return http.MethodGet
	case "HEAD":
		return http.MethodHead
	case "POST":
		return http.MethodPost
	case "PUT":
		return http.MethodPut
	case "DELETE":
		return http.MethodDelete
	case "OPTIONS":
		return http.MethodOptions
	case "PATCH":
		return http.MethodPatch
	}
	return string(b)
}

// respWriter is the http.ResponseWriter of a Conn.
type respWriter struct {
	cc      *Conn
	h       http.Header
	code    int
	wrote   bool
	chunked bool
	head    bool
	http10  bool
	keep    bool
	left    int64 // bytes promised by Content-Length, -1 without
	// watching ends a running WatchClient.
	watching func()
}

func (w *respWriter) reset(head, http10 bool) {
	clear(w.h)
	w.code, w.wrote, w.chunked, w.head, w.http10, w.left = 0, false, false, head, http10, -1
}

func (w *respWriter) Header() http.Header { return w.h }

func (w *respWriter) WriteHeader(code int) {
	if w.wrote || code < 100 || code > 999 {
		return
	}
	w.wrote, w.code = true, code
	bw := w.cc.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(code))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(code))
	bw.WriteString("\r\n")
	bodyless := code == http.StatusNoContent || code == http.StatusNotModified || code < 200
	if cl := w.h["Content-Length"]; len(cl) > 0 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil {
			w.left = n
		}
	}
	if w.left < 0 && !bodyless && !w.head {
		if w.http10 {
			w.keep = false // the end of the body is the end of the connection
		} else {
			w.chunked = true
			w.h["Transfer-Encoding"] = chunkedValue
		}
	}
	if !w.keep {
		w.h["Connection"] = closeValue
	}
	for k, vv := range w.h {
		for _, v := range vv {
			WriteHeader(bw, k, v)
		}
	}
	bw.WriteString("\r\n")
	delete(w.h, "Transfer-Encoding")
	delete(w.h, "Connection")
}

var (
	chunkedValue = []string{"chunked"}
	closeValue   = []string{"close"}
)

func (w *respWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		if len(w.h["Content-Length"]) == 0 && !w.head && len(b) > 0 {
			// Like net/http: a single write before the head is sized.
			w.h["Content-Length"] = []string{strconv.Itoa(len(b))}
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.head || len(b) == 0 {
		return len(b), nil
	}
	bw := w.cc.bw
	if w.chunked {
		bw.WriteString(strconv.FormatInt(int64(len(b)), 16))
		bw.WriteString("\r\n")
		bw.Write(b)
		_, err := bw.WriteString("\r\n")
		return len(b), err
	}
	if w.left >= 0 {
		if int64(len(b)) > w.left {
			b = b[:w.left]
		}
		w.left -= int64(len(b))
	}
	return bw.Write(b)
}

// Flush sends what is buffered (a streamed response).
func (w *respWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	_ = w.cc.bw.Flush()
}

// finish ends the response: the last chunk, or the connection when a
// promised length was not met.
func (w *respWriter) finish() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.chunked {
		_, err := w.cc.bw.WriteString("0\r\n\r\n")
		return err
	}
	if w.left > 0 && !w.head {
		_ = w.cc.bw.Flush()
		return io.ErrShortWrite
	}
	return nil
}

// WatchClient calls gone when the client closes the connection or it
// fails, until the response ends or the returned stop is called (stop
// may be called more than once). It costs a goroutine and a read that
// waits on the connection, which is what net/http pays on every
// request; a handler asks for it only for a response that may last
// (a stream), whose upstream must be let go when the client leaves.
// With a pipelined request already buffered the client cannot be
// watched, and gone is never called.
func (w *respWriter) WatchClient(gone func()) (stop func()) {
	cc := w.cc
	if w.watching != nil || cc.c == nil || cc.br.Buffered() > 0 || cc.src.have {
		return func() {}
	}
	done := make(chan struct{})
	var stopped atomic.Bool
	go func() {
		defer close(done)
		n, err := cc.c.Read(cc.src.b[:])
		if n == 1 {
			cc.src.have = true // the next request's first byte: no departure
			return
		}
		if err != nil && !stopped.Load() {
			gone()
		}
	}()
	var once sync.Once
	w.watching = func() {
		once.Do(func() {
			stopped.Store(true)
			_ = cc.c.SetReadDeadline(time.Unix(1, 0))
			<-done
			_ = cc.c.SetReadDeadline(time.Time{})
		})
	}
	return w.watching
}

func (w *respWriter) stopWatch() {
	if w.watching != nil {
		w.watching()
		w.watching = nil
	}
}

// Hijack hands the connection over (protocol upgrades).
func (w *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	cc := w.cc
	w.stopWatch()
	if err := cc.bw.Flush(); err != nil {
		return nil, nil, err
	}
	cc.hijak = true
	_ = cc.c.SetWriteDeadline(time.Time{}) // a tunnel may idle: its own rules apply
	return cc.c, bufio.NewReadWriter(cc.br, cc.bw), nil
}

// deadlineWriter gives every write to a client the client timeout:
// HAProxy's timeout client is inactivity, so a client that stops
// reading is cut, one that reads slowly is not.
type deadlineWriter struct {
	c net.Conn
	d time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	if w.d > 0 {
		_ = w.c.SetWriteDeadline(time.Now().Add(w.d))
	}
	return w.c.Write(p)
}
