package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/dcosdns"
	"github.com/sextantdc/sextant/internal/mesos/operator"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/obs"
	mesossrc "github.com/sextantdc/sextant/internal/source/mesos"
)

// runMaster runs the master roles: the Mesos source, and the DNS role that
// builds the cluster zones when this master leads the gossip cluster and
// answers them like every node.
func runMaster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("master", stderr)
	var f dnsFlags
	f.register(fs, dcosdns.RoleMaster)
	var mesos string
	var refresh time.Duration
	var noStream bool
	var pushInterval time.Duration
	fs.StringVar(&mesos, "mesos", "", "Mesos masters (required): host:port[,host:port…], zk://host:port[,host:port…]/mesos, or file://PATH of a file holding such a zk:// URL")
	fs.DurationVar(&refresh, "mesos-refresh", 30*time.Second, "Mesos state poll interval (the safety net when the operator-API stream runs)")
	fs.BoolVar(&noStream, "no-stream", false, "poll only; do not follow the Mesos operator-API event stream")
	fs.DurationVar(&pushInterval, "zone-push-interval", dcosdns.DefaultPublishInterval, "minimum time between two pushes of a zone by the leader (changes in between are coalesced)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if mesos == "" {
		fmt.Fprintln(stderr, "sextant master: --mesos is required")
		return errUsage
	}
	log := f.logger(stderr)
	o, err := f.options(dcosdns.RoleMaster, log)
	if err != nil {
		return err
	}
	o.Registry = obs.NewRegistry()
	o.PublishInterval = pushInterval
	so := mesossrc.Options{RefreshInterval: refresh, Logger: log.With("component", "mesos-source"), Registerer: o.Registry}
	if strings.HasPrefix(mesos, "zk://") || strings.HasPrefix(mesos, "file://") {
		z, err := mesossrc.ParseZKURL(mesos, os.ReadFile)
		if err != nil {
			return fmt.Errorf("--mesos: %w", err)
		}
		so.ZK = &z
	} else {
		for _, m := range strings.Split(mesos, ",") {
			if m = strings.TrimSpace(m); m != "" {
				so.Masters = append(so.Masters, m)
			}
		}
	}
	so.NoStream = noStream
	so.Streamer = mesossrc.OperatorStreamer(operator.Options{Logger: log.With("component", "mesos-stream")})
	o.Ready = readyPrinter(stdout)
	return runWithMesos(ctx, so, func(ctx context.Context, snaps <-chan *model.Snapshot) error {
		o.Snapshots = snaps
		return dcosdns.Run(ctx, o)
	})
}
