package edge

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/model"
)

// service is one service port of one app while the configuration is
// built: marathon-lb's MarathonService, with Python's None kept apart
// from "" where marathon-lb tells them apart.
type service struct {
	appID        string
	index        int
	marathonPort int
	port         int64
	hc           *model.HealthCheck

	hcPortIndex     int64
	hasHCPortIndex  bool
	groups          []string // HAPROXY_{n}_GROUP
	hasGroups       bool
	appGroups       []string // HAPROXY_GROUP
	enabled         bool
	hostname        string
	hasHostname     bool
	path            string
	auth            *Auth
	sticky          bool
	redirectToHTTPS bool
	useHSTS         bool
	sslCert         string
	hasSSLCert      bool
	bindOptions     string
	hasBindOptions  bool
	bindAddr        string
	mode            string
	hasMode         bool
	balance         string
	templates       map[string]string
	weight          int64
	networkAllowed  string
	proxyPass       string
	revProxy        string
	redirect        string

	backends  []backend // sorted by (host, port) once complete
	labelErrs []labelError
}

type backend struct {
	host, ip string
	port     int
	draining bool
}

type builder struct {
	o      Options
	specs  []labelSpec
	assign portAssigner
}

// Build turns Marathon apps (a snapshot's, sorted by id) into the
// configuration marathon-lb generates for them with these options: the
// services of the LB's groups with at least one server, their frontends,
// backends and servers, and the vhost and app-id rules of the shared
// frontends in marathon-lb's order. It fails only for invalid options; a
// service or deployment group whose labels cannot be applied is left out
// and listed in Config.Problems, where marathon-lb would stop generating
// altogether (spec §9.4).
func Build(apps []model.App, o Options) (*Config, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	r, on := o.portRange()
	b := &builder{o: o, specs: serviceLabels(), assign: newPortAssigner(r, on)}
	merged, probs := mergeDeployments(apps)
	all := b.services(merged)
	cfg := b.config(all)
	cfg.Problems = append(probs, cfg.Problems...)
	return cfg, nil
}

// services is the second pass of get_apps: one service per service port
// of each app, with a server for each task port of each task that may
// receive traffic. Only services with servers are returned, in app order.
func (b *builder) services(apps []*app) []*service {
	var all []*service
	for _, a := range apps {
		if b.o.FrameworkName != "" && tail(a.id) == b.o.FrameworkName {
			continue // marathon-lb itself
		}
		var appGroups []string
		if g, ok := a.src.Labels[appGroupsLabel]; ok {
			appGroups = strings.Split(g, ",")
		}
		sps := b.servicePorts(a)
		// Services are keyed by the Marathon service port: an index whose
		// port repeats an earlier one replaces that service (keeping its
		// place) and receives the task ports of both indexes.
		byPort := map[int]*service{}
		var order []int
		for i, sp := range sps {
			if sp == 0 {
				continue
			}
			s := b.newService(a, i, sp, appGroups)
			if _, dup := byPort[sp]; !dup {
				order = append(order, sp)
			}
			byPort[sp] = s
		}
		for _, tk := range a.tasks {
			t := tk.t
			if t.Host == "" || excluded(t.State) {
				continue
			}
			if b.o.HealthCheck && len(a.src.HealthChecks) > 0 && !alive(t) {
				continue
			}
			ip, ok := b.taskIP(a, t)
			ports := b.taskPorts(a, t)
			if !ok || len(ports) == 0 {
				continue
			}
			for i := range min(len(ports), len(sps)) {
				if s := byPort[sps[i]]; sps[i] != 0 && s != nil {
					s.backends = append(s.backends, backend{host: t.Host, ip: ip, port: ports[i], draining: tk.draining})
				}
			}
		}
		for _, sp := range order {
			if s := byPort[sp]; len(s.backends) > 0 {
				// marathon-lb sorts by (host, port). Container-mode tasks on
				// one agent tie (same host, same container port); marathon-lb
				// then keeps its Python set's hash order, which changes from
				// one process to the next, and the IP decides here.
				slices.SortStableFunc(s.backends, func(x, y backend) int {
					return cmp.Or(strings.Compare(x.host, y.host), cmp.Compare(x.port, y.port), strings.Compare(x.ip, y.ip))
				})
				all = append(all, s)
			}
		}
	}
	return all
}

func (b *builder) newService(a *app, i, sp int, appGroups []string) *service {
	s := &service{
		appID: a.id, index: i, marathonPort: sp, port: int64(sp), hc: healthCheck(a.src, int64(i)),
		appGroups: appGroups, enabled: !b.o.StrictMode, bindAddr: "*", balance: "roundrobin",
		templates: map[string]string{},
	}
	if s.hc != nil && s.hc.Protocol == "HTTP" {
		s.mode, s.hasMode = "http", true
	}
	s.labelErrs = applyLabels(b.specs, a.src.Labels, s)
	// HAPROXY_{n}_BACKEND_HEALTHCHECK_PORT_INDEX borrows another index's
	// health check (marathon-lb issue #198); an HTTP-like one forces
	// http mode, even over HAPROXY_{n}_MODE.
	if s.hc == nil && s.hasHCPortIndex {
		if s.hc = healthCheck(a.src, s.hcPortIndex); s.hc != nil {
			switch s.hc.Protocol {
			case "HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS":
				s.mode, s.hasMode = "http", true
			}
		}
	}
	return s
}

// healthCheck is the first check with an explicit port (quirk: such a
// check applies to every index) or with portIndex n (spec §4.4).
func healthCheck(a *model.App, n int64) *model.HealthCheck {
	for i := range a.HealthChecks {
		hc := &a.HealthChecks[i]
		if hc.Port != 0 || hc.HasPortIndex && int64(hc.PortIndex) == n {
			return hc
		}
	}
	return nil
}

// excluded are the task states marathon-lb leaves out (spec §4.3): all
// but running, lost and unreachable (a partitioned task may still serve).
// The model reads an absent state and TASK_UNKNOWN alike; marathon-lb
// keeps the first and drops the second, and an absent state is the one
// its own fixtures have, so both are kept.
func excluded(s model.TaskState) bool {
	switch s {
	case model.TaskStaging, model.TaskStarting, model.TaskKilling, model.TaskFinished, model.TaskFailed,
		model.TaskKilled, model.TaskError, model.TaskDropped, model.TaskGone, model.TaskGoneByOperator:
		return true
	}
	return false
}

// alive is marathon-lb's health rule since 2019 (#655/#656): at least one
// result alive. No results is unhealthy (marathon-lb's LRU cache of
// earlier verdicts is the engine's business, not this pure function's).
func alive(t *model.AppTask) bool {
	for _, r := range t.HealthResults {
		if r.Alive {
			return true
		}
	}
	return false
}

// config is marathon-lb's config(): the included services in order, each
// rendered into its contribution to every section.
func (b *builder) config(all []*service) *Config {
	e := newEmitter(&b.o, all)
	sorted := slices.Clone(all)
	slices.SortStableFunc(sorted, func(x, y *service) int {
		return cmp.Or(strings.Compare(x.appID, y.appID), cmp.Compare(x.port, y.port))
	})
	for _, s := range sorted {
		groups := s.appGroups
		if s.hasGroups {
			groups = s.groups
		}
		if !b.hasGroup(groups) || !s.enabled {
			continue
		}
		if len(s.labelErrs) > 0 {
			for _, le := range s.labelErrs {
				e.cfg.Problems = append(e.cfg.Problems, Problem{App: s.appID, Index: s.index, Label: le.label, Reason: le.reason})
			}
			continue
		}
		c, err := e.service(s)
		if err != nil {
			var le *labelError
			p := Problem{App: s.appID, Index: s.index, Reason: err.Error()}
			if errors.As(err, &le) {
				p.Label, p.Reason = le.label, le.reason
			}
			e.cfg.Problems = append(e.cfg.Problems, p)
			continue
		}
		e.commit(s, c)
	}
	return e.finish()
}

func (b *builder) hasGroup(groups []string) bool {
	for _, g := range b.o.Groups {
		if g == "*" || slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

func (e *labelError) Error() string { return e.label + ": " + e.reason }

// backendPort is marathon-lb's get_backend_port: the port of the idx-th
// server of the service that HAPROXY_{n}_BACKEND_HEALTHCHECK_PORT_INDEX
// names — the k-th service of the same app by service port, Python
// indexing (negative from the end) — or of the service itself when
// there is no index or it is out of range. An index equal to the number
// of services, or a sibling with fewer servers, is an IndexError in
// marathon-lb; here it leaves the service out.
func backendPort(all []*service, s *service, idx int) (int, error) {
	if !s.hasHCPortIndex {
		return s.backends[idx].port, nil
	}
	var siblings []*service
	for _, x := range all {
		if x.appID == s.appID {
			siblings = append(siblings, x)
		}
	}
	k := s.hcPortIndex
	if k > int64(len(siblings)) || k < -int64(len(siblings)) {
		return s.backends[idx].port, nil
	}
	slices.SortStableFunc(siblings, func(x, y *service) int {
		return cmp.Or(strings.Compare(x.appID, y.appID), cmp.Compare(x.port, y.port))
	})
	if k < 0 {
		k += int64(len(siblings))
	}
	label := labelKey(s.index, "BACKEND_HEALTHCHECK_PORT_INDEX")
	if k >= int64(len(siblings)) {
		return 0, &labelError{label, "index " + strconv.FormatInt(s.hcPortIndex, 10) + " but the app has " +
			strconv.Itoa(len(siblings)) + " services with servers"}
	}
	sib := siblings[k]
	if idx >= len(sib.backends) {
		return 0, &labelError{label, "the service it names has fewer servers (" + strconv.Itoa(len(sib.backends)) +
			") than this one"}
	}
	return sib.backends[idx].port, nil
}
