package main

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
	"github.com/sextantdc/sextant/internal/mesos/operator"
	"github.com/sextantdc/sextant/internal/mesosdns/config"
	"github.com/sextantdc/sextant/internal/mesosdns/role"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/obs"
	mesossrc "github.com/sextantdc/sextant/internal/source/mesos"
)

// upRole is a networking role `sextant up` runs against the local Mesos
// API, through the same client it uses against a real cluster.
type upRole struct {
	name      string
	listeners []listener
	run       func(ctx context.Context, mesosAddr string, log *slog.Logger, health *obs.Health) error
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

// upRoles lists the roles built into this binary.
func upRoles(f upFlags) []upRole {
	return []upRole{mesosDNSRole(f), nodeDNSRole(f)}
}

// nodeDNSRole is the node-local DNS (dcos-dns): thisdcos.directory zones
// built from the local Mesos API, `.mesos` forwarded to the Mesos-DNS role.
// It runs standalone (no gossip: one node) and forwards nothing else.
func nodeDNSRole(f upFlags) upRole {
	return upRole{
		name: "dcos-dns",
		listeners: []listener{
			{flag: "directory-dns-addr", key: "directory_dns", addr: f.directoryDNSAddr},
			{flag: "net-api-addr", key: "net_api", addr: f.netAPIAddr, http: true},
		},
		run: func(ctx context.Context, mesosAddr string, log *slog.Logger, health *obs.Health) error {
			ip, err := netip.ParseAddr(f.ip)
			if err != nil {
				return fmt.Errorf("--ip: %q is not an IP address", f.ip)
			}
			ready := readinessCheck(health, "dcos-dns", "not listening yet")
			reg := obs.NewRegistry()
			so := mesossrc.Options{Masters: []string{mesosAddr}, RefreshInterval: 5 * time.Second, Registerer: reg,
				Logger:   log.With("component", "mesos-source"),
				Streamer: mesossrc.OperatorStreamer(operator.Options{Logger: log.With("component", "mesos-stream")})}
			return runWithMesos(ctx, so, func(ctx context.Context, snaps <-chan *model.Snapshot) error {
				return dcosdns.Run(ctx, dcosdns.Options{Role: dcosdns.RoleMaster, Listen: []string{f.directoryDNSAddr}, APIAddr: f.netAPIAddr,
					MesosDNS: []string{f.dnsAddr}, Masters: []netip.Addr{ip}, NodeIP: ip, Snapshots: snaps, Registry: reg,
					Logger: log, Version: version, Ready: func(dcosdns.Ready) { ready() }})
			})
		},
	}
}

// mesosDNSConfig is the Mesos-DNS config.json `sextant up` gives the role:
// the local master, the operator event stream for sub-second updates and a
// short polling safety net, no forwarding (the cluster is local).
func mesosDNSConfig(mesosAddr, dnsAddr string) (*config.Config, error) {
	host, port, err := net.SplitHostPort(dnsAddr)
	if err != nil {
		return nil, fmt.Errorf("--dns-addr %q: %w", dnsAddr, err)
	}
	p, _ := strconv.Atoi(port)
	doc := map[string]any{
		"masters":        []string{strings.TrimPrefix(mesosAddr, "http://")},
		"refreshSeconds": 5,
		"listener":       host,
		"port":           p,
		"externalon":     false,
		"IPSources":      []string{"netinfo", "mesos", "host"},
	}
	b, _ := json.Marshal(doc)
	cfg, _, err := config.Parse(b, "sextant-up-mesos-dns.json", config.Options{})
	return cfg, err
}

func mesosDNSRole(f upFlags) upRole {
	return upRole{
		name: "mesos-dns",
		listeners: []listener{
			{flag: "dns-addr", key: "dns", addr: f.dnsAddr},
			{flag: "mesos-dns-http-addr", key: "mesos_dns_http", addr: f.mesosDNSHTTPAddr, http: true},
		},
		run: func(ctx context.Context, mesosAddr string, log *slog.Logger, health *obs.Health) error {
			cfg, err := mesosDNSConfig(mesosAddr, f.dnsAddr)
			if err != nil {
				return err
			}
			ready := readinessCheck(health, "mesos-dns", "no records loaded yet")
			return role.Run(ctx, cfg, role.Options{Version: version, Logger: log, DNSAddr: f.dnsAddr, HTTPAddr: f.mesosDNSHTTPAddr,
				Ready: func(role.Addrs) { ready() }})
		},
	}
}
