package marathon

import (
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// TaskPorts says, per app port index, which host port a task got: 0 means
// none (a container-mode mapping without hostPort).
type TaskPorts []int

// EnvInput is what Env needs besides the app.
type EnvInput struct {
	TaskID  string
	Host    string
	Ports   TaskPorts
	Sandbox string
	// Rand picks the generated ports of container-mode mappings whose
	// requested port is 0; nil uses a default source.
	Rand *rand.Rand
}

var labelSanitizer = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// SanitizeLabelKey turns a label key into its env var suffix: runs of
// characters outside [A-Za-z0-9_] become one '_', then upper case.
func SanitizeLabelKey(k string) string {
	return strings.ToUpper(labelSanitizer.ReplaceAllString(k, "_"))
}

// formatDouble prints a double the way the JVM does (1.0, 0.1, 128.0).
func formatDouble(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// Env builds the task environment of B.6, in order (later entries win),
// as "NAME=value" strings sorted by name. Secret references are not
// resolved (no secret store): such variables are left out.
func Env(a *App, in EnvInput) []string {
	env := map[string]string{}
	env["MESOS_TASK_ID"] = in.TaskID
	env["MARATHON_APP_ID"] = a.ID
	env["MARATHON_APP_VERSION"] = a.Version
	if a.Container != nil && a.Container.Type == "DOCKER" && a.Container.Docker != nil {
		env["MARATHON_APP_DOCKER_IMAGE"] = a.Container.Docker.Image
	}
	env["MARATHON_APP_RESOURCE_CPUS"] = formatDouble(a.CPUs)
	env["MARATHON_APP_RESOURCE_MEM"] = formatDouble(a.Mem)
	env["MARATHON_APP_RESOURCE_DISK"] = formatDouble(a.Disk)
	env["MARATHON_APP_RESOURCE_GPUS"] = strconv.Itoa(a.GPUs)
	env["MARATHON_APP_ENFORCE_GROUP_ROLE"] = "FALSE"
	var keys []string
	for _, k := range sortedKeys(a.Labels) {
		v := a.Labels[k]
		if len(k) >= 493 || len(v) >= 512 {
			continue
		}
		sk := SanitizeLabelKey(k)
		keys = append(keys, sk)
		env["MARATHON_APP_LABEL_"+sk] = v
	}
	env["MARATHON_APP_LABELS"] = strings.Join(keys, " ")

	n := a.PortCount()
	if n > 0 {
		var allocated, generated []string
		used := map[int]bool{}
		for _, p := range in.Ports {
			used[p] = true
		}
		r := in.Rand
		for i := 0; i < n; i++ {
			requested, name := 0, ""
			if a.NetworkMode() == ModeHost {
				requested, name = a.PortDefinitions[i].Port, a.PortDefinitions[i].Name
			} else {
				requested, name = a.Container.PortMappings[i].ContainerPort, a.Container.PortMappings[i].Name
			}
			host := 0
			if i < len(in.Ports) {
				host = in.Ports[i]
			}
			val := host
			if host > 0 {
				allocated = append(allocated, strconv.Itoa(host))
			} else {
				val = requested
				if val == 0 {
					for tries := 0; tries < 1000; tries++ {
						var c int
						if r != nil {
							c = 1025 + r.IntN(65535-1025+1)
						} else {
							c = 1025 + rand.IntN(65535-1025+1)
						}
						if !used[c] {
							val = c
							break
						}
					}
					used[val] = true
					generated = append(generated, strconv.Itoa(val))
				}
			}
			vs := strconv.Itoa(val)
			env["PORT"+strconv.Itoa(i)] = vs
			if requested != 0 {
				env["PORT_"+strconv.Itoa(requested)] = vs
			} else {
				env["PORT_"+vs] = vs
			}
			if name != "" {
				env["PORT_"+strings.ToUpper(name)] = vs
			}
		}
		all := append(allocated, generated...)
		if len(all) > 0 {
			env["PORT"] = all[0]
		}
		env["PORTS"] = strings.Join(all, ",")
	}
	env["HOST"] = in.Host
	if in.Sandbox != "" {
		env["MESOS_SANDBOX"] = in.Sandbox
	}
	for k, v := range a.Env {
		if v.Secret == "" {
			env[k] = v.Value
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func protocols(p string) []string {
	if p == "udp,tcp" || p == "tcp,udp" {
		return []string{"udp", "tcp"}
	}
	return []string{p}
}

func labelList(m map[string]string, extra ...state.Label) *state.Labels {
	var ls []state.Label
	for _, k := range sortedKeys(m) {
		ls = append(ls, state.Label{Key: k, Value: m[k]})
	}
	ls = append(ls, extra...)
	if len(ls) == 0 {
		return nil
	}
	return &state.Labels{Labels: ls}
}

// Discovery derives the Mesos DiscoveryInfo Marathon puts into a task
// (Part C.2): host ports for host networking and mapped ports, container
// ports (with network scope labels) for container-mode mappings without a
// host port. Service ports never appear.
func Discovery(a *App, ports TaskPorts) *state.Discovery {
	d := &state.Discovery{Visibility: "FRAMEWORK", Name: TaskName(a.ID), Ports: &state.Ports{Ports: []state.DiscoveryPort{}}}
	host := func(i int) int {
		if i < len(ports) {
			return ports[i]
		}
		return 0
	}
	switch a.NetworkMode() {
	case ModeHost:
		for i, pd := range a.PortDefinitions {
			for _, proto := range protocols(pd.Protocol) {
				d.Ports.Ports = append(d.Ports.Ports, state.DiscoveryPort{Number: uint32(host(i)), Name: pd.Name,
					Protocol: proto, Labels: labelList(pd.Labels)})
			}
		}
	default:
		if a.Container == nil {
			break
		}
		var nets []string
		for _, n := range a.Networks {
			if n.Mode == ModeContainer {
				nets = append(nets, n.Name)
			}
		}
		for i, pm := range a.Container.PortMappings {
			for _, proto := range protocols(pm.Protocol) {
				if pm.HostPort != nil || a.NetworkMode() == ModeBridge {
					d.Ports.Ports = append(d.Ports.Ports, state.DiscoveryPort{Number: uint32(host(i)), Name: pm.Name,
						Protocol: proto, Labels: labelList(pm.Labels, state.Label{Key: "network-scope", Value: "host"})})
					continue
				}
				applies := pm.NetworkNames
				if len(applies) == 0 {
					applies = nets
				}
				for _, n := range applies {
					d.Ports.Ports = append(d.Ports.Ports, state.DiscoveryPort{Number: uint32(pm.ContainerPort), Name: pm.Name,
						Protocol: proto, Labels: labelList(pm.Labels, state.Label{Key: "network-scope", Value: "container"},
							state.Label{Key: "network-name", Value: n})})
				}
			}
		}
	}
	return d
}

// TaskLabels copies the app labels into the Mesos task label list (nil when
// the app has none).
func TaskLabels(a *App) []state.Label {
	l := labelList(a.Labels)
	if l == nil {
		return nil
	}
	return l.Labels
}
