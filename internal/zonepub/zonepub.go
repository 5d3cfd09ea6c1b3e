// Package zonepub is the consumer that turns snapshots into the
// cluster-wide items every node DNS role serves, and publishes them while
// this node leads.
//
// One job: snapshot → dcos.thisdcos.directory (task names), the VIP table
// → l4lb.thisdcos.directory and the /v1/vips document, and the Mesos-DNS
// records → the mesos.thisdcos.directory mirror; then hand each item that
// changed to a Target (the gossip cluster on masters, the node itself
// when it runs standalone). Pushes of an item are at least PublishInterval
// apart (dcos-net §A.7); a burst of snapshots yields one build.
//
//	snapshots ─► Build ─► [dcos zone, l4lb zone, mesos mirror, VIPs] ─► Target.Publish (if Leading)
//
// The node DNS role (internal/dcosdns) serves what it receives and builds
// nothing itself. Imports: model, directory, vip, mesosdns/records, obs.
package zonepub

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/directory"
	"github.com/sextantdc/sextant/internal/mesosdns/records"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/vip"
)

// Defaults.
const (
	// DefaultPublishInterval is the leader's minimum time between two
	// pushes of one item (dcos-net §A.7: at most once per second).
	DefaultPublishInterval = time.Second
	// StandalonePublishInterval suits a node without gossip: there is no
	// network to spare, so only bursts of snapshots are coalesced.
	StandalonePublishInterval = 20 * time.Millisecond
)

// Target receives the items. Its methods are called from the Run
// goroutine only and must not block for long.
type Target interface {
	// Leading reports whether this node publishes (standalone: always).
	Leading() bool
	// Leadership is signalled when this node starts leading, so that it
	// publishes its view at once.
	Leadership() <-chan struct{}
	// Masters is the current master list (master.dcos.thisdcos.directory).
	Masters() []netip.Addr
	// Publish hands one whole item to the cluster; false when the cluster
	// already holds the same payload or the item could not be sent.
	Publish(name string, payload []byte) bool
}

// Options configure Run.
type Options struct {
	// VIP configures the VIP allocation ranges.
	VIP vip.Config
	// IgnoreHealth keeps tasks that fail their health checks (or have no
	// result yet) in the task zones and the mirror, as dcos-net did. By
	// default they leave until healthy; the VIP table weighs them 0 either
	// way.
	IgnoreHealth bool
	// VIPAddr, when set, is the address the l4lb zone answers for a VIP
	// address: where this node's data plane actually serves it (the
	// userspace plane's loopback mapping on a rootless single node). The
	// VIP table and the /v1/vips document keep the VIP addresses.
	VIPAddr func(netip.Addr) netip.Addr
	// PublishInterval is the minimum time between two pushes of an item
	// (0: DefaultPublishInterval).
	PublishInterval time.Duration
	Logger          *slog.Logger
	Registerer      prometheus.Registerer
}

// Item is one published item: a zone (by its name) or the VIP document.
type Item struct {
	Name    string
	Payload []byte
}

// Builder builds the items of successive snapshots; it keeps the
// Mesos-DNS generator's state between builds, so a small change re-derives
// only what it touches. Not safe for concurrent use.
type Builder struct {
	o   Options
	gen *records.Generator
}

// NewBuilder returns a Builder.
func NewBuilder(o Options) *Builder { return &Builder{o: o, gen: records.NewGenerator()} }

// mirrorConfig is the Mesos-DNS configuration of the .mesos mirror: the
// settings dcos-dns' mirror took from a default Mesos-DNS.
func (b *Builder) mirrorConfig() records.Config {
	return records.Config{Domain: "mesos", Listener: "127.0.0.1", SOAMname: "ns1.mesos.",
		IPSources: []string{"netinfo", "mesos", "host"}, HealthAware: !b.o.IgnoreHealth}
}

// Build derives the items of a snapshot. Items are listed in publishing
// order; a zone that cannot be encoded is left out and reported.
func (b *Builder) Build(s *model.Snapshot, masters []netip.Addr) ([]Item, []model.Problem) {
	cfg := directory.Config{Masters: masters, Version: s.Version, HealthyOnly: !b.o.IgnoreHealth}
	dcos, probs := directory.BuildDCOS(s, cfg)
	table, vprobs := vip.BuildTable(s, b.o.VIP)
	l4lb, lprobs := directory.BuildL4LB(b.dnsTable(table), s.Version)
	rs, rprobs := b.gen.Generate(s, b.mirrorConfig())
	mirror, mprobs := directory.BuildMesosMirror(rs, s.Version)
	probs = append(append(append(append(probs, vprobs...), lprobs...), rprobs...), mprobs...)
	var items []Item
	for _, z := range []*directory.Zone{dcos, l4lb, mirror} {
		if z == nil {
			continue
		}
		z.Version = 0 // the publisher's version is assigned by the target
		payload, err := z.MarshalBinary()
		if err != nil {
			probs = append(probs, model.Problem{Item: "zone " + z.Name, Field: "encoding", Reason: err.Error()})
			continue
		}
		items = append(items, Item{Name: z.Name, Payload: payload})
	}
	vipsJSON, err := table.MarshalJSON()
	if err != nil {
		probs = append(probs, model.Problem{Item: "VIP table", Field: "encoding", Reason: err.Error()})
	} else {
		items = append(items, Item{Name: directory.VIPsItem, Payload: vipsJSON})
	}
	// The whole table, for every node's load balancer (agents have no
	// Mesos source of their own).
	// Version 0, as the zones: the item's version is the target's, and an
	// unchanged table is no change.
	wt := *table
	wt.Version = 0
	if wire, err := wt.MarshalBinary(); err != nil {
		probs = append(probs, model.Problem{Item: "VIP table", Field: "encoding", Reason: err.Error()})
	} else {
		items = append(items, Item{Name: vip.TableItem, Payload: wire})
	}
	return items, probs
}

// dnsTable returns the table whose names the l4lb zone answers: t, or
// with Options.VIPAddr its names mapped.
func (b *Builder) dnsTable(t *vip.Table) *vip.Table {
	if b.o.VIPAddr == nil {
		return t
	}
	m := *t
	m.Names = make([]vip.Name, len(t.Names))
	for i, n := range t.Names {
		if n.IPv4.IsValid() {
			n.IPv4 = b.o.VIPAddr(n.IPv4)
		}
		if n.IPv6.IsValid() {
			n.IPv6 = b.o.VIPAddr(n.IPv6)
		}
		m.Names[i] = n
	}
	return &m
}

// Run builds and publishes the latest of snaps until ctx ends or snaps is
// closed; it returns nil then.
func Run(ctx context.Context, snaps <-chan *model.Snapshot, t Target, o Options) error {
	if o.PublishInterval <= 0 {
		o.PublishInterval = DefaultPublishInterval
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	push := prometheus.NewSummaryVec(prometheus.SummaryOpts{Name: "dcos_dns_zone_push_duration_seconds",
		Help: "Time the leader took to build and publish a zone."}, []string{"zone"})
	if o.Registerer != nil {
		if err := o.Registerer.Register(push); err != nil {
			return err
		}
		defer o.Registerer.Unregister(push)
	}
	b := NewBuilder(o)
	var latest *model.Snapshot
	var last time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case s, ok := <-snaps:
			if !ok {
				return nil
			}
			if s.SameSources(latest, "mesos", "marathon") {
				continue // only the items changed: what this builds from did not
			}
			latest, pending = s, true
		case <-timer.C:
		case <-t.Leadership():
			// A node that starts leading publishes its view at once,
			// without waiting for the next snapshot.
			pending = latest != nil
		}
		if !pending || latest == nil {
			continue
		}
		if wait := o.PublishInterval - time.Since(last); wait > 0 && !last.IsZero() {
			timer.Reset(wait)
			continue
		}
		pending = false
		if !t.Leading() {
			continue
		}
		start := time.Now()
		items, probs := b.Build(latest, t.Masters())
		for _, p := range probs {
			log.Debug("zone item skipped", "item", p.Item, "field", p.Field, "reason", p.Reason)
		}
		published := false
		for _, it := range items {
			if t.Publish(it.Name, it.Payload) {
				published = true
				if it.Name != directory.VIPsItem && it.Name != vip.TableItem {
					push.WithLabelValues(it.Name + ".").Observe(time.Since(start).Seconds())
				}
			}
		}
		if published {
			last = time.Now()
		}
	}
}
