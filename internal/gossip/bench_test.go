package gossip

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// BenchmarkConvergence measures the time from Publish on the leader until
// OnUpdate has run with that version on all three members (the leader
// included), for a small zone (gossip broadcast path) and a zone of 10k
// tasks (about 1 MB, DEFLATE over TCP), with both timer presets. Each
// iteration is one publish; p50/p99 are reported over b.N publishes, so run
// with -benchtime 100x or more.
func BenchmarkConvergence(b *testing.B) {
	for _, preset := range []struct {
		name   string
		timers Timers
	}{{"lan", LANTimers()}, {"fast", FastTimers()}} {
		for _, size := range []struct {
			name  string
			tasks int
		}{{"small", 3}, {"zone10k", 10000}} {
			b.Run(preset.name+"/"+size.name, func(b *testing.B) {
				benchConvergence(b, preset.timers, size.tasks)
			})
		}
	}
}

func benchConvergence(b *testing.B, timers Timers, tasks int) {
	const zoneName = "dcos.thisdcos.directory"
	names := []string{"m1", "m2", "a1"}
	seen := make([]chan uint64, len(names))
	var ns []*tnode
	for i, name := range names {
		ch := make(chan uint64, 1024)
		seen[i] = ch
		n := startNode(b, name, byte(i+1), func(c *Config) {
			c.Timers = timers
			c.OnUpdate = func(z string, v uint64, _ []byte) {
				if z == zoneName {
					ch <- v
				}
			}
		})
		ns = append(ns, n)
		if i > 0 {
			join(b, n, ns[0])
		}
	}
	waitAlive(b, ns, len(ns))
	leader := ns[0]
	for !leader.IsLeader() {
		time.Sleep(10 * time.Millisecond)
	}
	payloads := [][]byte{bigZone(tasks, 1), bigZone(tasks, 2)}
	if tasks <= 3 {
		payloads = [][]byte{[]byte("a.b. 5 IN A 10.0.0.1"), []byte("a.b. 5 IN A 10.0.0.2")}
	}
	wire, _ := EncodeZone(zoneName, "m1", 1, 0, payloads[0])
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		v, err := leader.Publish(zoneName, payloads[i%2])
		if err != nil {
			b.Fatal(err)
		}
		for j, ch := range seen {
			deadline := time.After(30 * time.Second)
			for done := false; !done; {
				select {
				case got := <-ch:
					done = got >= v
				case <-deadline:
					b.Fatalf("%s did not get version %d", names[j], v)
				}
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(payloads[0])), "payload-bytes")
	b.ReportMetric(float64(len(wire)), "wire-bytes")
	var sendErrs, dropped, stale float64
	for _, n := range ns {
		sendErrs += testutil.ToFloat64(n.met.sendErrors)
		dropped += testutil.ToFloat64(n.met.dropped)
		stale += testutil.ToFloat64(n.met.stale)
	}
	b.ReportMetric(sendErrs, "send-errors")
	b.ReportMetric(dropped, "dropped")
	if testing.Verbose() {
		fmt.Printf("n=%d p50=%v p99=%v max=%v stale=%v\n", len(lat), pct(0.5), pct(0.99), lat[len(lat)-1], stale)
	}
}

// BenchmarkZoneCodec is the CPU cost on each side of one 10k-task zone:
// DEFLATE + framing on the publisher, parse + inflate + CRC on a receiver.
func BenchmarkZoneCodec(b *testing.B) {
	payload := bigZone(10000, 1)
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, err := EncodeZone("dcos.thisdcos.directory", "m1", 1, 0, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	wire, _ := EncodeZone("dcos.thisdcos.directory", "m1", 1, 0, payload)
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			z, err := DecodeZone(wire, DefaultMaxPayload)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := z.Payload(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
