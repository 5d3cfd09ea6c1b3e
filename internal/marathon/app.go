// Package marathon holds Marathon's app definition (1.5+ shapes, legacy
// input accepted and migrated), its JSON decoding with Marathon's error
// bodies and field paths, its validation rules, and the pure derivations a
// runtime needs from an app: task names and ids, the task environment and
// the Mesos DiscoveryInfo.
//
// Imports of Sextant's own packages: internal/mesos/state; nothing else of Sextant.
package marathon

import (
	"encoding/json"
	"sort"
)

// App is a normalised app definition: legacy input migrated, defaults
// filled. It marshals to Marathon's 1.5+ output shape.
type App struct {
	ID                         string              `json:"id"`
	Cmd                        string              `json:"cmd,omitempty"`
	Args                       []string            `json:"args,omitempty"`
	User                       string              `json:"user,omitempty"`
	Env                        map[string]EnvValue `json:"env"`
	Instances                  int                 `json:"instances"`
	CPUs                       float64             `json:"cpus"`
	Mem                        float64             `json:"mem"`
	Disk                       float64             `json:"disk"`
	GPUs                       int                 `json:"gpus"`
	Executor                   string              `json:"executor"`
	Constraints                [][]string          `json:"constraints"`
	Labels                     map[string]string   `json:"labels"`
	PortDefinitions            []PortDefinition    `json:"portDefinitions"`
	RequirePorts               bool                `json:"requirePorts"`
	Container                  *Container          `json:"container,omitempty"`
	Networks                   []Network           `json:"networks"`
	HealthChecks               []HealthCheck       `json:"healthChecks"`
	UpgradeStrategy            UpgradeStrategy     `json:"upgradeStrategy"`
	BackoffSeconds             int                 `json:"backoffSeconds"`
	BackoffFactor              float64             `json:"backoffFactor"`
	MaxLaunchDelaySeconds      int                 `json:"maxLaunchDelaySeconds"`
	TaskKillGracePeriodSeconds *int                `json:"taskKillGracePeriodSeconds,omitempty"`
	KillSelection              string              `json:"killSelection"`
	Version                    string              `json:"version,omitempty"`
	VersionInfo                *VersionInfo        `json:"versionInfo,omitempty"`

	// Passthrough holds fields this runtime stores and echoes without
	// interpreting (fetch, secrets, readinessChecks, …), as given.
	Passthrough map[string]json.RawMessage `json:"-"`
}

// EnvValue is a plain string or a secret reference {"secret": name}.
type EnvValue struct {
	Value  string
	Secret string
}

// MarshalJSON renders the string form, or {"secret": …}.
func (e EnvValue) MarshalJSON() ([]byte, error) {
	if e.Secret != "" {
		return json.Marshal(map[string]string{"secret": e.Secret})
	}
	return json.Marshal(e.Value)
}

// UnmarshalJSON accepts both forms (used when reading persisted apps).
func (e *EnvValue) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*e = EnvValue{Value: s}
		return nil
	}
	var m struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*e = EnvValue{Secret: m.Secret}
	return nil
}

// PortDefinition is one host-networking port.
type PortDefinition struct {
	Port     int               `json:"port"`
	Protocol string            `json:"protocol"`
	Name     string            `json:"name,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// Container is the app's container block.
type Container struct {
	Type         string            `json:"type"`
	Docker       *Docker           `json:"docker,omitempty"`
	PortMappings []PortMapping     `json:"portMappings,omitempty"`
	Volumes      []json.RawMessage `json:"volumes"`
}

// Docker is container.docker.
type Docker struct {
	Image          string            `json:"image"`
	ForcePullImage bool              `json:"forcePullImage"`
	Privileged     bool              `json:"privileged"`
	Parameters     []json.RawMessage `json:"parameters"`
}

// PortMapping is one container port mapping. HostPort nil means "no host
// port" (container mode).
type PortMapping struct {
	ContainerPort int               `json:"containerPort"`
	HostPort      *int              `json:"hostPort,omitempty"`
	ServicePort   int               `json:"servicePort"`
	Protocol      string            `json:"protocol"`
	Name          string            `json:"name,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	NetworkNames  []string          `json:"networkNames,omitempty"`
}

// Network is one element of networks.
type Network struct {
	Mode   string            `json:"mode"`
	Name   string            `json:"name,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Network modes.
const (
	ModeHost      = "host"
	ModeBridge    = "container/bridge"
	ModeContainer = "container"
)

// HealthCheck is one entry of healthChecks, defaults filled.
type HealthCheck struct {
	Protocol               string        `json:"protocol"`
	Path                   string        `json:"path,omitempty"`
	PortIndex              *int          `json:"portIndex,omitempty"`
	Port                   *int          `json:"port,omitempty"`
	Command                *CommandCheck `json:"command,omitempty"`
	GracePeriodSeconds     int           `json:"gracePeriodSeconds"`
	IntervalSeconds        int           `json:"intervalSeconds"`
	TimeoutSeconds         int           `json:"timeoutSeconds"`
	MaxConsecutiveFailures int           `json:"maxConsecutiveFailures"`
	DelaySeconds           int           `json:"delaySeconds"`
	IgnoreHTTP1xx          bool          `json:"ignoreHttp1xx"`
	IPProtocol             string        `json:"ipProtocol"`
}

// CommandCheck is the command of a COMMAND health check.
type CommandCheck struct {
	Value string `json:"value"`
}

// IsMesos reports whether the check runs next to the task (Mesos-level:
// result published as TaskStatus.healthy) rather than in the scheduler.
func (h HealthCheck) IsMesos() bool {
	switch h.Protocol {
	case "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP", "COMMAND":
		return true
	}
	return false
}

// UpgradeStrategy is the app's rolling-upgrade policy.
type UpgradeStrategy struct {
	MinimumHealthCapacity float64 `json:"minimumHealthCapacity"`
	MaximumOverCapacity   float64 `json:"maximumOverCapacity"`
}

// VersionInfo records when the app was last scaled or reconfigured.
type VersionInfo struct {
	LastScalingAt      string `json:"lastScalingAt"`
	LastConfigChangeAt string `json:"lastConfigChangeAt"`
}

type appAlias App

// MarshalJSON renders the app with its pass-through fields merged in.
func (a *App) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal((*appAlias)(a))
	if err != nil || len(a.Passthrough) == 0 {
		return b, err
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range a.Passthrough {
		if _, known := m[k]; !known {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads a persisted app (already normalised). Input from
// users goes through Decode instead, which validates.
func (a *App) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*appAlias)(a)); err != nil {
		return err
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for _, k := range passthroughFields {
		if v, ok := m[k]; ok {
			if a.Passthrough == nil {
				a.Passthrough = map[string]json.RawMessage{}
			}
			a.Passthrough[k] = v
		}
	}
	return nil
}

// passthroughFields are stored and echoed verbatim.
var passthroughFields = []string{"fetch", "secrets", "readinessChecks", "dependencies", "acceptedResourceRoles",
	"unreachableStrategy", "role", "tty", "check", "resourceLimits", "executorResources", "storeUrls"}

// Clone returns a deep copy (through JSON: apps are small and cloned only
// on changes).
func (a *App) Clone() *App {
	b, err := json.Marshal(a)
	if err != nil {
		panic("marathon: app does not marshal: " + err.Error())
	}
	var c App
	if err := json.Unmarshal(b, &c); err != nil {
		panic("marathon: app does not round-trip: " + err.Error())
	}
	return &c
}

// NetworkMode is the app's single network mode (host, container/bridge or
// container).
func (a *App) NetworkMode() string {
	if len(a.Networks) == 0 {
		return ModeHost
	}
	return a.Networks[0].Mode
}

// PortCount is the number of ports the app declares (port definitions in
// host mode, port mappings otherwise).
func (a *App) PortCount() int {
	if a.NetworkMode() == ModeHost {
		return len(a.PortDefinitions)
	}
	if a.Container == nil {
		return 0
	}
	return len(a.Container.PortMappings)
}

// ServicePorts lists the app's service ports in index order.
func (a *App) ServicePorts() []int {
	var out []int
	if a.NetworkMode() == ModeHost {
		for _, p := range a.PortDefinitions {
			out = append(out, p.Port)
		}
		return out
	}
	if a.Container != nil {
		for _, p := range a.Container.PortMappings {
			out = append(out, p.ServicePort)
		}
	}
	return out
}

// SetServicePort sets service port i.
func (a *App) SetServicePort(i, port int) {
	if a.NetworkMode() == ModeHost {
		a.PortDefinitions[i].Port = port
		return
	}
	a.Container.PortMappings[i].ServicePort = port
}

// sortedKeys returns a map's keys in order, for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
