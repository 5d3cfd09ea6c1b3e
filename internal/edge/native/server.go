package native

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"sync/atomic"
	"time"
)

// The client side is the engine's own HTTP/1.1 server, not net/http's:
// one goroutine per connection reads a request into a *http.Request
// reused for the connection's life, the handler runs on it, and the
// response is written with the connection's bufio.Writer and flushed
// once. net/http's server would allocate a
// request, a context, a response and header maps per request and watch
// each idle connection with a second read.

// clientConn is one client connection of an http frontend.
type clientConn struct {
	l     *listener
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
}

var errHeaderTooLarge = errors.New("request header too large")

// serveHTTP serves one connection until it closes, the client asks
// for the end, or the listener closes.
func (l *listener) serveHTTP(c net.Conn) {
	cc := &clientConn{l: l, c: c, br: bufio.NewReaderSize(c, 8<<10),
		bw: bufio.NewWriterSize(deadlineWriter{c, l.e.o.ClientTimeout}, 4<<10)}
	l.track(cc, true)
	defer func() {
		l.track(cc, false)
		if !cc.hijak {
			c.Close()
		}
	}()
	if tc, ok := c.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(l.e.o.RequestTimeout))
		if err := tc.Handshake(); err != nil {
			return
		}
		_ = tc.SetDeadline(time.Time{})
		st := tc.ConnectionState()
		cc.tls = &st
	}
	cc.req.RemoteAddr = c.RemoteAddr().String()
	cc.req.Header = http.Header{}
	cc.w.h = http.Header{}
	cc.w.cc = cc
	first := true
	for {
		// Waiting for a request is the keep-alive timeout; reading it
		// the http-request timeout.
		wait := l.e.o.KeepAliveTimeout
		if first {
			wait = l.e.o.RequestTimeout
		}
		first = false
		cc.idle.Store(true)
		if l.closing.Load() {
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		if _, err := cc.br.Peek(1); err != nil {
			return
		}
		cc.idle.Store(false)
		_ = c.SetReadDeadline(time.Now().Add(l.e.o.RequestTimeout))
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
		_ = c.SetReadDeadline(time.Time{})
		if !cc.serveOne(keep) {
			return
		}
	}
}

// serveOne runs the handler on the request read; false ends the
// connection.
func (cc *clientConn) serveOne(keep bool) (ok bool) {
	w := &cc.w
	w.reset(cc.req.Method == http.MethodHead, cc.req.ProtoMinor == 0)
	w.keep = keep
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				cc.l.e.log.Error("native engine: handler panic", "panic", p)
			}
			ok = false
		}
	}()
	cc.l.h.ServeHTTP(w, &cc.req)
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
func (cc *clientConn) readRequest() (bool, error) {
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
			n, ok := atoi(v)
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
		if listed(conn, "close") {
			keep = false
		} else if listed(conn, "keep-alive") {
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
	if r.ContentLength != 0 && listed(r.Header["Expect"], "100-continue") {
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

// respWriter is the http.ResponseWriter of a clientConn.
type respWriter struct {
	cc      *clientConn
	h       http.Header
	code    int
	wrote   bool
	chunked bool
	head    bool
	http10  bool
	keep    bool
	left    int64 // bytes promised by Content-Length, -1 without
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
			writeHeader(bw, k, v)
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

// Hijack hands the connection over (protocol upgrades).
func (w *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	cc := w.cc
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
	_ = w.c.SetWriteDeadline(time.Now().Add(w.d))
	return w.c.Write(p)
}

// track registers a connection with its listener, for closing.
func (l *listener) track(cc *clientConn, add bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if add {
		l.conns[cc] = struct{}{}
	} else {
		delete(l.conns, cc)
	}
	l.active.Store(int64(len(l.conns)))
}

// closeIdle ends the connections waiting for a request; the others end
// after their response.
func (l *listener) closeIdle(all bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for cc := range l.conns {
		if all || cc.idle.Load() {
			_ = cc.c.SetReadDeadline(time.Unix(1, 0))
		}
		if all {
			cc.c.Close()
		}
	}
}
