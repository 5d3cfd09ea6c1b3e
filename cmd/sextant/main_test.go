package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestHelpExitsZero: -h prints a command's flags to stdout and exits 0
// without running it. The listen addresses are port 0 and examples are
// off, so a command that ran anyway would fail the time bound (or write to
// stderr), not take a real port.
func TestHelpExitsZero(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]string{
		"up": {"--state-dir", dir, "--no-examples", "--marathon-addr", "127.0.0.1:0", "--mesos-addr", "127.0.0.1:0",
			"--dns-addr", "127.0.0.1:0", "--mesos-dns-http-addr", "127.0.0.1:0", "--node-dns-addr", "127.0.0.1:0",
			"--net-api-addr", "127.0.0.1:0", "--gateway-addr", "127.0.0.1:0", "-h"},
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
			if n := strings.Count(strings.ToLower(stdout.String()), "usage"); n != 1 || !strings.Contains(stdout.String(), "  -") {
				t.Errorf("%s -h: want the flag list once on stdout, got:\n%s", name, stdout.String())
			}
			if stderr.Len() != 0 {
				t.Errorf("%s -h: the command ran or wrote to stderr:\n%s", name, stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s -h did not return: it runs the command", name)
		}
	}
}

func TestUnknownFlagExitsTwo(t *testing.T) {
	for _, name := range []string{"up", "mesos-dns", "agent", "master", "app", "dig", "vip"} {
		var out bytes.Buffer
		if c := realMain([]string{name, "--no-such-flag"}, &out, &out); c != 2 {
			t.Errorf("%s --no-such-flag: exit %d, want 2", name, c)
		}
	}
}

// TestTopLevelHelp: asking for help prints to stdout and exits 0; no
// command, or help for an unknown one, is a usage error on stderr.
func TestTopLevelHelp(t *testing.T) {
	for _, c := range []struct {
		args       []string
		code       int
		wantStdout string // "" means stdout must be empty
		wantStderr string // "" means stderr must be empty
	}{
		{[]string{"--help"}, 0, "usage: sextant COMMAND", ""},
		{[]string{"-h"}, 0, "usage: sextant COMMAND", ""},
		{[]string{"help"}, 0, "usage: sextant COMMAND", ""},
		{[]string{"help", "dig"}, 0, "usage: sextant dig", ""},
		{[]string{"help", "up"}, 0, "-state-dir", ""},
		{[]string{"help", "version"}, 0, "usage: sextant version", ""},
		{nil, 2, "", "usage: sextant COMMAND"},
		{[]string{"help", "nosuch"}, 2, "", `unknown command "nosuch"`},
		{[]string{"dig", "--no-such-flag"}, 2, "", "flag provided but not defined"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := realMain(c.args, &stdout, &stderr); code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			for _, o := range []struct {
				name       string
				got        string
				wantSubstr string
			}{{"stdout", stdout.String(), c.wantStdout}, {"stderr", stderr.String(), c.wantStderr}} {
				if o.wantSubstr == "" && o.got != "" || !strings.Contains(o.got, o.wantSubstr) {
					t.Errorf("%s: got %q, want it to hold %q", o.name, o.got, o.wantSubstr)
				}
			}
		})
	}
}

func TestLeadingStateDir(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"--state-dir", "/s", "app", "list"}, []string{"app", "--state-dir", "/s", "list"}},
		{[]string{"--state-dir=/s", "vip", "list"}, []string{"vip", "--state-dir=/s", "list"}},
		{[]string{"-state-dir", "/s", "dig", "x"}, []string{"dig", "--state-dir", "/s", "x"}},
		{[]string{"app", "--state-dir", "/s", "list"}, []string{"app", "--state-dir", "/s", "list"}},
		{[]string{"--state-dir", "/s"}, []string{"--state-dir", "/s"}}, // no command: the usage error
		{nil, nil},
	} {
		if got := leadingStateDir(c.in); !slices.Equal(got, c.want) {
			t.Errorf("leadingStateDir(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
