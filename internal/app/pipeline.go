package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/dcosdns"
	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/obs"
	gossipsrc "github.com/sextantdc/sextant/internal/source/gossip"
	marathonsrc "github.com/sextantdc/sextant/internal/source/marathon"
	mesossrc "github.com/sextantdc/sextant/internal/source/mesos"
	"github.com/sextantdc/sextant/internal/zonepub"
)

// pipeline is one process's backbone: the sources it runs, the one hub
// they publish to, and the consumers that read it. Every composition
// (up, master, agent, mesos-dns) is built from it.
type pipeline struct {
	hub  *hub.Hub
	log  *slog.Logger
	reg  prometheus.Registerer
	runs []namedRun
	// The node DNS role's HTTP API is the node's: other roles add routes
	// to it (the load balancer's /v1/vips), register on its registry, and
	// hear when it is ready (the gossip member), before run.
	apiRoutes map[string]http.Handler
	apiReg    *prometheus.Registry
	nodeReady []func(dcosdns.Ready)
	// marathonSrc is the Marathon source, once added (the edge's
	// /_mlb_signal/hup asks it for a re-read).
	marathonSrc *marathonsrc.Source
}

type namedRun struct {
	name string
	run  func(ctx context.Context) error
	// consumer runs end with the pipeline; a source or the hub ending
	// with an error ends it too.
}

func newPipeline(o hub.Options) *pipeline {
	h := hub.New(o)
	p := &pipeline{hub: h, log: o.Logger, reg: o.Registerer}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.runs = append(p.runs, namedRun{"hub", h.Run})
	return p
}

// mesos adds the Mesos source. Its logger and registerer default to the
// pipeline's.
func (p *pipeline) mesos(o mesossrc.Options) (*mesossrc.Source, error) {
	if o.Logger == nil {
		o.Logger = p.log.With("component", "mesos-source")
	}
	if o.Registerer == nil {
		o.Registerer = p.reg
	}
	src, err := mesossrc.New(o, p.hub)
	if err != nil {
		return nil, err
	}
	p.hub.Register(hub.Mesos)
	p.runs = append(p.runs, namedRun{"mesos source", src.Run})
	return src, nil
}

// marathon adds the Marathon source.
func (p *pipeline) marathon(o marathonsrc.Options) (*marathonsrc.Source, error) {
	if o.Logger == nil {
		o.Logger = p.log.With("component", "marathon-source")
	}
	if o.Registerer == nil {
		o.Registerer = p.reg
	}
	src, err := marathonsrc.New(o, p.hub)
	if err != nil {
		return nil, err
	}
	p.hub.Register(hub.Marathon)
	p.marathonSrc = src
	p.runs = append(p.runs, namedRun{"marathon source", src.Run})
	return src, nil
}

// consumer adds a consumer, handed its own subscription.
func (p *pipeline) consumer(name string, run func(ctx context.Context, sub *hub.Subscription) error) {
	p.runs = append(p.runs, namedRun{name, func(ctx context.Context) error {
		sub := p.hub.Subscribe()
		defer sub.Close()
		return run(ctx, sub)
	}})
}

// run runs every part until ctx ends or one part fails; then it stops the
// others and waits for them. The first failure is returned, named.
func (p *pipeline) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(p.runs))
	for _, r := range p.runs {
		wg.Go(func() {
			err := r.run(ctx)
			if err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", r.name, err)
			} else if err == nil && ctx.Err() == nil {
				// A part that returns early without an error (a consumer
				// whose work is done) does not stop the others.
				return
			}
			cancel()
		})
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// nodeDNS adds the node DNS role, fed its cluster items through the
// gossip source and the hub, and, when zones is set, the zone builder that
// derives those items from the snapshots (masters and `sextant up`). The
// builder starts once the role is ready, through the role's Publisher.
func (p *pipeline) nodeDNS(o dcosdns.Options, zones *zonepub.Options) {
	pubc := make(chan *dcosdns.Publisher, 1)
	ready := o.Ready
	o.Ready = func(r dcosdns.Ready) {
		pubc <- r.Publisher
		for _, f := range p.nodeReady {
			f(r)
		}
		if ready != nil {
			ready(r)
		}
	}
	if o.Registry == nil {
		o.Registry = obs.NewRegistry()
	}
	p.apiReg = o.Registry
	// The items the role receives by gossip (or builds itself, alone) go
	// through the gossip source and the hub, and come back to the role in
	// its snapshots.
	o.Items = gossipsrc.New(p.hub)
	o.Sources = p.hub
	p.consumer("dcos-dns", func(ctx context.Context, sub *hub.Subscription) error {
		o.Snapshots = sub.Snapshots(ctx)
		o.Routes = p.apiRoutes
		return dcosdns.Run(ctx, o)
	})
	if zones == nil {
		return
	}
	zo := *zones
	if zo.Logger == nil {
		zo.Logger = o.Logger.With("component", "zonepub")
	}
	if zo.Registerer == nil {
		zo.Registerer = o.Registry
	}
	p.consumer("zonepub", func(ctx context.Context, sub *hub.Subscription) error {
		select {
		case <-ctx.Done():
			return nil
		case pub := <-pubc:
			return zonepub.Run(ctx, sub.Snapshots(ctx), pub, zo)
		}
	})
}
