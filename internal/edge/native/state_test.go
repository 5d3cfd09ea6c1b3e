package native

import (
	"context"
	"strconv"
	"testing"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
	"github.com/sextantdc/sextant/internal/model"
)

// Redeploys replace servers: the engine keeps no state for those gone.
func TestStateDoesNotGrow(t *testing.T) {
	e := New(Options{})
	t.Cleanup(func() { e.Close() })
	for i := range 10 {
		app := model.App{ID: "/a", Network: model.NetworkHost, Labels: map[string]string{"HAPROXY_GROUP": "g",
			"HAPROXY_0_BIND_ADDR": "127.0.0.1"}, Ports: []model.AppPort{{ServicePort: 0, Protocol: "tcp"}}}
		// No service port: no listener, only a backend with servers.
		app.Ports[0].ServicePort = uint16(20000 + i%2)
		for k := range 3 {
			app.Tasks = append(app.Tasks, model.AppTask{ID: "a." + strconv.Itoa(k), Host: "127.0.0.1",
				State: model.TaskRunning, Ports: []uint16{uint16(40000 + 10*i + k)}})
		}
		g, err := haproxy.Generate([]model.App{app}, edge.Options{Groups: []string{"g"}}, haproxy.Default())
		if err != nil {
			t.Fatal(err)
		}
		e.o.ServiceAddr = func(string, int64) string { return "127.0.0.1:0" }
		if err := e.Apply(context.Background(), g); err != nil {
			t.Fatal(err)
		}
		e.mu.Lock()
		states, counters := len(e.states), len(e.counters)
		e.mu.Unlock()
		if states != 3 || counters != 3+1+1 { // servers, backend, frontend
			t.Fatalf("after %d redeploys: %d server states, %d counters", i+1, states, counters)
		}
	}
}
