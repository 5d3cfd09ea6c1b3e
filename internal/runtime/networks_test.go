package runtime

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/testutil"
)

// fakeNets hands out addresses and records who joined and left; Enter
// just starts the process.
type fakeNets struct {
	mu     sync.Mutex
	joined map[string]string
	left   []string
}

func (f *fakeNets) Join(taskID, network string) (Joined, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if network != "dcos" {
		return Joined{}, errors.New("no such network")
	}
	f.joined[taskID] = network
	return Joined{IP: "9.0.0.2", Enter: func(start func() error) error { return start() }}, nil
}

func (f *fakeNets) Leave(taskID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.left = append(f.left, taskID)
}

func startRT(t *testing.T, c Config) *Runtime {
	t.Helper()
	c.StateDir = t.TempDir()
	rt, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = rt.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return rt
}

func TestContainerNetworkTask(t *testing.T) {
	nets := &fakeNets{joined: map[string]string{}}
	rt := startRT(t, Config{Networks: nets})
	for _, js := range []string{
		`{"id":"/ov","cmd":"exec sleep 60","networks":[{"mode":"container","name":"dcos"}]}`,
		`{"id":"/old","cmd":"exec sleep 60","ipAddress":{"networkName":"dcos"}}`,
		`{"id":"/host","cmd":"exec sleep 60"}`,
	} {
		if _, _, err := rt.CreateApp(mustApp(t, js), nil); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 20*time.Second, "three tasks running", func() bool {
		n := 0
		for _, mt := range rt.State().Frameworks[0].Tasks {
			if mt.State == "TASK_RUNNING" {
				n++
			}
		}
		return n == 3
	})
	for _, mt := range rt.State().Frameworks[0].Tasks {
		last := mt.Statuses[len(mt.Statuses)-1]
		ip := last.ContainerStatus.NetworkInfos[0].IPAddresses[0].IPAddress
		want := "9.0.0.2"
		if strings.HasPrefix(mt.ID, "host.") {
			want = "127.0.0.1"
		} else if mt.Container.NetworkInfos[0].IPAddresses[0].IPAddress != want || last.ContainerStatus.NetworkInfos[0].Name != "dcos" {
			t.Errorf("%s: network infos %+v / %+v", mt.ID, mt.Container.NetworkInfos, last.ContainerStatus.NetworkInfos)
		}
		if ip != want {
			t.Errorf("%s: status ip %s, want %s", mt.ID, ip, want)
		}
	}
	ts, _ := rt.Tasks("/ov", nil, false)
	if ips := ts[0]["ipAddresses"].([]map[string]string); ips[0]["ipAddress"] != "9.0.0.2" {
		t.Errorf("marathon ipAddresses %v", ips)
	}
	if len(nets.joined) != 2 {
		t.Errorf("joined %v", nets.joined)
	}
	if _, err := rt.DeleteApp("/ov", false); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "left", func() bool {
		nets.mu.Lock()
		defer nets.mu.Unlock()
		return len(nets.left) == 1
	})
}

func TestContainerNetworkUnavailable(t *testing.T) {
	rt := startRT(t, Config{NetworksUnavailable: "needs root"})
	for _, js := range []string{
		`{"id":"/ov","cmd":"exec sleep 60","networks":[{"mode":"container","name":"dcos"}]}`,
		`{"id":"/host","cmd":"exec sleep 60"}`,
	} {
		if _, _, err := rt.CreateApp(mustApp(t, js), nil); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 20*time.Second, "host app running, overlay app failing with the reason", func() bool {
		hostOK := false
		for _, mt := range rt.State().Frameworks[0].Tasks {
			hostOK = hostOK || strings.HasPrefix(mt.ID, "host.") && mt.State == "TASK_RUNNING"
		}
		a, ok := rt.AppView("/ov", ViewOptions{LastTaskFailure: true})
		if !ok {
			return false
		}
		lf, _ := a["lastTaskFailure"].(*taskFailure)
		return hostOK && lf != nil && strings.Contains(lf.Message, "container networks are unavailable: needs root") && lf.State == "TASK_FAILED"
	})
}
