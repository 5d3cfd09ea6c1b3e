package testutil

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ZooKeeperJar is where Debian's zookeeper package installs the server.
const ZooKeeperJar = "/usr/share/java/zookeeper.jar"

// StartZooKeeper starts a standalone ZooKeeper server (Debian's package,
// run in the foreground) on a free port of 127.0.0.1 with a temporary data
// directory and the admin server off, waits until it answers `ruok` with
// `imok`, and stops it (by PID) when the test ends. It returns
// "127.0.0.1:port". It skips the test when java or the jar is missing.
func StartZooKeeper(t testing.TB) string {
	t.Helper()
	java := NeedTool(t, "java")
	if _, err := os.Stat(ZooKeeperJar); err != nil {
		t.Skipf("ZooKeeper is not installed (Debian package zookeeper; make test installs it as root): %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	data := filepath.Join(dir, "data")
	for _, d := range []string{conf, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A few attempts: the free port we picked can be taken by someone else
	// between closing our probe listener and ZooKeeper binding it.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		addr, err := startZK(t, java, conf, data, port)
		if err == nil {
			return addr
		}
		lastErr = err
	}
	t.Fatalf("starting ZooKeeper: %v", lastErr)
	return ""
}

func startZK(t testing.TB, java, conf, data string, port int) (string, error) {
	t.Helper()
	cfg := fmt.Sprintf(`tickTime=500
initLimit=10
syncLimit=5
dataDir=%s
clientPortAddress=127.0.0.1
clientPort=%d
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,srvr,mntr
maxSessionTimeout=60000
`, data, port)
	cfgFile := filepath.Join(conf, "zoo.cfg")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		return "", err
	}
	logFile := filepath.Join(conf, "zookeeper.out")
	out, err := os.Create(logFile)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.jmx.log4j.disable=true",
		"-cp", conf+":"+ZooKeeperJar,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgFile)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); out.Close() }()
	stop := func() {
		// Only the process we started, by its PID.
		_ = cmd.Process.Kill()
		<-exited
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(60 * time.Second)
	for {
		// ruok answers imok as soon as the process runs; srvr shows
		// "Mode:" only once the server accepts client sessions.
		if ruok(addr) && strings.Contains(fourLetter(addr, "srvr"), "Mode:") {
			t.Cleanup(stop)
			return addr, nil
		}
		select {
		case err := <-exited:
			exited <- err
			b, _ := os.ReadFile(logFile)
			return "", fmt.Errorf("zookeeper exited (%v): %s", err, tail(b, 2000))
		default:
		}
		if time.Now().After(deadline) {
			stop()
			b, _ := os.ReadFile(logFile)
			return "", fmt.Errorf("zookeeper on %s not ready after 60s: %s", addr, tail(b, 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ruok sends ZooKeeper's four-letter health command.
func ruok(addr string) bool {
	return strings.HasPrefix(fourLetter(addr, "ruok"), "imok")
}

// fourLetter sends one of ZooKeeper's four-letter commands and returns
// the answer ("" on any error).
func fourLetter(addr, cmd string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(c, 64<<10))
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
