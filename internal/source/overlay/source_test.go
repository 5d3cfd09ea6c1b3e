package overlay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/model"
)

const state = `{"network":{"vtep_subnet":"44.128.0.0/20"},"agents":[
 {"ip":"10.0.0.7","overlays":[{"info":{"name":"dcos","subnet":"9.0.0.0/8","prefix":24},"subnet":"9.0.1.0/24",
   "mesos_bridge":{"name":"m-dcos","ip":"9.0.1.0/25"},"docker_bridge":{"name":"d-dcos","ip":"9.0.1.128/25"},
   "backend":{"vxlan":{"vni":1024,"vtep_name":"vtep1024","vtep_ip":"44.128.0.2/20","vtep_mac":"70:b3:d5:80:00:02"}},"state":{"status":"STATUS_OK"}}]},
 {"ip":"10.0.0.5","overlays":[{"info":{"name":"dcos","subnet":"9.0.0.0/8","prefix":24},"subnet":"9.0.0.0/24",
   "backend":{"vxlan":{"vni":1024,"vtep_name":"vtep1024","vtep_ip":"44.128.0.1/20","vtep_mac":"70:b3:d5:80:00:01"}},"state":{"status":"STATUS_OK"}}]},
 {"ip":"bogus","overlays":[]},
 {"ip":"10.0.0.9","overlays":[{"info":{"name":"dcos"},"backend":{"vxlan":{"vtep_ip":"44.128.0.3/20","vtep_mac":"zz"}}}]}
]}`

func TestTranslate(t *testing.T) {
	obs, err := Translate([]byte(state))
	if err != nil {
		t.Fatal(err)
	}
	if len(obs.Agents) != 2 || obs.Agents[0].IP.String() != "10.0.0.5" || len(obs.Problems) != 2 {
		t.Fatalf("%+v", obs)
	}
	if p := obs.Problems[1]; p.Field != "overlays[0].backend.vxlan.vtep_mac" || !strings.Contains(p.Item, "10.0.0.9") {
		t.Errorf("problem %+v", p)
	}
	a := obs.Agents[1]
	s := a.Subnets[0]
	if a.VTEP.String() != "44.128.0.2/20" || a.MAC.String() != "70:b3:d5:80:00:02" || s.Block.String() != "9.0.1.0/24" ||
		s.MesosBridge.String() != "9.0.1.0/25" || s.DockerBridge.String() != "9.0.1.128/25" || s.Space.String() != "9.0.0.0/8" || s.Status != "STATUS_OK" {
		t.Errorf("%+v %+v", a, s)
	}
	if _, err := Translate([]byte(`{"agents":{}}`)); err == nil {
		t.Error("a wholly bad state translated")
	}
}

type pub struct {
	mu    sync.Mutex
	obs   []*model.OverlayObservation
	fails int
}

func (p *pub) PublishOverlay(o *model.OverlayObservation) {
	p.mu.Lock()
	p.obs = append(p.obs, o)
	p.mu.Unlock()
}
func (p *pub) Fail(string, error) { p.mu.Lock(); p.fails++; p.mu.Unlock() }

func TestSourcePublishesChangesAndFails(t *testing.T) {
	var mu sync.Mutex
	body, code := state, 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/overlay-master/state" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	p := &pub{}
	s, err := New(Options{URLs: []string{srv.URL}, Interval: 20 * time.Millisecond}, p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	wait := func(what string, f func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			p.mu.Lock()
			ok := f()
			p.mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("first observation", func() bool { return len(p.obs) == 1 })
	time.Sleep(100 * time.Millisecond)
	p.mu.Lock()
	if len(p.obs) != 1 {
		t.Errorf("an unchanged state was published again: %d", len(p.obs))
	}
	p.mu.Unlock()
	mu.Lock()
	body = `{"agents":"torn`
	mu.Unlock()
	wait("a failed read", func() bool { return p.fails > 0 && len(p.obs) == 1 })
	mu.Lock()
	body = strings.Replace(state, "10.0.0.7", "10.0.0.8", 1)
	mu.Unlock()
	wait("the new state", func() bool {
		return len(p.obs) == 2 && p.obs[1].Agents[1].IP == netip.MustParseAddr("10.0.0.8")
	})
}

func FuzzTranslate(f *testing.F) {
	f.Add([]byte(state))
	f.Add([]byte(`{"agents":[{"ip":"10.0.0.1","overlays":[{"backend":{}}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		obs, err := Translate(b)
		if err != nil {
			return
		}
		for i, a := range obs.Agents {
			if !a.IP.IsValid() || len(a.MAC) != 0 && len(a.MAC) != 6 {
				t.Fatalf("bad agent kept: %+v", a)
			}
			if i > 0 && obs.Agents[i-1].IP.Compare(a.IP) >= 0 {
				t.Fatal("agents not sorted and unique")
			}
		}
	})
}
