package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sextantdc/sextant/internal/dcosdns"
	"github.com/sextantdc/sextant/internal/gossip"
	"github.com/sextantdc/sextant/internal/mesos/state"
	cmodel "github.com/sextantdc/sextant/internal/model"
	mesossrc "github.com/sextantdc/sextant/internal/source/mesos"
	"github.com/sextantdc/sextant/internal/source/mesosagent"
	"github.com/sextantdc/sextant/internal/vip"
)

// ownBackends is the backend set this agent publishes (§0.6): the VIP
// table of its own tasks, every backend on nodeIP (the writer speaks only
// for itself, whatever address the agent's pid names). Names keep the
// allocation of this agent's tasks alone; readers take names and
// addresses from the master's table instead (vip.MergeWriters).
func ownBackends(st *state.State, nodeIP netip.Addr) ([]byte, []cmodel.Problem, error) {
	snap := cmodel.Build(cmodel.Observations{Mesos: mesossrc.Observe(st, nil)}, cmodel.BuildOptions{})
	for i := range snap.Tasks {
		snap.Tasks[i].AgentIP = nodeIP
	}
	table, probs := vip.BuildTable(snap, vip.Config{})
	b, err := table.MarshalBinary()
	return b, append(snap.Problems, probs...), err
}

// addBackendWriter adds the agent's backend writer (--mesos-agent): it
// polls the local Mesos agent's /state and gossips the backends of this
// node's tasks as the per-writer item vip.WriterItem(node IP), which every
// node's load balancer unions with the other live writers' sets. Off when
// agentURL is empty.
func addBackendWriter(pl *pipeline, agentURL string, nodeIP netip.Addr, log *slog.Logger) error {
	if agentURL == "" {
		return nil
	}
	var cluster atomic.Pointer[gossip.Node]
	pl.nodeReady = append(pl.nodeReady, func(r dcosdns.Ready) {
		if r.Cluster != nil {
			cluster.Store(r.Cluster)
		}
	})
	var last []byte // OnState runs on the source's one goroutine
	src, err := mesosagent.New(mesosagent.Options{URL: agentURL, Logger: log.With("component", "mesos-agent-source"),
		OnState: func(st *state.State, _ []state.Skipped) {
			c := cluster.Load()
			if c == nil {
				return // no gossip yet (or standalone): nothing to publish to
			}
			ip := nodeIP
			if !ip.IsValid() {
				ip = selfIP(c)
			}
			if !ip.IsValid() {
				log.Warn("backend writer: this node's IP is unknown (set --node-ip); not publishing")
				return
			}
			payload, probs, err := ownBackends(st, ip)
			if err != nil {
				log.Warn("backend writer: encoding this agent's backends", "err", err)
				return
			}
			for _, p := range probs {
				log.Debug("backend writer: vip problem", "item", p.Item, "field", p.Field, "reason", p.Reason)
			}
			name := vip.WriterItem(ip)
			// Publish when the cluster holds another payload under our name:
			// a change, or an older incarnation of this node's set that
			// anti-entropy brought back after a restart.
			if _, cur, ok := c.Get(name); ok && bytes.Equal(cur, payload) {
				return
			}
			v, err := c.PublishOwn(name, payload)
			if err != nil {
				log.Warn("backend writer: publishing", "item", name, "err", err)
				return
			}
			if !bytes.Equal(last, payload) {
				log.Info("backend writer: published this agent's backends", "item", name, "version", v, "bytes", len(payload))
			}
			last = payload
		}})
	if err != nil {
		return err
	}
	pl.runs = append(pl.runs, namedRun{"mesos agent source", func(ctx context.Context) error {
		if err := src.Run(ctx); err != nil {
			return fmt.Errorf("mesos agent source: %w", err)
		}
		return nil
	}})
	return nil
}

// selfIP is the node IP this gossip member advertises.
func selfIP(c *gossip.Node) netip.Addr {
	for _, m := range c.Members() {
		if m.Name == c.Name() {
			return m.IP
		}
	}
	return netip.Addr{}
}

// liveWriter is the load balancer's test of a per-writer set's writer: an
// alive gossip member with that node IP.
func liveWriter(cluster func() *gossip.Node) func(netip.Addr) bool {
	return func(ip netip.Addr) bool {
		c := cluster()
		return c != nil && c.Reachable(ip)
	}
}

// watchAlive calls changed whenever the set of alive members' node IPs
// changes (a writer joining makes its set count), until ctx ends.
func watchAlive(ctx context.Context, cluster func() *gossip.Node, changed func()) {
	t := time.NewTicker(reachabilityPoll)
	defer t.Stop()
	var last []netip.Addr
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c := cluster()
		if c == nil {
			continue
		}
		var alive []netip.Addr
		for _, m := range c.Members() {
			if m.State == gossip.StateAlive && m.IP.IsValid() {
				alive = append(alive, m.IP)
			}
		}
		slices.SortFunc(alive, netip.Addr.Compare)
		alive = slices.Compact(alive)
		if !slices.Equal(alive, last) {
			last = alive
			changed()
		}
	}
}
