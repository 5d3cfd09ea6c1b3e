package marathon

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/model"
)

// Kinds of skipped items, the label of sextant_marathon_items_skipped_total.
const (
	kindApp   = "app"   // a whole app was left out
	kindTask  = "task"  // a whole task was left out
	kindField = "field" // one field or sub-item (label, port, result, …) was dropped
)

// problem is a model.Problem plus what was skipped, for the metric.
type problem struct {
	model.Problem
	Kind string
}

// decodeError is a response the decoder cannot use at all: not JSON, or no
// apps array at the top. One bad app never produces it.
type decodeError struct{ msg string }

func (e *decodeError) Error() string { return e.msg }

// decodeApps reads a GET /v2/apps response tolerantly (see the package
// documentation, "Decoding"): it fails only when the body is not JSON or
// its top level is unusable; anything wrong inside an app or a task skips
// that item, or only the field, and is reported as a problem. The apps
// come back sorted by ID, each ID once.
func decodeApps(body []byte) ([]model.App, []problem, error) {
	notJSON := func(err error) error { return &decodeError{"apps response is not JSON: " + err.Error()} }
	// The top level is streamed and each app decoded on its own: a
	// generic tree of a whole 100 MB response would cost ten times that
	// in memory, one app's tree is small. Numbers stay text until a field
	// says what it wants: a port must be an integer, and float64 would
	// round large ones silently.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, notJSON(err)
	}
	if tok != json.Delim('{') {
		return nil, nil, &decodeError{"apps response: top level is " + tokenKind(tok) + ", want an object"}
	}
	d := &decoder{taskSeen: map[string]string{}}
	var apps []model.App
	seen := map[string]int{}
	found := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, nil, notJSON(err)
		}
		if key != "apps" || found {
			// Another field, or a repeated "apps" (the first one counts).
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, nil, notJSON(err)
			}
			continue
		}
		found = true
		open, err := dec.Token()
		if err != nil {
			return nil, nil, notJSON(err)
		}
		switch open {
		case nil:
			return nil, nil, &decodeError{"apps response has no apps array"}
		case json.Delim('['):
		default:
			return nil, nil, &decodeError{"apps response: apps is " + tokenKind(open) + ", want an array"}
		}
		for i := 0; dec.More(); i++ {
			var v any
			if err := dec.Decode(&v); err != nil {
				return nil, nil, notJSON(err)
			}
			if v == nil {
				continue // null is absent (spec: nulls are absent)
			}
			a, ok := d.app(i, v)
			if !ok {
				continue
			}
			if j, dup := seen[a.ID]; dup {
				d.add(kindApp, appItem(a.ID), "id", fmt.Sprintf("duplicate app id (apps[%d] and apps[%d]); the first one is kept", j, i))
				continue
			}
			seen[a.ID] = i
			apps = append(apps, a)
		}
		if _, err := dec.Token(); err != nil { // ]
			return nil, nil, notJSON(err)
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return nil, nil, notJSON(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, &decodeError{"apps response is not JSON: content after the document"}
	}
	if !found {
		return nil, nil, &decodeError{"apps response has no apps array"}
	}
	if apps == nil {
		apps = []model.App{}
	}
	// Stable: equal IDs cannot occur any more, but keep input order anyway.
	slices.SortStableFunc(apps, func(a, b model.App) int { return cmp.Compare(a.ID, b.ID) })
	return apps, d.probs, nil
}

// tokenKind names the JSON type of the value a token starts.
func tokenKind(t json.Token) string {
	switch t {
	case json.Delim('['):
		return "an array"
	case json.Delim('{'):
		return "an object"
	}
	return kindOf(t)
}

type decoder struct {
	probs []problem
	// taskSeen maps a task id to the app that has it: Build joins Marathon
	// tasks with Mesos tasks by id, so an id must be unique in the whole
	// observation, not only in its app.
	taskSeen map[string]string
}

func (d *decoder) add(kind, item, field, reason string) {
	d.probs = append(d.probs, problem{Problem: model.Problem{Item: item, Field: field, Reason: reason}, Kind: kind})
}

func appItem(id string) string { return "app " + strconv.Quote(id) }

// scope names the item being decoded and where it sits in the app, so a
// problem reads `task "web.1" of app "/web"`, field `tasks[2].ports[0]`.
type scope struct {
	d      *decoder
	item   string
	prefix string // path of the item inside the app ("" for the app itself)
}

func (s scope) path(field string) string {
	switch {
	case s.prefix == "":
		return field
	case field == "":
		return s.prefix
	case strings.HasPrefix(field, "["):
		return s.prefix + field
	}
	return s.prefix + "." + field
}

func (s scope) at(field string) scope { return scope{d: s.d, item: s.item, prefix: s.path(field)} }

func (s scope) idx(field string, i int) scope { return s.at(field + "[" + strconv.Itoa(i) + "]") }

// bad drops one field (or sub-item): the item itself is kept.
func (s scope) bad(field, reason string) { s.d.add(kindField, s.item, s.path(field), reason) }

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// str reads an optional string; false when absent, null or of another
// type (then a problem is recorded).
func (s scope) str(m map[string]any, key string) (string, bool) {
	v := m[key]
	if v == nil {
		return "", false
	}
	x, ok := v.(string)
	if !ok {
		s.bad(key, "want a string, got "+kindOf(v))
		return "", false
	}
	return x, true
}

func (s scope) boolean(m map[string]any, key string) (bool, bool) {
	v := m[key]
	if v == nil {
		return false, false
	}
	x, ok := v.(bool)
	if !ok {
		s.bad(key, "want a boolean, got "+kindOf(v))
		return false, false
	}
	return x, true
}

// integer reads an optional integer in [lo, hi].
func (s scope) integer(m map[string]any, key string, lo, hi int64) (int64, bool) {
	v := m[key]
	if v == nil {
		return 0, false
	}
	n, err := intIn(v, lo, hi)
	if err != nil {
		s.bad(key, err.Error())
		return 0, false
	}
	return n, true
}

// intIn checks that v is a JSON integer in [lo, hi]. An integral value
// written with a fraction or exponent ("80.0", "8e1") is accepted: JSON
// does not tell integers from other numbers.
func intIn(v any, lo, hi int64) (int64, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, errors.New("want an integer, got " + kindOf(v))
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(num), 64)
		if ferr != nil || f != math.Trunc(f) || f < math.MinInt64 || f > math.MaxInt64 {
			return 0, fmt.Errorf("want an integer, got %s", num)
		}
		n = int64(f)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is out of range %d-%d", n, lo, hi)
	}
	return n, nil
}

func port(v any) (uint16, error) {
	n, err := intIn(v, 0, 65535)
	return uint16(n), err
}

func (s scope) obj(m map[string]any, key string) (map[string]any, bool) {
	v := m[key]
	if v == nil {
		return nil, false
	}
	x, ok := v.(map[string]any)
	if !ok {
		s.bad(key, "want an object, got "+kindOf(v))
		return nil, false
	}
	return x, true
}

func (s scope) arr(m map[string]any, key string) ([]any, bool) {
	v := m[key]
	if v == nil {
		return nil, false
	}
	x, ok := v.([]any)
	if !ok {
		s.bad(key, "want an array, got "+kindOf(v))
		return nil, false
	}
	return x, true
}

// labels reads a string→string object; a value of another type drops that
// label only (a null value is an absent label).
func (s scope) labels(m map[string]any, key string) map[string]string {
	lm, ok := s.obj(m, key)
	if !ok || len(lm) == 0 {
		return nil
	}
	out := make(map[string]string, len(lm))
	for _, k := range sortedKeys(lm) {
		switch v := lm[k].(type) {
		case nil:
		case string:
			out[k] = v
		default:
			s.bad(key+"."+k, "label value: want a string, got "+kindOf(v))
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (s scope) strList(m map[string]any, key string) []string {
	l, ok := s.arr(m, key)
	if !ok {
		return nil
	}
	var out []string
	for i, v := range l {
		switch x := v.(type) {
		case nil:
		case string:
			out = append(out, x)
		default:
			s.bad(key+"["+strconv.Itoa(i)+"]", "want a string, got "+kindOf(v))
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// app decodes apps[i]. false: the app is skipped (and why is recorded).
func (d *decoder) app(i int, v any) (model.App, bool) {
	where := "apps[" + strconv.Itoa(i) + "]"
	m, ok := v.(map[string]any)
	if !ok {
		d.add(kindApp, where, where, "want an object, got "+kindOf(v))
		return model.App{}, false
	}
	id, err := requiredID(m["id"])
	if err != nil {
		d.add(kindApp, where, "id", err.Error())
		return model.App{}, false
	}
	s := scope{d: d, item: appItem(id)}
	a := model.App{ID: id}
	a.Version, _ = s.str(m, "version")
	if vi, ok := s.obj(m, "versionInfo"); ok {
		vs := s.at("versionInfo")
		a.LastScalingAt, _ = vs.str(vi, "lastScalingAt")
		a.LastConfigChangeAt, _ = vs.str(vi, "lastConfigChangeAt")
	}
	a.Labels = s.labels(m, "labels")
	if n, ok := s.integer(m, "instances", 0, math.MaxInt32); ok {
		a.Instances = int(n)
	}
	a.RequirePorts, _ = s.boolean(m, "requirePorts")

	var docker map[string]any
	container, hasContainer := s.obj(m, "container")
	cs := s.at("container")
	if hasContainer {
		a.Container = "DOCKER" // Marathon's default containerizer
		if t, ok := cs.str(container, "type"); ok {
			switch t {
			case "DOCKER", "MESOS":
				a.Container = t
			default:
				cs.bad("type", "unknown container type "+strconv.Quote(t))
				a.Container = ""
			}
		}
		docker, _ = cs.obj(container, "docker")
	}
	ipAddr, _ := s.obj(m, "ipAddress")
	if !s.network(&a, m, docker, ipAddr) {
		return model.App{}, false
	}
	s.ports(&a, m, container, docker, ipAddr)

	if hcs, ok := s.arr(m, "healthChecks"); ok {
		for j, hv := range hcs {
			if hc, ok := s.idx("healthChecks", j).healthCheck(hv); ok {
				a.HealthChecks = append(a.HealthChecks, hc)
			}
		}
	}
	if rcs, ok := s.arr(m, "readinessChecks"); ok {
		for j, rv := range rcs {
			if rc, ok := s.idx("readinessChecks", j).readinessCheck(rv); ok {
				a.ReadinessChecks = append(a.ReadinessChecks, rc)
			}
		}
	}
	if deps, ok := s.arr(m, "deployments"); ok {
		for j, dv := range deps {
			ds := s.idx("deployments", j)
			if dv == nil {
				continue
			}
			dm, ok := dv.(map[string]any)
			if !ok {
				ds.bad("", "want an object, got "+kindOf(dv))
				continue
			}
			if id, ok := ds.str(dm, "id"); ok && id != "" {
				a.Deployments = append(a.Deployments, id)
			} else if !ok && dm["id"] == nil {
				ds.bad("id", "missing")
			}
		}
	}
	ready := s.readiness(m)
	if ts, ok := s.arr(m, "tasks"); ok {
		for j, tv := range ts {
			if tv == nil {
				continue
			}
			if t, ok := s.task(id, j, tv, ready); ok {
				a.Tasks = append(a.Tasks, t)
			}
		}
	}
	return a, true
}

// requiredID reads the id of an app or a task: a non-empty string.
func requiredID(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", errors.New("missing")
	case string:
		if strings.TrimSpace(x) == "" {
			return "", errors.New("empty")
		}
		return x, nil
	}
	return "", errors.New("want a string, got " + kindOf(v))
}

func parseMode(s string) (model.NetworkMode, bool) {
	switch s {
	case "host":
		return model.NetworkHost, true
	case "container/bridge":
		return model.NetworkBridge, true
	case "container":
		return model.NetworkContainer, true
	}
	return 0, false
}

// network sets the app's mode and networks with marathon-lb's precedence
// (spec marathon-lb.md §3.1): host, then a non-empty ≤1.4 ipAddress makes
// it container, then container.docker.network, then ≥1.5 networks[] (the
// last entry's mode wins). false: the app must be skipped because its
// networks[] has entries but none is usable, so where its tasks are
// reached is unknown.
func (s scope) network(a *model.App, m, docker, ipAddr map[string]any) bool {
	a.Network = model.NetworkHost
	if len(ipAddr) > 0 {
		is := s.at("ipAddress")
		n := model.Network{Mode: model.NetworkContainer}
		n.Name, _ = is.str(ipAddr, "networkName")
		n.Labels = is.labels(ipAddr, "labels")
		if n.Name == "mesos-bridge" {
			// Marathon's own migration of the ≤1.4 UCR bridge network.
			n = model.Network{Mode: model.NetworkBridge}
		}
		a.Network = n.Mode
		a.Networks = []model.Network{n}
	}
	if docker != nil {
		ds := s.at("container.docker")
		if dn, ok := ds.str(docker, "network"); ok {
			switch dn {
			case "USER":
				a.Network = model.NetworkContainer
				if len(a.Networks) == 0 || a.Networks[0].Mode != model.NetworkContainer {
					a.Networks = []model.Network{{Mode: model.NetworkContainer}}
				}
			case "BRIDGE":
				a.Network = model.NetworkBridge
				a.Networks = []model.Network{{Mode: model.NetworkBridge}}
			case "HOST":
				if len(ipAddr) == 0 {
					a.Networks = []model.Network{{Mode: model.NetworkHost}}
				}
			case "NONE":
			default:
				ds.bad("network", "unknown docker network "+strconv.Quote(dn))
			}
		}
	}
	nets, ok := s.arr(m, "networks")
	if !ok || len(nets) == 0 {
		return true
	}
	var out []model.Network
	for i, v := range nets {
		ns := s.idx("networks", i)
		if v == nil {
			continue
		}
		nm, ok := v.(map[string]any)
		if !ok {
			ns.bad("", "want an object, got "+kindOf(v))
			continue
		}
		// A missing mode is "container", as Marathon's RAML defaults it and
		// marathon-lb reads it.
		n := model.Network{Mode: model.NetworkContainer}
		if ms, present := nm["mode"]; present && ms != nil {
			str, isStr := ms.(string)
			mode, known := parseMode(str)
			if !isStr || !known {
				if isStr {
					ns.bad("mode", "unknown network mode "+strconv.Quote(str))
				} else {
					ns.bad("mode", "want a string, got "+kindOf(ms))
				}
				continue
			}
			n.Mode = mode
		}
		n.Name, _ = ns.str(nm, "name")
		n.Labels = ns.labels(nm, "labels")
		out = append(out, n)
	}
	if len(out) == 0 {
		s.d.add(kindApp, s.item, "networks", "no usable network: where its tasks are reached is unknown")
		return false
	}
	for _, n := range out[:len(out)-1] {
		if n.Mode != out[len(out)-1].Mode {
			s.bad("networks", "network modes are mixed; the last one ("+out[len(out)-1].Mode.String()+") is used")
			break
		}
	}
	a.Networks = out
	a.Network = out[len(out)-1].Mode
	return true
}

// ports fills a.Ports by index (spec marathon-api.md §1.3, marathon-lb.md
// §3.2): port mappings in bridge and container mode (container.portMappings,
// else the ≤1.4 container.docker.portMappings), for ≤1.4 ipAddress apps the
// discovery ports, else (and always in host mode) portDefinitions or the
// ≤1.4 ports. Entries keep their index: a bad entry becomes an empty port
// rather than shifting the ports after it onto the wrong task ports.
func (s scope) ports(a *model.App, m, container, docker, ipAddr map[string]any) {
	if a.Network != model.NetworkHost {
		if container != nil {
			if l, ok := s.at("container").arr(container, "portMappings"); ok && len(l) > 0 {
				a.Ports = s.portMappings(a.Network, "container.portMappings", l)
				return
			}
		}
		if docker != nil {
			if l, ok := s.at("container.docker").arr(docker, "portMappings"); ok && len(l) > 0 {
				a.Ports = s.portMappings(a.Network, "container.docker.portMappings", l)
				return
			}
		}
		if a.Network == model.NetworkContainer && ipAddr != nil {
			if disc, ok := s.at("ipAddress").obj(ipAddr, "discovery"); ok {
				if l, ok := s.at("ipAddress.discovery").arr(disc, "ports"); ok && len(l) > 0 {
					a.Ports = s.discoveryPorts(l)
					return
				}
			}
		}
	}
	if l, ok := s.arr(m, "portDefinitions"); ok {
		a.Ports = s.portDefinitions(l)
		return
	}
	if l, ok := s.arr(m, "ports"); ok {
		for i, v := range l {
			p := model.AppPort{Protocol: "tcp"}
			if v != nil {
				sp, err := port(v)
				if err != nil {
					s.bad("ports["+strconv.Itoa(i)+"]", err.Error())
				}
				p.ServicePort = sp
			}
			a.Ports = append(a.Ports, p)
		}
	}
}

// protocol reads a port's protocol: "tcp" (the default), "udp" or both,
// any case, written as Marathon writes it; an unknown one is dropped (and
// so defaults to tcp).
func (s scope) protocol(m map[string]any) string {
	p, ok := s.str(m, "protocol")
	if !ok {
		return "tcp"
	}
	switch strings.ToLower(p) {
	case "tcp":
		return "tcp"
	case "udp":
		return "udp"
	case "udp,tcp", "tcp,udp":
		return "udp,tcp"
	}
	s.bad("protocol", "unknown protocol "+strconv.Quote(p)+"; tcp assumed")
	return "tcp"
}

// portEntry returns entry i as an object, or nil (then the slot stays an
// empty port) with a problem when it is not one.
func (s scope) portEntry(v any) map[string]any {
	if v == nil {
		return nil
	}
	pm, ok := v.(map[string]any)
	if !ok {
		s.bad("", "want an object, got "+kindOf(v)+"; the port is left empty")
		return nil
	}
	return pm
}

func (s scope) portField(m map[string]any, key string) (uint16, bool) {
	v := m[key]
	if v == nil {
		return 0, false
	}
	p, err := port(v)
	if err != nil {
		s.bad(key, err.Error())
		return 0, false
	}
	return p, true
}

func (s scope) portDefinitions(l []any) []model.AppPort {
	out := make([]model.AppPort, 0, len(l))
	for i, v := range l {
		ps := s.idx("portDefinitions", i)
		p := model.AppPort{Protocol: "tcp"}
		if pm := ps.portEntry(v); pm != nil {
			p.ServicePort, _ = ps.portField(pm, "port")
			p.Protocol = ps.protocol(pm)
			p.Name, _ = ps.str(pm, "name")
			p.Labels = ps.labels(pm, "labels")
		}
		out = append(out, p)
	}
	return out
}

func (s scope) portMappings(mode model.NetworkMode, field string, l []any) []model.AppPort {
	out := make([]model.AppPort, 0, len(l))
	for i, v := range l {
		ps := s.idx(field, i)
		p := model.AppPort{Protocol: "tcp"}
		if pm := ps.portEntry(v); pm != nil {
			p.ContainerPort, _ = ps.portField(pm, "containerPort")
			p.HostPort, p.HasHostPort = ps.portField(pm, "hostPort")
			if !p.HasHostPort && mode == model.NetworkBridge {
				// In bridge mode an absent (or dropped) host port is
				// Marathon's default 0 (dynamic); only container mode has
				// mappings without a host port.
				p.HasHostPort = true
			}
			p.ServicePort, _ = ps.portField(pm, "servicePort")
			p.Protocol = ps.protocol(pm)
			p.Name, _ = ps.str(pm, "name")
			p.Labels = ps.labels(pm, "labels")
			p.NetworkNames = ps.strList(pm, "networkNames")
		}
		out = append(out, p)
	}
	return out
}

// discoveryPorts reads ≤1.4 ipAddress.discovery.ports: container ports,
// and no service ports (Marathon issue #3636).
func (s scope) discoveryPorts(l []any) []model.AppPort {
	out := make([]model.AppPort, 0, len(l))
	for i, v := range l {
		ps := s.idx("ipAddress.discovery.ports", i)
		p := model.AppPort{Protocol: "tcp"}
		if pm := ps.portEntry(v); pm != nil {
			p.ContainerPort, _ = ps.portField(pm, "number")
			p.Protocol = ps.protocol(pm)
			p.Name, _ = ps.str(pm, "name")
			p.Labels = ps.labels(pm, "labels")
		}
		out = append(out, p)
	}
	return out
}

func (s scope) object(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok && v != nil {
		s.bad("", "want an object, got "+kindOf(v)+"; skipped")
	}
	return m, ok
}

// seconds reads a non-negative duration in seconds, keeping def when the
// field is absent or bad.
func (s scope) seconds(m map[string]any, key string, def int) int {
	if n, ok := s.integer(m, key, 0, math.MaxInt32); ok {
		return int(n)
	}
	return def
}

// healthCheck decodes one app health check, with Marathon's defaults for
// absent fields (§1.2). An unknown protocol skips the check: a consumer
// could not run it.
func (s scope) healthCheck(v any) (model.HealthCheck, bool) {
	m, ok := s.object(v)
	if !ok {
		return model.HealthCheck{}, false
	}
	h := model.HealthCheck{Protocol: "HTTP"}
	if p, present := m["protocol"]; present && p != nil {
		ps, isStr := p.(string)
		switch ps {
		case "HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP":
			h.Protocol = ps
		default:
			if isStr {
				s.bad("protocol", "unknown health check protocol "+strconv.Quote(ps)+"; check skipped")
			} else {
				s.bad("protocol", "want a string, got "+kindOf(p)+"; check skipped")
			}
			return model.HealthCheck{}, false
		}
	}
	h.Path, _ = s.str(m, "path")
	if n, ok := s.integer(m, "portIndex", 0, math.MaxInt32); ok {
		h.PortIndex, h.HasPortIndex = int(n), true
	}
	if p, ok := s.portField(m, "port"); ok {
		h.Port = int(p)
	}
	if c, ok := s.obj(m, "command"); ok {
		h.Command, _ = s.at("command").str(c, "value")
	}
	h.GracePeriodSeconds = s.seconds(m, "gracePeriodSeconds", 300)
	h.IntervalSeconds = s.seconds(m, "intervalSeconds", 60)
	h.TimeoutSeconds = s.seconds(m, "timeoutSeconds", 20)
	h.MaxConsecutiveFailures = s.seconds(m, "maxConsecutiveFailures", 3)
	h.DelaySeconds = s.seconds(m, "delaySeconds", 15)
	h.IgnoreHTTP1xx, _ = s.boolean(m, "ignoreHttp1xx")
	return h, true
}

// readinessCheck decodes one readiness check with Marathon's defaults.
func (s scope) readinessCheck(v any) (model.ReadinessCheck, bool) {
	m, ok := s.object(v)
	if !ok {
		return model.ReadinessCheck{}, false
	}
	r := model.ReadinessCheck{Name: "readinessCheck", Protocol: "HTTP", Path: "/", PortName: "http-api",
		IntervalSeconds: 30, TimeoutSeconds: 10}
	if p, ok := s.str(m, "protocol"); ok {
		if p != "HTTP" && p != "HTTPS" {
			s.bad("protocol", "unknown readiness check protocol "+strconv.Quote(p)+"; check skipped")
			return model.ReadinessCheck{}, false
		}
		r.Protocol = p
	} else if m["protocol"] != nil {
		return model.ReadinessCheck{}, false
	}
	if x, ok := s.str(m, "name"); ok {
		r.Name = x
	}
	if x, ok := s.str(m, "path"); ok {
		r.Path = x
	}
	if x, ok := s.str(m, "portName"); ok {
		r.PortName = x
	}
	r.IntervalSeconds = s.seconds(m, "intervalSeconds", 30)
	r.TimeoutSeconds = s.seconds(m, "timeoutSeconds", 10)
	if l, ok := s.arr(m, "httpStatusCodesForReady"); ok {
		for i, cv := range l {
			c, err := intIn(cv, 100, 999)
			if err != nil {
				s.bad("httpStatusCodesForReady["+strconv.Itoa(i)+"]", err.Error())
				continue
			}
			r.HTTPStatusCodesForReady = append(r.HTTPStatusCodesForReady, int(c))
		}
	} else {
		r.HTTPStatusCodesForReady = []int{200}
	}
	return r, true
}

// readiness reads readinessCheckResults (embed=apps.readiness) into the
// verdict per task id: ready when every result for the task is.
func (s scope) readiness(m map[string]any) map[string]bool {
	l, ok := s.arr(m, "readinessCheckResults")
	if !ok || len(l) == 0 {
		return nil
	}
	out := map[string]bool{}
	for i, v := range l {
		rs := s.idx("readinessCheckResults", i)
		rm, ok := rs.object(v)
		if !ok {
			continue
		}
		tid, ok := rs.str(rm, "taskId")
		if !ok || tid == "" {
			if rm["taskId"] == nil {
				rs.bad("taskId", "missing; result skipped")
			}
			continue
		}
		r, ok := rs.boolean(rm, "ready")
		if !ok {
			if rm["ready"] == nil {
				rs.bad("ready", "missing; result skipped")
			}
			continue
		}
		if prev, seen := out[tid]; seen {
			r = r && prev
		}
		out[tid] = r
	}
	return out
}

func taskItem(id, app string) string { return "task " + strconv.Quote(id) + " of " + appItem(app) }

// task decodes tasks[j] of an app. false: the task is skipped.
func (s scope) task(appID string, j int, v any, ready map[string]bool) (model.AppTask, bool) {
	where := "tasks[" + strconv.Itoa(j) + "]"
	m, ok := v.(map[string]any)
	if !ok {
		s.d.add(kindTask, s.item, where, "want an object, got "+kindOf(v))
		return model.AppTask{}, false
	}
	id, err := requiredID(m["id"])
	if err != nil {
		s.d.add(kindTask, "task "+where+" of "+s.item, where+".id", err.Error())
		return model.AppTask{}, false
	}
	ts := scope{d: s.d, item: taskItem(id, appID), prefix: where}
	if other, dup := s.d.taskSeen[id]; dup {
		s.d.add(kindTask, ts.item, ts.path("id"), "duplicate task id (also in "+appItem(other)+"); the first one is kept")
		return model.AppTask{}, false
	}
	s.d.taskSeen[id] = appID
	t := model.AppTask{ID: id}
	t.Host, _ = ts.str(m, "host")
	t.SlaveID, _ = ts.str(m, "slaveId")
	if st, ok := ts.str(m, "state"); ok {
		var known bool
		if t.State, known = model.ParseTaskState(st); !known {
			ts.bad("state", "unknown task state "+strconv.Quote(st)+"; task kept as TASK_UNKNOWN")
		}
	}
	t.Ports = ts.portList(m, "ports")
	t.ServicePorts = ts.portList(m, "servicePorts")
	if ips, ok := ts.arr(m, "ipAddresses"); ok {
		for i, iv := range ips {
			is := ts.idx("ipAddresses", i)
			im, ok := is.object(iv)
			if !ok {
				continue
			}
			raw, ok := is.str(im, "ipAddress")
			if !ok {
				if im["ipAddress"] == nil {
					is.bad("ipAddress", "missing; address skipped")
				}
				continue
			}
			ip, err := netip.ParseAddr(raw)
			if err != nil {
				is.bad("ipAddress", "not an IP address: "+strconv.Quote(raw)+"; address skipped")
				continue
			}
			t.IPAddresses = append(t.IPAddresses, ip.Unmap())
		}
	}
	t.StagedAt, _ = ts.str(m, "stagedAt")
	t.StartedAt, _ = ts.str(m, "startedAt")
	t.Version, _ = ts.str(m, "version")
	if hrs, ok := ts.arr(m, "healthCheckResults"); ok {
		for i, hv := range hrs {
			if r, ok := ts.idx("healthCheckResults", i).healthResult(hv); ok {
				t.HealthResults = append(t.HealthResults, r)
			}
		}
	}
	if r, ok := ready[id]; ok {
		t.Ready = &r
	}
	return t, true
}

// portList reads task ports by index; a bad entry becomes 0 (no port), so
// the ports after it keep their index.
func (s scope) portList(m map[string]any, key string) []uint16 {
	l, ok := s.arr(m, key)
	if !ok || len(l) == 0 {
		return nil
	}
	out := make([]uint16, len(l))
	for i, v := range l {
		if v == nil {
			continue
		}
		p, err := port(v)
		if err != nil {
			s.bad(key+"["+strconv.Itoa(i)+"]", err.Error()+"; port left empty")
			continue
		}
		out[i] = p
	}
	return out
}

// healthResult decodes one healthCheckResults entry; one without a usable
// alive flag says nothing and is skipped.
func (s scope) healthResult(v any) (model.HealthResult, bool) {
	m, ok := s.object(v)
	if !ok {
		return model.HealthResult{}, false
	}
	alive, ok := s.boolean(m, "alive")
	if !ok {
		if m["alive"] == nil {
			s.bad("alive", "missing; result skipped")
		}
		return model.HealthResult{}, false
	}
	r := model.HealthResult{Alive: alive}
	if n, ok := s.integer(m, "consecutiveFailures", 0, math.MaxInt32); ok {
		r.ConsecutiveFailures = int(n)
	}
	r.FirstSuccess, _ = s.str(m, "firstSuccess")
	r.LastSuccess, _ = s.str(m, "lastSuccess")
	r.LastFailure, _ = s.str(m, "lastFailure")
	r.LastFailureCause, _ = s.str(m, "lastFailureCause")
	return r, true
}

// DecodeApps reads a saved GET /v2/apps body exactly as the source reads
// a live one (tolerantly, see the package documentation): the apps sorted
// by id and the problems the source would report. It exists for callers
// that hold a body without a Marathon, such as the edge's tests comparing
// with marathon-lb.
func DecodeApps(body []byte) ([]model.App, []model.Problem, error) {
	apps, probs, err := decodeApps(body)
	if err != nil {
		return nil, nil, err
	}
	out := make([]model.Problem, len(probs))
	for i, p := range probs {
		out[i] = p.Problem
	}
	return apps, out, nil
}
