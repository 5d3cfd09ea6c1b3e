package testutil

import (
	"fmt"
	"io"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadyLines(t *testing.T) {
	sh := NeedTool(t, "sh")
	// The lines after "ready" outgrow a pipe's buffer: the process exits
	// only if ReadyLines keeps draining them.
	cmd := exec.Command(sh, "-c", `echo dns=127.0.0.1:1,[::1]:1; echo api=127.0.0.1:2; echo noise; echo ready; i=0; while [ $i -lt 20000 ]; do echo after-ready-line; i=$((i+1)); done`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := StartProcess(t, cmd)
	kv := ReadyLines(t, "sh", out, 30*time.Second, p.Log.String)
	want := map[string]string{"dns": "127.0.0.1:1,[::1]:1", "api": "127.0.0.1:2", "noise": ""}
	if !reflect.DeepEqual(kv, want) {
		t.Fatalf("got %q, want %q", kv, want)
	}
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the process blocked writing after ready")
	}
}

// fatalRecorder records Fatalf instead of stopping the test, to check
// the failure paths of helpers.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")
}

func TestReadyLinesFailures(t *testing.T) {
	// Output ends before "ready": the process exited.
	rec := &fatalRecorder{TB: t}
	if kv := ReadyLines(rec, "p1", strings.NewReader("dns=x\n"), 10*time.Second, func() string { return "the log" }); kv != nil {
		t.Fatalf("got %v after EOF", kv)
	}
	if !strings.Contains(rec.msg, "p1 exited before ready: the log") {
		t.Fatalf("EOF message %q", rec.msg)
	}
	// Nothing arrives: the timeout.
	r, w := io.Pipe()
	defer w.Close()
	rec = &fatalRecorder{TB: t}
	if kv := ReadyLines(rec, "p2", r, 50*time.Millisecond, func() string { return "quiet" }); kv != nil {
		t.Fatalf("got %v after timeout", kv)
	}
	if !strings.Contains(rec.msg, "p2 not ready after 50ms: quiet") {
		t.Fatalf("timeout message %q", rec.msg)
	}
}
