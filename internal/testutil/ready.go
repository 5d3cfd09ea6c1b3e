package testutil

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"
)

// ReadyLines reads the startup lines a sextant role prints on stdout
// ("key=value" one a line, then "ready") from out, and returns the values
// by key (a key printed twice keeps its last value). It fails the test,
// with log() (the process's other output) in the message, when out ends
// before "ready" (the process exited) or after timeout. Whatever follows
// "ready" is read and discarded, so the process never blocks on a full
// stdout pipe.
func ReadyLines(t testing.TB, name string, out io.Reader, timeout time.Duration, log func() string) map[string]string {
	t.Helper()
	ready := make(chan map[string]string, 1)
	go func() {
		kv := map[string]string{}
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), "=")
			if k == "ready" {
				ready <- kv
				break
			}
			kv[k] = v
		}
		close(ready)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case kv, ok := <-ready:
		if !ok {
			t.Fatalf("%s exited before ready:\n%s", name, log())
		}
		return kv
	case <-time.After(timeout):
		t.Fatalf("%s not ready after %v:\n%s", name, timeout, log())
	}
	return nil
}
