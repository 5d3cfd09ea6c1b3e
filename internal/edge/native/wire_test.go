package native

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/httpfast"
)

func upFrom(s string) *upConn {
	return &upConn{br: bufio.NewReaderSize(strings.NewReader(s), 8<<10)}
}

func TestReadHead(t *testing.T) {
	for _, c := range []struct {
		name, in string
		ok       bool
		status   int
		length   int64
		chunked  bool
		close    bool
		headers  map[string]string
	}{
		{"plain", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nX-A: 1\r\n\r\n", true, 200, 2, false, false,
			map[string]string{"Content-Type": "text/plain", "X-A": "1"}},
		{"lower-case names", "HTTP/1.1 404 Not Found\r\ncontent-type: a\r\nx-custom-thing: b\r\n\r\n", true, 404, -1, false, false,
			map[string]string{"Content-Type": "a", "X-Custom-Thing": "b"}},
		{"chunked wins", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", true, 200, 5, true, false, nil},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", true, 200, -1, false, true, nil},
		{"http/1.0", "HTTP/1.0 200 OK\r\n\r\n", true, 200, -1, false, true, nil},
		{"http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", true, 200, 0, false, false, nil},
		{"repeated header", "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n", true, 200, -1, false, false, nil},
		{"no status", "HTTP/1.1\r\n\r\n", false, 0, 0, false, false, nil},
		{"not http", "SSH-2.0-OpenSSH\r\n\r\n", false, 0, 0, false, false, nil},
		{"bad code", "HTTP/1.1 2x0 OK\r\n\r\n", false, 0, 0, false, false, nil},
		{"header without colon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", false, 0, 0, false, false, nil},
		{"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, 0, 0, false, false, nil},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false, 0, 0, false, false, nil},
		{"truncated", "HTTP/1.1 200 OK\r\nContent-Ty", false, 0, 0, false, false, nil},
		{"huge header", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 10<<10) + "\r\n\r\n", false, 0, 0, false, false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			var resp respHead
			err := readHead(upFrom(c.in), h, &resp)
			if (err == nil) != c.ok {
				t.Fatalf("err %v, want ok %v", err, c.ok)
			}
			if !c.ok {
				return
			}
			if resp.status != c.status || resp.length != c.length || resp.chunked != c.chunked || resp.close != c.close {
				t.Errorf("got %+v", resp)
			}
			for k, v := range c.headers {
				if h.Get(k) != v {
					t.Errorf("%s: %q, want %q (%v)", k, h.Get(k), v, h)
				}
			}
			if h.Get("Connection") != "" || h.Get("Transfer-Encoding") != "" || h.Get("Content-Length") != "" {
				t.Errorf("framing headers copied: %v", h)
			}
		})
	}
}

type recorder struct {
	h    http.Header
	body bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(int)             {}

func TestCopyChunked(t *testing.T) {
	e := New(Options{})
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n", "hello world", true},
		{"5\r\nhello\r\n0\r\nTrailer: x\r\n\r\n", "hello", true},
		{"zz\r\nhello\r\n", "", false},
		{"5\r\nhel", "hel", false},
		{"-1\r\n", "", false},
	} {
		uc := upFrom(c.in)
		uc.c = deadlineConn{}
		w := &recorder{h: http.Header{}}
		_, err := e.copyChunked(w, uc)
		if (err == nil) != c.ok || w.body.String() != c.want {
			t.Errorf("%q: %q, %v", c.in, w.body.String(), err)
		}
	}
}

// deadlineConn only takes deadlines (copyN sets them before reads).
type deadlineConn struct{ net.Conn }

func (deadlineConn) SetReadDeadline(time.Time) error { return nil }

func FuzzResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
	f.Add("HTTP/1.0 301 Moved\r\nLocation: /x\r\n\r\n")
	e := New(Options{})
	f.Fuzz(func(t *testing.T, in string) {
		uc := upFrom(in)
		uc.c = deadlineConn{}
		h := http.Header{}
		var resp respHead
		if err := readHead(uc, h, &resp); err != nil {
			return
		}
		if resp.status < 0 || resp.status > 999 {
			t.Fatalf("status %d", resp.status)
		}
		w := &recorder{h: h}
		switch {
		case resp.chunked:
			_, _ = e.copyChunked(w, uc)
		case resp.length >= 0:
			n, err := e.copyN(w, uc, resp.length)
			if err == nil && n != resp.length {
				t.Fatalf("copied %d of %d", n, resp.length)
			}
		}
	})
}

func FuzzPathBeg(f *testing.F) {
	f.Add("/api", "/api/x")
	f.Add("-i /A /b", "/a/c")
	f.Add("-- -i", "-i")
	f.Fuzz(func(t *testing.T, arg, path string) {
		for _, p := range parsePathBeg(arg) {
			if p.prefix == "" {
				t.Fatalf("empty prefix from %q", arg)
			}
		}
		a := &acl{kind: aclPath, paths: parsePathBeg(arg)}
		_ = a.match(&request{path: path})
	})
}

func newTestClientConn(in string) *httpfast.Conn {
	return httpfast.NewConn(bufio.NewReaderSize(strings.NewReader(in), 8<<10), bufio.NewWriter(io.Discard))
}

func FuzzRequest(f *testing.F) {
	f.Add("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	f.Add("POST /x HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok")
	f.Add("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		cc := newTestClientConn(in)
		if _, err := cc.ReadRequest(); err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, cc.Request().Body)
		q := newRequest(cc.Request())
		_ = rawPath(q.path)
	})
}
