package app

import (
	"io"
	"net/http"
	"net/netip"
	"testing"

	"github.com/sextantdc/sextant/internal/source/mesosagent"
	"github.com/sextantdc/sextant/internal/vip"
)

// An agent's own backend set: its VIP tasks' backends, all on the node IP
// the writer speaks for.
func TestOwnBackends(t *testing.T) {
	srv := fakeAgent(t, "S1", "127.0.0.1", 8080, "11.22.33.44:80")
	resp, err := http.Get(srv.URL + "/state")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	st, skipped, err := mesosagent.Parse(b)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("parse: %v %v", err, skipped)
	}
	node := netip.MustParseAddr("10.9.9.9")
	payload, probs, err := ownBackends(st, node)
	if err != nil {
		t.Fatal(err)
	}
	var tab vip.Table
	if err := tab.UnmarshalBinary(payload); err != nil {
		t.Fatal(err)
	}
	if len(tab.VIPs) != 1 || len(tab.VIPs[0].Backends) != 1 {
		t.Fatalf("table %+v, problems %v (state %s)", tab, probs, b)
	}
	if be := tab.VIPs[0].Backends[0]; be.AgentIP != node || be.IP != netip.MustParseAddr("127.0.0.1") || be.Port != 8080 {
		t.Errorf("backend %+v", be)
	}
}
