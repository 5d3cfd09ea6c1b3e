package gossip

import "fmt"

// Stamp orders the versions of one zone. Versions are assigned by the
// publishing leader and only ever increase: a leader publishes
// max(highest version it has seen for the name, its own last) + 1, so a new
// leader's next change always beats everything the old leader published,
// whatever the clocks say (Lashup stamped zones with wall-clock ms, and a
// leader with a fast clock could keep winning after it lost leadership).
//
// Two different publishers can only produce the same version when both
// believed they led at once (a partition). That tie is broken by the origin
// name: the lower name wins, the same rule that elects leaders, so every
// node picks the same winner without talking to anyone.
type Stamp struct {
	Version uint64
	Origin  string
}

// Newer reports whether s supersedes o.
func (s Stamp) Newer(o Stamp) bool {
	if s.Version != o.Version {
		return s.Version > o.Version
	}
	return s.Origin < o.Origin
}

func (s Stamp) String() string { return fmt.Sprintf("%d@%s", s.Version, s.Origin) }
