package native

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/httpfast"
)

// bodyError is a failure reading the client's request body; clientError
// one writing to the client.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "request body: " + e.err.Error() }

type clientError struct{ err error }

func (e *clientError) Error() string { return "client: " + e.err.Error() }

// hop-by-hop headers, and those the engine writes itself.
func skipRequestHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Content-Length", "Expect", "X-Forwarded-Port", "Proxy-Authorization":
		return true
	}
	return false
}

// writeRequest writes the request to the server: marathon-lb's backend
// options (option forwardfor, X-Forwarded-Port, X-Forwarded-Proto on
// TLS), the proxypass rewrite, the sticky cookie taken out (cookie …
// indirect), then the body. It returns the bytes written.
func (e *Engine) writeRequest(uc *upConn, r *http.Request, fe *frontend, be *backend) (int64, error) {
	bw := uc.bw
	uri, host := r.RequestURI, r.Host
	if be.hasProxy {
		host = be.proxyHost
		uri = proxyPass(uri, be.proxyPath)
	}
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if skipRequestHeader(k) || len(conn) > 0 && httpfast.Listed(conn, k) {
			continue
		}
		if k == "Cookie" && be.sticky {
			for _, v := range vv {
				if v = withoutCookie(v, stickyCookie); v != "" {
					httpfast.WriteHeader(bw, k, v)
				}
			}
			continue
		}
		for _, v := range vv {
			httpfast.WriteHeader(bw, k, v)
		}
	}
	if up := r.Header.Get("Upgrade"); up != "" && httpfast.Listed(conn, "Upgrade") {
		httpfast.WriteHeader(bw, "Connection", "Upgrade")
		httpfast.WriteHeader(bw, "Upgrade", up)
	}
	if be.http {
		httpfast.WriteHeader(bw, "X-Forwarded-For", clientIP(r.RemoteAddr))
		httpfast.WriteHeader(bw, "X-Forwarded-Port", fe.port)
		if r.TLS != nil {
			httpfast.WriteHeader(bw, "X-Forwarded-Proto", "https")
		}
	}
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	if !hasBody {
		bw.WriteString("\r\n")
		n := int64(bw.Buffered())
		return n, bw.Flush()
	}
	bp := e.bufs.Get().(*[]byte)
	defer e.bufs.Put(bp)
	buf := *bp
	if r.ContentLength > 0 {
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(r.ContentLength, 10))
		bw.WriteString("\r\n\r\n")
		n := int64(bw.Buffered())
		m, err := copyBuffer(bw, io.LimitReader(r.Body, r.ContentLength), buf)
		n += m
		if err == nil && m < r.ContentLength {
			err = &bodyError{io.ErrUnexpectedEOF}
		}
		if err != nil {
			return n, err
		}
		return n, bw.Flush()
	}
	bw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	n := int64(bw.Buffered())
	for {
		m, err := r.Body.Read(buf)
		if m > 0 {
			bw.WriteString(strconv.FormatInt(int64(m), 16))
			bw.WriteString("\r\n")
			bw.Write(buf[:m])
			bw.WriteString("\r\n")
			n += int64(m)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, &bodyError{err}
		}
	}
	bw.WriteString("0\r\n\r\n")
	return n, bw.Flush()
}

// copyBuffer copies src to the server, telling the client's read
// failures (bodyError) from the server's write failures.
func copyBuffer(dst io.Writer, src io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		m, err := src.Read(buf)
		if m > 0 {
			if _, werr := dst.Write(buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, &bodyError{err}
		}
	}
}

func withoutCookie(line, name string) string {
	if !strings.Contains(line, name+"=") {
		return line
	}
	var out []string
	for _, part := range strings.Split(line, ";") {
		if p := strings.TrimSpace(part); p != "" && !strings.HasPrefix(p, name+"=") {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}

// proxyPass is marathon-lb's reqirep "^([^ :]*)\ {proxypath}/?(.*)"
// "\1\ /\2" on the URI: the prefix and one slash after it go, "/" stays.
func proxyPass(uri, prefix string) string {
	rest, ok := strings.CutPrefix(uri, prefix)
	if !ok {
		return uri
	}
	rest = strings.TrimPrefix(rest, "/")
	return "/" + rest
}

// respHead is a response's status line and framing.
type respHead struct {
	status      int
	length      int64 // -1: none given
	lengthValue []string
	chunked     bool
	close       bool
	upgrade     string
	size        int
}

// common response header names, so that reading them allocates
// nothing.
var commonHeaders = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Content-Type", "Content-Length", "Date", "Server", "Connection", "Keep-Alive",
		"Transfer-Encoding", "Cache-Control", "Last-Modified", "Etag", "Accept-Ranges", "Location", "Set-Cookie",
		"Vary", "Expires", "Content-Encoding", "Upgrade", "X-Content-Type-Options", "Access-Control-Allow-Origin",
		"Strict-Transport-Security", "Pragma", "Age", "Content-Language", "Content-Disposition", "Www-Authenticate"} {
		m[k] = k
	}
	m["ETag"] = "Etag"
	return m
}()

var errMalformed = errors.New("malformed response from server")

// readHead reads a status line and headers into h. The header values
// share one string and one slice backing array.
func readHead(uc *upConn, h http.Header, resp *respHead) error {
	br := uc.br
	*resp = respHead{length: -1}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	resp.size = len(line)
	// HTTP/1.x SSS reason
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return errMalformed
	}
	code, ok := atoi3(line[9:12])
	if !ok {
		return errMalformed
	}
	resp.status = code
	http10 := line[7] == '0'
	resp.close = http10
	type kv struct {
		key        string
		start, end int
	}
	var kvs [32]kv
	list := kvs[:0]
	vals := uc.scratch[:0]
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return errMalformed
			}
			return err
		}
		resp.size += len(line)
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return errMalformed
		}
		kb := line[:i]
		v := bytes.TrimSpace(line[i+1:])
		key, ok := commonHeaders[string(kb)]
		if !ok {
			key = textproto.CanonicalMIMEHeaderKey(string(kb))
		}
		switch key {
		case "Content-Length":
			n, ok := httpfast.Atoi(v)
			if !ok || resp.length >= 0 && resp.length != n {
				return errMalformed
			}
			if resp.length >= 0 {
				continue // a repeated, equal length
			}
			resp.length = n
		case "Transfer-Encoding":
			if bytes.EqualFold(v, []byte("chunked")) || bytes.HasSuffix(bytes.ToLower(v), []byte("chunked")) {
				resp.chunked = true
			}
			continue
		case "Connection":
			if bytes.Contains(bytes.ToLower(v), []byte("close")) {
				resp.close = true
			} else if http10 && bytes.Contains(bytes.ToLower(v), []byte("keep-alive")) {
				resp.close = false
			}
			continue
		case "Keep-Alive", "Proxy-Connection", "Trailer", "Te":
			continue
		case "Upgrade":
			resp.upgrade = string(v)
			continue
		}
		start := len(vals)
		vals = append(vals, v...)
		list = append(list, kv{key, start, len(vals)})
	}
	uc.scratch = vals[:0]
	if len(list) == 0 {
		return nil
	}
	all := string(vals)
	backing := make([]string, len(list))
	for i, x := range list {
		backing[i] = all[x.start:x.end]
		if x.key == "Content-Length" {
			// Written by relay when the body has that length.
			resp.lengthValue = backing[i : i+1 : i+1]
			continue
		}
		if old, dup := h[x.key]; dup {
			h[x.key] = append(old, backing[i])
			continue
		}
		h[x.key] = backing[i : i+1 : i+1]
	}
	return nil
}

func atoi3(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// copyN writes n bytes of the response body (n < 0: until the server
// closes) straight from the connection's read buffer, flushing the
// client whenever the server has nothing more buffered.
func (e *Engine) copyN(w http.ResponseWriter, uc *upConn, n int64) (int64, error) {
	br := uc.br
	var done int64
	pending := false
	for n < 0 || done < n {
		if br.Buffered() == 0 {
			if pending {
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
				pending = false
			}
			_ = uc.c.SetReadDeadline(time.Now().Add(e.o.ServerTimeout))
			if _, err := br.Peek(1); err != nil {
				if n < 0 && err == io.EOF {
					return done, nil
				}
				return done, err
			}
		}
		k := br.Buffered()
		if n >= 0 {
			k = int(min(int64(k), n-done))
		}
		b, _ := br.Peek(k)
		if _, err := w.Write(b); err != nil {
			return done, &clientError{err}
		}
		_, _ = br.Discard(k)
		done += int64(k)
		pending = true
	}
	return done, nil
}

// copyChunked relays a chunked body (net/http chunks it again for the
// client); trailers are dropped.
func (e *Engine) copyChunked(w http.ResponseWriter, uc *upConn) (int64, error) {
	br := uc.br
	var total int64
	for {
		_ = uc.c.SetReadDeadline(time.Now().Add(e.o.ServerTimeout))
		line, err := br.ReadSlice('\n')
		if err != nil {
			return total, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return total, errMalformed
		}
		if size == 0 {
			for { // trailers, then the empty line
				line, err := br.ReadSlice('\n')
				if err != nil {
					return total, err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return total, nil
				}
			}
		}
		n, err := e.copyN(w, uc, size)
		total += n
		if err != nil {
			return total, err
		}
		if _, err := br.Discard(2); err != nil { // CRLF
			return total, err
		}
	}
}
