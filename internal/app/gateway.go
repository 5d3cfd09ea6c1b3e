package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sextantdc/sextant/internal/gateway"
	"github.com/sextantdc/sextant/internal/gateway/auth"
	"github.com/sextantdc/sextant/internal/gateway/ui"
	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/obs"
)

// gatewayTokenFile is the first admin token `sextant up` writes beside
// endpoints.json, so that a newcomer can open the dashboard at once.
const gatewayTokenFile = "gateway_token"

// gatewayRole is the gateway (Admin Router) in `sextant up`: the route
// table onto the runtime's Mesos and Marathon APIs, the Mesos-DNS role and
// the node DNS role's API, authentication with accounts kept in the state
// directory, the endpoints and watch APIs, and the dashboard.
func gatewayRole(f UpConfig) upRole {
	return upRole{
		name:      "gateway",
		listeners: []listener{{flag: "gateway-addr", key: "gateway", addr: f.GatewayAddr, http: true}},
		add: func(pl *pipeline, log *slog.Logger, health *obs.Health) error {
			store, err := auth.OpenStore(filepath.Join(f.StateDir, "gateway"))
			if err != nil {
				return fmt.Errorf("gateway accounts: %w", err)
			}
			svc := auth.New(store, auth.Options{Logger: log})
			tok, err := svc.Issue("admin", 0)
			if err != nil {
				return err
			}
			if err := writeFileAtomic(filepath.Join(f.StateDir, gatewayTokenFile), []byte(tok+"\n"), 0o600); err != nil {
				return fmt.Errorf("gateway token: %w", err)
			}
			ready := readinessCheck(health, "gateway", "not listening yet")
			o := gatewayOptions{addr: f.GatewayAddr, stateDir: f.StateDir, gw: gateway.Options{
				Mesos:    "http://" + f.MesosAddr,
				MesosDNS: "http://" + f.MesosDNSHTTPAddr,
				Net:      "http://" + f.NetAPIAddr,
				// The overlay master, when it runs, shares the Mesos listener
				// (as the Mesos module did).
				OverlayMaster: "http://" + f.MesosAddr,
				Auth:          svc,
				Health:        health,
				Version:       f.Version,
				PublicIP:      f.IP,
				Logger:        log,
				Registry:      obs.NewRegistry(),
				Components:    endpointsReader(f.StateDir),
			}, ready: ready, log: log}
			pl.consumer("gateway", func(ctx context.Context, sub *hub.Subscription) error {
				o.gw.Current = pl.hub.Current
				return runGateway(ctx, sub, o)
			})
			return nil
		},
	}
}

type gatewayOptions struct {
	addr, stateDir string
	gw             gateway.Options
	ready          func()
	log            *slog.Logger
}

// runGateway serves the gateway on o.addr until ctx ends, its watch
// following the subscription.
func runGateway(ctx context.Context, sub *hub.Subscription, o gatewayOptions) error {
	w := gateway.NewWatch(gateway.WatchOptions{Logger: o.log.With("component", "watch")})
	o.gw.Watch = w
	o.gw.UI = ui.Files()
	gw := gateway.New(o.gw)
	ln, err := listenFlag("gateway-addr", o.addr)
	if err != nil {
		return err
	}
	// Streams (the watch API's events, proxied SSE and Mesos
	// subscriptions) end as soon as shutdown starts.
	serveCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := gateway.NewServer(gw, &http.Server{ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return serveCtx }})
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(serveCtx, sub.Snapshots(serveCtx)) })
	errc := make(chan error, 1)
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	})
	o.ready()
	o.log.Info("gateway listening", "addr", ln.Addr().String())
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	_ = srv.Close()
	wg.Wait()
	return runErr
}

// endpointsReader returns the state directory's endpoints.json, re-read
// at most once a second (the dashboard asks on every page load).
func endpointsReader(dir string) func() map[string]string {
	var mu sync.Mutex
	var at time.Time
	var cur map[string]string
	return func() map[string]string {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) < time.Second && cur != nil {
			return cur
		}
		at = time.Now()
		m := map[string]string{}
		if b, err := os.ReadFile(filepath.Join(dir, "endpoints.json")); err == nil {
			_ = json.Unmarshal(b, &m)
		}
		cur = m
		return m
	}
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// gatewayBanner is the banner's dashboard lines: the URL that logs the
// browser in with the first admin token, and where the token is.
func gatewayBanner(stateDir string, eps map[string]string) string {
	url, ok := eps["gateway"]
	if !ok {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(stateDir, gatewayTokenFile))
	if err != nil {
		return ""
	}
	tok := strings.TrimSpace(string(b))
	return fmt.Sprintf("dashboard: %s/#token=%s\n  (admin token in %s; API clients send Authorization: token=<it>)\n",
		url, tok, filepath.Join(stateDir, gatewayTokenFile))
}

// MasterGatewayConfig is the gateway on a master (`sextant master
// --gateway-addr`): off while Addr is empty.
type MasterGatewayConfig struct {
	// Addr is the listen address (--gateway-addr); StateDir holds the
	// accounts, the signing key and a first admin token
	// (--gateway-state-dir).
	Addr, StateDir string
	// MesosDNS is the Mesos-DNS HTTP API for /mesos_dns/ and the /service
	// resolver's SRV fallback (--gateway-mesos-dns).
	MesosDNS string
	// OverlayMaster is the overlay master's API, "" when none
	// (--gateway-overlay-master).
	OverlayMaster string
}

// masterGateway adds the gateway to a master's pipeline: it routes to the
// Mesos leader the snapshots name, the masters' Marathon (through its
// framework's webui_url), Mesos-DNS and this node's DNS API.
func masterGateway(pl *pipeline, c MasterGatewayConfig, mesos, netAPI, version string, log *slog.Logger) error {
	dir := c.StateDir
	if dir == "" {
		dir = filepath.Join(defaultStateDir(), "gateway")
	}
	store, err := auth.OpenStore(dir)
	if err != nil {
		return fmt.Errorf("--gateway-state-dir: %w", err)
	}
	log = log.With("role", "gateway")
	svc := auth.New(store, auth.Options{Logger: log})
	tok, err := svc.Issue("admin", 0)
	if err != nil {
		return err
	}
	tokFile := filepath.Join(dir, gatewayTokenFile)
	if err := writeFileAtomic(tokFile, []byte(tok+"\n"), 0o600); err != nil {
		return fmt.Errorf("gateway token: %w", err)
	}
	log.Info("gateway admin token written", "file", tokFile)
	health := &obs.Health{}
	health.SetSources(pl.hub)
	o := gatewayOptions{addr: c.Addr, gw: gateway.Options{Mesos: mesos, MesosDNS: c.MesosDNS, Net: netAPI, OverlayMaster: c.OverlayMaster,
		Auth: svc, Health: health, Version: version, Logger: log, Registry: obs.NewRegistry()}, ready: func() {}, log: log}
	pl.consumer("gateway", func(ctx context.Context, sub *hub.Subscription) error {
		o.gw.Current = pl.hub.Current
		return runGateway(ctx, sub, o)
	})
	return nil
}
