package gossip

import (
	"errors"
	"testing"

	sxtest "github.com/sextantdc/sextant/internal/testutil"
)

// A per-writer zone: any member publishes its own, it reaches every node,
// and the leader's re-assertion never fights over it.
func TestPublishOwnFromAnAgent(t *testing.T) {
	ns := cluster(t, "m1", "a1")
	m1, a1 := ns[0], ns[1]
	sxtest.Eventually(t, wait, "m1 leads everywhere", func() bool { return m1.IsLeader() && a1.LeaderName() == "m1" })
	if _, err := a1.Publish("_own/a1", []byte("x")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Publish from an agent: %v", err)
	}
	v, err := a1.PublishOwn("_own/a1", []byte("backends of a1"))
	if err != nil || v != 1 {
		t.Fatalf("PublishOwn = %d, %v", v, err)
	}
	waitVersion(t, ns, "_own/a1", 1)
	v, err = a1.PublishOwn("_own/a1", []byte("backends of a1, changed"))
	if err != nil || v != 2 {
		t.Fatalf("second PublishOwn = %d, %v", v, err)
	}
	waitVersion(t, ns, "_own/a1", 2)
	if _, p, _ := m1.Get("_own/a1"); string(p) != "backends of a1, changed" {
		t.Fatalf("leader holds %q", p)
	}
	if _, err := a1.PublishOwn("", nil); err == nil {
		t.Error("empty name accepted")
	}
}
