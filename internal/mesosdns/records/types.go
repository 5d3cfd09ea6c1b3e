// Package records generates the Mesos-DNS record set from a cluster
// snapshot, exactly as Mesos-DNS does (see spec/mesos-dns.md §5).
package records

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
