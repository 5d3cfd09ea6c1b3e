package v1

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// specTask is the Marathon-launched host-mode task of the operator API
// notes (§A.6.1) with a status of §A.6.2.
const specTask = `{
  "name": "web.dev",
  "task_id": {"value": "dev_web.instance-4a7b1f6e-93c2-11ee-9f4a-0242ac110002._app.1"},
  "framework_id": {"value": "a9ba2984-99c4-4183-8cd1-f7313426e21c-0001"},
  "agent_id": {"value": "c3946a13-75b4-4d3c-9d0e-fc10038dca85-S3"},
  "state": "TASK_RUNNING",
  "resources": [
    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}, "role": "*", "allocation_info": {"role": "*"}},
    {"name": "mem",  "type": "SCALAR", "scalar": {"value": 64.0}, "role": "*", "allocation_info": {"role": "*"}},
    {"name": "ports", "type": "RANGES",
     "ranges": {"range": [{"begin": 31001, "end": 31001}, {"begin": 31517, "end": 31517}]},
     "role": "*", "allocation_info": {"role": "*"}}
  ],
  "statuses": [{
    "task_id": {"value": "dev_web.instance-4a7b1f6e-93c2-11ee-9f4a-0242ac110002._app.1"},
    "state": "TASK_RUNNING", "source": "SOURCE_EXECUTOR",
    "reason": "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
    "agent_id": {"value": "c3946a13-75b4-4d3c-9d0e-fc10038dca85-S3"},
    "timestamp": 1470820172.07315, "uuid": "hTaLQ0b5Q1OZuab7QclTKQ==", "healthy": true,
    "labels": {"labels": [{"key": "Docker.NetworkSettings.IPAddress", "value": "172.17.0.2"}]},
    "container_status": {
      "container_id": {"value": "6b5e"},
      "network_infos": [{"name": "dcos", "ip_addresses": [{"protocol": "IPv4", "ip_address": "9.0.1.6"}],
        "port_mappings": [{"host_port": 31005, "container_port": 80, "protocol": "tcp"}]}],
      "executor_pid": 4711
    },
    "unreachable_time": {"nanoseconds": 1470820172046531840}
  }],
  "status_update_state": "TASK_RUNNING",
  "status_update_uuid": "ycLTRBo8TjKFTrh4vsBERg==",
  "labels": {"labels": [{"key": "HAPROXY_GROUP", "value": "external"}]},
  "discovery": {
    "visibility": "FRAMEWORK", "name": "web.dev",
    "ports": {"ports": [
      {"number": 31001, "name": "http", "protocol": "tcp", "labels": {"labels": [{"key": "VIP_0", "value": "/web:80"}]}},
      {"number": 31517, "name": "admin", "protocol": "tcp"}
    ]}
  },
  "kill_policy": {"grace_period": {"nanoseconds": 30000000000}}
}`

func TestSpecTaskToV0(t *testing.T) {
	var vt Task
	if err := json.Unmarshal([]byte(specTask), &vt); err != nil {
		t.Fatal(err)
	}
	got := TaskToV0(&vt)
	if got.ID != "dev_web.instance-4a7b1f6e-93c2-11ee-9f4a-0242ac110002._app.1" || got.FrameworkID != "a9ba2984-99c4-4183-8cd1-f7313426e21c-0001" ||
		got.SlaveID != "c3946a13-75b4-4d3c-9d0e-fc10038dca85-S3" || got.ExecutorID != "" || got.Name != "web.dev" || got.State != "TASK_RUNNING" {
		t.Fatalf("ids: %+v", got)
	}
	if got.Resources != (state.Resources{CPUs: 0.1, Mem: 64, Ports: "[31001-31001, 31517-31517]"}) {
		t.Fatalf("resources %+v", got.Resources)
	}
	if len(got.Labels) != 1 || got.Labels[0] != (state.Label{Key: "HAPROXY_GROUP", Value: "external"}) {
		t.Fatalf("labels %+v", got.Labels)
	}
	if p := got.Discovery.Ports.Ports[0]; p.Number != 31001 || p.Labels.Labels[0].Value != "/web:80" {
		t.Fatalf("discovery %+v", got.Discovery)
	}
	s := got.Statuses[0]
	if s.State != "TASK_RUNNING" || s.Timestamp != 1470820172.07315 || s.Healthy == nil || !*s.Healthy ||
		s.Labels[0].Value != "172.17.0.2" || s.ContainerStatus.NetworkInfos[0].IPAddresses[0].IPAddress != "9.0.1.6" ||
		s.ContainerStatus.NetworkInfos[0].PortMappings[0].HostPort != 31005 {
		t.Fatalf("status %+v", s)
	}
}

func TestSpecAgentAndFrameworkToV0(t *testing.T) {
	var a Agent
	err := json.Unmarshal([]byte(`{"agent_info":{"hostname":"10.0.1.2","port":5051,"id":{"value":"c3-S3"},
	  "resources":[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1025,"end":2180},{"begin":2182,"end":3887}]}},
	               {"name":"cpus","type":"SCALAR","scalar":{"value":4.0}}],
	  "attributes":[{"name":"rack","type":"TEXT","text":{"value":"r1"}},{"name":"n","type":"SCALAR","scalar":{"value":2}},
	                {"name":"r","type":"RANGES","ranges":{"range":[{"begin":1,"end":2}]}},{"name":"s","type":"SET","set":{"item":["a","b"]}}],
	  "domain":{"fault_domain":{"region":{"name":"r"},"zone":{"name":"z"}}}},
	  "active":true,"deactivated":false,"version":"1.11.0","pid":"slave(1)@10.0.1.2:5051",
	  "registered_time":{"nanoseconds":1500993262264135000},"capabilities":[{"type":"MULTI_ROLE"}]}`), &a)
	if err != nil {
		t.Fatal(err)
	}
	sl := AgentToV0(&a)
	if sl.ID != "c3-S3" || sl.PID != "slave(1)@10.0.1.2:5051" || sl.Hostname != "10.0.1.2" || !*sl.Active ||
		sl.Resources.Ports != "[1025-2180, 2182-3887]" || sl.Resources.CPUs != 4 {
		t.Fatalf("agent %+v %+v", sl, sl.Resources)
	}
	if sl.Attributes["rack"] != "r1" || sl.Attributes["n"] != 2.0 || sl.Attributes["r"] != "[1-2]" || sl.Attributes["s"] != "{a,b}" {
		t.Fatalf("attributes %v", sl.Attributes)
	}
	if a.RegisteredTime.Nanoseconds != 1500993262264135000 {
		t.Fatalf("nanoseconds lost precision: %d", a.RegisteredTime.Nanoseconds)
	}
	// No pid: Mesos' agent naming from hostname and port.
	a.PID = ""
	if sl := AgentToV0(&a); sl.PID != "slave(1)@10.0.1.2:5051" {
		t.Fatalf("derived pid %q", sl.PID)
	}

	var f Framework
	err = json.Unmarshal([]byte(`{"framework_info":{"user":"root","name":"marathon","id":{"value":"a9-0001"},
	  "failover_timeout":604800.0,"checkpoint":true,"roles":["slave_public"],"hostname":"10.0.0.11",
	  "principal":"dcos_marathon","webui_url":"http://10.0.0.11:8080","capabilities":[{"type":"PARTITION_AWARE"}],
	  "labels":{"labels":[{"key":"DCOS_PACKAGE_FRAMEWORK_NAME","value":"marathon"}]}},
	  "active":true,"connected":true,"recovered":false,"registered_time":{"nanoseconds":1501191957829317120},
	  "unregistered_time":{"nanoseconds":0},"allocated_resources":[],"offered_resources":[]}`), &f)
	if err != nil {
		t.Fatal(err)
	}
	fw := FrameworkToV0(&f)
	if fw.ID != "a9-0001" || fw.Name != "marathon" || fw.Hostname != "10.0.0.11" || fw.WebUIURL != "http://10.0.0.11:8080" || !*fw.Active {
		t.Fatalf("framework %+v", fw)
	}
}

func TestFromV0Shapes(t *testing.T) {
	active := true
	st := &state.State{
		ID: "m", Version: "1.11.0",
		Slaves: []state.Slave{{ID: "m-S0", PID: "slave(1)@127.0.0.1:5051", Hostname: "127.0.0.1", Active: &active,
			Resources: &state.Resources{CPUs: 2, Ports: "[31000-32000]"}}},
		Frameworks: []state.Framework{{ID: "m-0000", Name: "marathon", Hostname: "h", Tasks: []state.Task{{
			ID: "t1", Name: "web", SlaveID: "m-S0", State: "TASK_RUNNING",
			Resources: state.Resources{Mem: 64, Ports: "[31001-31001]"},
			Labels:    []state.Label{{Key: "k", Value: "v"}},
			Statuses:  []state.Status{{State: "TASK_RUNNING", Timestamp: 1700000000.5, Labels: []state.Label{{Key: "a", Value: "b"}}}},
		}}}},
	}
	gs, errs := FromV0(st, FromV0Options{Version: "x", Registered: time.Unix(1500000000, 5)})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	b, err := json.Marshal(gs)
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	for _, want := range []string{
		`"task_id":{"value":"t1"}`, `"framework_id":{"value":"m-0000"}`, `"agent_id":{"value":"m-S0"}`,
		`"labels":{"labels":[{"key":"k","value":"v"}]}`, `"labels":{"labels":[{"key":"a","value":"b"}]}`,
		`{"name":"mem","type":"SCALAR","scalar":{"value":64.0},"role":"*","allocation_info":{"role":"*"}}`,
		`"ranges":{"range":[{"begin":31001,"end":31001}]}`, `"registered_time":{"nanoseconds":1500000000000000005}`,
		`"failover_timeout":604800.0`, `"timestamp":1700000000.5`, `"status_update_state":"TASK_RUNNING"`,
		`"agent_info":{"hostname":"127.0.0.1","port":5051,"id":{"value":"m-S0"}`, `"version":"1.11.0"`,
		`"unreachable_tasks":[]`, `"completed_tasks":[]`, `"recovered_agents":[]`, `"completed_frameworks":[]`, `"executors":[]`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("GET_STATE lacks %s\n%s", want, js)
		}
	}
	if strings.Contains(js, `"executor_id"`) {
		t.Error("command task rendered an executor_id")
	}
	// Bad ports keep the rest of the item and report the item.
	st.Frameworks[0].Tasks[0].Resources.Ports = "[31001-31001, x-y]"
	gs, errs = FromV0(st, FromV0Options{})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `task "t1"`) || len(gs.GetTasks.Tasks) != 1 {
		t.Fatalf("errs %v", errs)
	}
}

func TestFloat64(t *testing.T) {
	for v, want := range map[float64]string{15: "15.0", 0.1: "0.1", 0: "0.0", 1700000000.123456: "1700000000.123456", 1e21: "1000000000000000000000.0", -2: "-2.0"} {
		b, err := json.Marshal(Float64(v))
		if err != nil || string(b) != want {
			t.Errorf("%v: %s %v, want %s", v, b, err, want)
		}
	}
	var f Float64
	for _, tc := range []struct {
		in   string
		want float64
	}{{`15`, 15}, {`"2.5"`, 2.5}, {`null`, 2.5}} {
		in, want := tc.in, tc.want
		if err := json.Unmarshal([]byte(in), &f); err != nil || float64(f) != want {
			t.Errorf("%s: %v %v", in, f, err)
		}
	}
	if err := json.Unmarshal([]byte(`"x"`), &f); err == nil {
		t.Error("accepted a non-number")
	}
}

func TestMasterFromV0(t *testing.T) {
	mi := MasterFromV0(&state.State{ID: "m", PID: "master@127.0.1.1:5050", Hostname: "127.0.1.1"}, "1.11.0")
	if mi.IP != 16842879 || mi.Port != 5050 || mi.Address.IP != "127.0.1.1" || mi.Version != "1.11.0" {
		t.Fatalf("%+v %+v", mi, mi.Address)
	}
	var st state.State
	MasterToV0(&mi, &st)
	if st.Leader != "master@127.0.1.1:5050" || st.LeaderInfo.Port != 5050 {
		t.Fatalf("%+v", st)
	}
}
