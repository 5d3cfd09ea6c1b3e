package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/mesosdns/config"
	"github.com/sextantdc/sextant/internal/mesosdns/role"
	"github.com/sextantdc/sextant/internal/obs"
)

// upRole is a networking role `sextant up` runs against the local Mesos
// API, through the same client it uses against a real cluster.
type upRole struct {
	name      string
	listeners []listener
	run       func(ctx context.Context, mesosAddr string, log *slog.Logger, health *obs.Health) error
}

// upRoles lists the roles built into this binary.
func upRoles(f upFlags) []upRole {
	return []upRole{mesosDNSRole(f)}
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
			ready := make(chan struct{})
			health.Add("mesos-dns", func() error {
				select {
				case <-ready:
					return nil
				default:
					return fmt.Errorf("no records loaded yet")
				}
			})
			return role.Run(ctx, cfg, role.Options{Version: version, Logger: log, DNSAddr: f.dnsAddr, HTTPAddr: f.mesosDNSHTTPAddr,
				Ready: func(role.Addrs) { close(ready) }})
		},
	}
}
