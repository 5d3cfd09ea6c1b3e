package scale_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/app"
	"github.com/sextantdc/sextant/internal/mesosdns/config"
	"github.com/sextantdc/sextant/internal/testutil"
)

// BenchmarkScaleProfile runs `sextant mesos-dns` in this process (the
// same wiring as the binary: app.RunMesosDNS) on a generated state and
// writes profiles of its path from start to first answer:
//
//	SCALE_PROFILE_DIR=/tmp/prof SCALE_TASKS=100000 \
//	  go test -run '^$' -bench ScaleProfile -benchtime 1x -timeout 30m ./bench/scale/
//	go tool pprof -top /tmp/prof/cpu-100000.pprof
//
// cpu-N.pprof covers start → first answer (the poll: fetch, decode,
// translate, build, records, wire answers); heap-N.pprof is the in-use
// heap once the process is idle after the load (after a GC);
// after-N.pprof the CPU of one change (a new task) to its answer. The
// log, at debug level with times from the start, goes to log-N.txt.
// Without SCALE_PROFILE_DIR it only reports the timings.
func BenchmarkScaleProfile(b *testing.B) {
	dir := os.Getenv("SCALE_PROFILE_DIR")
	operator := envInt("SCALE_OPERATOR", 1) != 0
	for _, size := range envList("SCALE_TASKS", "100000") {
		n, err := strconv.Atoi(size)
		if err != nil || n <= 0 {
			b.Fatalf("SCALE_TASKS: %q is not a task count", size)
		}
		b.Run(size, func(b *testing.B) { profileOne(b, n, dir, operator) })
	}
}

func profileOne(b *testing.B, n int, dir string, operator bool) {
	m := startRemoteMaster(b, n, operator)
	port := testutil.FreePort(b)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cfgPath := filepath.Join(b.TempDir(), "config.json")
	if err := os.WriteFile(cfgPath, []byte(configJSON(m.addr, port, envInt("SCALE_REFRESH", 30))), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, _, err := config.Load(cfgPath, config.Options{})
	if err != nil {
		b.Fatal(err)
	}
	logw := &testutil.LogBuffer{}
	start := time.Now()
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.String("t", fmt.Sprintf("%.3fs", time.Since(start).Seconds()))
			}
			return a
		}}))
	runtime.GC()
	stopCPU := profile(b, dir, "cpu", n)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cpu0 := selfCPU()
	start = time.Now()
	go func() { done <- app.RunMesosDNS(ctx, cfg, app.MesosDNSConfig{}, log) }()
	defer func() {
		cancel()
		<-done
		if dir != "" {
			_ = os.WriteFile(filepath.Join(dir, "log-"+strconv.Itoa(n)+".txt"), []byte(logw.String()), 0o644)
		}
	}()
	c := &dns.Client{Timeout: 250 * time.Millisecond}
	for !answers(c, addr, m.last) {
		select {
		case err := <-done:
			b.Fatalf("mesos-dns ended: %v\n%s", err, logw)
		default:
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("no answer after 10 minutes:\n%s", logw)
		}
		time.Sleep(10 * time.Millisecond)
	}
	first, firstCPU := time.Since(start), selfCPU()-cpu0
	stopCPU()
	b.ReportMetric(first.Seconds(), "first-s")
	b.ReportMetric(firstCPU.Seconds(), "first-cpu-s")
	// Settled: the stream subscribed (sextant waits a while after its
	// first poll) and its state built, nothing running.
	for deadline := time.Now().Add(3 * time.Minute); operator && !m.subscribedSince(b, start) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	selfIdle(3 * time.Minute)
	settled := time.Since(start)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MiB")
	if dir != "" {
		f, err := os.Create(filepath.Join(dir, "heap-"+strconv.Itoa(n)+".pprof"))
		if err != nil {
			b.Fatal(err)
		}
		_ = pprof.WriteHeapProfile(f)
		f.Close()
	}
	stopCPU = profile(b, dir, "after", n)
	cpu0 = selfCPU()
	probe, changed := m.probe(b, 1)
	for !answers(c, addr, probe) {
		if time.Since(changed) > 5*time.Minute {
			b.Fatalf("change not answered after 5 minutes:\n%s", logw)
		}
		time.Sleep(2 * time.Millisecond)
	}
	change, changeCPU := time.Since(changed), selfCPU()-cpu0
	stopCPU()
	b.ReportMetric(float64(change.Microseconds())/1000, "change-ms")
	b.Logf("%d tasks (%.1f MB), operator API %v, load %s: first answer %v (cpu %v), settled %v, heap in use %.0f MiB, one change %v (cpu %v)",
		n, float64(m.size)/1e6, operator, uptime(), first.Round(time.Millisecond), firstCPU.Round(time.Millisecond),
		settled.Round(time.Millisecond), float64(ms.HeapInuse)/(1<<20), change.Round(time.Millisecond), changeCPU.Round(time.Millisecond))
}

// profile starts a CPU profile into dir/<kind>-<n>.pprof when dir is set.
func profile(b *testing.B, dir, kind string, n int) func() {
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, kind+"-"+strconv.Itoa(n)+".pprof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// selfIdle waits until this process has used under 20 ms of CPU in a
// second, at most timeout.
func selfIdle(timeout time.Duration) {
	cpu := selfCPU
	deadline := time.Now().Add(timeout)
	prev := cpu()
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		cur := cpu()
		if cur-prev < 20*time.Millisecond {
			return
		}
		prev = cur
	}
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
