package scale_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state/statesynth"
	"github.com/sextantdc/sextant/internal/testutil"
)

// The profile harness runs sextant in the test process, so the state
// server runs in a process of its own: its state and renderings would
// otherwise share the heap (and the garbage collector's pace) with what is
// measured. It is this test binary again, started with SCALE_SERVE_TASKS.

// TestMain serves a generated state when SCALE_SERVE_TASKS is set (see
// serveHelper) and runs the tests otherwise.
func TestMain(m *testing.M) {
	if n, err := strconv.Atoi(os.Getenv("SCALE_SERVE_TASKS")); err == nil {
		serveHelper(n, os.Getenv("SCALE_OPERATOR") != "0")
		return
	}
	os.Exit(m.Run())
}

// helperReply is what the helper's control endpoints answer.
type helperReply struct {
	Addr  string    `json:"addr"`
	Name  string    `json:"name"`
	IP    string    `json:"ip"`
	At    time.Time `json:"at"`
	Bytes int       `json:"bytes"`
	OK    bool      `json:"ok"`
}

// serveHelper serves a state of n tasks on loopback until stdin closes. It
// prints "addr=host:port" once serving; /scale/last names the state's last
// task, /scale/probe?n=N switches to the state with probe N (rendered
// first) and says when, /scale/subscribed?since=RFC3339Nano says whether a
// SUBSCRIBE stream was written to since then.
func serveHelper(n int, operator bool) {
	tb := &helperTB{}
	srv := newStateServer(tb, operator)
	sh := statesynth.DefaultShape(n, 1)
	sh.Leader = srv.leader()
	st := statesynth.Generate(sh)
	body := render(tb, st)
	srv.set(st, body)
	srv.warm(tb)
	srv.forget()
	last := lastTask(st)
	var mu sync.Mutex
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, r helperReply) { _ = json.NewEncoder(w).Encode(r) }
	mux.HandleFunc("/scale/last", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, helperReply{Addr: srv.hostPort(), Name: last.name, IP: last.ip.String(), Bytes: len(body)})
	})
	lastNode := lastServing(st)
	mux.HandleFunc("/scale/last-serving", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, helperReply{Name: lastNode.name, IP: lastNode.ip.String()})
	})
	mux.HandleFunc("/scale/probe", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		k, _ := strconv.Atoi(r.URL.Query().Get("n"))
		st2, p := statesynth.WithProbe(st, k)
		b2 := render(tb, st2)
		at := srv.set(st2, b2)
		name := taskName(p.Name, st2.Frameworks[0].Name)
		if r.URL.Query().Get("node") != "" {
			name = containerIPName(p.Name, st2.Frameworks[0].Name)
		}
		reply(w, helperReply{Name: name, IP: p.IP.String(), At: at})
	})
	mux.HandleFunc("/scale/subscribed", func(w http.ResponseWriter, r *http.Request) {
		since, _ := time.Parse(time.RFC3339Nano, r.URL.Query().Get("since"))
		_, ok := srv.firstAPIWriteAfter(since)
		reply(w, helperReply{OK: ok})
	})
	ctl := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() { _ = ctl.Serve(l) }()
	fmt.Printf("addr=%s\n", l.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// helperTB is enough of testing.TB for the server's helpers outside a test.
type helperTB struct{ testing.TB }

func (*helperTB) Helper()        {}
func (*helperTB) Cleanup(func()) {}
func (*helperTB) Fatal(a ...any) { fmt.Fprintln(os.Stderr, a...); os.Exit(1) }
func (*helperTB) Fatalf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, f+"\n", a...)
	os.Exit(1)
}

// remoteMaster is a helper process serving a state of n tasks.
type remoteMaster struct {
	ctl  string // control address
	addr string // the master's host:port
	last target
	size int
}

func startRemoteMaster(b *testing.B, n int, operator bool) *remoteMaster {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SCALE_SERVE_TASKS="+strconv.Itoa(n), "SCALE_OPERATOR="+map[bool]string{true: "1", false: "0"}[operator])
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	p := testutil.StartProcess(b, cmd)
	b.Cleanup(func() { _ = stdin.Close() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("state server helper: %v\n%s", err, p.Log)
	}
	m := &remoteMaster{ctl: strings.TrimSpace(strings.TrimPrefix(line, "addr="))}
	r := m.get(b, "/scale/last")
	m.addr, m.size = r.Addr, r.Bytes
	m.last = target{name: r.Name, ip: netip.MustParseAddr(r.IP)}
	return m
}

func (m *remoteMaster) get(b *testing.B, path string) helperReply {
	b.Helper()
	resp, err := http.Get("http://" + m.ctl + path)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var r helperReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		b.Fatal(err)
	}
	return r
}

// probe switches the master to the state with probe k and returns the
// probe's name and when the switch happened.
func (m *remoteMaster) probe(b *testing.B, k int) (target, time.Time) {
	r := m.get(b, "/scale/probe?n="+strconv.Itoa(k))
	return target{name: r.Name, ip: netip.MustParseAddr(r.IP)}, r.At
}

func (m *remoteMaster) subscribedSince(b *testing.B, t time.Time) bool {
	return m.get(b, "/scale/subscribed?since="+t.Format(time.RFC3339Nano)).OK
}

// lastServing names the state's last serving task by its node DNS name.
func (m *remoteMaster) lastServing(b *testing.B) target {
	r := m.get(b, "/scale/last-serving")
	return target{name: r.Name, ip: netip.MustParseAddr(r.IP)}
}

// probeNode is probe with the probe named by its node DNS name.
func (m *remoteMaster) probeNode(b *testing.B, k int) (target, time.Time) {
	r := m.get(b, "/scale/probe?node=1&n="+strconv.Itoa(k))
	return target{name: r.Name, ip: netip.MustParseAddr(r.IP)}, r.At
}
