package edge

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
	"github.com/sextantdc/sextant/internal/edge/native"
	"github.com/sextantdc/sextant/internal/model"
)

// hapEngine starts the HAProxy engine on marathon-lb's full default
// configuration (HEAD included, HAProxy 2.2 dialect) for apps, its :80
// on httpAddr and the other shared frontends on free ports.
func hapEngine(b *testing.B, apps []model.App, httpAddr string) (*haproxy.Engine, func([]model.App) *edge.Generation) {
	b.Helper()
	dir := b.TempDir()
	others := map[string]string{}
	rebind := func(addr string) string {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return addr
		}
		switch port {
		case "80":
			return httpAddr
		case "443", "9091":
			if _, ok := others[port]; !ok {
				others[port] = natFreeAddr(b)
			}
			return others[port]
		}
		return addr
	}
	cert := filepath.Join(dir, "cert.pem")
	if err := haproxy.EnsureCert(cert); err != nil {
		b.Fatal(err)
	}
	e, err := haproxy.NewEngine(haproxy.EngineOptions{ConfigFile: filepath.Join(dir, "haproxy.cfg"), Rebind: rebind,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	tm, err := haproxy.Load(haproxy.LoadOptions{Dialect: haproxy.HAProxy22})
	if err != nil {
		b.Fatal(err)
	}
	o := edge.Options{Groups: []string{"external"}, ConfigFile: filepath.Join(dir, "haproxy.cfg"), SSLCerts: []string{cert}}
	gen := func(apps []model.App) *edge.Generation {
		g, err := haproxy.Generate(apps, o, tm)
		if err != nil {
			b.Fatal(err)
		}
		return g
	}
	if err := e.Apply(context.Background(), gen(apps)); err != nil {
		b.Fatal(err)
	}
	natWaitListen(b, httpAddr)
	return e, gen
}

// BenchmarkHAProxyEngineVsPlain runs, in alternating rounds, a plain
// HAProxy on marathon-lb's configuration and the HAProxy engine, in
// front of the same two nginx ports, with wrk keeping connections alive
// and with a new connection per request.
//
//	go test -run '^$' -bench HAProxyEngine -benchtime 1x ./bench/edge/
func BenchmarkHAProxyEngineVsPlain(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk not installed")
	}
	if _, err := exec.LookPath("haproxy"); err != nil {
		b.Skip("haproxy not installed")
	}
	ports := natNginx(b, 2)
	eng := natFreeAddr(b)
	hapEngine(b, natApps(natPort(natFreeAddr(b)), ports), eng)
	plain := natFreeAddr(b)
	natHAProxyWith(b, natApps(natPort(natFreeAddr(b)), ports), plain, "http-server-close")
	for _, ka := range []bool{true, false} {
		name := "keepalive"
		if !ka {
			name = "close"
		}
		b.Run(name, func(b *testing.B) {
			var er, pr, ep, pp []float64
			for range natRounds {
				r, p, _, failed := natWrkN(b, plain, ka, natSeconds)
				if failed {
					b.Errorf("plain haproxy: failed requests")
				}
				pr, pp = append(pr, r), append(pp, float64(p.Microseconds()))
				r, p, _, failed = natWrkN(b, eng, ka, natSeconds)
				if failed {
					b.Errorf("haproxy engine: failed requests")
				}
				er, ep = append(er, r), append(ep, float64(p.Microseconds()))
			}
			b.ReportMetric(natMedian(er), "engine-req/s")
			b.ReportMetric(natMedian(ep), "engine-p99-µs")
			b.ReportMetric(natMedian(pr), "plain-req/s")
			b.ReportMetric(natMedian(pp), "plain-p99-µs")
			b.ReportMetric(natMedian(er)/natMedian(pr), "engine/plain")
			b.Logf("engine req/s %v p99 µs %v; plain req/s %v p99 µs %v", er, ep, pr, pp)
		})
	}
}

// manyApps are n apps, each with a vhost and one task, their service
// frontends on 127.0.0.2 (ports 20000 up), so that they take no port of
// 127.0.0.1.
func manyApps(n int) []model.App {
	apps := make([]model.App, n)
	for i := range apps {
		apps[i] = model.App{ID: fmt.Sprintf("/app%04d", i), Network: model.NetworkHost, Instances: 1,
			Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": fmt.Sprintf("app%04d.example.com", i),
				"HAPROXY_0_BIND_ADDR": "127.0.0.2"},
			Ports: []model.AppPort{{ServicePort: uint16(20000 + i), Protocol: "tcp"}},
			Tasks: []model.AppTask{{ID: fmt.Sprintf("app%04d.0", i), Host: "127.0.0.1", State: model.TaskRunning,
				Ports: []uint16{uint16(31000 + i%1000)}}}}
	}
	return apps
}

// scaled is apps with app k given a second task on port p: one server
// change.
func scaled(apps []model.App, k int, p uint16) []model.App {
	out := make([]model.App, len(apps))
	copy(out, apps)
	a := out[k]
	a.Tasks = append(append([]model.AppTask(nil), a.Tasks...), model.AppTask{ID: a.ID[1:] + ".x", Host: "127.0.0.1",
		State: model.TaskRunning, Ports: []uint16{p}})
	a.Instances = len(a.Tasks)
	out[k] = a
	return out
}

// BenchmarkApplyOneChange1000Apps is the time from a new app list to an
// engine serving it, among 1,000 apps: one task added to or removed from
// one app (the HAProxy engine's runtime API, no reload), and one app's
// vhost changed (a reload for the HAProxy engine). The engines' Apply is
// timed alone; building and rendering the configuration of the 1,000
// apps, which comes first, is the "generate" case.
//
//	go test -run '^$' -bench ApplyOneChange -benchtime 20x ./bench/edge/
func BenchmarkApplyOneChange1000Apps(b *testing.B) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		b.Skip("haproxy not installed")
	}
	if c, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
		b.Skip("127.0.0.2 cannot be bound here")
	} else {
		c.Close()
	}
	base := manyApps(1000)
	b.Run("haproxy/server", func(b *testing.B) {
		e, gen := hapEngine(b, base, natFreeAddr(b))
		b.ResetTimer()
		for i := range b.N {
			apps := base
			if i%2 == 0 {
				apps = scaled(base, 500, uint16(40000+i))
			}
			b.StopTimer()
			g := gen(apps)
			b.StartTimer()
			if err := e.Apply(context.Background(), g); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("haproxy/vhost", func(b *testing.B) {
		e, gen := hapEngine(b, base, natFreeAddr(b))
		b.ResetTimer()
		for i := range b.N {
			apps := append([]model.App(nil), base...)
			a := apps[500]
			a.Labels = map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_BIND_ADDR": "127.0.0.2",
				"HAPROXY_0_VHOST": "changed" + strconv.Itoa(i) + ".example.com"}
			apps[500] = a
			b.StopTimer()
			g := gen(apps)
			b.StartTimer()
			if err := e.Apply(context.Background(), g); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("native/server", func(b *testing.B) {
		e := native.New(native.Options{HTTPAddr: natFreeAddr(b)})
		b.Cleanup(func() { e.Close() })
		tm := haproxy.Default()
		gen := func(apps []model.App) *edge.Generation {
			g, err := haproxy.Generate(apps, edge.Options{Groups: []string{"external"}}, tm)
			if err != nil {
				b.Fatal(err)
			}
			return g
		}
		if err := e.Apply(context.Background(), gen(base)); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			apps := base
			if i%2 == 0 {
				apps = scaled(base, 500, uint16(40000+i))
			}
			b.StopTimer()
			g := gen(apps)
			b.StartTimer()
			if err := e.Apply(context.Background(), g); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("generate", func(b *testing.B) {
		tm := haproxy.Default()
		for range b.N {
			if _, err := haproxy.Generate(base, edge.Options{Groups: []string{"external"}}, tm); err != nil {
				b.Fatal(err)
			}
		}
	})
}
