package dcosdns

import (
	"encoding/json"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/testutil"
	"github.com/sextantdc/sextant/internal/testutil/modeltest"
)

// peer is a real DNS server on loopback (UDP and TCP on one port) that
// answers every A query with one address.
type peer struct {
	addr  string
	calls atomic.Int64
}

func startPeer(t testing.TB, ip string, ttl uint32) *peer {
	t.Helper()
	p := &peer{}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		p.calls.Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		if r.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.ParseIP(ip)})
		}
		_ = w.WriteMsg(m)
	})
	p.addr = testutil.ServeDNS(t, h)
	return p
}

// testTask is one task of a test state.
type testTask struct {
	name string
	ip   string // container IP
}

// testState builds a v0 master state: leader 10.0.0.1, one agent 10.0.0.7,
// framework marathon, every task TASK_RUNNING with its container IP.
func testState(tasks []testTask) *state.State {
	return testStateLeader("master@10.0.0.1:5050", tasks)
}

// testStateLeader is testState with another leader pid (end-to-end tests
// name their loopback master so that nothing is ever asked elsewhere).
func testStateLeader(leader string, tasks []testTask) *state.State {
	yes := true
	st := &state.State{
		Leader: leader,
		Slaves: []state.Slave{{ID: "S1", PID: "slave(1)@10.0.0.7:5051", Hostname: "agent-1", Active: &yes}},
	}
	fw := state.Framework{ID: "F1", Name: "marathon", PID: "scheduler-1@10.0.0.1:8080", Hostname: "m1", Active: &yes}
	for i, tt := range tasks {
		fw.Tasks = append(fw.Tasks, state.Task{
			ID: fmt.Sprintf("%s.%d", tt.name, i), Name: tt.name, FrameworkID: "F1", SlaveID: "S1", State: "TASK_RUNNING",
			Statuses: []state.Status{{State: "TASK_RUNNING", Timestamp: 1, ContainerStatus: &state.ContainerStatus{
				NetworkInfos: []state.NetworkInfo{{IPAddresses: []state.IPAddress{{IPAddress: tt.ip}}}},
			}}},
		})
	}
	st.Frameworks = []state.Framework{fw}
	return st
}

func testSnapshot(version uint64, tasks []testTask) *model.Snapshot {
	return modeltest.FromState(testState(tasks), modeltest.Options{Version: version})
}

func stateJSON(t testing.TB, tasks []testTask) []byte {
	t.Helper()
	b, err := json.Marshal(testState(tasks))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ask(t testing.TB, addr, network, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	c := &dns.Client{Net: network}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	r, _, err := c.Exchange(q, addr)
	return r, err
}
