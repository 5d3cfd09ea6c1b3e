package dcosdns

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/gossip"
	"github.com/sextantdc/sextant/internal/obs"
)

// APINode is one element of GET /v1/nodes (spec §D).
type APINode struct {
	PrivateIP string   `json:"private_ip"`
	PublicIPs []string `json:"public_ips"`
	Hostname  string   `json:"hostname"`
	Updated   string   `json:"updated"`
}

// apiHandler serves the dcos_rest routes of spec §D, /metrics and /health.
// Paths and JSON field names are dcos-net's; behind a gateway the same
// routes appear under /net/.
func (n *node) apiHandler() http.Handler {
	mux := http.NewServeMux()
	getJSON := func(path string, f func(w http.ResponseWriter, r *http.Request) any) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			v := f(w, r)
			if v == nil {
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v)
		})
	}
	getJSON("/v1/version", func(http.ResponseWriter, *http.Request) any {
		// dcos-net reports its dcos_dns application version constant.
		return map[string]string{"Service": "dcos-dns", "Version": "0.0.1"}
	})
	notImpl := func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "Not Implemented", http.StatusNotImplemented)
	}
	mux.HandleFunc("GET /v1/config", notImpl)
	mux.HandleFunc("GET /v1/enumerate", notImpl)
	mux.HandleFunc("GET /v1/records", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = n.handler.Index().WriteRecords(w)
	})
	getJSON("/v1/hosts/{host}", func(_ http.ResponseWriter, r *http.Request) any {
		return n.handler.Index().Hosts(r.PathValue("host"))
	})
	getJSON("/v1/services/{service}", func(_ http.ResponseWriter, r *http.Request) any {
		return n.handler.Index().Services(r.PathValue("service"))
	})
	if n.o.Routes["GET /v1/vips"] == nil {
		mux.HandleFunc("GET /v1/vips", func(w http.ResponseWriter, r *http.Request) {
			n.mu.Lock()
			b := n.vips
			n.mu.Unlock()
			if len(b) == 0 {
				b = []byte("[]")
			}
			obs.ServeETag(w, r, b)
		})
	}
	for pattern, h := range n.o.Routes {
		mux.Handle(pattern, h)
	}
	getJSON("/v1/nodes", func(http.ResponseWriter, *http.Request) any { return n.nodes() })
	metrics := obs.MetricsHandler(n.reg)
	mux.Handle("GET /metrics", metrics)
	// dcos-net's per-registry path; only the dns registry exists here.
	mux.HandleFunc("GET /v1/metrics/{registry...}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("registry") {
		case "", "dns", "default":
			metrics.ServeHTTP(w, r)
		default:
			http.Error(w, "Unknown Registry", http.StatusNotFound)
		}
	})
	health := &obs.Health{}
	health.SetSources(n.o.Sources)
	health.Add("zones", func() error {
		if n.handler.Index().Zone("dcos.thisdcos.directory") == nil {
			return errors.New("no dcos.thisdcos.directory zone yet (waiting for the leading master)")
		}
		return nil
	})
	if n.gossip != nil {
		health.Add("gossip", func() error {
			if n.gossip.LeaderName() == "" {
				return errors.New("no master is alive in the gossip cluster")
			}
			return nil
		})
	}
	mux.Handle("GET /health", health)
	return mux
}

// nodes lists the alive members this node knows, as /v1/nodes. dcos-net
// served its [dcos_net, nodes] key, which each node refreshed every
// 30 min; here every field comes from the gossip membership: private_ip
// and public_ips from the member's metadata (Options.NodeIP, PublicIPs),
// hostname from Options.Hostname (else the member name), and updated is
// when this node saw the member's state or metadata last change (joined,
// came back, metadata changed). Without gossip the node lists itself, with
// its start time.
func (n *node) nodes() []APINode {
	out := []APINode{}
	if n.gossip == nil {
		if n.o.NodeIP.IsValid() {
			host := n.o.Hostname
			if host == "" {
				host = n.o.NodeIP.String()
			}
			out = append(out, APINode{PrivateIP: n.o.NodeIP.String(), PublicIPs: ipStrings(*n.publicIPs.Load()), Hostname: host,
				Updated: apiTime(n.started)})
		}
		return out
	}
	for _, m := range n.gossip.Members() {
		if m.State != gossip.StateAlive {
			continue
		}
		host := m.Hostname
		if host == "" {
			host = strings.TrimSpace(m.Name)
		}
		out = append(out, APINode{PrivateIP: m.IP.String(), PublicIPs: ipStrings(m.PublicIPs), Hostname: host, Updated: apiTime(m.Since)})
	}
	return out
}

// apiTime formats a time as dcos-net did: UTC, milliseconds, "Z".
func apiTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func ipStrings(ips []netip.Addr) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}
