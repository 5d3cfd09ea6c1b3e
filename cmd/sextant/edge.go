package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/sextantdc/sextant/internal/app"
)

// repeatFlag collects every value of a flag given several times, as
// marathon-lb's argparse "append" does (no splitting on commas).
type repeatFlag []string

func (r *repeatFlag) String() string     { return strings.Join(*r, " ") }
func (r *repeatFlag) Set(s string) error { *r = append(*r, s); return nil }

// runEdge is `sextant edge`: marathon-lb's generator and HAProxy in one,
// with marathon-lb's flags; `sextant edge deploy` is its zdd.
func runEdge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "deploy" {
		return runEdgeDeploy(ctx, args[1:], stdout, stderr)
	}
	var c app.EdgeConfig
	var marathon, groups repeatFlag
	var sslCerts, logLevel string
	var verbose int
	o := &c.Options
	fs := newFlagSet("edge", stdout, stderr)
	fs.Var(&marathon, "marathon", "Marathon base `URL` (repeatable; tried in turn); marathon-lb's -m")
	fs.Var(&marathon, "m", "the same as --marathon")
	fs.Var(&groups, "group", "only apps whose HAPROXY_GROUP lists `G` (repeatable, required; '*' for every app)")
	fs.BoolVar(&o.HAProxyMap, "haproxy-map", false, "route vhosts and app ids through map files (domain2backend.map, app2backend.map)")
	fs.StringVar(&sslCerts, "ssl-certs", "", "`FILES`, comma-separated, for the :443 frontend (default /etc/ssl/cert.pem, made self-signed when missing)")
	fs.BoolVar(&o.HealthCheck, "health-check", false, "only tasks whose Marathon health checks pass, where the app has any")
	fs.BoolVar(&o.HealthCheck, "H", false, "the same as --health-check")
	fs.BoolVar(&o.StrictMode, "strict-mode", false, "only services with HAPROXY_{n}_ENABLED=true")
	fs.BoolVar(&o.DontBindHTTPHTTPS, "dont-bind-http-https", false, "no :80 and :443 frontends")
	fs.BoolVar(&o.GroupHTTPSByVhost, "group-https-by-vhost", false, "one TLS frontend per vhost behind an SNI switch on :443")
	fs.StringVar(&o.ConfigFile, "haproxy-config", app.DefaultEdgeConfigFile, "where haproxy.cfg is written (the map files go beside it)")
	fs.IntVar(&o.ServicePorts.Min, "min-serv-port-ip-per-task", 10050, "first service port given to IP-per-task apps without one")
	fs.IntVar(&o.ServicePorts.Max, "max-serv-port-ip-per-task", 10100, "last service port given to IP-per-task apps without one")
	fs.StringVar(&c.Engine, "engine", "", "`engine`: haproxy or native (default: haproxy when installed, else native)")
	fs.StringVar(&c.AdminAddr, "admin-addr", "0.0.0.0:9090", "admin and stats listen address `host:port` (marathon-lb's 9090: /haproxy?stats, /_haproxy_*, /_mlb_signal/*, /metrics)")
	fs.StringVar(&c.RunDir, "run-dir", "/var/run/sextant-edge", "`DIR` of the HAProxy engine's sockets and server state")
	fs.StringVar(&c.TemplatesDir, "templates", "templates", "`DIR` of HAPROXY_<NAME> template files (marathon-lb's ./templates; missing is none)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.IntVar(&verbose, "v", 0, "verbosity (1 = debug)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if len(marathon) == 0 {
		fmt.Fprintln(stderr, "sextant edge: --marathon is required")
		return errUsage
	}
	if len(groups) == 0 {
		fmt.Fprintln(stderr, "sextant edge: --group is required ('*' for every app)")
		return errUsage
	}
	if o.ServicePorts.Min == 0 && o.ServicePorts.Max == 0 {
		o.NoServicePortAssignment = true
	}
	if sslCerts != "" {
		o.SSLCerts = strings.Split(sslCerts, ",") // as marathon-lb splits it
	}
	c.Marathon, o.Groups, c.Version = marathon, groups, version
	return app.Edge(ctx, c, newLogger(stderr, verbose, logLevel))
}
