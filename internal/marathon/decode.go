package marathon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Error is a Marathon API error: an HTTP status and the exact body shape of
// Marathon (B.1.1). Details is either a string (400 "Invalid JSON") or a
// list of violations (422).
type Error struct {
	Status      int
	Message     string
	Details     any
	Deployments []string
}

// Violation is one entry of a 422 details list.
type Violation struct {
	Path   string   `json:"path"`
	Errors []string `json:"errors"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	switch d := e.Details.(type) {
	case string:
		b.WriteString(": " + d)
	case []Violation:
		for _, v := range d {
			fmt.Fprintf(&b, "; %s: %s", v.Path, strings.Join(v.Errors, ", "))
		}
	}
	return b.String()
}

// Body is the JSON body Marathon sends for this error.
func (e *Error) Body() map[string]any {
	m := map[string]any{"message": e.Message}
	if e.Details != nil {
		m["details"] = e.Details
	}
	if e.Deployments != nil {
		ds := []map[string]string{}
		for _, id := range e.Deployments {
			ds = append(ds, map[string]string{"id": id})
		}
		m["deployments"] = ds
	}
	return m
}

// Errorf builds an error with only a message.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// violations collects messages per path, in first-seen order.
type violations struct {
	order []string
	m     map[string][]string
}

func (v *violations) add(path, msg string) {
	if v.m == nil {
		v.m = map[string][]string{}
	}
	if _, ok := v.m[path]; !ok {
		v.order = append(v.order, path)
	}
	for _, e := range v.m[path] {
		if e == msg {
			return
		}
	}
	v.m[path] = append(v.m[path], msg)
}

func (v *violations) empty() bool { return len(v.order) == 0 }

func (v *violations) err(message string) *Error {
	out := make([]Violation, 0, len(v.order))
	for _, p := range v.order {
		out = append(out, Violation{Path: p, Errors: v.m[p]})
	}
	return &Error{Status: http.StatusUnprocessableEntity, Message: message, Details: out}
}

// maxBody bounds what the decoder accepts; Marathon's default request limit
// is of the same order.
const maxBody = 1 << 20

// ParseJSON parses a request body into a generic JSON object with
// Marathon's 400 errors for empty or malformed input.
func ParseJSON(body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &Error{Status: http.StatusBadRequest, Message: "Please specify data in JSON format",
			Details: "No content to map due to end-of-input"}
	}
	if len(body) > maxBody {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("Request body exceeds %d bytes", maxBody)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Message: "Invalid JSON", Details: err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &Error{Status: http.StatusBadRequest, Message: "Invalid JSON", Details: "Unexpected content after the JSON value"}
	}
	return v, nil
}

// Decode parses, migrates, defaults and validates one app definition (a
// POST body). Errors are *Error with Marathon's status and body.
func Decode(body []byte) (*App, error) {
	v, err := ParseJSON(body)
	if err != nil {
		return nil, err
	}
	return FromValue(v)
}

// FromValue is Decode for an already parsed JSON value.
func FromValue(v any) (*App, error) {
	w := &walker{}
	m, ok := v.(map[string]any)
	if !ok {
		w.v.add("/", "error.expected.jsobject")
		return nil, w.v.err("Invalid JSON")
	}
	a := w.app(m)
	if !w.v.empty() {
		return nil, w.v.err("Invalid JSON")
	}
	if err := Validate(a); err != nil {
		return nil, err
	}
	return a, nil
}

// MergeUpdate overlays a PUT body on the current definition the way
// Marathon's partialUpdate does: top-level fields present in the body
// replace the current ones; legacy fields in the body replace the modern
// fields they migrate to.
func MergeUpdate(current *App, body map[string]any) (map[string]any, error) {
	b, err := json.Marshal(current)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var base map[string]any
	if err := dec.Decode(&base); err != nil {
		return nil, err
	}
	delete(base, "version")
	delete(base, "versionInfo")
	if _, ok := body["ports"]; ok {
		delete(base, "portDefinitions")
	}
	if _, ok := body["ipAddress"]; ok {
		delete(base, "networks")
		delete(base, "portDefinitions")
	}
	if c, ok := body["container"].(map[string]any); ok {
		if d, ok := c["docker"].(map[string]any); ok && d["network"] != nil {
			delete(base, "networks")
		}
	}
	if _, ok := body["networks"]; ok {
		if nets, ok := body["networks"].([]any); ok && !onlyHost(nets) {
			delete(base, "portDefinitions")
		}
	}
	if _, ok := body["args"]; ok {
		delete(base, "cmd")
	}
	if _, ok := body["cmd"]; ok {
		delete(base, "args")
	}
	for k, v := range body {
		if k == "id" {
			continue
		}
		base[k] = v
	}
	return base, nil
}

func onlyHost(nets []any) bool {
	for _, n := range nets {
		m, ok := n.(map[string]any)
		if !ok || m["mode"] != ModeHost {
			return false
		}
	}
	return true
}

// walker reads a generic JSON value into an App, recording type errors
// with Marathon's paths and codes.
type walker struct{ v violations }

func get(m map[string]any, k string) (any, bool) {
	v, ok := m[k]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

// opt reads m[key] with read into *dst when the key is present and not
// null (an absent key keeps dst's default), reporting errors at p/key.
func opt[T any](m map[string]any, p, key string, dst *T, read func(any, string) T) {
	if v, ok := get(m, key); ok {
		*dst = read(v, p+"/"+key)
	}
}

func (w *walker) str(v any, path string) string {
	s, ok := v.(string)
	if !ok {
		w.v.add(path, "error.expected.jsstring")
	}
	return s
}

func (w *walker) boolean(v any, path string) bool {
	b, ok := v.(bool)
	if !ok {
		w.v.add(path, "error.expected.jsboolean")
	}
	return b
}

func (w *walker) float(v any, path string) float64 {
	n, ok := v.(json.Number)
	if !ok {
		w.v.add(path, "error.expected.jsnumber")
		return 0
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		w.v.add(path, "error.expected.jsnumber")
		return 0
	}
	return f
}

// integer accepts JSON numbers that are whole and fit a 32-bit int, as
// Marathon's Int fields do.
func (w *walker) integer(v any, path string) int {
	n, ok := v.(json.Number)
	if !ok {
		w.v.add(path, "error.expected.jsnumber")
		return 0
	}
	i, err := strconv.ParseInt(n.String(), 10, 32)
	if err != nil {
		f, ferr := n.Float64()
		if ferr != nil || f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
			w.v.add(path, "error.expected.int")
			return 0
		}
		return int(f)
	}
	return int(i)
}

func (w *walker) obj(v any, path string) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		w.v.add(path, "error.expected.jsobject")
	}
	return m
}

func (w *walker) arr(v any, path string) []any {
	a, ok := v.([]any)
	if !ok {
		w.v.add(path, "error.expected.jsarray")
	}
	return a
}

func (w *walker) strMap(v any, path string) map[string]string {
	m := w.obj(v, path)
	out := map[string]string{}
	for _, k := range sortedKeys(m) {
		if m[k] == nil {
			w.v.add(path+"/"+k, "error.expected.jsstring")
			continue
		}
		out[k] = w.str(m[k], path+"/"+k)
	}
	return out
}

func (w *walker) strList(v any, path string) []string {
	a := w.arr(v, path)
	out := make([]string, 0, len(a))
	for i, e := range a {
		out = append(out, w.str(e, fmt.Sprintf("%s(%d)", path, i)))
	}
	return out
}

func (w *walker) intPtr(v any, path string) *int {
	i := w.integer(v, path)
	return &i
}

func (w *walker) app(m map[string]any) *App {
	a := &App{Instances: 1, CPUs: 1, Mem: 128, BackoffSeconds: 1, BackoffFactor: 1.15, MaxLaunchDelaySeconds: 300,
		UpgradeStrategy: UpgradeStrategy{1, 1}, KillSelection: "YOUNGEST_FIRST",
		Env: map[string]EnvValue{}, Labels: map[string]string{}, Constraints: [][]string{}, HealthChecks: []HealthCheck{}}
	if v, ok := get(m, "id"); ok {
		a.ID = w.str(v, "/id")
	} else {
		w.v.add("/id", "error.path.missing")
	}
	opt(m, "", "cmd", &a.Cmd, w.str)
	opt(m, "", "args", &a.Args, w.strList)
	opt(m, "", "user", &a.User, w.str)
	if v, ok := get(m, "env"); ok {
		em := w.obj(v, "/env")
		for _, k := range sortedKeys(em) {
			p := "/env/" + k
			switch ev := em[k].(type) {
			case string:
				a.Env[k] = EnvValue{Value: ev}
			case map[string]any:
				if s, ok := get(ev, "secret"); ok {
					a.Env[k] = EnvValue{Secret: w.str(s, p+"/secret")}
				} else {
					w.v.add(p+"/secret", "error.path.missing")
				}
			default:
				w.v.add(p, "error.expected.jsstring")
			}
		}
	}
	opt(m, "", "instances", &a.Instances, w.integer)
	opt(m, "", "cpus", &a.CPUs, w.float)
	opt(m, "", "mem", &a.Mem, w.float)
	opt(m, "", "disk", &a.Disk, w.float)
	opt(m, "", "gpus", &a.GPUs, w.integer)
	opt(m, "", "executor", &a.Executor, w.str)
	if v, ok := get(m, "constraints"); ok {
		for i, c := range w.arr(v, "/constraints") {
			a.Constraints = append(a.Constraints, w.strList(c, fmt.Sprintf("/constraints(%d)", i)))
		}
	}
	opt(m, "", "labels", &a.Labels, w.strMap)
	opt(m, "", "requirePorts", &a.RequirePorts, w.boolean)
	_, hasPortDefs := get(m, "portDefinitions")
	if v, ok := get(m, "portDefinitions"); ok {
		a.PortDefinitions = []PortDefinition{}
		for i, e := range w.arr(v, "/portDefinitions") {
			a.PortDefinitions = append(a.PortDefinitions, w.portDef(e, fmt.Sprintf("/portDefinitions(%d)", i)))
		}
	}
	legacyPorts := false
	if v, ok := get(m, "ports"); ok {
		legacyPorts = true
		if hasPortDefs {
			w.v.add("/", "cannot specify both ports and port definitions")
		}
		a.PortDefinitions = []PortDefinition{}
		for i, e := range w.arr(v, "/ports") {
			a.PortDefinitions = append(a.PortDefinitions, PortDefinition{Port: w.integer(e, fmt.Sprintf("/ports(%d)", i)), Protocol: "tcp"})
		}
	}
	var legacyNetwork string
	if v, ok := get(m, "container"); ok {
		a.Container, legacyNetwork = w.container(v)
	}
	if v, ok := get(m, "networks"); ok {
		if legacyNetwork != "" {
			w.v.add("/", "must not specify both container.docker.network and networks")
		}
		for i, e := range w.arr(v, "/networks") {
			p := fmt.Sprintf("/networks(%d)", i)
			nm := w.obj(e, p)
			n := Network{Mode: ModeContainer}
			if mv, ok := get(nm, "mode"); ok {
				n.Mode = w.str(mv, p+"/mode")
				if n.Mode != ModeHost && n.Mode != ModeBridge && n.Mode != ModeContainer {
					w.v.add(p+"/mode", "error.expected.validenumvalue")
				}
			}
			opt(nm, p, "name", &n.Name, w.str)
			opt(nm, p, "labels", &n.Labels, w.strMap)
			a.Networks = append(a.Networks, n)
		}
	}
	switch legacyNetwork {
	case "HOST":
		a.Networks = []Network{{Mode: ModeHost}}
	case "BRIDGE":
		a.Networks = []Network{{Mode: ModeBridge}}
	case "USER":
		a.Networks = []Network{{Mode: ModeContainer}}
	case "NONE", "":
	default:
		w.v.add("/container/docker/network", "error.expected.validenumvalue")
	}
	if v, ok := get(m, "ipAddress"); ok {
		if len(a.Networks) > 0 {
			w.v.add("/", "must not specify both networks and ipAddress")
		}
		if hasPortDefs || legacyPorts {
			w.v.add("/", "cannot specify both an IP address and port")
		}
		w.ipAddress(a, v)
	}
	if len(a.Networks) == 0 {
		a.Networks = []Network{{Mode: ModeHost}}
	}
	if v, ok := get(m, "healthChecks"); ok {
		for i, e := range w.arr(v, "/healthChecks") {
			a.HealthChecks = append(a.HealthChecks, w.healthCheck(e, fmt.Sprintf("/healthChecks(%d)", i)))
		}
	}
	if v, ok := get(m, "upgradeStrategy"); ok {
		um := w.obj(v, "/upgradeStrategy")
		opt(um, "/upgradeStrategy", "minimumHealthCapacity", &a.UpgradeStrategy.MinimumHealthCapacity, w.float)
		opt(um, "/upgradeStrategy", "maximumOverCapacity", &a.UpgradeStrategy.MaximumOverCapacity, w.float)
	}
	opt(m, "", "backoffSeconds", &a.BackoffSeconds, w.integer)
	opt(m, "", "backoffFactor", &a.BackoffFactor, w.float)
	opt(m, "", "maxLaunchDelaySeconds", &a.MaxLaunchDelaySeconds, w.integer)
	opt(m, "", "taskKillGracePeriodSeconds", &a.TaskKillGracePeriodSeconds, w.intPtr)
	if v, ok := get(m, "killSelection"); ok {
		a.KillSelection = w.str(v, "/killSelection")
		if a.KillSelection != "YOUNGEST_FIRST" && a.KillSelection != "OLDEST_FIRST" {
			w.v.add("/killSelection", "error.expected.validenumvalue")
		}
	}
	if v, ok := get(m, "uris"); ok {
		var fetch []map[string]any
		for i, u := range w.arr(v, "/uris") {
			fetch = append(fetch, map[string]any{"uri": w.str(u, fmt.Sprintf("/uris(%d)", i)), "extract": true, "executable": false, "cache": false})
		}
		if _, has := get(m, "fetch"); !has {
			b, _ := json.Marshal(fetch)
			a.setPass("fetch", b)
		}
	}
	for _, k := range passthroughFields {
		if v, ok := get(m, k); ok {
			b, err := json.Marshal(v)
			if err == nil {
				a.setPass(k, b)
			}
		}
	}
	// Defaults that depend on the network mode.
	mode := a.NetworkMode()
	if mode == ModeHost && a.PortDefinitions == nil {
		a.PortDefinitions = []PortDefinition{{Port: 0, Protocol: "tcp", Name: "default"}}
	}
	if mode != ModeHost {
		if a.PortDefinitions == nil {
			a.PortDefinitions = []PortDefinition{}
		}
		if a.Container == nil {
			a.Container = &Container{Type: "MESOS", Volumes: []json.RawMessage{}}
		}
		if a.Container.PortMappings == nil {
			pm := PortMapping{Name: "default", Protocol: "tcp"}
			if mode == ModeBridge {
				pm.HostPort = new(int)
			}
			a.Container.PortMappings = []PortMapping{pm}
		}
		if mode == ModeBridge {
			for i := range a.Container.PortMappings {
				if a.Container.PortMappings[i].HostPort == nil {
					a.Container.PortMappings[i].HostPort = new(int)
				}
			}
		}
	}
	return a
}

func (a *App) setPass(k string, b []byte) {
	if a.Passthrough == nil {
		a.Passthrough = map[string]json.RawMessage{}
	}
	a.Passthrough[k] = b
}

func (w *walker) portDef(v any, p string) PortDefinition {
	m := w.obj(v, p)
	d := PortDefinition{Protocol: "tcp"}
	opt(m, p, "port", &d.Port, w.integer)
	opt(m, p, "protocol", &d.Protocol, w.str)
	opt(m, p, "name", &d.Name, w.str)
	opt(m, p, "labels", &d.Labels, w.strMap)
	return d
}

func (w *walker) portMapping(v any, p string) PortMapping {
	m := w.obj(v, p)
	pm := PortMapping{Protocol: "tcp"}
	opt(m, p, "containerPort", &pm.ContainerPort, w.integer)
	opt(m, p, "hostPort", &pm.HostPort, w.intPtr)
	opt(m, p, "servicePort", &pm.ServicePort, w.integer)
	opt(m, p, "protocol", &pm.Protocol, w.str)
	opt(m, p, "name", &pm.Name, w.str)
	opt(m, p, "labels", &pm.Labels, w.strMap)
	opt(m, p, "networkNames", &pm.NetworkNames, w.strList)
	return pm
}

func (w *walker) container(v any) (*Container, string) {
	m := w.obj(v, "/container")
	c := &Container{Type: "DOCKER", Volumes: []json.RawMessage{}}
	if x, ok := get(m, "type"); ok {
		c.Type = w.str(x, "/container/type")
		if c.Type != "DOCKER" && c.Type != "MESOS" {
			w.v.add("/container/type", "error.expected.validenumvalue")
		}
	}
	if x, ok := get(m, "volumes"); ok {
		for _, e := range w.arr(x, "/container/volumes") {
			b, _ := json.Marshal(e)
			c.Volumes = append(c.Volumes, b)
		}
	}
	var legacyNet string
	if x, ok := get(m, "docker"); ok {
		dm := w.obj(x, "/container/docker")
		d := &Docker{Parameters: []json.RawMessage{}}
		opt(dm, "/container/docker", "image", &d.Image, w.str)
		opt(dm, "/container/docker", "forcePullImage", &d.ForcePullImage, w.boolean)
		opt(dm, "/container/docker", "privileged", &d.Privileged, w.boolean)
		if y, ok := get(dm, "parameters"); ok {
			for _, e := range w.arr(y, "/container/docker/parameters") {
				b, _ := json.Marshal(e)
				d.Parameters = append(d.Parameters, b)
			}
		}
		opt(dm, "/container/docker", "network", &legacyNet, w.str)
		// The ≤1.4 place; container.portMappings below wins.
		opt(dm, "/container/docker", "portMappings", &c.PortMappings, w.portMappings)
		c.Docker = d
	}
	opt(m, "/container", "portMappings", &c.PortMappings, w.portMappings)
	return c, legacyNet
}

func (w *walker) portMappings(v any, path string) []PortMapping {
	out := []PortMapping{}
	for i, e := range w.arr(v, path) {
		out = append(out, w.portMapping(e, fmt.Sprintf("%s(%d)", path, i)))
	}
	return out
}

// ipAddress migrates the ≤1.4 IP-per-task block.
func (w *walker) ipAddress(a *App, v any) {
	m := w.obj(v, "/ipAddress")
	n := Network{Mode: ModeContainer}
	opt(m, "/ipAddress", "networkName", &n.Name, w.str)
	opt(m, "/ipAddress", "labels", &n.Labels, w.strMap)
	if n.Name == "mesos-bridge" {
		n = Network{Mode: ModeBridge}
	}
	a.Networks = []Network{n}
	if a.Container == nil {
		a.Container = &Container{Type: "MESOS", Volumes: []json.RawMessage{}}
	}
	if x, ok := get(m, "discovery"); ok {
		dm := w.obj(x, "/ipAddress/discovery")
		if y, ok := get(dm, "ports"); ok {
			a.Container.PortMappings = []PortMapping{}
			for i, e := range w.arr(y, "/ipAddress/discovery/ports") {
				p := fmt.Sprintf("/ipAddress/discovery/ports(%d)", i)
				pm := w.obj(e, p)
				mp := PortMapping{Protocol: "tcp"}
				opt(pm, p, "number", &mp.ContainerPort, w.integer)
				opt(pm, p, "name", &mp.Name, w.str)
				opt(pm, p, "protocol", &mp.Protocol, w.str)
				opt(pm, p, "labels", &mp.Labels, w.strMap)
				a.Container.PortMappings = append(a.Container.PortMappings, mp)
			}
		}
	}
}

func (w *walker) healthCheck(v any, p string) HealthCheck {
	m := w.obj(v, p)
	h := HealthCheck{Protocol: "HTTP", GracePeriodSeconds: 300, IntervalSeconds: 60, TimeoutSeconds: 20,
		MaxConsecutiveFailures: 3, DelaySeconds: 15, IPProtocol: "IPv4"}
	opt(m, p, "protocol", &h.Protocol, w.str)
	opt(m, p, "path", &h.Path, w.str)
	opt(m, p, "portIndex", &h.PortIndex, w.intPtr)
	opt(m, p, "port", &h.Port, w.intPtr)
	if x, ok := get(m, "command"); ok {
		cm := w.obj(x, p+"/command")
		h.Command = &CommandCheck{}
		opt(cm, p+"/command", "value", &h.Command.Value, w.str)
	}
	opt(m, p, "gracePeriodSeconds", &h.GracePeriodSeconds, w.integer)
	opt(m, p, "intervalSeconds", &h.IntervalSeconds, w.integer)
	opt(m, p, "timeoutSeconds", &h.TimeoutSeconds, w.integer)
	opt(m, p, "maxConsecutiveFailures", &h.MaxConsecutiveFailures, w.integer)
	opt(m, p, "delaySeconds", &h.DelaySeconds, w.integer)
	opt(m, p, "ignoreHttp1xx", &h.IgnoreHTTP1xx, w.boolean)
	opt(m, p, "ipProtocol", &h.IPProtocol, w.str)
	switch h.Protocol {
	case "HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS":
		if h.Path == "" {
			h.Path = "/"
		}
		fallthrough
	case "TCP", "MESOS_TCP":
		if h.Port == nil && h.PortIndex == nil {
			h.PortIndex = new(int)
		}
	case "COMMAND":
	default:
		w.v.add(p+"/protocol", "error.expected.validenumvalue")
	}
	return h
}

var (
	portNameRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	networkNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$`)
)

// Validate applies Marathon's semantic rules to a decoded app; it returns
// a 422 "Object is not valid" error listing every violation.
func Validate(a *App) error {
	var v violations
	for _, e := range idErrors(a.ID) {
		if strings.HasPrefix(e, "Path must") {
			v.add("/", "must not be root")
		} else {
			v.add("/id", e)
		}
	}
	a.ID = CanonicalID(a.ID)
	hasContainer := a.Container != nil && (a.Container.Docker != nil || len(a.Container.Volumes) > 0 || a.Container.Type != "")
	if a.Cmd == "" && len(a.Args) == 0 && !hasContainer {
		v.add("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.")
	}
	if a.Cmd != "" && len(a.Args) > 0 {
		v.add("/", "AppDefinition must either contain a 'cmd' or a 'args', but not both")
	}
	if a.Cmd != "" && len(a.Cmd) < 2 {
		v.add("/cmd", "must not be an empty string")
	}
	if a.Instances < 0 {
		v.add("/instances", "got "+strconv.Itoa(a.Instances)+", expected 0 or more")
	}
	for _, f := range []struct {
		p string
		x float64
	}{{"/cpus", a.CPUs}, {"/mem", a.Mem}, {"/disk", a.Disk}} {
		if f.x < 0 {
			v.add(f.p, "got "+strconv.FormatFloat(f.x, 'f', -1, 64)+", expected 0.0 or more")
		}
	}
	if a.GPUs < 0 {
		v.add("/gpus", "got "+strconv.Itoa(a.GPUs)+", expected 0 or more")
	} else if a.GPUs > 0 {
		v.add("/gpus", "GPU resources only work with the Mesos containerizer")
	}
	if a.BackoffSeconds < 0 {
		v.add("/backoffSeconds", "got "+strconv.Itoa(a.BackoffSeconds)+", expected 0 or more")
	}
	if a.BackoffFactor < 1 {
		v.add("/backoffFactor", "got "+strconv.FormatFloat(a.BackoffFactor, 'f', -1, 64)+", expected 1.0 or more")
	}
	if a.MaxLaunchDelaySeconds < 0 {
		v.add("/maxLaunchDelaySeconds", "got "+strconv.Itoa(a.MaxLaunchDelaySeconds)+", expected 0 or more")
	}
	if a.TaskKillGracePeriodSeconds != nil && *a.TaskKillGracePeriodSeconds < 0 {
		v.add("/taskKillGracePeriodSeconds", "got "+strconv.Itoa(*a.TaskKillGracePeriodSeconds)+", expected 0 or more")
	}
	if u := a.UpgradeStrategy.MinimumHealthCapacity; u < 0 {
		v.add("/upgradeStrategy/minimumHealthCapacity", "is less than 0")
	} else if u > 1 {
		v.add("/upgradeStrategy/minimumHealthCapacity", "is greater than 1")
	}
	if u := a.UpgradeStrategy.MaximumOverCapacity; u < 0 {
		v.add("/upgradeStrategy/maximumOverCapacity", "is less than 0")
	} else if u > 1 {
		v.add("/upgradeStrategy/maximumOverCapacity", "is greater than 1")
	}
	for i, c := range a.Constraints {
		p := fmt.Sprintf("/constraints(%d)", i)
		if len(c) < 2 || len(c) > 3 {
			v.add(p, "Each constraint must have either 2 or 3 fields")
			continue
		}
		switch c[1] {
		case "UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS":
		default:
			v.add(p, "Constraint operator must be one of the following: [UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS]")
			continue
		}
		if (c[1] == "LIKE" || c[1] == "UNLIKE") && len(c) == 3 {
			if _, err := regexp.Compile(c[2]); err != nil {
				v.add(p, "Invalid regular expression")
			}
		}
	}
	validateNetworks(a, &v)
	validatePorts(a, &v)
	mesosChecks := 0
	for i, h := range a.HealthChecks {
		p := fmt.Sprintf("/healthChecks(%d)", i)
		if h.Protocol == "MESOS_HTTP" || h.Protocol == "MESOS_HTTPS" || h.Protocol == "MESOS_TCP" {
			mesosChecks++
		}
		if h.Protocol == "COMMAND" && (h.Command == nil || h.Command.Value == "") {
			v.add(p+"/command", "is required for a COMMAND health check")
		}
		if h.PortIndex != nil && h.Port == nil && h.Protocol != "COMMAND" {
			if *h.PortIndex < 0 || *h.PortIndex >= a.PortCount() {
				v.add(p, "Health check port indices must address an element of the ports array or container port mappings.")
			}
		}
		if h.Port != nil && (*h.Port < 0 || *h.Port > 65535) {
			v.add(p+"/port", "is not a valid port")
		}
		for _, f := range []struct {
			k string
			x int
		}{{"gracePeriodSeconds", h.GracePeriodSeconds}, {"intervalSeconds", h.IntervalSeconds},
			{"timeoutSeconds", h.TimeoutSeconds}, {"maxConsecutiveFailures", h.MaxConsecutiveFailures}, {"delaySeconds", h.DelaySeconds}} {
			if f.x < 0 {
				v.add(p+"/"+f.k, "got "+strconv.Itoa(f.x)+", expected 0 or more")
			}
		}
		if h.IntervalSeconds < 1 {
			v.add(p+"/intervalSeconds", "got "+strconv.Itoa(h.IntervalSeconds)+", expected 1 or more")
		}
		if h.IPProtocol != "IPv4" && h.IPProtocol != "IPv6" {
			v.add(p+"/ipProtocol", "error.expected.validenumvalue")
		}
	}
	if mesosChecks > 1 {
		v.add("/", "AppDefinition can contain at most one Mesos health check")
	}
	if !v.empty() {
		return v.err("Object is not valid")
	}
	return nil
}

func validProtocol(p string) bool { return p == "tcp" || p == "udp" || p == "udp,tcp" }

// checkProtocolAndName checks one port definition or mapping at p, whose
// list is at listPath: a known protocol, a valid name unique in the list
// (names holds the names seen so far).
func checkProtocolAndName(v *violations, p, listPath, protocol, name string, names map[string]bool) {
	if !validProtocol(protocol) {
		v.add(p+"/protocol", "is not one of (tcp,udp,udp,tcp)")
	}
	if name == "" {
		return
	}
	if !portNameRE.MatchString(name) {
		v.add(p+"/name", "must fully match regular expression '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'")
	}
	if names[name] {
		v.add(listPath, "Port names must be unique.")
	}
	names[name] = true
}

func validatePorts(a *App, v *violations) {
	mode := a.NetworkMode()
	if mode != ModeHost && len(a.PortDefinitions) > 0 {
		v.add("/", "portDefinitions are only allowed with host-networking")
	}
	if mode == ModeHost && a.Container != nil && len(a.Container.PortMappings) > 0 {
		v.add("/", "portMappings are not allowed with host-networking")
	}
	names := map[string]bool{}
	ports := map[int]bool{}
	for i, d := range a.PortDefinitions {
		p := fmt.Sprintf("/portDefinitions(%d)", i)
		if d.Port < 0 || d.Port > 65535 {
			v.add(p+"/port", "got "+strconv.Itoa(d.Port)+", expected between 0 and 65535")
		}
		checkProtocolAndName(v, p, "/portDefinitions", d.Protocol, d.Name, names)
		if d.Port != 0 {
			if ports[d.Port] {
				v.add("/portDefinitions", "Ports must be unique.")
			}
			ports[d.Port] = true
		}
	}
	if a.Container == nil {
		return
	}
	names = map[string]bool{}
	hostPorts := map[int]bool{}
	for i, m := range a.Container.PortMappings {
		p := fmt.Sprintf("/container/portMappings(%d)", i)
		if m.ContainerPort < 0 || m.ContainerPort > 65535 {
			v.add(p+"/containerPort", "got "+strconv.Itoa(m.ContainerPort)+", expected between 0 and 65535")
		}
		if m.HostPort != nil {
			if *m.HostPort < 0 || *m.HostPort > 65535 {
				v.add(p+"/hostPort", "got "+strconv.Itoa(*m.HostPort)+", expected between 0 and 65535")
			} else if *m.HostPort != 0 {
				if hostPorts[*m.HostPort] {
					v.add("/container/portMappings", "Host ports must be unique.")
				}
				hostPorts[*m.HostPort] = true
			}
		}
		if m.ServicePort < 0 || m.ServicePort > 65535 {
			v.add(p+"/servicePort", "got "+strconv.Itoa(m.ServicePort)+", expected between 0 and 65535")
		}
		checkProtocolAndName(v, p, "/container/portMappings", m.Protocol, m.Name, names)
		if len(a.Networks) > 1 && m.HostPort != nil && len(m.NetworkNames) != 1 {
			v.add(p+"/networkNames", "must specify a single network name when a host port is set and several container networks are used")
		}
	}
}

func validateNetworks(a *App, v *violations) {
	var host, bridge, container int
	seen := map[string]bool{}
	for i, n := range a.Networks {
		p := fmt.Sprintf("/networks(%d)", i)
		switch n.Mode {
		case ModeHost:
			host++
			if n.Name != "" || len(n.Labels) > 0 {
				v.add("/networks", "Host networks may not have names or labels")
			}
		case ModeBridge:
			bridge++
			if n.Name != "" {
				v.add("/networks", "Bridge networks may not have names")
			}
		case ModeContainer:
			container++
			if n.Name == "" {
				v.add(p, "Network name must be specified when container network is selected.")
			} else if !networkNameRE.MatchString(n.Name) || len(n.Name) > 63 {
				v.add(p+"/name", "must fully match regular expression '^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$'")
			}
		}
		key := n.Mode + "/" + n.Name
		if seen[key] {
			v.add("/networks", "Duplicate networks are not allowed")
		}
		seen[key] = true
	}
	if host > 1 || bridge > 1 || (host > 0 && (bridge+container) > 0) || (bridge > 0 && container > 0) {
		v.add("/networks", "May specify a single host network, single bridge network, or else 1-to-n container networks")
	}
}
