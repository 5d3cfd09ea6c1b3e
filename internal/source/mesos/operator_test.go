package mesos

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/master"
	tu "github.com/sextantdc/sextant/internal/testutil"
)

// TestOperatorStreamEndToEnd runs the source against a master serving the
// real v1 operator API: the stream, not the (hourly) poll, must deliver a
// task change, and it must carry the basic credential.
func TestOperatorStreamEndToEnd(t *testing.T) {
	prov := master.NewMemProvider(nil)
	srv := httptest.NewUnstartedServer(nil)
	addr := srv.Listener.Addr().String()
	prov.Set(parsed(t, testState(t, addr, "first")))
	srv.Config.Handler = master.NewHandler(prov, master.Options{
		HeartbeatInterval: time.Second,
		Authenticate: func(r *http.Request) bool {
			u, p, ok := r.BasicAuth()
			return ok && u == "p" && p == "s"
		},
	}, nil)
	srv.Start()
	t.Cleanup(srv.Close)

	h := run(t, Options{Masters: []string{addr}, Basic: &BasicAuth{Principal: "p", Secret: "s"}})
	tu.Eventually(t, wait, "streamed snapshot", func() bool {
		s := h.rec.lastSnap()
		return s != nil && h.rec.streamed() && h.rec.taskName() == "first"
	})
	start := time.Now()
	prov.Set(parsed(t, testState(t, addr, "second")))
	tu.Eventually(t, wait, "change delivered by the stream", func() bool { return h.rec.taskName() == "second" })
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("change took %v through the stream", d)
	} else {
		t.Logf("task change reached the model in %v", d)
	}
	// The streamed state names the leader, so leader records survive.
	if s := h.rec.lastSnap(); !s.Leader.OK || s.Leader.Host != "127.0.0.1" || len(s.Agents) != 1 || len(s.Frameworks) != 1 {
		t.Fatalf("streamed snapshot leader %+v agents %d frameworks %d", s.Leader, len(s.Agents), len(s.Frameworks))
	}
	if st := h.src.Status(); !st.Streaming {
		t.Fatalf("status %+v", st)
	}
}
