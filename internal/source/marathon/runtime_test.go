package marathon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/runtime"
	"github.com/sextantdc/sextant/internal/testutil"
)

// TestLocalRuntime runs the source against Sextant's own local runtime,
// which serves the Marathon API with Jetty's SSE framing: an app POSTed
// there, with labels, a named port and a health check, reaches a
// published observation with its task, its port and its health result;
// deleting it removes it.
func TestLocalRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	rt, err := runtime.New(runtime.Config{StateDir: t.TempDir(), MaxTasks: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = rt.Run(ctx); close(stopped) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(wait):
			t.Error("runtime did not stop")
		}
	})
	srv := httptest.NewServer(runtime.NewAPI(rt, runtime.APIOptions{Heartbeat: 200 * time.Millisecond}))
	t.Cleanup(srv.Close)

	rec := &recorder{}
	s := run(t, Options{URLs: []string{srv.URL}, StreamIdleTimeout: 5 * time.Second}, rec)
	testutil.Eventually(t, wait, "attached to the runtime", func() bool { return s.Status().Streaming && rec.last() != nil })

	resp, err := http.Post(srv.URL+"/v2/apps", "application/json", strings.NewReader(`{"id":"/dev/web","cmd":"exec sleep 60",
		"labels":{"HAPROXY_GROUP":"external","HAPROXY_0_VHOST":"web.example"},
		"portDefinitions":[{"port":0,"name":"http","labels":{"VIP_0":"/web:80"}}],
		"healthChecks":[{"protocol":"COMMAND","command":{"value":"true"},"delaySeconds":0,"gracePeriodSeconds":0,"intervalSeconds":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %s", resp.Status)
	}
	var obs *model.MarathonObservation
	var app model.App
	testutil.Eventually(t, wait, "a healthy running task in an observation", func() bool {
		obs = rec.last()
		if obs == nil || len(obs.Apps) != 1 {
			return false
		}
		app = obs.Apps[0]
		if len(app.Tasks) != 1 {
			return false
		}
		tk := app.Tasks[0]
		return tk.State == model.TaskRunning && len(tk.HealthResults) == 1 && tk.HealthResults[0].Alive
	})
	if len(obs.Problems) != 0 {
		t.Fatalf("problems decoding the runtime's apps: %v", obs.Problems)
	}
	p := app.Ports
	if app.ID != "/dev/web" || app.Labels["HAPROXY_GROUP"] != "external" || app.Labels["HAPROXY_0_VHOST"] != "web.example" ||
		app.Network != model.NetworkHost || len(p) != 1 || p[0].Name != "http" || p[0].ServicePort == 0 || p[0].Labels["VIP_0"] != "/web:80" ||
		len(app.HealthChecks) != 1 || app.HealthChecks[0].Protocol != "COMMAND" || app.HealthChecks[0].Command != "true" || app.Version == "" {
		t.Fatalf("app %+v", app)
	}
	tk := app.Tasks[0]
	if len(tk.Ports) != 1 || tk.Ports[0] == 0 || tk.Host == "" || len(tk.IPAddresses) != 1 {
		t.Fatalf("task %+v", tk)
	}
	snap := model.Build(model.Observations{Marathon: obs}, model.BuildOptions{})
	a, _ := snap.App("/dev/web")
	if ep := a.Tasks[0].Endpoints; len(ep) != 1 || ep[0].Port != tk.Ports[0] || ep[0].Name != "http" || a.Tasks[0].Health != model.Healthy {
		t.Fatalf("endpoints %+v health %v", ep, a.Tasks[0].Health)
	}

	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/v2/apps/dev/web", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	testutil.Eventually(t, wait, "the app gone from the observations", func() bool {
		o := rec.last()
		return o != nil && len(o.Apps) == 0
	})
}
