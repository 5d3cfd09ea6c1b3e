package gossip_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sextantdc/sextant/internal/gossip"
)

// A master publishing a zone. On other nodes, the same OnUpdate runs when
// the zone arrives; they Join any member (usually the masters).
func Example() {
	updates := make(chan string, 8)
	n, err := gossip.New(gossip.Config{
		NodeName: "master-1",
		BindAddr: "127.0.0.1", // BindPort 0: any free port
		Role:     gossip.RoleMaster,
		Key:      []byte("0123456789abcdef"), // from gossip.LoadKey in a real role
		Label:    "cluster-a",
		Timers:   gossip.FastTimers(),
		OnUpdate: func(name string, version uint64, payload []byte) {
			updates <- fmt.Sprintf("%s v%d %q", name, version, payload)
		},
	}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = n.Shutdown(context.Background()) }()
	// Join(addresses of other members) would go here.

	for range 100 { // leadership is computed from membership events
		if n.IsLeader() {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("leader:", n.LeaderName())
	v, err := n.Publish("dcos.thisdcos.directory", []byte("zone bytes"))
	fmt.Println("published version", v, err)
	fmt.Println(<-updates)
	// Output:
	// leader: master-1
	// published version 1 <nil>
	// dcos.thisdcos.directory v1 "zone bytes"
}
