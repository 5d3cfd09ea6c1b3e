package gateway

import (
	"net/netip"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/model"
)

// EdgeRoute is one edge (marathon-lb) service as the apps' HAPROXY_*
// labels configure it: the port it binds, its vhosts and path, and the
// servers behind it.
type EdgeRoute struct {
	Name    string       `json:"name"`
	AppID   string       `json:"app_id"`
	Port    int64        `json:"port"`
	Mode    string       `json:"mode"`
	Groups  []string     `json:"groups"`
	Vhosts  []string     `json:"vhosts"`
	Path    string       `json:"path,omitempty"`
	Servers []EdgeServer `json:"servers"`
}

// EdgeServer is one task port behind an edge route.
type EdgeServer struct {
	Name     string `json:"name"`
	IP       string `json:"ip"`
	Port     int    `json:"port"`
	Draining bool   `json:"draining,omitempty"`
}

// EdgeDoc is the edge routes of every group, and the apps left out.
type EdgeDoc struct {
	Routes   []EdgeRoute `json:"routes"`
	Problems []string    `json:"problems"`
}

// edgeRoutes derives the edge's routes from a snapshot, for every group
// ("*"): what an edge would serve, whether or not one runs.
func edgeRoutes(s *model.Snapshot) EdgeDoc {
	doc := EdgeDoc{Routes: []EdgeRoute{}, Problems: []string{}}
	if s == nil {
		return doc
	}
	hosts := map[string]netip.Addr{}
	for _, a := range s.Agents {
		if a.IP.IsValid() {
			hosts[a.Hostname] = a.IP
			hosts[a.Host] = a.IP
		}
	}
	resolve := func(h string) (netip.Addr, bool) {
		if ip, err := netip.ParseAddr(h); err == nil {
			return ip, true
		}
		if ip, ok := hosts[h]; ok {
			return ip, true
		}
		if as := s.HostIPs[h]; len(as) > 0 {
			return as[0], true
		}
		return netip.Addr{}, false
	}
	cfg, err := edge.Build(s.Apps, edge.Options{Groups: []string{"*"}, Resolve: resolve})
	if err != nil {
		doc.Problems = append(doc.Problems, err.Error())
		return doc
	}
	for _, sv := range cfg.Services {
		r := EdgeRoute{Name: sv.Name, AppID: sv.AppID, Port: sv.Port, Mode: sv.Mode, Groups: sv.Groups, Vhosts: sv.Vhosts,
			Path: sv.Path, Servers: []EdgeServer{}}
		if r.Vhosts == nil {
			r.Vhosts = []string{}
		}
		if r.Groups == nil {
			r.Groups = []string{}
		}
		for _, srv := range sv.Servers {
			r.Servers = append(r.Servers, EdgeServer{Name: srv.Name, IP: srv.IP, Port: srv.Port, Draining: srv.Draining})
		}
		doc.Routes = append(doc.Routes, r)
	}
	for _, p := range cfg.Problems {
		doc.Problems = append(doc.Problems, p.String())
	}
	return doc
}
