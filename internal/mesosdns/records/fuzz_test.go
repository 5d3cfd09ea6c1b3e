package records

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/mesosdns/records/synth"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

// FuzzGenerate feeds arbitrary state documents through the whole pipeline
// (state.Parse → model.Build → Generate): it must never panic, every name
// except the configured name server must lie in the domain, and the
// remembering Generator must agree with Generate.
func FuzzGenerate(f *testing.F) {
	// Small seeds only: the fuzzer minimises every new input, and
	// minimising the 20 KB fixture takes most of a short fuzzing run.
	f.Add([]byte(`{"leader":"master@1.2.3.4:5050","slaves":[{"id":"x-3","pid":"slave(1)@[2001:db8::1]:5051"}],`+
		`"frameworks":[{"name":"ipv6-framework","pid":"scheduler(1)@[2001:db8::1]:25501","tasks":[{"id":"toy.1","name":"toy-store",`+
		`"slave_id":"x-3","state":"TASK_RUNNING","resources":{"ports":"[31354-31355]"},"statuses":[{"state":"TASK_RUNNING",`+
		`"timestamp":1,"container_status":{"network_infos":[{"ip_addresses":[{"ip_address":"12.0.1.3"},{"ip_address":"fd01:b::1:8000:2"}]},`+
		`{"ip_address":"12.0.1.2"}]}}]}]},{"name":"no pid","hostname":"localhost"}]}`), false, "")
	small, _ := json.Marshal(synth.State(30, 1))
	f.Add(small, false, "master@host.example:5050")
	f.Add([]byte(`{"leader":"m@1.2.3.4:5050","slaves":[{"id":"a-S1","pid":"slave(1)@localhost:5051"},{"id":"a-S2"}],`+
		`"frameworks":[{"name":"f.$.x","pid":"s@[::1]:1","tasks":[{"id":"t","name":"T.x","slave_id":"a-S1","state":"TASK_RUNNING",`+
		`"resources":{"ports":"[1-3, 9, x-2]"},"discovery":{"name":"Di.N","ports":{"ports":[{"number":80,"protocol":"","name":"h"}]}},`+
		`"statuses":[{"state":"TASK_RUNNING","timestamp":1,"labels":[{"key":"Docker.NetworkSettings.IPAddress","value":"::ffff:1.2.3.4"}]}]}]}]}`),
		true, "")
	f.Add([]byte(`{}`), false, "@")
	f.Fuzz(func(t *testing.T, doc []byte, rfc952 bool, leader string) {
		st, _, err := state.Parse(doc)
		if err != nil {
			return
		}
		if leader != "" {
			st.Leader = leader
		}
		snap := modeltest.FromState(st, modeltest.Options{Resolved: localhost})
		// A mutated range like "[1-65000]" is valid and makes hundreds of
		// thousands of records; that is a benchmark, not a fuzz case.
		ports := 0
		for i := range snap.Tasks {
			ports += len(snap.Tasks[i].Ports)
		}
		if ports > 5000 {
			return
		}
		cfg := Config{Domain: "mesos", EnforceRFC952: rfc952, IPSources: allSources, SOAMname: "ns1.mesos.",
			Listener: "127.0.0.1", Masters: []string{"", "1.2.3.4:5050", "bad", "[::1]:5050"}}
		rs, _ := Generate(snap, cfg)
		for kind, m := range map[string]map[string][]string{"A": rs.A, "AAAA": rs.AAAA, "SRV": rs.SRV} {
			for name, vals := range m {
				if !strings.HasSuffix(name, ".mesos.") {
					t.Fatalf("%s name %q is outside the domain", kind, name)
				}
				if len(vals) == 0 {
					t.Fatalf("%s name %q has no values", kind, name)
				}
			}
		}
		g := NewGenerator()
		g.Generate(snap, cfg)
		again, _ := g.Generate(snap, cfg)
		if !reflect.DeepEqual(rs, again) {
			t.Fatal("Generator differs from Generate")
		}
	})
}
