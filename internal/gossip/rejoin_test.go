package gossip

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	sxtest "github.com/sextantdc/sextant/internal/testutil"
)

// An agent started before its master joins it once the master is up, and
// again after the master restarts.
func TestKeepJoined(t *testing.T) {
	// Reserve a port for the master that is not up yet.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	contact := fmt.Sprintf("127.0.0.1:%d", port)

	a1 := startNode(t, "a1", 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a1.KeepJoined(ctx, func() []string { return []string{contact} }, 100*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })

	time.Sleep(300 * time.Millisecond) // a few failed rounds
	if aliveCount(a1) != 1 {
		t.Fatal("joined a master that is not running")
	}
	var m1 *tnode
	sxtest.Eventually(t, wait, "master starts on the reserved port", func() bool {
		m1, err = tryStartNode(t, "m1", 1, withPort(port))
		return err == nil
	})
	sxtest.Eventually(t, wait, "agent joins the master", func() bool { return a1.LeaderName() == "m1" && aliveCount(m1) == 2 })
	if got := a1.missingContacts([]string{contact, "not-an-address"}); len(got) != 1 || got[0] != "not-an-address" {
		t.Fatalf("missing contacts = %v", got)
	}

	// The master crashes and comes back empty: the agent finds it again
	// and hands it the zones it holds.
	v, err := m1.Publish("z", []byte("kept"))
	if err != nil {
		t.Fatal(err)
	}
	waitVersion(t, []*tnode{a1}, "z", v)
	m1.stopNode()
	sxtest.Eventually(t, wait, "agent sees the master dead", func() bool { return a1.LeaderName() == "" })
	var back *tnode
	sxtest.Eventually(t, wait, "master restarts", func() bool {
		back, err = tryStartNode(t, "m1", 1, withPort(port))
		return err == nil
	})
	sxtest.Eventually(t, wait, "agent rejoins the restarted master", func() bool { return aliveCount(back) == 2 && a1.LeaderName() == "m1" })
	waitVersion(t, []*tnode{back}, "z", v)

	if _, err := TimersByName("slow"); err == nil {
		t.Error("unknown preset accepted")
	}
	if tm, err := TimersByName("fast"); err != nil || tm != FastTimers() {
		t.Error("fast preset")
	}
}
