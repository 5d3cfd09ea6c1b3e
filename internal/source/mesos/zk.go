package mesos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// Znode name prefixes Mesos masters register under the ZooKeeper path.
// The JSON form exists since Mesos 0.24 and is preferred, as the Mesos
// detector does; the protobuf form is the fallback for older masters.
const (
	jsonInfoPrefix  = "json.info_"
	protoInfoPrefix = "info_"
)

// MasterList is what leader detection reports: Masters is
// [leader, others…]; Masters[0] is "" when no leader is known.
type MasterList struct {
	Masters []string
}

// Leader returns the leader's address, or "".
func (l MasterList) Leader() string {
	if len(l.Masters) == 0 {
		return ""
	}
	return l.Masters[0]
}

// zkDetector watches the children of a ZooKeeper path and reports every
// change of the master list.
type zkDetector struct {
	url            ZKURL
	sessionTimeout time.Duration
	log            *slog.Logger
	// publish is called from the detector goroutine; it must not block.
	publish func(MasterList)
	last    []string
	started bool
}

// run keeps a ZooKeeper session and watch until ctx ends, reconnecting
// with backoff after errors (ZooKeeper down, session expired).
func (d *zkDetector) run(ctx context.Context) {
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		err := d.session(ctx)
		if ctx.Err() != nil {
			return
		}
		d.log.Warn("zookeeper master detection: session ended; reconnecting", "zk", d.url.String(), "err", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, 15*time.Second)
	}
}

type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug("zookeeper client: " + fmt.Sprintf(format, args...))
}

var errSessionExpired = errors.New("zookeeper session expired")

func (d *zkDetector) session(ctx context.Context) error {
	conn, events, err := zk.Connect(d.url.Servers, d.sessionTimeout,
		zk.WithLogger(zkLogger{d.log}), zk.WithLogInfo(false))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	// Closing the connection is what unblocks a pending request when ctx
	// ends.
	stop := context.AfterFunc(ctx, conn.Close)
	defer stop()
	if d.url.User != "" {
		if err := conn.AddAuth("digest", []byte(d.url.User+":"+d.url.Password)); err != nil {
			return fmt.Errorf("add digest auth: %w", err)
		}
	}
	for {
		children, _, watch, err := conn.ChildrenW(d.url.Path)
		if errors.Is(err, zk.ErrNoNode) {
			// No master has registered yet: watch for the path to appear.
			var ok bool
			ok, _, watch, err = conn.ExistsW(d.url.Path)
			if err != nil {
				return fmt.Errorf("exists %s: %w", d.url.Path, err)
			}
			if ok {
				continue
			}
			children = nil
		} else if err != nil {
			return fmt.Errorf("children of %s: %w", d.url.Path, err)
		}
		d.report(d.masters(conn, children))
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil
			case ev := <-watch:
				if ev.Err != nil {
					return fmt.Errorf("watch %s: %w", d.url.Path, ev.Err)
				}
				break wait
			case ev := <-events:
				if ev.State == zk.StateExpired {
					return errSessionExpired
				}
			}
		}
	}
}

func (d *zkDetector) report(ms []string) {
	if d.started && slices.Equal(ms, d.last) {
		return
	}
	d.started = true
	d.last = ms
	d.publish(MasterList{Masters: slices.Clone(ms)})
}

// masters reads the info znodes and returns [leader, others…] in sequence
// order; [""] alone when there is no usable leader.
func (d *zkDetector) masters(conn *zk.Conn, children []string) []string {
	nodes := pickInfoNodes(children)
	var out []string
	seen := map[string]bool{}
	for _, n := range nodes {
		data, _, err := conn.Get(d.url.Path + "/" + n.name)
		if errors.Is(err, zk.ErrNoNode) {
			continue // gone between listing and reading; the watch will fire
		}
		if err != nil {
			d.log.Warn("zookeeper master detection: read master info", "znode", n.name, "err", err)
			continue
		}
		var mi *state.MasterInfo
		if n.json {
			mi, err = ParseMasterInfoJSON(data)
		} else {
			mi, err = ParseMasterInfoProto(data)
		}
		if err == nil {
			var addr string
			addr, err = MasterAddr(mi)
			if err == nil && !seen[addr] {
				seen[addr] = true
				out = append(out, addr)
			}
		}
		if err != nil {
			d.log.Warn("zookeeper master detection: skipping master info", "znode", n.name, "err", err)
		}
	}
	if len(out) == 0 {
		return []string{""}
	}
	return out
}

type infoNode struct {
	name string
	seq  uint64
	json bool
}

// pickInfoNodes returns the `json.info_*` children sorted by sequence
// number, or the `info_*` ones when there is no JSON node. The leader is
// the first: ZooKeeper's leader election gives it the lowest sequence.
func pickInfoNodes(children []string) []infoNode {
	var js, pb []infoNode
	for _, c := range children {
		if rest, ok := strings.CutPrefix(c, jsonInfoPrefix); ok {
			if seq, err := strconv.ParseUint(rest, 10, 64); err == nil {
				js = append(js, infoNode{name: c, seq: seq, json: true})
			}
		} else if rest, ok := strings.CutPrefix(c, protoInfoPrefix); ok {
			if seq, err := strconv.ParseUint(rest, 10, 64); err == nil {
				pb = append(pb, infoNode{name: c, seq: seq})
			}
		}
	}
	nodes := js
	if len(nodes) == 0 {
		nodes = pb
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].seq < nodes[j].seq })
	return nodes
}
