package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/testutil"
)

// tryLine is one command the docs or the banner tell a user to run.
type tryLine struct {
	where string // "README.md", "examples/README.md /web", "banner"
	text  string // as written
	app   string // the table row's app, for its <port>
	// events are the SSE event types the docs say the line shows.
	events []string
}

// readmeTryLines are the lines of the fenced block after "Then, in another
// terminal:" in README.md.
func readmeTryLines(t *testing.T, root string) []tryLine {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "Then, in another terminal:")
	if !ok {
		t.Fatal(`README.md: no "Then, in another terminal:" block`)
	}
	_, block, ok := strings.Cut(rest, "```\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("README.md: the try block is not fenced")
	}
	var out []tryLine
	for _, l := range strings.Split(block, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, tryLine{where: "README.md", text: l})
		}
	}
	return out
}

var backticked = regexp.MustCompile("`([^`]+)`")

// exampleTryLines are the commands in the "try" column of the table in
// examples/README.md, each with its row's app.
func exampleTryLines(t *testing.T, root string) []tryLine {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "examples", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []tryLine
	for _, row := range strings.Split(string(b), "\n") {
		cells := strings.Split(row, "|")
		if len(cells) != 6 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue // not a table row with a file name (header, separator, prose)
		}
		app := strings.Trim(strings.TrimSpace(cells[2]), "`")
		var events []string
		for _, m := range backticked.FindAllStringSubmatch(cells[4], -1) {
			if strings.HasSuffix(m[1], "_event") {
				events = append(events, m[1])
			}
		}
		for _, m := range backticked.FindAllStringSubmatch(cells[4], -1) {
			switch strings.Fields(m[1])[0] {
			case "dig", "curl", "nc", "sextant", "./bin/sextant":
				out = append(out, tryLine{where: "examples/README.md " + app, text: m[1], app: app, events: events})
			}
		}
	}
	return out
}

// bannerTryLines are the "try:" line of the banner and those indented
// under it.
func bannerTryLines(banner string) []tryLine {
	var out []tryLine
	in := false
	for _, l := range strings.Split(banner, "\n") {
		switch {
		case strings.HasPrefix(l, "try: "):
			in = true
			out = append(out, tryLine{where: "banner", text: strings.TrimSpace(strings.TrimPrefix(l, "try: "))})
		case in && strings.HasPrefix(l, "     ") && strings.TrimSpace(l) != "":
			out = append(out, tryLine{where: "banner", text: strings.TrimSpace(l)})
		default:
			in = false
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer for a child's output read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var answerCount = regexp.MustCompile(`status: NOERROR.*\n.*ANSWER: ([1-9]\d*)`)

// TestTryLines runs every "try" line of README.md, of examples/README.md
// and of the banner against a real `sextant up --apps examples` (as `make
// run` starts it) and checks that each answers something meaningful: DNS
// names answer records, commands succeed and show what the docs say.
// Listener ports are the test's own: the docs' defaults are rewritten to
// them. `sextant` and ./bin/sextant are the binary under test; it finds
// the cluster through XDG_STATE_HOME, as a user's shell would.
func TestTryLines(t *testing.T) {
	testutil.NeedTool(t, "python3")
	testutil.NeedTool(t, "dig")
	t.Parallel()
	root := testutil.RepoRoot()
	bin := testutil.Binary(t)

	// A shell for the lines: `sextant` on PATH, ./bin/sextant in the
	// working directory, the state directory found by XDG_STATE_HOME.
	work, xdg, pathDir := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{filepath.Join(work, "bin", "sextant"), filepath.Join(pathDir, "sextant")} {
		if err := os.Symlink(bin, l); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "XDG_STATE_HOME="+xdg, "PATH="+pathDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	stateDir := filepath.Join(xdg, "sextant")

	addrs := map[string]string{}
	// --l4lb-loopback: the host's addresses and rules stay as they are,
	// even as root; the banner's VIP line then names the 127.x mapping.
	args := []string{"up", "--apps", filepath.Join(root, "examples"), "--l4lb-loopback"}
	for _, f := range []string{"marathon-addr", "mesos-addr", "dns-addr", "mesos-dns-http-addr", "node-dns-addr", "net-api-addr", "gateway-addr"} {
		addrs[f] = testutil.FreeAddr(t)
		args = append(args, "--"+f, addrs[f])
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	banner := &syncBuffer{}
	cmd.Stdout = banner
	proc := testutil.StartProcess(t, cmd)
	proc.Eventually(60*time.Second, "the banner", func() bool { return strings.Contains(banner.String(), "try: ") })
	var eps map[string]string
	b, err := os.ReadFile(filepath.Join(stateDir, "endpoints.json"))
	if err != nil || json.Unmarshal(b, &eps) != nil {
		t.Fatalf("endpoints.json under XDG_STATE_HOME: %v %s", err, b)
	}

	// The docs' default listeners (README's table) → this test's.
	port := func(flag string) string { _, p, _ := net.SplitHostPort(addrs[flag]); return p }
	rewrites := []struct {
		re   *regexp.Regexp
		with string
	}{
		{regexp.MustCompile(`-p 1053\b`), "-p " + port("dns-addr")},
		{regexp.MustCompile(`-p 1054\b`), "-p " + port("node-dns-addr")},
		{regexp.MustCompile(`127\.0\.0\.1:8080\b`), addrs["marathon-addr"]},
		{regexp.MustCompile(`127\.0\.0\.1:5050\b`), addrs["mesos-addr"]},
		{regexp.MustCompile(`127\.0\.0\.1:8123\b`), addrs["mesos-dns-http-addr"]},
		{regexp.MustCompile(`127\.0\.0\.1:62080\b`), addrs["net-api-addr"]},
		{regexp.MustCompile(`127\.0\.0\.1:8000\b`), addrs["gateway-addr"]},
	}
	hostPort := func(app string) (string, bool) {
		resp, err := http.Get(eps["marathon"] + "/v2/apps" + app + "/tasks")
		if err != nil {
			return "", false
		}
		defer resp.Body.Close()
		var r struct {
			Tasks []e2eTask `json:"tasks"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil {
			return "", false
		}
		for _, tk := range r.Tasks {
			if tk.State == "TASK_RUNNING" && len(tk.Ports) > 0 {
				return strconv.Itoa(tk.Ports[0]), true
			}
		}
		return "", false
	}
	var appIDs []string
	for _, e := range mustGlob(t, filepath.Join(root, "examples", "*.json")) {
		var a struct {
			ID string `json:"id"`
		}
		b, _ := os.ReadFile(e)
		if json.Unmarshal(b, &a) == nil {
			appIDs = append(appIDs, a.ID)
		}
	}

	lines := map[string][]tryLine{
		"README.md":          readmeTryLines(t, root),
		"examples/README.md": exampleTryLines(t, root),
		"banner":             bannerTryLines(banner.String()),
	}
	var all []tryLine
	for where, ls := range lines {
		if len(ls) == 0 {
			t.Fatalf("no try lines found in %s: has its layout changed?", where)
		}
		all = append(all, ls...)
	}
	endpointsFile := filepath.Join(stateDir, "endpoints.json")

	for _, l := range all {
		t.Run(l.where+": "+l.text, func(t *testing.T) {
			fields := strings.Fields(l.text)
			tool := strings.TrimPrefix(fields[0], "./bin/")
			if tool != "sextant" && tool != "dig" {
				if _, err := exec.LookPath(tool); err != nil {
					t.Skipf("%s is not installed", tool)
				}
			}
			stream := tool == "nc" || (tool == "curl" && strings.Contains(l.text, "text/event-stream"))
			var last string
			deadline := time.Now().Add(120 * time.Second)
			for {
				line := l.text
				for _, rw := range rewrites {
					line = rw.re.ReplaceAllString(line, rw.with)
				}
				ok, why := false, ""
				if strings.Contains(line, "<port>") {
					if p, found := hostPort(l.app); found {
						line = strings.ReplaceAll(line, "<port>", p)
					}
				}
				switch {
				case strings.ContainsAny(line, "<>"):
					why = "a placeholder the test cannot fill"
				case stream:
					want := l.events
					stdin := ""
					if tool == "nc" {
						stdin, want = "hello sextant\n", []string{"hello sextant"}
					} else if len(want) == 0 {
						want = []string{"event_stream_attached"}
					}
					last, ok = runStream(line, work, env, stdin, want, 60*time.Second)
				default:
					var err error
					last, err = runLine(line, work, env, 20*time.Second)
					ok, why = meaningful(tool, fields, line, last, err, appIDs, endpointsFile)
				}
				if ok {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s try line does not work as written:\n  %s\nrun as:\n  %s\n%s\nlast output:\n%s", l.where, l.text, line, why, last)
				}
				time.Sleep(time.Second)
			}
		})
	}
}

// runLine runs one line with sh, as a user's shell would, in dir.
func runLine(line, dir string, env []string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", line)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runStream runs a line that does not end by itself (an event stream, nc)
// until its output holds every want, or timeout; stdin is written to it
// and then left open, as a terminal would.
func runStream(line, dir string, env []string, stdin string, want []string, timeout time.Duration) (string, bool) {
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	in, err := cmd.StdinPipe()
	if err != nil {
		return err.Error(), false
	}
	if err := cmd.Start(); err != nil {
		return err.Error(), false
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	defer in.Close()
	if stdin != "" {
		_, _ = io.WriteString(in, stdin)
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		s := out.String()
		all := true
		for _, w := range want {
			all = all && strings.Contains(s, w)
		}
		if all {
			return s, true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return out.String() + fmt.Sprintf("\n(want %q within %v)", want, timeout), false
}

// meaningful says whether a finished line's output is what the docs
// promise, and if not why.
func meaningful(tool string, fields []string, line, out string, err error, appIDs []string, endpointsFile string) (bool, string) {
	if err != nil {
		return false, "exit: " + err.Error()
	}
	switch {
	case tool == "dig" || tool == "sextant" && strings.Contains(line, " dig "):
		if !answerCount.MatchString(out) {
			return false, "want NOERROR with at least one answer"
		}
		if tool == "sextant" && !strings.Contains(out, "from "+endpointsFile) {
			return false, "sextant dig does not say it read " + endpointsFile
		}
	case tool == "sextant" && strings.Contains(line, " app list"):
		for _, id := range appIDs {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(id) + ` `).MatchString(out) {
				return false, "the list lacks " + id
			}
		}
		if !strings.Contains(out, "from "+endpointsFile) {
			return false, "sextant app does not say it read " + endpointsFile
		}
	case tool == "sextant" && strings.Contains(line, " app show "):
		id := fields[len(fields)-1]
		if !strings.Contains(out, "id:            "+id+"\n") || !strings.Contains(out, "TASK ") {
			return false, "want the app and its task table"
		}
	case tool == "curl":
		if strings.TrimSpace(out) == "" {
			return false, "empty answer"
		}
	}
	return true, ""
}
