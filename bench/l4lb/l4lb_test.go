// Package l4lb benchmarks the userspace L4 data plane against the direct
// path on loopback: new connections per second, keep-alive HTTP requests
// per second and single-stream throughput, each through the plane (VIP
// 11.66.0.1 mapped onto 127.66.0.1) and straight to the backend, in
// alternating rounds of a bounded length, reported as ratios.
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/l4lb/
package l4lb

import (
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
	"github.com/sextantdc/sextant/internal/l4lb/userspace"
)

// Each path runs rounds × phase, alternating: 8 s per benchmark in all.
// On a shared machine the load drifts; the ratio of each adjacent pair
// of phases is steadier than either rate, and the median of the pairs'
// ratios is what is reported.
const (
	phase  = 800 * time.Millisecond
	rounds = 5
)

var lo = netip.MustParseAddr("127.0.0.1")

// viaPlane starts a userspace plane with one TCP service in front of
// backend and returns the address clients dial.
func viaPlane(b *testing.B, backend netip.AddrPort) netip.AddrPort {
	b.Helper()
	p, err := userspace.New(userspace.Options{Map: userspace.LoopbackMap()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	for port := uint16(24000); port < 24100; port++ {
		vip := netip.AddrPortFrom(netip.MustParseAddr("11.66.0.1"), port)
		svc := balance.Service{Key: balance.Key{Protocol: balance.TCP, Addr: vip}, Backends: []balance.Backend{{Addr: backend, Weight: 1}}}
		if err := p.Sync(context.Background(), []balance.Service{svc}); err != nil {
			continue // port taken on the loopback address: try the next
		}
		addr, _ := p.ListenAddr(vip)
		return addr
	}
	b.Fatal("no free port for the VIP")
	return netip.AddrPort{}
}

func listen(b *testing.B, serve func(net.Conn)) netip.AddrPort {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); serve(c) }()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// compare runs measure on the direct and the plane path in alternating
// rounds and reports both rates and their ratio.
func compare(b *testing.B, unit string, direct, plane netip.AddrPort, measure func(addr netip.AddrPort, d time.Duration) float64) {
	var ds, us, ratios []float64
	for range rounds {
		d := measure(direct, phase)
		u := measure(plane, phase)
		ds, us, ratios = append(ds, d), append(us, u), append(ratios, u/d)
	}
	b.ReportMetric(median(ds), "direct_"+unit)
	b.ReportMetric(median(us), "userspace_"+unit)
	b.ReportMetric(median(ratios), "ratio")
	b.Logf("%s direct %v, userspace %v, ratios %v", unit, round(ds), round(us), round(ratios))
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func round(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Round(x*100) / 100
	}
	return out
}

// BenchmarkNewConnections: 8 clients each connect, read the backend's
// one byte and close, over and over; the backend closes after the
// client. The client closing first keeps TIME_WAIT on the connecting
// side, where Linux reuses it for new loopback connections
// (tcp_tw_reuse 2), as HTTP/1.0 clients do.
func BenchmarkNewConnections(b *testing.B) {
	backend := listen(b, func(c net.Conn) {
		defer c.Close()
		if _, err := c.Write([]byte{'x'}); err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c)
	})
	plane := viaPlane(b, backend)
	for b.Loop() {
		compare(b, "conns/s", backend, plane, func(addr netip.AddrPort, d time.Duration) float64 {
			n, errs := newConns(addr.String(), netip.Addr{}, d)
			if errs > 0 {
				b.Errorf("%s: %d connection errors", addr, errs)
			}
			return float64(n) / d.Seconds()
		})
	}
}

// BenchmarkKeepAlive: 16 persistent connections send GET requests to a
// net/http backend, one at a time each.
func BenchmarkKeepAlive(b *testing.B) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	backend := ln.Addr().(*net.TCPAddr).AddrPort()
	plane := viaPlane(b, backend)
	for b.Loop() {
		compare(b, "req/s", backend, plane, func(addr netip.AddrPort, d time.Duration) float64 {
			n, errs := keepAlive(addr.String(), netip.Addr{}, d)
			if errs > 0 {
				b.Errorf("%s: %d request errors", addr, errs)
			}
			return float64(n) / d.Seconds()
		})
	}
}

// BenchmarkThroughput: one connection streams 256 KiB writes into a
// backend that reads and discards them.
func BenchmarkThroughput(b *testing.B) {
	var received atomic.Int64
	backend := listen(b, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 256<<10)
		for {
			n, err := c.Read(buf)
			received.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	plane := viaPlane(b, backend)
	chunk := make([]byte, 256<<10)
	// CPU seconds (user and system, the whole process: client, plane and
	// backend) per GB moved, summed over rounds: independent of how much
	// of the machine other work leaves.
	var cpuDirect, cpuPlane float64
	defer func() {
		b.ReportMetric(cpuDirect/rounds, "direct_cpu_s/GB")
		b.ReportMetric(cpuPlane/rounds, "userspace_cpu_s/GB")
	}()
	for b.Loop() {
		compare(b, "Gbit/s", backend, plane, func(addr netip.AddrPort, d time.Duration) float64 {
			c, err := net.Dial("tcp", addr.String())
			if err != nil {
				b.Fatal(err)
			}
			start := received.Load()
			cpu0 := cpuTime()
			t0 := time.Now()
			for time.Since(t0) < d {
				if _, err := c.Write(chunk); err != nil {
					b.Fatalf("%s: %v", addr, err)
				}
			}
			got := received.Load() - start
			elapsed := time.Since(t0)
			cpu := cpuTime() - cpu0
			c.Close()
			if addr == plane {
				cpuPlane += cpu.Seconds() / (float64(got) / 1e9)
			} else {
				cpuDirect += cpu.Seconds() / (float64(got) / 1e9)
			}
			return float64(got) * 8 / elapsed.Seconds() / 1e9
		})
	}
}
