package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestHelpExitsZero: -h prints a command's flags and exits 0 without
// running it. The listen addresses are port 0 and examples are off, so a
// command that ran anyway would fail the time bound, not take a real port.
func TestHelpExitsZero(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]string{
		"up": {"--state-dir", dir, "--no-examples", "--marathon-addr", "127.0.0.1:0", "--mesos-addr", "127.0.0.1:0",
			"--dns-addr", "127.0.0.1:0", "--mesos-dns-http-addr", "127.0.0.1:0", "--directory-dns-addr", "127.0.0.1:0",
			"--net-api-addr", "127.0.0.1:0", "-h"},
		"mesos-dns": {"-config", dir + "/missing.json", "-h"},
		"agent":     {"--dns-listen", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "-h"},
		"master":    {"--mesos", "127.0.0.1:1", "--dns-listen", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "-h"},
		"app":       {"--state-dir", dir, "list", "-h"},
		"dig":       {"--state-dir", dir, "x.mesos", "-h"},
	}
	for name, args := range cases {
		var stdout, stderr bytes.Buffer
		code := make(chan int, 1)
		go func() { code <- realMain(append([]string{name}, args...), &stdout, &stderr) }()
		select {
		case c := <-code:
			if c != 0 {
				t.Errorf("%s -h: exit %d\n%s", name, c, stderr.String())
			}
			if n := strings.Count(strings.ToLower(stderr.String()), "usage"); n != 1 {
				t.Errorf("%s -h: want the flag list once, got:\n%s", name, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("%s -h: the command ran:\n%s", name, stdout.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s -h did not return: it runs the command", name)
		}
	}
}

func TestUnknownFlagExitsTwo(t *testing.T) {
	for _, name := range []string{"up", "mesos-dns", "agent", "master", "app", "dig"} {
		var out bytes.Buffer
		if c := realMain([]string{name, "--no-such-flag"}, &out, &out); c != 2 {
			t.Errorf("%s --no-such-flag: exit %d, want 2", name, c)
		}
	}
}
