package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/model"
)

// watchCluster is one agent running /tools/echo with n tasks, each on
// its own host port, behind the VIP /echo:7.
func watchCluster(n int) (*model.MesosObservation, *model.MarathonObservation) {
	lo := netip.MustParseAddr("127.0.0.1")
	mo := &model.MesosObservation{
		Leader:     model.Leader{Raw: "master@127.0.0.1:5050", Host: "127.0.0.1", Port: 5050, OK: true},
		Agents:     []model.Agent{{ID: "S1", PID: "slave(1)@127.0.0.1:5051", Host: "127.0.0.1", Port: 5051, Addrs: []netip.Addr{lo}, IP: lo}},
		Frameworks: []model.Framework{{ID: "fw-marathon", Name: "marathon", Active: true}},
	}
	app := model.App{ID: "/tools/echo", Instances: n, Ports: []model.AppPort{{Name: "echo", Protocol: "tcp", Labels: map[string]string{"VIP_0": "/echo:7"}}}}
	for i := 0; i < n; i++ {
		id := "tools_echo." + strconv.Itoa(i)
		port := uint64(31000 + i)
		mo.Tasks = append(mo.Tasks, model.Task{ID: id, Name: "echo.tools", AgentID: "S1", State: model.TaskRunning, Ports: []uint64{port},
			Labels: nil, Discovery: &model.Discovery{Name: "echo.tools", Ports: []model.DiscoveryPort{{Number: uint32(port), Name: "echo", Protocol: "tcp",
				Labels: []model.Label{{Key: "VIP_0", Value: "/echo:7"}, {Key: "network-scope", Value: "host"}}}}}})
		app.Tasks = append(app.Tasks, model.AppTask{ID: id, Host: "127.0.0.1", SlaveID: "S1", State: model.TaskRunning, Ports: []uint16{uint16(port)}})
	}
	mo.Frameworks[0].End = len(mo.Tasks)
	return mo, &model.MarathonObservation{Apps: []model.App{app}}
}

type watchFixture struct {
	h   *hub.Hub
	w   *Watch
	srv *httptest.Server
}

func newWatchFixture(t *testing.T) *watchFixture {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := hub.New(hub.Options{Settle: 10 * time.Millisecond})
	h.Register(hub.Mesos)
	h.Register(hub.Marathon)
	go func() { _ = h.Run(ctx) }()
	mo, ma := watchCluster(1)
	h.PublishMesos(mo)
	h.PublishMarathon(ma)
	w := NewWatch(WatchOptions{Heartbeat: time.Second})
	sub := h.Subscribe()
	t.Cleanup(sub.Close)
	go func() { _ = w.Run(ctx, sub.Snapshots(ctx)) }()
	gw := New(Options{Current: h.Current, Watch: w})
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	deadline := time.Now().Add(30 * time.Second)
	for !w.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the watch saw no snapshot")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &watchFixture{h: h, w: w, srv: srv}
}

func (wf *watchFixture) scale(n int) {
	mo, ma := watchCluster(n)
	wf.h.PublishMesos(mo)
	wf.h.PublishMarathon(ma)
}

func getJSON(t *testing.T, url string, v any) http.Header {
	t.Helper()
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, b)
	}
	return resp.Header
}

func TestEndpointsAPI(t *testing.T) {
	wf := newWatchFixture(t)
	var names []string
	getJSON(t, wf.srv.URL+"/service/tools/echo/v1/endpoints", &names)
	if strings.Join(names, ",") != "echo" {
		t.Fatalf("names %v", names)
	}
	var ep Endpoint
	getJSON(t, wf.srv.URL+"/service/tools/echo/v1/endpoints/echo", &ep)
	if strings.Join(ep.Address, ",") != "127.0.0.1:31000" || ep.VIP != "echo.marathon.l4lb.thisdcos.directory:7" ||
		strings.Join(ep.DNS, ",") != "echo-tools.marathon.autoip.dcos.thisdcos.directory:31000" {
		t.Errorf("endpoint %+v", ep)
	}
	resp, err := http.Get(wf.srv.URL + "/service/tools/echo/v1/endpoints/nope")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || len(b) != 0 {
		t.Errorf("unknown endpoint: %d %q, want 404 with an empty body", resp.StatusCode, b)
	}
	var vips []VIPDoc
	getJSON(t, wf.srv.URL+"/discovery/v1/vips", &vips)
	if len(vips) != 1 || vips[0].VIP != "echo.marathon.l4lb.thisdcos.directory:7" || len(vips[0].Backend) != 1 ||
		vips[0].Backend[0].TaskID != "tools_echo.0" || len(vips[0].Addrs) != 1 {
		t.Errorf("vips %+v", vips)
	}
}

// TestLongPollWakesOnChange: a client waiting with ?index= gets the new
// endpoints within a second of the app scaling.
func TestLongPollWakesOnChange(t *testing.T) {
	wf := newWatchFixture(t)
	var ep Endpoint
	hdr := getJSON(t, wf.srv.URL+"/service/tools/echo/v1/endpoints/echo", &ep)
	idx := hdr.Get("X-Sextant-Index")
	if idx == "" || idx == "0" {
		t.Fatalf("index %q", idx)
	}
	type result struct {
		ep  Endpoint
		idx string
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		var ep Endpoint
		h := getJSON(t, wf.srv.URL+"/service/tools/echo/v1/endpoints/echo?index="+idx+"&wait=60s", &ep)
		done <- result{ep, h.Get("X-Sextant-Index"), time.Now()}
	}()
	// The poll must be waiting, not answered at once.
	select {
	case r := <-done:
		t.Fatalf("the long poll returned before any change: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	changed := time.Now()
	wf.scale(2)
	select {
	case r := <-done:
		if len(r.ep.Address) != 2 || r.idx == idx {
			t.Errorf("after scaling: %+v index %s (was %s)", r.ep, r.idx, idx)
		}
		if d := r.at.Sub(changed); d > time.Second {
			t.Errorf("the change took %v to reach the long poll, want < 1s", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the long poll never returned")
	}
	// An index in the past answers at once.
	start := time.Now()
	getJSON(t, wf.srv.URL+"/service/tools/echo/v1/endpoints/echo?index=0", &ep)
	if time.Since(start) > 10*time.Second {
		t.Error("a past index waited")
	}
}

// TestEventStreamFollowsChanges: an SSE client gets the VIPs at once and
// again within a second of every change.
func TestEventStreamFollowsChanges(t *testing.T) {
	wf := newWatchFixture(t)
	req, _ := http.NewRequest("GET", wf.srv.URL+"/discovery/v1/vips", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	events := make(chan []VIPDoc, 8)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var v []VIPDoc
				if json.Unmarshal([]byte(d), &v) == nil {
					events <- v
				}
			}
		}
		close(events)
	}()
	next := func() []VIPDoc {
		select {
		case v, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			return v
		case <-time.After(30 * time.Second):
			t.Fatal("no event")
		}
		return nil
	}
	if v := next(); len(v) != 1 || len(v[0].Backend) != 1 {
		t.Fatalf("first event %+v", v)
	}
	for _, n := range []int{3, 2} {
		changed := time.Now()
		wf.scale(n)
		v := next()
		if d := time.Since(changed); d > time.Second {
			t.Errorf("scale to %d reached the stream after %v, want < 1s", n, d)
		}
		if len(v) != 1 || len(v[0].Backend) != n {
			t.Errorf("after scaling to %d: %+v", n, v)
		}
	}
}

func TestWatchBadParameters(t *testing.T) {
	wf := newWatchFixture(t)
	for _, q := range []string{"?index=x", "?index=-1", "?index=1&wait=forever"} {
		resp, err := http.Get(wf.srv.URL + "/discovery/v1/vips" + q)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "index") && !strings.Contains(string(b), "wait") {
			t.Errorf("%s: %d %q", q, resp.StatusCode, b)
		}
	}
}
