package directory

import (
	"sync"
	"sync/atomic"
)

// Store holds the zones a node serves and the Index over them. Readers call
// Index (lock-free, an atomic load) for every query; writers call Install
// when a zone is built or arrives by gossip. A zone replaces the installed
// zone of the same name only when its version is higher, so a late or
// replayed message can never roll a zone back (versions come from the
// publisher, never from the wall clock).
//
// Store is safe for concurrent use; Install calls are serialised.
type Store struct {
	mu  sync.Mutex // serialises writers; readers never take it
	cur atomic.Pointer[Index]
}

// NewStore returns a store serving zones (which may be empty).
func NewStore(opts Options, zones ...*Zone) *Store {
	s := &Store{}
	s.cur.Store(NewIndex(opts, zones...))
	return s
}

// Index returns the current index. It never returns nil.
func (s *Store) Index() *Index { return s.cur.Load() }

// Install installs the zones that are newer than the installed zones of the
// same names and reports which names changed. Zones that are not newer are
// ignored.
func (s *Store) Install(zones ...*Zone) (installed []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cur.Load()
	var newer []*Zone
	for _, z := range zones {
		if z == nil {
			continue
		}
		if old := cur.Zone(z.Name); old != nil && old.Version >= z.Version {
			continue
		}
		newer = append(newer, z)
		installed = append(installed, z.Name)
	}
	if len(newer) > 0 {
		s.cur.Store(cur.With(newer...))
	}
	return installed
}

// Replace installs zones whatever their versions (for zones a node builds
// itself, such as l4lb and the local zones, whose versions are local).
func (s *Store) Replace(zones ...*Zone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.Store(s.cur.Load().With(zones...))
}

// Version returns the installed version of a zone, false when absent.
func (s *Store) Version(name string) (uint64, bool) {
	z := s.Index().Zone(name)
	if z == nil {
		return 0, false
	}
	return z.Version, true
}
