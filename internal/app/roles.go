package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sextantdc/sextant/internal/dcosdns"
	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/mesosdns/config"
	"github.com/sextantdc/sextant/internal/mesosdns/role"
	"github.com/sextantdc/sextant/internal/obs"
	"github.com/sextantdc/sextant/internal/zonepub"
)

// upRole is a consumer `sextant up` runs on the one hub: it is handed a
// subscription and never builds a source of its own.
type upRole struct {
	name      string
	listeners []listener
	// add adds the role's parts to the pipeline.
	add func(pl *pipeline, log *slog.Logger, health *obs.Health) error
}

// readinessCheck adds a /health check named name that fails with notYet
// until the returned function is called (once, when the role is ready).
func readinessCheck(health *obs.Health, name, notYet string) func() {
	ready := make(chan struct{})
	health.Add(name, func() error {
		select {
		case <-ready:
			return nil
		default:
			return errors.New(notYet)
		}
	})
	return sync.OnceFunc(func() { close(ready) })
}

// upRoles lists the consumers of `sextant up`.
func upRoles(f UpConfig) []upRole {
	return []upRole{mesosDNSRole(f), nodeDNSRole(f), l4lbRole(f), edgeUpRole(f), gatewayRole(f)}
}

// nodeDNSRole is the node DNS role (dcos-dns): thisdcos.directory zones
// built from the snapshots, `.mesos` forwarded to the Mesos-DNS role. It
// runs standalone (no gossip: one node) and forwards nothing else. It is
// health-aware: a task failing its health checks leaves its names.
func nodeDNSRole(f UpConfig) upRole {
	return upRole{
		name: "dcos-dns",
		listeners: []listener{
			{flag: "node-dns-addr", key: "node_dns", addr: f.NodeDNSAddr},
			{flag: "net-api-addr", key: "net_api", addr: f.NetAPIAddr, http: true},
		},
		add: func(pl *pipeline, log *slog.Logger, health *obs.Health) error {
			ip, err := netip.ParseAddr(f.IP)
			if err != nil {
				return fmt.Errorf("--ip: %q is not an IP address", f.IP)
			}
			ready := readinessCheck(health, "dcos-dns", "not listening yet")
			pl.nodeDNS(dcosdns.Options{Role: dcosdns.RoleMaster, Listen: []string{f.NodeDNSAddr}, APIAddr: f.NetAPIAddr,
				MesosDNS: []string{f.DNSAddr}, Masters: []netip.Addr{ip}, NodeIP: ip, Registry: obs.NewRegistry(),
				Logger: log, Version: f.Version, Ready: func(dcosdns.Ready) { ready() }},
				&zonepub.Options{PublishInterval: zonepub.StandalonePublishInterval, VIPAddr: vipDNSAddr(f.L4LBPlane, f.L4LBLoopback)})
			return nil
		},
	}
}

// mesosDNSConfig is the Mesos-DNS config.json `sextant up` gives the role:
// the local master (read by the shared Mesos source), no forwarding (the
// cluster is local), and health-aware names.
func mesosDNSConfig(mesosAddr, dnsAddr string) (*config.Config, error) {
	host, port, err := net.SplitHostPort(dnsAddr)
	if err != nil {
		return nil, fmt.Errorf("--dns-addr %q: %w", dnsAddr, err)
	}
	p, _ := strconv.Atoi(port)
	doc := map[string]any{
		"masters":        []string{strings.TrimPrefix(mesosAddr, "http://")},
		"refreshSeconds": int(upRefresh / time.Second),
		"listener":       host,
		"port":           p,
		"externalon":     false,
		"IPSources":      []string{"netinfo", "mesos", "host"},
		"healthAware":    true,
	}
	b, _ := json.Marshal(doc)
	cfg, _, err := config.Parse(b, "sextant-up-mesos-dns.json", config.Options{})
	return cfg, err
}

func mesosDNSRole(f UpConfig) upRole {
	return upRole{
		name: "mesos-dns",
		listeners: []listener{
			{flag: "dns-addr", key: "dns", addr: f.DNSAddr},
			{flag: "mesos-dns-http-addr", key: "mesos_dns_http", addr: f.MesosDNSHTTPAddr, http: true},
		},
		add: func(pl *pipeline, log *slog.Logger, health *obs.Health) error {
			cfg, err := mesosDNSConfig(f.MesosAddr, f.DNSAddr)
			if err != nil {
				return err
			}
			ready := readinessCheck(health, "mesos-dns", "no records loaded yet")
			pl.consumer("mesos-dns", func(ctx context.Context, sub *hub.Subscription) error {
				return role.Run(ctx, cfg, sub, role.Options{Version: f.Version, Logger: log, DNSAddr: f.DNSAddr, HTTPAddr: f.MesosDNSHTTPAddr,
					Status: pl.hub, Ready: func(role.Addrs) { ready() }})
			})
			return nil
		},
	}
}
