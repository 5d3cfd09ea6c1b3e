package model

import (
	"net/netip"
	"time"
)

// Observations are the latest whole observation of each source; a nil one
// means that source has not delivered yet (or does not run).
type Observations struct {
	Mesos    *MesosObservation
	Marathon *MarathonObservation
	Items    *ItemsObservation
	Overlay  *OverlayObservation
}

// MesosObservation is what the Mesos source saw in one state of the
// leading master, already in the model's types. A source fills, for each
// Task, the fields above the "computed by Build" line and may leave the
// rest zero; Frameworks[].First/End delimit each framework's tasks in
// Tasks.
type MesosObservation struct {
	Leader Leader
	// Masters is the source's current master list: [presumed leader,
	// others…]; the first may be "" while ZooKeeper has not named one.
	Masters    []string
	Agents     []Agent
	Frameworks []Framework
	Tasks      []Task
	// HostIPs are the addresses resolved for host names in pids.
	HostIPs map[string][]netip.Addr
	// Problems are the items the source skipped or degraded while decoding.
	Problems []Problem
	// Fetched is when the state arrived; From the master it came from.
	Fetched time.Time
	From    string
	// Streamed is true when the state came from the event stream.
	Streamed bool
}

// MarathonObservation is what the Marathon source saw in one full read of
// the apps (and their tasks), already in the model's types.
type MarathonObservation struct {
	// Apps are sorted by ID, each ID once.
	Apps     []App
	Problems []Problem
	Fetched  time.Time
	From     string
}

// ItemsObservation is the set of cluster-wide items this node holds: the
// zones and the VIP document a leading master published, received by
// gossip (or built by this node when it runs alone). Their payloads are
// opaque to the model; the node DNS role decodes them.
type ItemsObservation struct {
	// Items are sorted by Name, each name once.
	Items   []Item
	Fetched time.Time
}

// Item is one cluster-wide item, as its publisher versioned it.
type Item struct {
	Name string
	// Version only ever increases for a name; a consumer installs an item
	// whose version differs from the one it holds.
	Version uint64
	Payload []byte
}
