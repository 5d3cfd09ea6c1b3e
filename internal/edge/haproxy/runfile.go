package haproxy

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// runFile is the haproxy.cfg the engine gives HAProxy, derived from
// marathon-lb's text: the admin socket, server state and stats listener
// moved into the engine's run directory (the 9090 endpoints are Go's, so
// the Lua services marathon-lb loads are dropped), binds optionally
// moved, and the server lines of every backend set apart so that a
// change of servers alone is applied through the runtime API.
type runFile struct {
	text string
	// skeleton is text without its server lines: two files with the same
	// skeleton differ only in servers.
	skeleton string
	// backends are the server lines by backend, in file order.
	backends map[string][]serverLine
}

// serverLine is one "server NAME ARGS" line.
type serverLine struct {
	Name string
	// Args is everything after the name, single-spaced.
	Args string
}

// disabled reports the "disabled" keyword, and Args without it.
func (s serverLine) disabled() (string, bool) {
	f := strings.Fields(s.Args)
	i := slices.Index(f, "disabled")
	if i < 0 {
		return s.Args, false
	}
	return strings.Join(slices.Delete(f, i, i+1), " "), true
}

// sticky reports a cookie on the server: HAProxy 2.6 refuses "cookie" on
// servers added at run time, so such backends change by reload.
func (s serverLine) sticky() bool { return slices.Contains(strings.Fields(s.Args), "cookie") }

var sectionKeywords = []string{"global", "defaults", "frontend", "backend", "listen", "userlist", "peers",
	"resolvers", "mailers", "program", "http-errors", "ring", "cache"}

// makeRunFile derives the engine's file from marathon-lb's text. runDir
// holds the sockets and server state; rebind, when set, maps a bind
// address as written (say "*:80") to the one to use; a global maxconn
// that the descriptor limit fdLimit (when > 0) cannot hold — two per
// connection, one per listener — is lowered, since HAProxy
// refuses to start otherwise;
// noSyslog drops the global "log /dev/log" lines (nothing listens there).
func makeRunFile(text, runDir string, rebind func(string) string, fdLimit int, noSyslog bool) *runFile {
	rf := &runFile{backends: map[string][]serverLine{}}
	maxconnCap := 0
	if fdLimit > 0 {
		fds := 200
		for line := range strings.Lines(text) {
			// Servers are left out of the count so that a server change
			// keeps the skeleton (HAProxy's own budget counts listeners).
			if f := strings.Fields(line); len(f) > 0 && f[0] == "bind" {
				fds++
			}
		}
		maxconnCap = max(1, (fdLimit-fds)/2)
	}
	var out, skel strings.Builder
	section, name := "", ""
	for line := range strings.Lines(text) {
		body := strings.TrimRight(line, "\n")
		f := strings.Fields(body)
		if len(f) > 0 && body[0] != ' ' && body[0] != '\t' && slices.Contains(sectionKeywords, f[0]) {
			section, name = f[0], ""
			if len(f) > 1 {
				name = f[1]
			}
			out.WriteString(line)
			skel.WriteString(line)
			continue
		}
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			out.WriteString(line)
			skel.WriteString(line)
			continue
		}
		stats := section == "listen" && name == "stats"
		switch {
		case section == "global" && f[0] == "lua-load":
			continue
		case section == "global" && f[0] == "log" && len(f) > 1 && f[1] == "/dev/log" && noSyslog:
			continue // nothing listens there: HAProxy would log an alert per line
		case section == "global" && f[0] == "stats" && len(f) > 1 && f[1] == "socket":
			line = "  stats socket " + filepath.Join(runDir, "admin.sock") + " mode 600 level admin expose-fd listeners\n"
		case section == "global" && f[0] == "maxconn" && len(f) == 2 && maxconnCap > 0:
			if n, err := strconv.Atoi(f[1]); err == nil && n > maxconnCap {
				line = "  maxconn " + strconv.Itoa(maxconnCap) + "\n"
			}
		case section == "global" && f[0] == "server-state-base":
			line = "  server-state-base " + filepath.Join(runDir, "state") + "/\n"
		case stats && strings.Contains(body, "use-service lua."):
			continue
		case stats && f[0] == "bind":
			line = "  bind " + filepath.Join(runDir, "stats.sock") + " mode 600\n"
		case (section == "frontend" || section == "listen") && f[0] == "bind" && len(f) > 1 && rebind != nil:
			if to := rebind(f[1]); to != f[1] {
				f[1] = to
				line = "  " + strings.Join(f, " ") + "\n"
			}
		case section == "backend" && f[0] == "mode" && len(f) == 2 && f[1] == "http":
			// A task killed while it answers (Marathon kills at once, without
			// draining) closes the connection with nothing sent: retry such
			// requests, those that can be repeated, on another server.
			line += "  retry-on conn-failure empty-response\n  http-request disable-l7-retry if METH_POST\n"
		case (section == "backend" || section == "listen") && f[0] == "server" && len(f) > 2:
			rf.backends[name] = append(rf.backends[name], serverLine{Name: f[1], Args: strings.Join(f[2:], " ")})
			out.WriteString(line)
			continue
		}
		out.WriteString(line)
		skel.WriteString(line)
	}
	rf.text, rf.skeleton = out.String(), skel.String()
	return rf
}
