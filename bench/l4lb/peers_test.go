package l4lb

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/l4lb/balance"
	"github.com/sextantdc/sextant/internal/l4lb/userspace"
)

// TestPlaneForPeers runs a userspace plane for real peer tools (wrk,
// iperf3) to drive, when SEXTANT_L4LB_PLANE is set to
// "vip=11.66.0.2:25201,backend=127.0.0.1:25202,seconds=20": the VIP is
// served on its LoopbackMap address (127.66.0.2:25201) until the time is
// up. Loopback only.
func TestPlaneForPeers(t *testing.T) {
	spec := os.Getenv("SEXTANT_L4LB_PLANE")
	if spec == "" {
		t.Skip("set SEXTANT_L4LB_PLANE=vip=…,backend=…,seconds=… to run a plane for peer tools")
	}
	var vip, backend netip.AddrPort
	secs := 20
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "vip":
			vip, err = netip.ParseAddrPort(v)
		case "backend":
			backend, err = netip.ParseAddrPort(v)
		case "seconds":
			_, err = fmt.Sscan(v, &secs)
		}
		if err != nil {
			t.Fatalf("%s: %v", kv, err)
		}
	}
	if !backend.Addr().IsLoopback() {
		t.Fatalf("backend %s is not a loopback address", backend)
	}
	p, err := userspace.New(userspace.Options{Map: userspace.LoopbackMap()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	svc := balance.Service{Key: balance.Key{Protocol: balance.TCP, Addr: vip}, Backends: []balance.Backend{{Addr: backend, Weight: 1}}}
	if err := p.Sync(context.Background(), []balance.Service{svc}); err != nil {
		t.Fatal(err)
	}
	addr, _ := p.ListenAddr(vip)
	fmt.Printf("listening %s\n", addr)
	time.Sleep(time.Duration(secs) * time.Second)
	for _, s := range p.Stats() {
		t.Logf("%s: %+v", s.Key, s.Backends)
	}
}
