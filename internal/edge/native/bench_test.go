package native

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
	"github.com/sextantdc/sextant/internal/model"
)

// fakeServer answers every request of every connection with a fixed
// response, as fast as it can read them.
func fakeServer(tb testing.TB) uint16 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nServer: fake\r\nDate: Fri, 04 Dec 2026 21:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\na\n")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					for { // headers up to the empty line
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(bytes.TrimSpace(line)) == 0 {
							break
						}
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkHandler is the engine's own work per request — routing by
// Host, picking a server, writing the request on a pooled connection,
// reading the response into the header map and relaying the body —
// without the client side's HTTP parsing (net/http's server) and with a
// server that answers from a constant.
//
//	go test -run '^$' -bench Handler -benchmem ./internal/edge/native/
func BenchmarkHandler(b *testing.B) {
	p1, p2 := fakeServer(b), fakeServer(b)
	app := model.App{ID: "/web", Network: model.NetworkHost, Labels: map[string]string{"HAPROXY_GROUP": "external",
		"HAPROXY_0_VHOST": "web.example.com", "HAPROXY_0_BIND_ADDR": "127.0.0.1"},
		Ports: []model.AppPort{{ServicePort: 10000, Protocol: "tcp"}}}
	for i, p := range []uint16{p1, p2} {
		app.Tasks = append(app.Tasks, model.AppTask{ID: "web." + strconv.Itoa(i), Host: "127.0.0.1", State: model.TaskRunning,
			Ports: []uint16{p}})
	}
	g, err := haproxy.Generate([]model.App{app}, edge.Options{Groups: []string{"external"}}, haproxy.Default())
	if err != nil {
		b.Fatal(err)
	}
	e := New(Options{HTTPAddr: "127.0.0.1:0", ServiceAddr: func(string, int64) string { return "127.0.0.1:0" }})
	b.Cleanup(func() { e.Close() })
	if err := e.Apply(context.Background(), g); err != nil {
		b.Fatal(err)
	}
	h := &handler{e: e, addr: "127.0.0.1:0"}
	r, _ := http.NewRequest(http.MethodGet, "http://web.example.com/index.html", nil)
	r.RequestURI = "/index.html"
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("User-Agent", "bench")
	r.Header.Set("Accept", "*/*")
	r.Body = http.NoBody
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

// BenchmarkApplyOneChange is one change — an app of 1,000 scaled from
// two tasks to three — applied to a running engine: Build and Render
// (what either engine needs) and the native Apply (compile, swap, no
// listener change), reported together and Apply alone.
//
//	go test -run '^$' -bench ApplyOneChange -benchtime 20x ./internal/edge/native/
func BenchmarkApplyOneChange(b *testing.B) {
	const n = 1000
	apps := make([]model.App, n)
	for i := range apps {
		id := "/app" + strconv.Itoa(i)
		apps[i] = model.App{ID: id, Network: model.NetworkHost, Labels: map[string]string{"HAPROXY_GROUP": "external",
			"HAPROXY_0_VHOST": "app" + strconv.Itoa(i) + ".example.com", "HAPROXY_0_BIND_ADDR": "127.0.0.1"},
			Ports: []model.AppPort{{ServicePort: uint16(22000 + i), Protocol: "tcp"}}}
		for k := range 2 {
			apps[i].Tasks = append(apps[i].Tasks, model.AppTask{ID: id + "." + strconv.Itoa(k), Host: "127.0.0.1",
				State: model.TaskRunning, Ports: []uint16{uint16(30000 + 2*i + k)}})
		}
	}
	o := edge.Options{Groups: []string{"external"}}
	e := New(Options{HTTPAddr: "127.0.0.1:0"})
	b.Cleanup(func() { e.Close() })
	g, err := haproxy.Generate(apps, o, haproxy.Default())
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Apply(context.Background(), g); err != nil {
		b.Fatal(err)
	}
	var apply time.Duration
	b.ResetTimer()
	i := 0
	for b.Loop() {
		a := &apps[500]
		a.Tasks = a.Tasks[:2]
		if i%2 == 0 {
			a.Tasks = append(a.Tasks, model.AppTask{ID: "/app500.x", Host: "127.0.0.1", State: model.TaskRunning, Ports: []uint16{29999}})
		}
		i++
		g, err := haproxy.Generate(apps, o, haproxy.Default())
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := e.Apply(context.Background(), g); err != nil {
			b.Fatal(err)
		}
		apply += time.Since(start)
	}
	b.ReportMetric(float64(apply.Microseconds())/float64(b.N)/1000, "apply-ms/op")
}
