// types.go holds what the package takes and gives: Config, the settings
// a build depends on, and RecordSet with its /v1/enumerate view.

package records

import "net/netip"

// Config holds the settings that shape the record set. It mirrors the
// Mesos-DNS configuration fields of the same names.
type Config struct {
	// Domain is the zone, without trailing dot (e.g. "mesos").
	Domain string
	// EnforceRFC952 selects 24-character labels without leading digits.
	EnforceRFC952 bool
	// IPSources orders the task IP sources: "netinfo", "docker", "mesos",
	// "host". Unknown names are ignored, as Mesos-DNS did.
	IPSources []string
	// SOAMname is the name-server name (with trailing dot) that gets the
	// listener's addresses.
	SOAMname string
	// Listener is the DNS listen address: "0.0.0.0" (all interfaces, see
	// ListenerAddrs), "127.0.0.1", or another IP literal.
	Listener string
	// ListenerAddrs are the host's non-loopback interface addresses, used
	// when Listener is 0.0.0.0. The caller gathers them so that generation
	// does no I/O.
	ListenerAddrs []netip.Addr
	// Masters is the current masters list; Masters[0] is the presumed
	// leader and may be "" (ZooKeeper has not reported one yet).
	Masters []string
	// HealthAware leaves out tasks that should not get traffic (model
	// Task.Serving: unhealthy, or health-checked with no result yet).
	// Mesos-DNS ignored health; this is off unless the config asks.
	HealthAware bool
}

// Record kinds, as /v1/enumerate names them.
const (
	KindA    = "A"
	KindAAAA = "AAAA"
	KindSRV  = "SRV"
)

// RecordSet is one generated zone. It is immutable once built: the DNS
// server prepares its answers from it and the HTTP API reads it.
//
// Names are fully qualified, lower case (except the raw DiscoveryInfo names
// Mesos-DNS also inserts), with a trailing dot. Values keep insertion order
// and hold no duplicates. A and AAAA values are IP strings, except the
// sanitised host strings of agents whose host did not resolve (Mesos-DNS
// leaked those as "A" values: the HTTP API shows them, DNS skips them). SRV
// values are "<target-fqdn>:<port>".
type RecordSet struct {
	Domain string // e.g. "mesos" (no trailing dot)
	A      map[string][]string
	AAAA   map[string][]string
	SRV    map[string][]string
	// Frameworks is the /v1/enumerate view: one entry per framework in
	// state order, each task listing the records it was first to insert.
	Frameworks []EnumFramework
	// Version is the snapshot version the set was built from.
	Version uint64
}

// EnumFramework is one framework of /v1/enumerate.
type EnumFramework struct {
	Name  string     `json:"name"`
	Tasks []EnumTask `json:"tasks"`
}

// EnumTask is one eligible task of /v1/enumerate.
type EnumTask struct {
	Name    string       `json:"name"`
	ID      string       `json:"id"`
	Records []EnumRecord `json:"records"`
}

// EnumRecord is one (name, value) pair a task was first to insert.
type EnumRecord struct {
	Name  string `json:"name"`
	Host  string `json:"host"`
	RType string `json:"rtype"` // "A", "AAAA" or "SRV"
}

// Has reports whether the name exists in any of A, AAAA or SRV.
func (rs *RecordSet) Has(name string) bool {
	if _, ok := rs.A[name]; ok {
		return true
	}
	if _, ok := rs.AAAA[name]; ok {
		return true
	}
	_, ok := rs.SRV[name]
	return ok
}
