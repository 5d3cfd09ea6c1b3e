package testutil

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestFreeAddrBindsBoth(t *testing.T) {
	addr := FreeAddr(t)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()
	if p := FreePort(t); p <= 0 || p > 65535 {
		t.Fatalf("FreePort %d", p)
	}
}

func TestProcessStopAndLog(t *testing.T) {
	sh := NeedTool(t, "sh")
	// Exits 0 on SIGTERM, after saying so on stderr.
	p := StartProcess(t, exec.Command(sh, "-c", `trap 'echo bye >&2; exit 0' TERM; echo hello; while :; do sleep 0.05; done`))
	p.Eventually(10*time.Second, "hello", func() bool { return strings.Contains(p.Log.String(), "hello") })
	if exited, _ := p.Exited(); exited {
		t.Fatal("exited early")
	}
	err, stopped := p.Stop(10 * time.Second)
	if err != nil || !stopped || !strings.Contains(p.Log.String(), "bye") {
		t.Fatalf("stop: %v %v %q", err, stopped, p.Log)
	}
	// A second Stop does not signal a reaped pid.
	if err, stopped := p.Stop(time.Second); err != nil || !stopped {
		t.Fatalf("second stop: %v %v", err, stopped)
	}

	// One that ignores SIGTERM is killed after the grace period.
	p = StartProcess(t, exec.Command(sh, "-c", `trap '' TERM; echo up; while :; do sleep 0.05; done`))
	p.Eventually(10*time.Second, "up", func() bool { return strings.Contains(p.Log.String(), "up") })
	if _, stopped := p.Stop(200 * time.Millisecond); stopped {
		t.Fatal("a process ignoring SIGTERM reported as stopped")
	}
}

func TestDigSection(t *testing.T) {
	out := "; <<>> DiG <<>> x\n;; ANSWER SECTION:\nweb.marathon.mesos.\t60\tIN\tA\t10.0.0.1\nweb.marathon.mesos.\t60\tIN\tA\t10.0.0.2\n\n;; ADDITIONAL SECTION:\nx. 60 IN A 1.2.3.4\n\n;; Query time: 1 msec\n"
	if got, want := DigSection(out, "ANSWER"), []string{"web.marathon.mesos. 60 IN A 10.0.0.1", "web.marathon.mesos. 60 IN A 10.0.0.2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ANSWER %q", got)
	}
	if got := DigSection(out, "ADDITIONAL"); len(got) != 1 || got[0] != "x. 60 IN A 1.2.3.4" {
		t.Fatalf("ADDITIONAL %q", got)
	}
	if got := DigSection(out, "AUTHORITY"); got != nil {
		t.Fatalf("AUTHORITY %q", got)
	}
	if got := DigShort("\n10.0.0.1\n 10.0.0.2 \n\n"); !reflect.DeepEqual(got, []string{"10.0.0.1", "10.0.0.2"}) {
		t.Fatalf("DigShort %q", got)
	}
}

func TestStateServer(t *testing.T) {
	s := NewStateServer(t)
	s.Set([]byte(`{"leader":"` + s.Leader() + `"}`))
	resp, err := http.Get("http://" + s.HostPort() + "/master/state")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `{"leader":"master@`+s.HostPort()+`"}` {
		t.Fatalf("body %s", b)
	}
	if !HTTPOK("http://"+s.HostPort()+"/master/state") || HTTPOK("http://"+s.HostPort()+"/api/v1") {
		t.Fatal("HTTPOK: want 200 for the state, 404 elsewhere")
	}
}
