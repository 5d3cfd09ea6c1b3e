package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/admin"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/obs"
	marathonsrc "github.com/sextantdc/sextant/internal/source/marathon"
)

// EdgeConfig is the configuration of `sextant edge`, a drop-in
// marathon-lb: its flags, the engine, and where the admin port listens.
type EdgeConfig struct {
	// Marathon are the --marathon URLs (required).
	Marathon []string
	// Options are marathon-lb's flags (--group, --haproxy-map,
	// --ssl-certs, --health-check, --strict-mode, --dont-bind-http-https,
	// --group-https-by-vhost, --haproxy-config).
	Options edge.Options
	// Engine is "haproxy", "native", or "" for haproxy when the haproxy
	// executable is installed and native otherwise.
	Engine string
	// AdminAddr is the 9090 listener (marathon-lb's "listen stats").
	AdminAddr string
	// RunDir holds the HAProxy engine's sockets and server state.
	RunDir string
	// TemplatesDir holds HAPROXY_<NAME> template files (marathon-lb's
	// ./templates); "" reads none. HAPROXY_<NAME> environment variables
	// override them, as in marathon-lb.
	TemplatesDir string
	// Rebind maps a bind address of the configuration to the one to
	// listen on (`sextant up` moves 80 and 443 to unprivileged ports);
	// nil binds what marathon-lb binds.
	Rebind  func(addr string) string
	Version string
}

// edgeRole is an edge consumer and its admin server, shared by `sextant
// edge` and `sextant up`.
type edgeRole struct {
	c      EdgeConfig
	log    *slog.Logger
	reg    *prometheus.Registry
	eng    edge.Engine
	tm     *haproxy.Templates
	resync func()
	ready  func()
	health http.Handler
}

// chooseEngine resolves "" to haproxy when it is installed.
func chooseEngine(name string) string {
	if name != "" {
		return name
	}
	if _, err := exec.LookPath("haproxy"); err == nil {
		return "haproxy"
	}
	return "native"
}

func newEdgeRole(c EdgeConfig, log *slog.Logger, reg *prometheus.Registry) (*edgeRole, error) {
	if err := c.Options.Validate(); err != nil {
		return nil, err
	}
	if c.Options.ConfigFile == "" {
		c.Options.ConfigFile = edge.DefaultConfigFile
	}
	if len(c.Options.SSLCerts) == 0 {
		// marathon-lb's container makes this certificate when none is given:
		// the :443 frontend cannot start without one.
		if !c.Options.DontBindHTTPHTTPS {
			if err := haproxy.EnsureCert(edge.DefaultSSLCert); err != nil {
				return nil, fmt.Errorf("default certificate %s: %w", edge.DefaultSSLCert, err)
			}
		}
	}
	if c.Options.Resolve == nil {
		c.Options.Resolve = newResolver()
	}
	tm, err := haproxy.Load(haproxy.LoadOptions{Dir: c.TemplatesDir, LookupEnv: os.LookupEnv, Dialect: haproxy.HAProxy22})
	if err != nil {
		return nil, err
	}
	r := &edgeRole{c: c, log: log, reg: reg, tm: tm, resync: func() {}, ready: func() {}}
	switch chooseEngine(c.Engine) {
	case "haproxy":
		run := c.RunDir
		if run == "" {
			run = filepath.Join(filepath.Dir(c.Options.ConfigFile), "run")
		}
		e, err := haproxy.NewEngine(haproxy.EngineOptions{ConfigFile: c.Options.ConfigFile, RunDir: run, Rebind: c.Rebind,
			Logger: log.With("component", "haproxy"), Registerer: reg})
		if err != nil {
			return nil, err
		}
		r.eng = e
	case "native":
		e, err := newNativeEngine(c, log, reg)
		if err != nil {
			return nil, err
		}
		r.eng = e
	default:
		return nil, fmt.Errorf("--engine %q: want native or haproxy", c.Engine)
	}
	return r, nil
}

// newResolver resolves agent host names to IPv4 once each, as
// marathon-lb's gethostbyname cache does.
func newResolver() func(string) (netip.Addr, bool) {
	var mu sync.Mutex
	cache := map[string]netip.Addr{}
	return func(host string) (netip.Addr, bool) {
		mu.Lock()
		defer mu.Unlock()
		if a, ok := cache[host]; ok {
			return a, a.IsValid()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var a netip.Addr
		if ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host); err == nil && len(ips) > 0 {
			a = ips[0].Unmap()
			cache[host] = a // a failure is asked again next time
		}
		return a, a.IsValid()
	}
}

// run applies a generation for every snapshot until ctx ends.
func (r *edgeRole) run(ctx context.Context, sub *hub.Subscription) error {
	var lastProblems []string
	for {
		snap, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		g, err := haproxy.Generate(snap.Apps, r.c.Options, r.tm)
		if err != nil {
			r.log.Error("generating the edge configuration", "err", err)
			continue
		}
		if err := r.eng.Apply(ctx, g); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.log.Error("the previous edge configuration keeps serving", "err", err)
			continue
		}
		var probs []string
		if cur := r.eng.Current(); cur != nil && cur.Config != nil {
			for _, p := range cur.Config.Problems {
				probs = append(probs, p.String())
			}
		}
		if !slices.Equal(probs, lastProblems) {
			for _, p := range probs {
				r.log.Warn("edge service left out", "problem", p)
			}
			lastProblems = probs
		}
		r.ready()
	}
}

func (r *edgeRole) handler() http.Handler {
	return admin.Handler(admin.Options{Engine: r.eng, Gatherer: r.reg, Logger: r.log, Health: r.health,
		Resync: func() error { r.resync(); return nil }})
}

// serveAdmin serves the 9090 endpoints on ln until ctx ends.
func serveAdmin(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// Edge runs `sextant edge` until ctx ends: the Marathon source, the hub,
// the edge consumer with its engine, and the admin port.
func Edge(ctx context.Context, c EdgeConfig, log *slog.Logger) error {
	if len(c.Marathon) == 0 {
		return errors.New("--marathon: at least one Marathon URL is required")
	}
	if c.AdminAddr == "" {
		c.AdminAddr = "0.0.0.0:9090"
	}
	ln, err := listenFlag("admin-addr", c.AdminAddr)
	if err != nil {
		return err
	}
	defer ln.Close()
	reg := obs.NewRegistry()
	r, err := newEdgeRole(c, log.With("role", "edge"), reg)
	if err != nil {
		return err
	}
	defer r.eng.Close()
	pl := newPipeline(hub.Options{Logger: log.With("role", "hub"), Registerer: reg})
	src, err := pl.marathon(marathonsrc.Options{URLs: c.Marathon})
	if err != nil {
		return err
	}
	r.resync = src.Resync
	health := &obs.Health{}
	health.SetSources(pl.hub)
	r.ready = readinessCheck(health, "edge", "no configuration applied yet")
	r.health = health
	pl.consumer("edge", r.run)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- serveAdmin(ctx, ln, r.handler()) }()
	err = pl.run(ctx)
	cancel()
	if aerr := <-errc; err == nil {
		err = aerr
	}
	return err
}

// upEdgeRebind moves what marathon-lb binds to `sextant up`'s addresses:
// :80 and :443 to the edge flags (they need root), :9091 to a socket in
// the run directory, every service port to the node's IP.
func upEdgeRebind(f UpConfig, runDir string) func(string) string {
	return func(addr string) string {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return addr
		}
		switch port {
		case "80":
			return f.EdgeHTTPAddr
		case "443":
			return f.EdgeHTTPSAddr
		case "9091":
			return filepath.Join(runDir, "appid.sock")
		}
		if _, err := strconv.Atoi(port); err != nil {
			return addr
		}
		return net.JoinHostPort(f.IP, port)
	}
}

// edgeUpRole is the edge in `sextant up`: group external (the examples'
// HAPROXY_GROUP), the HAProxy engine when haproxy is installed. An edge
// address left empty is a free port the kernel picks (endpoints.json
// says which), so that several clusters run side by side.
func edgeUpRole(f UpConfig) upRole {
	for _, a := range []*string{&f.EdgeHTTPAddr, &f.EdgeHTTPSAddr, &f.EdgeAdminAddr} {
		if *a == "" {
			*a = freeLoopback(f.IP)
		}
	}
	return upRole{
		name: "edge",
		listeners: []listener{
			{flag: "edge-http-addr", key: "edge_http", addr: f.EdgeHTTPAddr, http: true},
			{flag: "edge-https-addr", key: "edge_https", addr: f.EdgeHTTPSAddr},
			{flag: "edge-admin-addr", key: "edge_admin", addr: f.EdgeAdminAddr, http: true},
		},
		add: func(pl *pipeline, log *slog.Logger, health *obs.Health) error {
			dir, err := filepath.Abs(filepath.Join(f.StateDir, "edge"))
			if err != nil {
				return err
			}
			run := filepath.Join(dir, "run")
			cert := filepath.Join(dir, "cert.pem")
			if err := haproxy.EnsureCert(cert); err != nil {
				return err
			}
			c := EdgeConfig{Engine: f.EdgeEngine, RunDir: run, Rebind: upEdgeRebind(f, run), Version: f.Version,
				Options: edge.Options{Groups: []string{"external"}, HealthCheck: true, ConfigFile: filepath.Join(dir, "haproxy.cfg"),
					SSLCerts: []string{cert}}}
			reg := obs.NewRegistry()
			r, err := newEdgeRole(c, log, reg)
			if err != nil {
				// The rest of the cluster is still worth running.
				log.Warn("the edge does not run", "err", err)
				return nil
			}
			r.ready = readinessCheck(health, "edge", "no configuration applied yet")
			if src := pl.marathonSrc; src != nil {
				r.resync = src.Resync
			}
			pl.consumer("edge", func(ctx context.Context, sub *hub.Subscription) error {
				defer r.eng.Close()
				ln, err := listenFlag("edge-admin-addr", f.EdgeAdminAddr)
				if err != nil {
					return err
				}
				errc := make(chan error, 1)
				actx, cancel := context.WithCancel(ctx)
				go func() { errc <- serveAdmin(actx, ln, r.handler()) }()
				err = r.run(ctx, sub)
				cancel()
				if aerr := <-errc; err == nil {
					err = aerr
				}
				return err
			})
			return nil
		},
	}
}

// freeLoopback is ip with a port the kernel says is free now.
func freeLoopback(ip string) string {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return net.JoinHostPort(ip, "0")
	}
	defer ln.Close()
	return ln.Addr().String()
}
