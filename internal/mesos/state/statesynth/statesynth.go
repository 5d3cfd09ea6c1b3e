// Package statesynth generates Mesos `/master/state` documents of a large
// DC/OS cluster for end-to-end benchmarks: thousands of agents with their
// attributes and resources, a handful of frameworks (two Marathons holding
// most apps, SDK services, Spark, Jenkins), apps in groups with 1 to 50
// instances, 1–3 named ports per task (DiscoveryInfo, some with VIP
// labels), host, Docker-bridge and virtual-network tasks (a fifth with
// container IPs), health checks, labels and a few tasks that are not
// running. The same Shape always gives the same state.
//
// It differs from internal/mesosdns/records/synth (a smaller, records-
// oriented state) in aiming at the size and repetition of a real document:
// at 100,000 tasks its JSON is about 60 MB, and agent ids, framework ids,
// host addresses and label keys repeat as they do in a real master's.
//
// Imports of Sextant's own packages: internal/mesos/state; nothing else of Sextant.
package statesynth

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// Shape says what to generate. Zero fields take the defaults noted.
type Shape struct {
	// Tasks is the number of tasks, over all frameworks.
	Tasks int
	// Agents is the number of agents (default one per 25 tasks, at least 1).
	Agents int
	// Frameworks is the number of frameworks, 1–8 (default 8).
	Frameworks int
	// ContainerIPPercent is the share of tasks, in percent, on a virtual
	// network with an IP of their own (default 20; -1 for none).
	ContainerIPPercent int
	// Leader is the state's leader pid (default "master@10.0.0.1:5050");
	// a benchmark sets it to its loopback state server.
	Leader string
	// Seed selects one of the states of this shape.
	Seed uint64
}

// DefaultShape is the shape of issue 14: one agent per 25 tasks, 8
// frameworks, a fifth of the tasks with container IPs.
func DefaultShape(tasks int, seed uint64) Shape {
	return Shape{Tasks: tasks, Seed: seed}
}

func (s Shape) filled() Shape {
	if s.Tasks < 0 {
		s.Tasks = 0
	}
	if s.Agents <= 0 {
		s.Agents = max(1, s.Tasks/25)
	}
	if s.Frameworks <= 0 || s.Frameworks > len(frameworkKinds) {
		s.Frameworks = len(frameworkKinds)
	}
	switch {
	case s.ContainerIPPercent == 0:
		s.ContainerIPPercent = 20
	case s.ContainerIPPercent < 0:
		s.ContainerIPPercent = 0
	}
	s.ContainerIPPercent = min(s.ContainerIPPercent, 100)
	if s.Leader == "" {
		s.Leader = "master@10.0.0.1:5050"
	}
	return s
}

type kind uint8

const (
	marathon kind = iota // apps in groups, names "app.group"
	sdk                  // pods "<pod>-<i>-<task>", one name per instance
	spark                // drivers and executors, unique names
	jenkins              // build agents, unique names
)

// frameworkKinds are the frameworks in state order with their share of the
// tasks in percent; marathon runs most of them, as in DC/OS clusters.
var frameworkKinds = []struct {
	name  string
	kind  kind
	share int
	pod   string // SDK pod and task type
}{
	{"marathon", marathon, 55, ""},
	{"marathon-user", marathon, 15, ""},
	{"kafka", sdk, 6, "kafka-%d-broker"},
	{"cassandra", sdk, 6, "node-%d-server"},
	{"spark", spark, 6, ""},
	{"hdfs", sdk, 4, "data-%d-node"},
	{"jenkins", jenkins, 4, ""},
	{"elastic", sdk, 4, "data-%d-node"},
}

var (
	groups = []string{"payments", "search", "checkout", "frontend", "data", "ml", "infra", "auth", "billing", "mobile",
		"ads", "catalog", "ledger", "notify", "media", "geo", "risk", "ops", "growth", "identity"}
	appNames = []string{"web", "api", "worker", "cache", "gateway", "queue", "scheduler", "indexer", "ingest",
		"reporting", "admin", "metrics", "proxy", "backend", "stream", "render", "sync", "export"}
	// 1–3 named ports, 1.6 on average.
	portNames = [][]string{{"http"}, {"http"}, {"api"}, {"http", "admin"}, {"web", "debug"}, {"grpc", "http", "metrics"},
		{"http", "admin"}, {"thrift", "jmx", "metrics"}, {"web"}, {"api", "metrics"}}
	images = []string{"nginx:1.25", "registry.example.com/payments/api:2.14.1", "redis:7.2",
		"registry.example.com/search/indexer:0.9.3", "envoyproxy/envoy:v1.29", "python:3.12-slim"}
	zones = []string{"us-west-2a", "us-west-2b", "us-west-2c"}
)

// Generate returns a state of the shape.
func Generate(sh Shape) *state.State {
	sh = sh.filled()
	g := &gen{sh: sh, r: rand.New(rand.NewPCG(sh.Seed, 0x51a7e5)), uuidBase: sh.Seed}
	yes := true
	st := &state.State{
		ID:       g.uuid(0xfeed),
		PID:      "master@10.0.0.1:5050",
		Hostname: "10.0.0.1",
		Version:  "1.11.0",
		Leader:   sh.Leader,
		LeaderInfo: &state.MasterInfo{ID: g.uuid(0xfeed), PID: "master@10.0.0.1:5050", Hostname: "10.0.0.1", Port: 5050,
			Version: "1.11.0", IP: 0x0100000a, Address: &state.Address{Hostname: "10.0.0.1", IP: "10.0.0.1", Port: 5050}},
	}
	clusterID := g.uuid(0xc1)
	st.Slaves = make([]state.Slave, sh.Agents)
	g.agentIPs = make([]string, sh.Agents)
	for i := range st.Slaves {
		ip := agentIP(i)
		g.agentIPs[i] = ip
		public := i%20 == 19
		attrs := map[string]any{"zone": zones[i%len(zones)], "rack": "r" + strconv.Itoa(i/40)}
		if public {
			attrs["public_ip"] = "true"
		}
		st.Slaves[i] = state.Slave{
			ID:         clusterID + "-S" + strconv.Itoa(i),
			PID:        "slave(1)@" + ip + ":5051",
			Hostname:   ip,
			Active:     &yes,
			Attributes: attrs,
			Resources: &state.Resources{CPUs: 16, Mem: 62000, Disk: 180000,
				Ports: "[1025-2180, 2182-3887, 3889-5049, 5052-8079, 8082-8180, 8182-32000]"},
		}
	}
	nfw := sh.Frameworks
	shares, total := 0, 0
	for _, k := range frameworkKinds[:nfw] {
		shares += k.share
	}
	for fi, k := range frameworkKinds[:nfw] {
		n := sh.Tasks * k.share / shares
		if fi == nfw-1 {
			n = sh.Tasks - total
		}
		total += n
		f := state.Framework{
			ID:       clusterID + "-" + fmt.Sprintf("%04d", fi),
			Name:     k.name,
			PID:      fmt.Sprintf("scheduler-%s@10.0.0.%d:%d", g.uuid(uint64(0x5c00+fi)), 1+fi%3, 15101+fi),
			Hostname: "10.0.0." + strconv.Itoa(1+fi%3),
			Active:   &yes,
			WebUIURL: fmt.Sprintf("http://10.0.0.%d:%d", 1+fi%3, 8080+fi),
		}
		f.Tasks = make([]state.Task, 0, n)
		g.fill(&f, k.kind, k.pod, n, st.Slaves)
		st.Frameworks = append(st.Frameworks, f)
	}
	return st
}

type gen struct {
	sh       Shape
	r        *rand.Rand
	uuidBase uint64
	agentIPs []string
	ip       uint32 // container IPs handed out so far
}

// agentIP is agent i's address: 10.<a>.<b>.<c>, unique per agent.
func agentIP(i int) string {
	return "10." + strconv.Itoa(1+i/62500) + "." + strconv.Itoa(i/250%250) + "." + strconv.Itoa(1+i%250)
}

// uuid is a deterministic UUID-shaped string.
func (g *gen) uuid(n uint64) string {
	x := n*0x9e3779b97f4a7c15 ^ g.uuidBase
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", uint32(x>>32), uint16(x>>16), uint16(x)&0xfff, uint16(n)&0xfff, (x^0x5eed)&0xffffffffffff)
}

func (g *gen) rndUUID() string {
	a, b := g.r.Uint64(), g.r.Uint64()
	return fmt.Sprintf("%08x-%04x-11e9-%04x-%012x", uint32(a>>32), uint16(a>>16), uint16(b>>48), b&0xffffffffffff)
}

// containerIP hands out the next address of the 9.0.0.0/8 overlay.
func (g *gen) containerIP() string {
	g.ip++
	n := g.ip
	return "9." + strconv.Itoa(int(n>>16&0xff)) + "." + strconv.Itoa(int(n>>8&0xff)) + "." + strconv.Itoa(int(n&0xff))
}

// app is what the instances of one app share.
type app struct {
	name, id      string // task name and Marathon app id ("/group/app")
	net           netMode
	ports         []string // port names
	vip           bool
	health        bool
	labels        []state.Label
	image         string
	cpus, mem     float64
	containerPort uint32
}

type netMode uint8

const (
	hostNet netMode = iota
	bridgeNet
	overlayNet
)

// fill adds n tasks to f in apps of 1 to 50 instances (mostly few).
func (g *gen) fill(f *state.Framework, k kind, pod string, n int, agents []state.Slave) {
	appN := 0
	for len(f.Tasks) < n {
		a := g.app(f, k, pod, appN)
		inst := 1 + int(g.r.ExpFloat64()*6)
		inst = min(inst, 50, n-len(f.Tasks))
		if k != marathon {
			inst = min(inst, 9)
		}
		for i := range inst {
			f.Tasks = append(f.Tasks, g.task(f, a, k, pod, appN, i, agents))
		}
		appN++
	}
}

func (g *gen) app(f *state.Framework, k kind, pod string, n int) *app {
	a := &app{cpus: []float64{0.1, 0.25, 0.5, 1, 2}[g.r.IntN(5)], mem: float64(int(128) << g.r.IntN(5)),
		image: images[g.r.IntN(len(images))]}
	group, name := groups[g.r.IntN(len(groups))], appNames[g.r.IntN(len(appNames))]
	switch k {
	case marathon:
		// Marathon turns the app id /group/name-n into the task name
		// name-n.group and the task id group_name-n.<uuid>.
		a.name = name + "-" + strconv.Itoa(n) + "." + group
		a.id = "/" + group + "/" + name + "-" + strconv.Itoa(n)
	case sdk:
		a.name = fmt.Sprintf(pod, n)
		a.id = f.Name
	case spark:
		a.name = "driver-" + strconv.Itoa(20240000+n)
		a.id = "spark"
	case jenkins:
		a.name = "jenkins-agent-" + strconv.Itoa(n)
		a.id = "jenkins"
	}
	switch p := g.r.IntN(100); {
	case p < g.sh.ContainerIPPercent:
		a.net = overlayNet
	case p < g.sh.ContainerIPPercent+(100-g.sh.ContainerIPPercent)/3:
		a.net = bridgeNet
	default:
		a.net = hostNet
	}
	a.ports = portNames[g.r.IntN(len(portNames))]
	a.containerPort = uint32(8000 + g.r.IntN(100)*10)
	a.vip = k == marathon && g.r.IntN(10) < 3
	a.health = g.r.IntN(2) == 0
	switch k {
	case marathon:
		if g.r.IntN(5) == 0 {
			a.labels = append(a.labels, state.Label{Key: "HAPROXY_GROUP", Value: "external"},
				state.Label{Key: "HAPROXY_0_VHOST", Value: name + "-" + strconv.Itoa(n) + "." + group + ".example.com"})
		}
		if g.r.IntN(5) < 2 {
			a.labels = append(a.labels, state.Label{Key: "owner", Value: "team-" + group})
		}
	case sdk:
		a.labels = []state.Label{{Key: "goal_state", Value: "RUNNING"}, {Key: "task_type", Value: strings.SplitN(pod, "-", 3)[2]}}
	}
	return a
}

func (g *gen) task(f *state.Framework, a *app, k kind, pod string, appN, i int, agents []state.Slave) state.Task {
	ai := g.r.IntN(len(agents))
	ag := &agents[ai]
	name := a.name
	if k != marathon {
		// SDK and batch frameworks name each instance on its own.
		switch k {
		case sdk:
			name = fmt.Sprintf(pod, i) + "-" + strconv.Itoa(appN)
		default:
			name = a.name + "-" + strconv.Itoa(i)
		}
	}
	id := strings.ReplaceAll(strings.TrimPrefix(a.id, "/"), "/", "_") + "." + g.rndUUID()
	if k != marathon {
		id = name + "__" + g.rndUUID()
	}
	t := state.Task{
		ID:          id,
		Name:        name,
		FrameworkID: f.ID,
		SlaveID:     ag.ID,
		State:       "TASK_RUNNING",
		Resources:   state.Resources{CPUs: a.cpus, Mem: a.mem, Disk: 0},
		Labels:      a.labels,
	}
	if k == sdk {
		t.ExecutorID = name + "__" + g.uuid(uint64(appN)) + "__executor"
	}
	switch g.r.IntN(100) {
	case 0:
		t.State = "TASK_STAGING"
	case 1:
		t.State = "TASK_KILLING"
	case 2:
		t.State = "TASK_FAILED"
	}
	// Host ports: one per named port, except on the overlay where the
	// named ports are container ports.
	hostPorts := make([]uint32, len(a.ports))
	base := uint32(10000 + g.r.IntN(20000))
	for j := range hostPorts {
		hostPorts[j] = base + uint32(j)
	}
	di := &state.Discovery{Visibility: "FRAMEWORK", Name: name, Ports: &state.Ports{Ports: make([]state.DiscoveryPort, len(a.ports))}}
	for j, pn := range a.ports {
		p := state.DiscoveryPort{Number: hostPorts[j], Name: pn, Protocol: "tcp"}
		if a.net == overlayNet {
			p.Number = a.containerPort + uint32(j)
		}
		if a.vip && j == 0 {
			p.Labels = &state.Labels{Labels: []state.Label{{Key: "VIP_0", Value: a.id + ":" + strconv.Itoa(80+j)}}}
		}
		if pn == "metrics" {
			p.Protocol = "udp"
		}
		di.Ports.Ports[j] = p
	}
	t.Discovery = di
	ipSource := g.agentIPs[ai]
	switch a.net {
	case hostNet:
		// Marathon apps without a container definition (most host-network
		// apps) launch tasks without a ContainerInfo.
		t.Resources.Ports = portRanges(hostPorts)
		if g.r.IntN(2) == 0 {
			t.Container = &state.Container{Type: "MESOS"}
		}
	case bridgeNet:
		t.Resources.Ports = portRanges(hostPorts)
		pms := make([]state.PortMapping, len(hostPorts))
		for j, hp := range hostPorts {
			pms[j] = state.PortMapping{HostPort: hp, ContainerPort: a.containerPort + uint32(j), Protocol: "tcp"}
		}
		t.Container = &state.Container{Type: "DOCKER", Docker: &state.Docker{Image: a.image, Network: "BRIDGE", PortMappings: pms}}
		ipSource = "172.17." + strconv.Itoa(g.r.IntN(256)) + "." + strconv.Itoa(2+g.r.IntN(250))
	case overlayNet:
		t.Resources.Ports = "[]"
		t.Container = &state.Container{Type: "MESOS", NetworkInfos: []state.NetworkInfo{{Name: "dcos"}}}
		ipSource = g.containerIP()
	}
	if a.health {
		t.HealthCheck = &state.HealthCheck{Type: "HTTP"}
	}
	ts := 1.7e9 + float64(g.r.IntN(5e6)) + float64(g.r.IntN(1e6))/1e6
	ni := []state.NetworkInfo{{IPAddresses: []state.IPAddress{{IPAddress: ipSource}}}}
	if a.net == overlayNet {
		ni[0].Name = "dcos"
	}
	cs := &state.ContainerStatus{NetworkInfos: ni}
	t.Statuses = []state.Status{}
	if t.State == "TASK_STAGING" {
		return t
	}
	// The agent adds the container status (with the addresses) to
	// TASK_RUNNING and later updates only.
	// The command executor sends TASK_RUNNING only; the default and
	// Docker executors send TASK_STARTING first.
	if t.Container != nil && g.r.IntN(2) == 0 {
		t.Statuses = append(t.Statuses, state.Status{State: "TASK_STARTING", Timestamp: ts})
	}
	running := state.Status{State: "TASK_RUNNING", Timestamp: ts + 1.5 + float64(g.r.IntN(1000))/100, ContainerStatus: cs}
	if a.net == bridgeNet {
		running.Labels = []state.Label{{Key: "Docker.NetworkSettings.IPAddress", Value: ipSource}}
	}
	if a.health {
		healthy := g.r.IntN(50) != 0
		running.Healthy = &healthy
	}
	t.Statuses = append(t.Statuses, running)
	switch t.State {
	case "TASK_KILLING":
		t.Statuses = append(t.Statuses, state.Status{State: "TASK_KILLING", Timestamp: running.Timestamp + 600, ContainerStatus: cs})
	case "TASK_FAILED":
		t.Statuses = append(t.Statuses, state.Status{State: "TASK_FAILED", Timestamp: running.Timestamp + 900})
	}
	return t
}

// portRanges renders ports as a v0 range string, merging neighbours.
func portRanges(ps []uint32) string {
	var rs []state.PortRange
	for _, p := range ps {
		if n := len(rs); n > 0 && rs[n-1].End+1 == uint64(p) {
			rs[n-1].End++
			continue
		}
		rs = append(rs, state.PortRange{Begin: uint64(p), End: uint64(p)})
	}
	return state.FormatPorts(rs)
}

// Probe is a task made to be looked up: benchmarks add it to a state and
// wait for its name to answer with its address.
type Probe struct {
	// Name is the task name ("probe-<n>.scale"), whose Mesos-DNS A name is
	// "probe-<n>-scale.<framework>.<domain>".
	Name string
	// IP is the task's container IP (netinfo), unique per n.
	IP netip.Addr
}

// WithProbe returns a copy of st with one more running task, probe n, in
// the first framework, on the first agent; st is not modified (the copy
// shares everything but the framework list and the first framework's task
// list).
func WithProbe(st *state.State, n int) (*state.State, Probe) {
	p := Probe{Name: "probe-" + strconv.Itoa(n) + ".scale", IP: netip.AddrFrom4([4]byte{10, 254, byte(n >> 8), byte(n)})}
	out := *st
	out.Frameworks = append([]state.Framework(nil), st.Frameworks...)
	if len(out.Frameworks) == 0 || len(out.Slaves) == 0 {
		return &out, p
	}
	f := &out.Frameworks[0]
	ip := p.IP.String()
	t := state.Task{
		ID: "scale_probe-" + strconv.Itoa(n) + ".00000000-0000-11e9-0000-" + fmt.Sprintf("%012x", n), Name: p.Name,
		FrameworkID: f.ID, SlaveID: out.Slaves[0].ID, State: "TASK_RUNNING", Resources: state.Resources{Ports: "[]"},
		Statuses: []state.Status{{State: "TASK_RUNNING", Timestamp: 1.8e9, ContainerStatus: &state.ContainerStatus{
			NetworkInfos: []state.NetworkInfo{{Name: "dcos", IPAddresses: []state.IPAddress{{IPAddress: ip}}}}}}},
	}
	f.Tasks = append(append(make([]state.Task, 0, len(f.Tasks)+1), f.Tasks...), t)
	return &out, p
}
