package httpfast

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

func newTestConn(in string) *Conn {
	return NewConn(bufio.NewReaderSize(strings.NewReader(in), 8<<10), bufio.NewWriter(io.Discard))
}

func TestReadRequest(t *testing.T) {
	for _, c := range []struct {
		name, in string
		ok, keep bool
		host     string
		uri      string
		clen     int64
	}{
		{"get", "GET /a?b HTTP/1.1\r\nHost: x.com\r\nAccept: */*\r\n\r\n", true, true, "x.com", "/a?b", 0},
		{"http/1.0", "GET / HTTP/1.0\r\n\r\n", true, false, "", "/", 0},
		{"http/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, true, "", "/", 0},
		{"close", "GET / HTTP/1.1\r\nConnection: close\r\nHost: y\r\n\r\n", true, false, "y", "/", 0},
		{"body", "POST /p HTTP/1.1\r\nHost: z\r\nContent-Length: 3\r\n\r\nabc", true, true, "z", "/p", 3},
		{"chunked", "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", true, false, "", "/p", -1},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", false, false, "", "", 0},
		{"two lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false, false, "", "", 0},
		{"bad length", "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", false, false, "", "", 0},
		{"gzip coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", false, false, "", "", 0},
		{"http/2 line", "PRI * HTTP/2.0\r\n\r\n", false, false, "", "", 0},
		{"no target", "GET HTTP/1.1\r\n\r\n", false, false, "", "", 0},
		{"no colon", "GET / HTTP/1.1\r\nbroken\r\n\r\n", false, false, "", "", 0},
		{"truncated", "GET / HTTP/1.1\r\nHost: a", false, false, "", "", 0},
		{"huge", "GET /" + strings.Repeat("a", 9<<10) + " HTTP/1.1\r\n\r\n", false, false, "", "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			cc := newTestConn(c.in)
			keep, err := cc.readRequest()
			if (err == nil) != c.ok {
				t.Fatalf("err %v, want ok %v", err, c.ok)
			}
			if !c.ok {
				return
			}
			r := &cc.req
			if keep != c.keep || r.Host != c.host || r.RequestURI != c.uri || r.ContentLength != c.clen {
				t.Errorf("keep %v host %q uri %q length %d", keep, r.Host, r.RequestURI, r.ContentLength)
			}
			if c.clen != 0 {
				if b, err := io.ReadAll(r.Body); err != nil || string(b) != "abc" {
					t.Errorf("body %q, %v", b, err)
				}
			}
		})
	}
}

// BenchmarkReadRequest is the client side's parse of a typical request
// head (wrk's, with a Host and two headers).
func BenchmarkReadRequest(b *testing.B) {
	const req = "GET /index.html HTTP/1.1\r\nHost: web.example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
	in := strings.NewReader("")
	cc := NewConn(bufio.NewReaderSize(in, 8<<10), bufio.NewWriter(io.Discard))
	b.ReportAllocs()
	for b.Loop() {
		in.Reset(req)
		cc.br.Reset(in)
		if _, err := cc.readRequest(); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzReadRequest(f *testing.F) {
	f.Add("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	f.Add("POST /x HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok")
	f.Add("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		cc := newTestConn(in)
		if _, err := cc.ReadRequest(); err != nil {
			return
		}
		if cc.Request().Header == nil {
			t.Fatal("no header map")
		}
		_, _ = io.Copy(io.Discard, cc.Request().Body)
	})
}
