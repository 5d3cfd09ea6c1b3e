package haproxy_test

import (
	"fmt"
	"strings"
)

// deploy turns app definitions into the /v2/apps?embed=apps.tasks entries
// Marathon reports once they run, so that definitions can be fed to
// marathon-lb and to the edge alike. It does what Marathon does, and
// nothing the comparison depends on: service ports of 0 or absent are
// assigned from 10000 up (port mappings of bridge and container apps,
// port definitions of host apps, a default definition for a host app with
// none and a default mapping with container port 0 for an app off the
// host network with none, never the discovery ports of a ≤1.4 ipAddress
// app: Marathon issue #3636); health checks get Marathon's defaults; every instance is a
// running, healthy task on agent 10.0.<app>.<10+i>, with host ports from
// 31000 and, off the host network, a container IP.
func deploy(defs []map[string]any) []map[string]any {
	next := 10000
	assign := func(m map[string]any, key string) {
		if p, ok := m[key].(float64); !ok || p == 0 {
			m[key] = float64(next)
			next++
		}
	}
	var out []map[string]any
	for k, a := range defs {
		a = clone(a).(map[string]any)
		id, _ := a["id"].(string)
		if !strings.HasPrefix(id, "/") {
			id = "/" + id
		}
		a["id"] = id
		if _, ok := a["labels"].(map[string]any); !ok {
			a["labels"] = map[string]any{}
		}
		instances := 1
		if n, ok := a["instances"].(float64); ok {
			instances = int(n)
		}
		a["instances"] = float64(instances)
		a["version"] = "2017-07-19T17:34:41.967Z"
		a["versionInfo"] = map[string]any{"lastScalingAt": "2017-07-19T17:34:41.967Z",
			"lastConfigChangeAt": "2017-07-19T17:34:41.967Z"}

		mode := networkMode(a)
		container, _ := a["container"].(map[string]any)
		docker, _ := container["docker"].(map[string]any)
		var mappings []any
		if l, ok := docker["portMappings"].([]any); ok && len(l) > 0 {
			mappings = l
			// A definition may name its mappings twice (≤1.4 and ≥1.5
			// places); Marathon reports one set of mappings, so both get
			// the same service ports.
			if c, ok := container["portMappings"].([]any); ok && len(c) == len(l) {
				container["portMappings"] = l
			}
		} else if l, ok := container["portMappings"].([]any); ok {
			mappings = l
		}
		if mode != "host" && len(mappings) == 0 && a["ipAddress"] == nil {
			// Marathon's default mapping for an app off the host network
			// that names no ports (bridge: a dynamic host port too).
			pm := map[string]any{"containerPort": float64(0), "name": "default", "protocol": "tcp"}
			if container == nil {
				container = map[string]any{"type": "MESOS"}
				a["container"] = container
			}
			container["portMappings"] = []any{pm}
			mappings = []any{pm}
		}
		var hostPorts []bool // per task port: allocated on the agent
		if mode != "host" {
			for _, m := range mappings {
				pm := m.(map[string]any)
				assign(pm, "servicePort")
				_, fixed := pm["hostPort"]
				if mode == "container/bridge" && !fixed {
					pm["hostPort"] = float64(0)
				}
				hostPorts = append(hostPorts, mode == "container/bridge" || fixed)
			}
		}
		if mode == "host" || (len(mappings) == 0 && a["ipAddress"] == nil) {
			defsList, hasDefs := a["portDefinitions"].([]any)
			ports, hasPorts := a["ports"].([]any)
			switch {
			case hasDefs:
			case hasPorts:
				for _, p := range ports {
					defsList = append(defsList, map[string]any{"port": p, "protocol": "tcp"})
				}
			case mode == "host":
				defsList = []any{map[string]any{"port": float64(0), "protocol": "tcp", "name": "default"}}
			}
			var sps []any
			for _, d := range defsList {
				pd := d.(map[string]any)
				assign(pd, "port")
				sps = append(sps, pd["port"])
				if mode == "host" {
					hostPorts = append(hostPorts, true)
				}
			}
			if defsList != nil {
				a["portDefinitions"] = defsList
				a["ports"] = sps
			}
		}
		if hcs, ok := a["healthChecks"].([]any); ok {
			for _, h := range hcs {
				hc := h.(map[string]any)
				for key, def := range map[string]float64{"gracePeriodSeconds": 300, "intervalSeconds": 60,
					"timeoutSeconds": 20, "maxConsecutiveFailures": 3, "delaySeconds": 15} {
					if _, ok := hc[key]; !ok {
						hc[key] = def
					}
				}
				if _, ok := hc["protocol"]; !ok {
					hc["protocol"] = "HTTP"
				}
				_, hasPort := hc["port"]
				_, hasIndex := hc["portIndex"]
				if !hasPort && !hasIndex && hc["protocol"] != "COMMAND" {
					hc["portIndex"] = float64(0)
				}
			}
		}
		name := strings.ReplaceAll(strings.TrimPrefix(id, "/"), "/", "_")
		var tasks []any
		for j := range instances {
			tid := fmt.Sprintf("%s.%08x-c931-11e5-9836-026ee08d9f6f", name, k*256+j)
			t := map[string]any{
				"id": tid, "appId": id, "host": fmt.Sprintf("10.0.%d.%d", k, 10+j),
				"slaveId": fmt.Sprintf("1f09399d-0cb0-4484-afd7-f08e99d2acbb-S%d", j), "state": "TASK_RUNNING",
				"stagedAt": "2017-07-19T17:35:00.000Z", "startedAt": "2017-07-19T17:35:10.000Z",
				"version": "2017-07-19T17:34:41.967Z",
			}
			var ports []any
			for i, alloc := range hostPorts {
				if alloc {
					ports = append(ports, float64(31000+k*100+j*10+i))
				}
			}
			t["ports"] = ports
			switch mode {
			case "container/bridge":
				t["ipAddresses"] = []any{map[string]any{"ipAddress": fmt.Sprintf("172.17.%d.%d", k, 2+j), "protocol": "IPv4"}}
			case "container":
				t["ipAddresses"] = []any{map[string]any{"ipAddress": fmt.Sprintf("9.0.%d.%d", k, 2+j), "protocol": "IPv4"}}
			default:
				t["ipAddresses"] = []any{map[string]any{"ipAddress": t["host"], "protocol": "IPv4"}}
			}
			if hcs, ok := a["healthChecks"].([]any); ok && len(hcs) > 0 {
				var rs []any
				for range hcs {
					rs = append(rs, map[string]any{"alive": true, "consecutiveFailures": float64(0), "taskId": tid,
						"firstSuccess": "2017-07-19T17:35:20.000Z", "lastSuccess": "2017-07-19T17:40:20.000Z"})
				}
				t["healthCheckResults"] = rs
			}
			tasks = append(tasks, t)
		}
		a["tasks"] = tasks
		a["tasksRunning"] = float64(instances)
		out = append(out, a)
	}
	return out
}

// networkMode is marathon-lb's get_app_networking_mode.
func networkMode(a map[string]any) string {
	mode := "host"
	if ip, ok := a["ipAddress"].(map[string]any); ok && len(ip) > 0 {
		mode = "container"
	}
	container, _ := a["container"].(map[string]any)
	docker, _ := container["docker"].(map[string]any)
	switch docker["network"] {
	case "USER":
		mode = "container"
	case "BRIDGE":
		mode = "container/bridge"
	}
	if nets, ok := a["networks"].([]any); ok {
		for _, n := range nets {
			mode = "container"
			if m, ok := n.(map[string]any)["mode"].(string); ok {
				mode = m
			}
		}
	}
	return mode
}

func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = clone(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = clone(e)
		}
		return l
	}
	return v
}
