package alloc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// ZKStore keeps the document in one znode, written with its version as a
// compare-and-set.
type ZKStore struct {
	Conn *zk.Conn
	Path string // e.g. /sextant/overlay/network-state
}

// Load reads the znode; a missing znode is an empty state (version -1).
func (s *ZKStore) Load(context.Context) ([]byte, int64, error) {
	b, st, err := s.Conn.Get(s.Path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, -1, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("zookeeper get %s: %w", s.Path, err)
	}
	return b, int64(st.Version), nil
}

// Save writes the znode if it is still at version (-1: it must not exist).
func (s *ZKStore) Save(_ context.Context, doc []byte, version int64) (int64, error) {
	if version == -1 {
		if err := ensureParents(s.Conn, s.Path); err != nil {
			return 0, err
		}
		_, err := s.Conn.Create(s.Path, doc, zk.FlagPersistent, zk.WorldACL(zk.PermAll))
		if errors.Is(err, zk.ErrNodeExists) {
			return 0, ErrConflict
		}
		if err != nil {
			return 0, fmt.Errorf("zookeeper create %s: %w", s.Path, err)
		}
		return 0, nil
	}
	st, err := s.Conn.Set(s.Path, doc, int32(version))
	if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNoNode) {
		return 0, ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("zookeeper set %s: %w", s.Path, err)
	}
	return int64(st.Version), nil
}

func ensureParents(c *zk.Conn, p string) error {
	dir := path.Dir(p)
	if dir == "/" || dir == "." {
		return nil
	}
	if err := ensureParents(c, dir); err != nil {
		return err
	}
	_, err := c.Create(dir, nil, zk.FlagPersistent, zk.WorldACL(zk.PermAll))
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("zookeeper create %s: %w", dir, err)
	}
	return nil
}

// Elector answers whether this master allocates, and where the one that
// does is. Epoch changes every time this master becomes leader, so it
// reloads the state its predecessor may have changed.
type Elector interface {
	Leader() (me bool, url string, epoch uint64)
}

// Solo is the elector of a single master: always leader.
type Solo struct{}

// Leader is always this master.
func (Solo) Leader() (bool, string, uint64) { return true, "", 1 }

// ZKElection is a ZooKeeper leader election: every master holds an
// ephemeral sequential znode under Dir carrying its URL, and the lowest
// is the leader. A master without a live session is not leader.
type ZKElection struct {
	Conn *zk.Conn
	Dir  string // e.g. /sextant/overlay/leader
	URL  string // this master's base URL, for followers to redirect to
	Log  *slog.Logger

	mu     sync.Mutex
	leader bool
	url    string
	epoch  uint64
	mine   string
}

// Leader reports the last election result.
func (e *ZKElection) Leader() (bool, string, uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	me := e.leader && e.Conn.State() == zk.StateHasSession
	return me, e.url, e.epoch
}

// Run takes part in the election until ctx ends, then withdraws.
func (e *ZKElection) Run(ctx context.Context) error {
	defer func() {
		e.mu.Lock()
		mine := e.mine
		e.leader, e.url = false, ""
		e.mu.Unlock()
		if mine != "" {
			_ = e.Conn.Delete(mine, -1)
		}
	}()
	for {
		watch, err := e.round()
		if err != nil {
			e.Log.Warn("overlay master election", "err", err)
			e.set(false, "")
			watch = nil
		}
		retry := time.NewTimer(10 * time.Second)
		if watch == nil {
			retry.Reset(time.Second)
		}
		select {
		case <-ctx.Done():
			retry.Stop()
			return nil
		case <-watch:
		case <-retry.C:
		}
		retry.Stop()
	}
}

// round makes sure this master's znode exists and reads the result.
func (e *ZKElection) round() (<-chan zk.Event, error) {
	e.mu.Lock()
	mine := e.mine
	e.mu.Unlock()
	if mine != "" {
		if ok, _, err := e.Conn.Exists(mine); err != nil {
			return nil, err
		} else if !ok {
			mine = "" // the session expired and took it
		}
	}
	if mine == "" {
		if err := ensureParents(e.Conn, e.Dir+"/x"); err != nil {
			return nil, err
		}
		p, err := e.Conn.Create(e.Dir+"/n_", []byte(e.URL), zk.FlagEphemeralSequential, zk.WorldACL(zk.PermAll))
		if err != nil {
			return nil, fmt.Errorf("join: %w", err)
		}
		mine = p
		e.mu.Lock()
		e.mine = p
		e.mu.Unlock()
	}
	kids, _, watch, err := e.Conn.ChildrenW(e.Dir)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(kids, func(a, b string) int { return strings.Compare(seq(a), seq(b)) })
	if len(kids) == 0 {
		return watch, nil
	}
	first := e.Dir + "/" + kids[0]
	url := e.URL
	if first != mine {
		b, _, err := e.Conn.Get(first)
		if err != nil {
			return nil, err
		}
		url = string(b)
	}
	e.set(first == mine, url)
	return watch, nil
}

// seq is the sequence suffix of an election znode (sorts as a string:
// ZooKeeper pads it to ten digits).
func seq(name string) string {
	if i := strings.LastIndex(name, "_"); i >= 0 {
		return name[i+1:]
	}
	return name
}

func (e *ZKElection) set(leader bool, url string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if leader && !e.leader {
		e.epoch++
		e.Log.Info("overlay master: leading allocation", "epoch", e.epoch)
	}
	if e.leader && !leader {
		e.Log.Info("overlay master: following", "leader", url)
	}
	e.leader, e.url = leader, url
}
