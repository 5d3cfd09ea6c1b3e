package l4lb

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestBenchHelper is the other end of BenchmarkEBPF's processes: the
// backends (role=serve) and the clients (conns, keepalive, watch,
// probe), each run by the benchmark in a namespace of its own. It does
// nothing unless the benchmark started it.
func TestBenchHelper(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("started by BenchmarkEBPF only")
	}
	kv := map[string]string{}
	for _, f := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(f, "=")
		kv[k] = v
	}
	ms, _ := strconv.Atoi(kv["ms"])
	d := time.Duration(ms) * time.Millisecond
	var src netip.Addr
	if s := kv["src"]; s != "" {
		src = netip.MustParseAddr(s)
	}
	switch kv["role"] {
	case "serve":
		serveBackends(t)
	case "probe":
		c, err := net.DialTimeout("tcp", kv["addr"], time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		fmt.Println("probe ok")
	case "conns", "keepalive":
		f := newConns
		if kv["role"] == "keepalive" {
			f = keepAlive
		}
		cpu0 := cpuTime()
		n, errs := f(kv["addr"], src, d)
		// The client's CPU (user and system, softirq work it ran
		// included) per operation: less at the mercy of other load
		// than the rate.
		fmt.Printf("rate %.1f errors %d ops %d cpu %.6f\n", float64(n)/d.Seconds(), errs, n, (cpuTime() - cpu0).Seconds())
	case "watch":
		watch(kv["addr"], src, d)
	default:
		t.Fatalf("unknown role in %q", spec)
	}
}

// dialer binds src without a port (IP_BIND_ADDRESS_NO_PORT), so the
// port is chosen at connect() for the destination and TIME_WAIT sockets
// to it can be reused, as for an unbound client.
func dialer(src netip.Addr) *net.Dialer {
	d := &net.Dialer{Timeout: 2 * time.Second}
	if src.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, 24 /* IP_BIND_ADDRESS_NO_PORT */, 1)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	return d
}

func serveBackends(t *testing.T) {
	ip := net.ParseIP(backendIP)
	listen := func(port int) net.Listener {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: port})
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	accept := func(ln net.Listener, serve func(net.Conn)) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); serve(c) }()
		}
	}
	oneByte := func(msg string) func(net.Conn) {
		return func(c net.Conn) {
			if _, err := c.Write([]byte(msg)); err == nil {
				_, _ = io.Copy(io.Discard, c)
			}
		}
	}
	go accept(listen(portConn), oneByte("x"))
	go accept(listen(portBannerA), oneByte("a\n"))
	go accept(listen(portBannerB), oneByte("b\n"))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })}
	// Serves until the benchmark kills the process.
	_ = srv.Serve(listen(portHTTP))
}

// newConns: 8 clients connect, read the backend's one byte and close,
// over and over, until d is up (the userspace benchmarks' client too).
func newConns(addr string, src netip.Addr, d time.Duration) (int64, int64) {
	var n, errs atomic.Int64
	deadline := time.Now().Add(d)
	dl := dialer(src)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf [1]byte
			for time.Now().Before(deadline) {
				c, err := dl.Dial("tcp", addr)
				if err != nil {
					errs.Add(1)
					continue
				}
				if _, err := io.ReadFull(c, buf[:]); err == nil {
					n.Add(1)
				} else {
					errs.Add(1)
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	return n.Load(), errs.Load()
}

// keepAlive: 16 persistent connections send GET requests, one at a
// time each, until d is up (the userspace benchmarks' client too).
func keepAlive(addr string, src netip.Addr, d time.Duration) (int64, int64) {
	var n, errs atomic.Int64
	req := []byte("GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
	dl := dialer(src)
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dl.Dial("tcp", addr)
			if err != nil {
				errs.Add(1)
				return
			}
			defer c.Close()
			r := bufio.NewReader(c)
			for time.Now().Before(deadline) {
				if _, err := c.Write(req); err != nil {
					errs.Add(1)
					return
				}
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					errs.Add(1)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return n.Load(), errs.Load()
}

// watch connects over and over and prints each connection's start time
// (connect() is where the plane chooses) and the backend's name.
func watch(addr string, src netip.Addr, d time.Duration) {
	dl := dialer(src)
	deadline := time.Now().Add(d)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for time.Now().Before(deadline) {
		start := time.Now()
		c, err := dl.Dial("tcp", addr)
		if err != nil {
			fmt.Fprintf(w, "error %v\n", err)
			continue
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		name, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil {
			fmt.Fprintf(w, "error %v\n", err)
			continue
		}
		fmt.Fprintf(w, "conn %d %s\n", start.UnixNano(), strings.TrimSpace(name))
	}
}
