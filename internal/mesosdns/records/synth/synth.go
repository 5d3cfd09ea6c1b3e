// Package synth makes synthetic but realistic Mesos master states for
// benchmarks and randomized tests: many frameworks, Marathon apps in groups,
// hundreds of agents, container IPs, DiscoveryInfo with named ports, and a
// few tasks that are not running. The same arguments always give the same
// state.
//
// Imports of Sextant's own packages: internal/mesos/state; nothing else of Sextant.
package synth

import (
	"fmt"
	"math/rand/v2"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

var (
	groups = []string{"payments", "search", "checkout", "frontend", "data", "ml", "infra", "auth", "billing", "mobile",
		"ads", "catalog", "ledger", "notify", "media", "geo"}
	apps = []string{"web", "api", "worker", "cache", "db", "gateway", "queue", "scheduler", "indexer", "ingest",
		"reporting", "admin", "metrics", "proxy", "backend", "stream"}
	frameworks = []string{"marathon", "marathon-user", "kafka", "cassandra", "spark", "jenkins",
		"chronos with a space AND MIXED CASE-2.0.1", "hdfs"}
	// Share of tasks per framework, in percent; marathon runs most.
	frameworkShare = []int{60, 10, 6, 6, 6, 4, 4, 4}
)

// State returns a state with nTasks tasks (about 95% of them running),
// one agent per ~25 tasks, and the given seed.
func State(nTasks int, seed int64) *state.State {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5e47a47))
	st := &state.State{
		ID:       "synthetic",
		Hostname: "master-1",
		Leader:   "master@10.0.0.1:5050",
		Version:  "1.11.0",
	}
	nAgents := max(1, nTasks/25)
	for i := range nAgents {
		host := fmt.Sprintf("10.%d.%d.%d", 1+i/62500, (i/250)%250, 1+i%250)
		if i%50 == 49 {
			host = fmt.Sprintf("[fd00:%x::%x]", i/65536, i%65536+1)
		}
		st.Slaves = append(st.Slaves, state.Slave{
			ID:       fmt.Sprintf("8a1b9d0e-%04x-4c1d-9e2f-5050%08x-S%d", seed&0xffff, i, i),
			PID:      "slave(1)@" + host + ":5051",
			Hostname: fmt.Sprintf("agent-%d.cluster.example.com", i),
		})
	}
	for fi, name := range frameworks {
		st.Frameworks = append(st.Frameworks, state.Framework{
			ID:       fmt.Sprintf("fw-%04x-%04d", seed&0xffff, fi),
			Name:     name,
			PID:      fmt.Sprintf("scheduler(1)@10.0.0.%d:%d", 10+fi, 8080+fi),
			Hostname: fmt.Sprintf("master-%d.cluster.example.com", fi%3+1),
		})
	}
	left := nTasks
	for fi := range st.Frameworks {
		n := nTasks * frameworkShare[fi] / 100
		if fi == len(st.Frameworks)-1 {
			n = left
		}
		left -= n
		fillFramework(r, &st.Frameworks[fi], n, st.Slaves, fi)
	}
	return st
}

// fillFramework adds n tasks in apps of 1 to 40 instances.
func fillFramework(r *rand.Rand, f *state.Framework, n int, agents []state.Slave, fi int) {
	app := 0
	for len(f.Tasks) < n {
		g, a := groups[r.IntN(len(groups))], apps[r.IntN(len(apps))]
		// Marathon turns /group/app into the task name app.group.
		name := fmt.Sprintf("%s-%d.%s", a, app, g)
		if fi != 0 && fi != 1 {
			name = fmt.Sprintf("%s-%d", a, app)
		}
		instances := min(1+r.IntN(40), n-len(f.Tasks))
		withDI := r.IntN(5) == 0
		withNet := r.IntN(3) == 0
		nPorts := r.IntN(4)
		for i := range instances {
			f.Tasks = append(f.Tasks, task(r, name, app, i, withDI, withNet, nPorts, agents, f.ID))
		}
		app++
	}
}

func task(r *rand.Rand, name string, app, i int, withDI, withNet bool, nPorts int, agents []state.Slave, fwID string) state.Task {
	ag := agents[r.IntN(len(agents))]
	t := state.Task{
		ID:          fmt.Sprintf("%s.%08x-%04x-11e9-a088-%012x", name, r.Uint32(), app&0xffff, uint64(i)<<16|uint64(r.Uint32()&0xffff)),
		Name:        name,
		FrameworkID: fwID,
		SlaveID:     ag.ID,
		State:       "TASK_RUNNING",
		Resources:   state.Resources{CPUs: 0.5, Mem: 256},
	}
	switch r.IntN(40) {
	case 0:
		t.State = "TASK_STAGING"
	case 1:
		t.State = "TASK_KILLED"
	}
	if nPorts > 0 {
		p := 31000 + r.IntN(1000)
		if nPorts == 3 {
			t.Resources.Ports = fmt.Sprintf("[%d-%d, %d-%d]", p, p+1, p+10, p+10)
		} else {
			t.Resources.Ports = fmt.Sprintf("[%d-%d]", p, p+nPorts-1)
		}
	} else {
		t.Resources.Ports = "[]"
	}
	ts := 1.5e9 + float64(r.IntN(1e6))
	t.Statuses = []state.Status{{State: "TASK_STARTING", Timestamp: ts}}
	running := state.Status{State: "TASK_RUNNING", Timestamp: ts + 2}
	if withNet {
		running.ContainerStatus = &state.ContainerStatus{NetworkInfos: []state.NetworkInfo{{
			Name:        "dcos",
			IPAddresses: []state.IPAddress{{IPAddress: fmt.Sprintf("9.%d.%d.%d", r.IntN(256), r.IntN(256), 1+r.IntN(254))}},
		}}}
	}
	if r.IntN(10) == 0 {
		running.Labels = []state.Label{{Key: "Docker.NetworkSettings.IPAddress", Value: fmt.Sprintf("172.17.%d.%d", r.IntN(256), 1+r.IntN(254))}}
	}
	healthy := r.IntN(20) != 0
	running.Healthy = &healthy
	t.Statuses = append(t.Statuses, running)
	if withDI {
		t.Discovery = &state.Discovery{Visibility: "FRAMEWORK", Name: name, Ports: &state.Ports{Ports: []state.DiscoveryPort{
			{Number: 8080, Name: "http", Protocol: "tcp"},
			{Number: 9090, Name: "admin", Protocol: "tcp"},
		}}}
	}
	return t
}
