package directory_test

import (
	"fmt"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/directory"
	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
	"github.com/sextantdc/sextant/internal/vip"
)

// A leader builds the zones from a snapshot; every node installs them in a
// Store and answers from its Index.
func Example() {
	st := &state.State{
		Leader: "master@10.0.0.1:5050",
		Slaves: []state.Slave{{ID: "a", PID: "slave(1)@10.0.0.7:5051"}},
		Frameworks: []state.Framework{{ID: "m", Name: "marathon", Tasks: []state.Task{{
			ID: "web.1", Name: "web", SlaveID: "a", State: "TASK_RUNNING",
			Discovery: &state.Discovery{Ports: &state.Ports{Ports: []state.DiscoveryPort{{Number: 8080, Protocol: "tcp",
				Labels: &state.Labels{Labels: []state.Label{{Key: "VIP_0", Value: "/web:80"}}}}}}},
			Statuses: []state.Status{{State: "TASK_RUNNING", ContainerStatus: &state.ContainerStatus{
				NetworkInfos: []state.NetworkInfo{{IPAddresses: []state.IPAddress{{IPAddress: "9.0.1.2"}}}}}}},
		}}}},
	}
	snap := modeltest.FromState(st, modeltest.Options{Version: 1})
	vips, _ := vip.BuildTable(snap, vip.Config{IPv4: vip.Range{Min: vip.DefaultMinIPv4, Max: vip.DCOSMaxIPv4}})
	zones, _ := directory.Build(snap, vips, directory.Config{Masters: []netip.Addr{netip.MustParseAddr("10.0.0.1")}})

	// Gossip carries each zone as name, version and bytes.
	store := directory.NewStore(directory.Options{})
	for _, z := range zones {
		b, _ := z.MarshalBinary()
		var got directory.Zone
		if err := got.UnmarshalBinary(b); err == nil {
			store.Install(&got)
		}
	}

	for _, q := range []string{"web.marathon.autoip.dcos.thisdcos.directory.", "web.marathon.l4lb.thisdcos.directory."} {
		req := new(dns.Msg)
		req.SetQuestion(q, dns.TypeA)
		for _, rr := range store.Index().Reply(req).Answer {
			fmt.Println(rr.Header().Name, rr.(*dns.A).A)
		}
	}
	// Output:
	// web.marathon.autoip.dcos.thisdcos.directory. 9.0.1.2
	// web.marathon.l4lb.thisdcos.directory. 11.225.36.193
}
