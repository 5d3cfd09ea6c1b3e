//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tu "github.com/sextantdc/sextant/internal/testutil"
)

// `sextant master --overlay` and `sextant agent --overlay` on two hosts
// made of network namespaces: the agent registers, both program each
// other, the master reaches a container on the agent across VXLAN, and the
// allocation survives a master restart.
func TestOverlayMasterAndAgentCommands(t *testing.T) {
	if !tu.IsRoot() {
		t.Skip("needs root: the hosts are network namespaces")
	}
	tu.NeedTool(t, "ip")
	tu.NeedTool(t, "ping")
	curl := tu.NeedTool(t, "curl")
	bin := tu.Binary(t)
	prefix := fmt.Sprintf("oe%d", os.Getpid()%100000)
	sh := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ns := func(name string) string {
		full := prefix + name
		sh("ip", "netns", "add", full)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", full).Run() })
		sh("ip", "-n", full, "link", "set", "lo", "up")
		return full
	}
	ul := ns("ul")
	sh("ip", "-n", ul, "link", "add", "br0", "type", "bridge")
	sh("ip", "-n", ul, "link", "set", "br0", "up")
	var hosts []string
	for i := 1; i <= 2; i++ {
		h := ns(fmt.Sprintf("h%d", i))
		sh("ip", "-n", ul, "link", "add", fmt.Sprintf("u%d", i), "type", "veth", "peer", "name", "eth0", "netns", h)
		sh("ip", "-n", ul, "link", "set", fmt.Sprintf("u%d", i), "master", "br0", "up")
		sh("ip", "-n", h, "addr", "add", fmt.Sprintf("10.80.0.%d/24", i), "dev", "eth0")
		sh("ip", "-n", h, "link", "set", "eth0", "up")
		sh("ip", "netns", "exec", h, "sysctl", "-qw", "net.ipv4.ip_forward=1")
		hosts = append(hosts, h)
	}
	state := filepath.Join(t.TempDir(), "overlay-state.json")
	startMaster := func() *tu.Process {
		return tu.StartProcess(t, exec.Command("ip", "netns", "exec", hosts[0], bin, "master", "--mesos", "127.0.0.1:1",
			"--dns-listen", "127.0.0.1:18053", "--api-addr", "", "--overlay", "--overlay-addr", "10.80.0.1:15050",
			"--overlay-ip", "10.80.0.1", "--overlay-state", state))
	}
	m := startMaster()
	a := tu.StartProcess(t, exec.Command("ip", "netns", "exec", hosts[1], bin, "agent", "--dns-listen", "127.0.0.1:18053",
		"--api-addr", "", "--overlay", "--overlay-addr", "10.80.0.2:15051", "--overlay-ip", "10.80.0.2",
		"--overlay-masters", "http://10.80.0.1:15050"))
	type info struct {
		IP       string `json:"ip"`
		Overlays []struct {
			Subnet      string `json:"subnet"`
			MesosBridge *struct {
				IP string `json:"ip"`
			} `json:"mesos_bridge"`
			State struct {
				Status string `json:"status"`
			} `json:"state"`
		} `json:"overlays"`
	}
	get := func(host, url string, v any) error {
		out, err := exec.Command("ip", "netns", "exec", host, curl, "-sf", url).Output()
		if err != nil {
			return err
		}
		return json.Unmarshal(out, v)
	}
	var ai info
	tu.Eventually(t, 60*time.Second, "the agent configured", func() bool {
		return get(hosts[1], "http://10.80.0.2:15051/overlay-agent/overlay", &ai) == nil && len(ai.Overlays) == 1 &&
			ai.Overlays[0].State.Status == "STATUS_OK" && ai.Overlays[0].MesosBridge != nil
	})
	var mi info
	tu.Eventually(t, 60*time.Second, "the master's own agent part configured", func() bool {
		return get(hosts[0], "http://10.80.0.1:15050/overlay-agent/overlay", &mi) == nil && len(mi.Overlays) == 1 &&
			mi.Overlays[0].State.Status == "STATUS_OK"
	})
	if mi.Overlays[0].MesosBridge != nil || mi.Overlays[0].Subnet == ai.Overlays[0].Subnet {
		t.Fatalf("master %+v agent %+v", mi, ai)
	}
	// A container on the agent's m-dcos, reached from the master.
	c := ns("c")
	br := ai.Overlays[0].MesosBridge.IP // 9.0.1.0/25
	base := strings.TrimSuffix(strings.Split(br, "/")[0], "0")
	sh("ip", "-n", hosts[1], "link", "add", "vc", "type", "veth", "peer", "name", "eth0", "netns", c)
	sh("ip", "-n", hosts[1], "link", "set", "vc", "master", "m-dcos", "up")
	sh("ip", "-n", c, "addr", "add", base+"2/25", "dev", "eth0")
	sh("ip", "-n", c, "link", "set", "eth0", "up")
	sh("ip", "-n", c, "route", "add", "default", "via", base+"1")
	tu.Eventually(t, 60*time.Second, "master → container across VXLAN", func() bool {
		return exec.Command("ip", "netns", "exec", hosts[0], "ping", "-c", "1", "-W", "1", base+"2").Run() == nil
	})
	// The master restarts on its state file: same allocation.
	if err, _ := m.Stop(10 * time.Second); err != nil {
		t.Logf("master exit: %v", err)
	}
	m = startMaster()
	var st struct {
		Agents []info `json:"agents"`
	}
	tu.Eventually(t, 60*time.Second, "the state after the restart", func() bool {
		return get(hosts[0], "http://10.80.0.1:15050/overlay-master/state", &st) == nil && len(st.Agents) == 2
	})
	for _, ag := range st.Agents {
		if ag.IP == "10.80.0.2" && ag.Overlays[0].Subnet != ai.Overlays[0].Subnet {
			t.Errorf("agent moved from %s to %s", ai.Overlays[0].Subnet, ag.Overlays[0].Subnet)
		}
	}
	_ = a
}
