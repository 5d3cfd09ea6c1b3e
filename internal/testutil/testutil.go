// Package testutil holds helpers shared by tests: finding real peer tools,
// the fixtures directory, the built binary, and waiting for outcomes.
//
// Imports of Sextant's own packages: internal/mesos/state; nothing else of Sextant.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// NeedTool returns the path of a command, or skips the test with a reason.
// `make test` installs the tools it needs when it runs as root.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (make test installs it as root): %v", name, err)
	}
	return p
}

// RepoRoot is the module root, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Fixtures returns ../shared/fixtures/<sub> beside the project's root, or
// skips: a user's clone has no ../shared, CI always has it.
func Fixtures(t testing.TB, sub string) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(), "..", "shared", "fixtures", sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("fixtures %s not found (they live in ../shared beside the project; CI has them): %v", sub, err)
	}
	return dir
}

// Binary returns the sextant binary to run in end-to-end tests: $SEXTANT_BIN
// (set by `make test`) or one built into a temporary directory.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SEXTANT_BIN"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if testing.Short() {
		t.Skip("end-to-end test needs the binary; skipped in -short mode")
	}
	out := filepath.Join(t.TempDir(), "sextant")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/sextant")
	cmd.Dir = RepoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building sextant: %v\n%s", err, b)
	}
	return out
}

// Eventually polls cond every 20ms until it returns true or the timeout
// passes. Timeouts are generous: a loaded 2-core machine is slow, so a
// test fails only far past its goal.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// IsRoot reports whether the test runs as root.
func IsRoot() bool { return os.Geteuid() == 0 }
