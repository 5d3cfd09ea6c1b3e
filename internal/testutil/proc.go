package testutil

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Process is a command under test (usually the sextant binary): started
// once, reaped on its own goroutine, stopped with SIGTERM by the test or
// at cleanup, its output kept for failure messages.
type Process struct {
	Cmd *exec.Cmd
	// Log holds the process's stderr, and its stdout unless the caller
	// set Cmd.Stdout or took a pipe before StartProcess.
	Log  *LogBuffer
	t    testing.TB
	done chan struct{}
	err  error
}

// StartProcess starts cmd and stops it at cleanup (SIGTERM, SIGKILL after
// 60 s), logging its output when the test failed.
func StartProcess(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, Log: &LogBuffer{}, t: t, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.Log
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.Log
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if _, stopped := p.Stop(60 * time.Second); !stopped {
			t.Errorf("%s did not stop within 60s of SIGTERM", cmd.Path)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", cmd.Path, p.Log)
		}
	})
	return p
}

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM and waits up to grace, then kills. It returns the
// exit error and whether the process stopped by itself within grace. A
// process that had already exited is not signalled.
func (p *Process) Stop(grace time.Duration) (err error, stopped bool) {
	if exited, err := p.Exited(); exited {
		return err, true
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
		<-p.done
		return p.err, false
	}
}

// Eventually is testutil.Eventually that fails at once, with the output,
// when the process exits while the test waits for it.
func (p *Process) Eventually(timeout time.Duration, what string, cond func() bool) {
	p.t.Helper()
	Eventually(p.t, timeout, what, func() bool {
		if exited, err := p.Exited(); exited {
			p.t.Fatalf("%s exited (%v) while waiting for %s:\n%s", p.Cmd.Path, err, what, p.Log)
		}
		return cond()
	})
}
