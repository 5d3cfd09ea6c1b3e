package ebpf

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/testutil"
)

// testCgroup makes a fresh cgroup2 directory for the test and removes it
// when the test ends (after its processes have left or exited).
func testCgroup(t testing.TB) string {
	t.Helper()
	if !testutil.IsRoot() {
		t.Skip("needs root to create a cgroup and load BPF programs")
	}
	root, err := Cgroup2Root()
	if err != nil {
		t.Skipf("no cgroup2 hierarchy: %v", err)
	}
	dir := filepath.Join(root, "sextant-ebpf-test-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano()%1e6, 10))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup under %s: %v", root, err)
	}
	t.Cleanup(func() {
		// A process that just exited may still be counted for a moment.
		for i := 0; ; i++ {
			err := os.Remove(dir)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
			if i == 50 {
				t.Errorf("remove cgroup %s: %v", dir, err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return dir
}
