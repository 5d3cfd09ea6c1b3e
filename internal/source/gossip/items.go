// Package gossip is the source of the cluster items a node holds: the
// zones and the VIP document the leading master publishes. The gossip
// transport (internal/gossip, owned by the node DNS role) delivers each
// item's newer versions to Items.Update; Items publishes the whole set to
// its sink (the hub) as one model.ItemsObservation, so the items reach
// the node DNS role the way every other input reaches every consumer.
//
//	gossip OnUpdate ─┐
//	                 ├─► Items.Update ─► PublishItems ─► hub ─► node DNS role installs what changed
//	standalone node ─┘   (a node without gossip publishes its own items here, with local versions)
//
// Imports: internal/model and the standard library.
package gossip

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sextantdc/sextant/internal/model"
)

// Sink receives the item set; *hub.Hub is one. PublishItems must not
// block.
type Sink interface {
	PublishItems(*model.ItemsObservation)
}

// Items keeps the newest version of every item and publishes the set on
// every change. It is safe for concurrent use.
type Items struct {
	sink Sink
	now  func() time.Time

	mu    sync.Mutex // guards items and local
	items map[string]model.Item
	local uint64
}

// New returns an empty set publishing to sink.
func New(sink Sink) *Items {
	return &Items{sink: sink, now: time.Now, items: map[string]model.Item{}}
}

// Update records a newer version of an item and publishes the set. An
// older or equal version of an item already held is ignored: gossip may
// deliver versions out of order after a partition heals. Payloads are
// not copied: callers hand over ownership.
func (s *Items) Update(name string, version uint64, payload []byte) {
	s.mu.Lock()
	if cur, ok := s.items[name]; ok && version <= cur.Version {
		s.mu.Unlock()
		return
	}
	s.items[name] = model.Item{Name: name, Version: version, Payload: payload}
	obs := s.observationLocked()
	s.mu.Unlock()
	s.sink.PublishItems(obs)
}

// Put records an item built by this node (a node without gossip): it gets
// the next local version. It reports false, and publishes nothing, when
// the payload equals the one held.
func (s *Items) Put(name string, payload []byte) bool {
	s.mu.Lock()
	if cur, ok := s.items[name]; ok && string(cur.Payload) == string(payload) {
		s.mu.Unlock()
		return false
	}
	s.local++
	s.items[name] = model.Item{Name: name, Version: s.local, Payload: payload}
	obs := s.observationLocked()
	s.mu.Unlock()
	s.sink.PublishItems(obs)
	return true
}

func (s *Items) observationLocked() *model.ItemsObservation {
	out := make([]model.Item, 0, len(s.items))
	for _, it := range s.items {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b model.Item) int { return strings.Compare(a.Name, b.Name) })
	return &model.ItemsObservation{Items: out, Fetched: s.now()}
}
