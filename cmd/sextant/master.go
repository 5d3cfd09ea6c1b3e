package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sextantdc/sextant/internal/app"
)

// runMaster is `sextant master`: the master roles.
func runMaster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("master", stdout, stderr)
	var f dnsFlags
	f.register(fs, false)
	var c app.MasterConfig
	var marathon listFlag
	fs.StringVar(&c.Mesos, "mesos", "", "Mesos masters (required): host:port[,host:port…], zk://host:port[,host:port…]/mesos, or file://PATH of a file holding such a zk:// URL")
	fs.DurationVar(&c.MesosRefresh, "mesos-refresh", 30*time.Second, "Mesos state poll interval (the safety net when the operator-API stream runs)")
	fs.BoolVar(&c.NoStream, "no-stream", false, "poll only; do not follow the Mesos operator-API event stream")
	fs.Var(&marathon, "marathon", "Marathon base URL (repeatable, tried in order): apps, labels, port names and health results join the model")
	fs.DurationVar(&c.ZonePushInterval, "zone-push-interval", app.DefaultPublishInterval, "minimum time between two pushes of a zone by the leader (changes in between are coalesced)")
	fs.StringVar(&c.Gateway.Addr, "gateway-addr", "", "run the gateway (Admin Router: routes, login, endpoints and watch APIs, dashboard) on `host:port`; off when empty")
	fs.StringVar(&c.Gateway.StateDir, "gateway-state-dir", "", "`DIR` of the gateway's accounts, signing key and first admin token (default: the state directory's gateway/)")
	fs.StringVar(&c.Gateway.MesosDNS, "gateway-mesos-dns", "http://127.0.0.1:8123", "Mesos-DNS HTTP API `URL` the gateway routes /mesos_dns/ to and asks for /service SRV fallbacks")
	fs.StringVar(&c.Gateway.OverlayMaster, "gateway-overlay-master", "", "overlay master API `URL` for /overlay-master/ (none when empty)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if c.Mesos == "" {
		fmt.Fprintln(stderr, "sextant master: --mesos is required")
		return errUsage
	}
	c.DNS = f.config()
	c.Marathon = marathon
	return app.Master(ctx, c, f.logger(stderr), readyPrinter(stdout))
}
