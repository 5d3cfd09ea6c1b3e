package testutil

import (
	"testing"
	"time"
)

func TestStartZooKeeper(t *testing.T) {
	start := time.Now()
	addr := StartZooKeeper(t)
	if !ruok(addr) {
		t.Fatalf("ZooKeeper at %s does not answer ruok", addr)
	}
	t.Logf("ZooKeeper ready at %s after %v", addr, time.Since(start))
}
