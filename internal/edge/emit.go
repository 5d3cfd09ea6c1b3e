package edge

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/edge/pystr"
)

// emitter collects the sections of the configuration as services are
// added. Each service is first rendered into a contribution against the
// current state and committed only when all its template labels format,
// so a bad label leaves no trace (no map catch-all, no app-id rule) of
// its service.
type emitter struct {
	o   *Options
	all []*service
	cfg *Config
	// state shared between services (marathon-lb's duplicate_map and
	// apps_with_http_appid_backend)
	mapHTTP, mapHTTPS, mapAppID bool
	appIDs                      map[string]bool
	http, https                 []Block
	grouped                     map[string]*groupedVhost
	info                        map[Template]TemplateInfo
}

// groupedVhost is one vhost of --group-https-by-vhost: its rule blocks
// and the certificates and bind options of the services that name it.
type groupedVhost struct {
	blocks   []Block
	certs    map[string]bool
	bindOpts map[string]bool
}

func newEmitter(o *Options, all []*service) *emitter {
	info := map[Template]TemplateInfo{}
	for _, t := range Templates() {
		info[t.Name] = t
	}
	return &emitter{o: o, all: all, cfg: &Config{HAProxyDir: dirname(cmp.Or(o.ConfigFile, DefaultConfigFile))},
		appIDs: map[string]bool{}, grouped: map[string]*groupedVhost{}, info: info}
}

// contrib is what one service adds to each section.
type contrib struct {
	name, mode       string
	weight           int64
	userlist         []Rule
	frontend         []Rule
	backend          []Rule
	vhost            bool
	http, https      []Rule
	grouped          map[string]*groupedVhost
	groupedOrder     []string
	appID            []Rule
	domain, appMap   []MapEntry
	mapHTTP          bool
	mapHTTPS         bool
	mapAppID         bool
	servers          []Server
	claimsAppIDFront bool
}

type arg = pystr.Arg

func str(name, v string) arg           { return arg{Name: name, Value: pystr.Str(v)} }
func integer(name string, v int64) arg { return arg{Name: name, Value: pystr.Int(v)} }

// rule applies template t for service s, with s's template label when it
// has one for t.
func (e *emitter) rule(s *service, t Template, args ...arg) Rule {
	r := Rule{Template: t, Args: args}
	if s != nil {
		if lbl := e.info[t].Label; lbl != "" {
			r.Override, r.HasOverride = s.templates[lbl]
		}
	}
	return r
}

func (s *service) realm() string {
	if s.auth == nil {
		return ""
	}
	return s.auth.Realm
}

// hostnameValue is the vhost label as marathon-lb passes it to templates:
// None without one, the raw (lower-cased, comma-separated) value else.
func (s *service) hostnameValue() pystr.Value {
	if !s.hasHostname {
		return pystr.None()
	}
	return pystr.Str(s.hostname)
}

// service renders one service in the order marathon-lb's config() does.
func (e *emitter) service(s *service) (*contrib, error) {
	c := &contrib{mapHTTP: e.mapHTTP, mapHTTPS: e.mapHTTPS, mapAppID: e.mapAppID, weight: s.weight,
		grouped: map[string]*groupedVhost{}}
	c.name = backendName(s.appID, s.port)
	c.mode = s.mode
	if !s.hasMode {
		c.mode = "tcp"
		if s.hostname != "" {
			c.mode = "http"
		}
	}
	if err := e.consistent(s, c.mode); err != nil {
		return nil, err
	}
	if s.auth != nil && s.auth.User != "" {
		c.userlist = append(c.userlist, e.rule(s, UserlistHead,
			str("backend", c.name), str("user", s.auth.User), str("passwd", s.auth.Password)))
	}
	sslCert, bindOptions := "", ""
	if s.sslCert != "" {
		sslCert = " ssl crt " + s.sslCert
	}
	if s.bindOptions != "" {
		bindOptions = " " + s.bindOptions
	}
	c.frontend = append(c.frontend, e.rule(s, FrontendHead, str("bindAddr", s.bindAddr), str("backend", c.name),
		integer("servicePort", s.port), str("mode", c.mode), str("sslCert", sslCert), str("bindOptions", bindOptions)))
	c.backend = append(c.backend, e.rule(s, BackendHead, str("backend", c.name), str("balance", s.balance),
		str("mode", c.mode)))

	if !e.o.DontBindHTTPHTTPS && s.hostname != "" {
		e.vhost(c, s)
	}

	if c.mode == "http" && !e.appIDs[s.appID] {
		c.claimsAppIDFront = true
		if e.o.HAProxyMap {
			if !c.mapAppID {
				c.appID = append(c.appID, e.rule(s, MapHTTPFrontendAppIDACL, str("haproxy_dir", e.cfg.HAProxyDir)))
				c.mapAppID = true
			}
			c.appMap = addMap(c.appMap, e.cfg.AppMap, MapEntry{s.appID, c.name})
		} else {
			c.appID = append(c.appID, e.rule(s, HTTPFrontendAppIDACL, str("cleanedUpAppId", clean(s.appID)),
				arg{Name: "hostname", Value: s.hostnameValue()}, str("appId", s.appID), str("backend", c.name)))
		}
	}

	if c.mode == "http" {
		if s.useHSTS {
			c.backend = append(c.backend, e.rule(s, BackendHSTSOptions))
		}
		c.backend = append(c.backend, e.rule(s, BackendHTTPOptions))
		host := arg{Name: "hostname", Value: s.hostnameValue()}
		if s.proxyPass != "" {
			c.backend = append(c.backend, e.rule(s, HTTPBackendProxypassGlue, host, str("proxypath", s.proxyPass)))
		}
		if s.revProxy != "" {
			c.backend = append(c.backend, e.rule(s, HTTPBackendRevproxyGlue, host, str("rootpath", s.revProxy)))
		}
		if s.redirect != "" {
			c.backend = append(c.backend, e.rule(s, HTTPBackendRedir, host, str("redirpath", s.redirect)))
		}
	}
	if s.networkAllowed != "" && (c.mode == "http" || c.mode == "tcp") {
		acl, allowDeny := HTTPBackendNetworkAllowedACL, HTTPBackendACLAllowDeny
		if c.mode == "tcp" {
			acl, allowDeny = TCPBackendNetworkAllowedACL, TCPBackendACLAllowDeny
		}
		for _, n := range pystr.Fields(s.networkAllowed) {
			c.backend = append(c.backend, e.rule(s, acl, str("network_allowed", n)))
		}
		c.backend = append(c.backend, e.rule(s, allowDeny))
	}
	if s.sticky {
		c.backend = append(c.backend, e.rule(s, BackendStickyOptions))
	}
	c.frontend = append(c.frontend, e.rule(s, FrontendBackendGlue, str("backend", c.name)))

	if err := e.servers(c, s); err != nil {
		return nil, err
	}
	if err := e.validate(s, c); err != nil {
		return nil, err
	}
	return c, nil
}

// consistent rejects label combinations that marathon-lb renders into a
// file HAProxy refuses: marathon-lb then fails validation and drops the
// whole app in its clean-up pass (spec §9.3); the edge drops the service
// before rendering, so the rest of the file stays valid.
func (e *emitter) consistent(s *service, mode string) error {
	switch {
	case mode != "http" && mode != "tcp":
		return &labelError{labelKey(s.index, "MODE"), "HAProxy has no mode " + strconv.Quote(mode) + " (http or tcp)"}
	case mode != "http" && s.hostname != "" && !e.o.DontBindHTTPHTTPS:
		return &labelError{labelKey(s.index, "VHOST"), "a vhost is served by the http frontends on :80 and :443, " +
			"which cannot route to a " + mode + " backend (HAPROXY_" + strconv.Itoa(s.index) + "_MODE)"}
	case e.o.GroupHTTPSByVhost && !e.o.DontBindHTTPHTTPS && s.hostname != "" &&
		slices.Contains(strings.Split(s.hostname, ","), ""):
		// Elsewhere an empty vhost is an ACL that never matches; here it
		// would name an unnamed backend and frontend.
		return &labelError{labelKey(s.index, "VHOST"), "an empty vhost in the list (" + strconv.Quote(s.hostname) +
			") cannot have its own TLS frontend"}
	case s.realm() != "" && s.auth.User == "" && (s.hostname != "" && !e.o.DontBindHTTPHTTPS):
		return &labelError{labelKey(s.index, "AUTH"), "the user is empty: the vhost rules would check a userlist " +
			"that is not written"}
	}
	return nil
}

// hcTemplates picks the backend and per-server health-check templates:
// TCP for tcp mode or a TCP check, HTTP for http mode, none otherwise.
func (s *service) hcTemplates(mode string) (Template, Template, bool) {
	switch {
	case s.hc == nil:
		return "", "", false
	case mode == "tcp" || s.hc.Protocol == "TCP" || s.hc.Protocol == "MESOS_TCP":
		return BackendTCPHealthcheckOptions, BackendServerTCPHealthcheckOptions, true
	case mode == "http":
		return BackendHTTPHealthcheckOptions, BackendServerHTTPHealthcheckOptions, true
	}
	return "", "", false
}

func (e *emitter) servers(c *contrib, s *service) error {
	backendHC, serverHC, hasHC := s.hcTemplates(c.mode)
	taken := map[int]bool{}
	for idx, bs := range s.backends {
		if idx == 0 && hasHC {
			port, err := backendPort(e.all, s, 0)
			if err != nil {
				return err
			}
			c.backend = append(c.backend, e.rule(s, backendHC, hcArgs(s, int64(port), true)...))
		}
		name := serverName(bs.host, bs.ip, bs.port)
		id := serverID(name, taken)
		srv := Server{Name: name, ID: id, Host: bs.host, IP: bs.ip, Port: bs.port, Draining: bs.draining}
		cookieOpts := ""
		if s.sticky {
			srv.Cookie = cookie(name)
			cookieOpts = " check cookie " + srv.Cookie
		}
		other := ""
		if bs.draining {
			other = " disabled"
		}
		r := e.rule(s, BackendServerOptions, str("host", bs.host), str("host_ipv4", bs.ip), integer("port", int64(bs.port)),
			str("serverName", name), integer("serverId", int64(id)), str("cookieOptions", cookieOpts),
			str("healthCheckOptions", ""), str("otherOptions", other))
		if hasHC {
			var port int64
			known := false
			if s.hasHCPortIndex {
				p, err := backendPort(e.all, s, idx)
				if err != nil {
					return err
				}
				port, known = int64(p), true
			} else if s.hc.Port != 0 {
				port, known = int64(s.hc.Port), true
			}
			nested := e.rule(s, serverHC, hcArgs(s, port, known)...)
			r.Nested, r.NestedArg = &nested, "healthCheckOptions"
		}
		c.backend = append(c.backend, r)
		c.servers = append(c.servers, srv)
	}
	return nil
}

// hcArgs are the health-check variables of spec §5.3; port is the
// health-check port when known (else None).
func hcArgs(s *service, port int64, known bool) []arg {
	hc := s.hc
	portIndex := pystr.None()
	if hc.HasPortIndex {
		portIndex = pystr.Int(int64(hc.PortIndex))
	}
	portVal, portOpts := pystr.None(), ""
	if known {
		portVal = pystr.Int(port)
		if port != 0 {
			portOpts = " port " + strconv.FormatInt(port, 10)
		}
	}
	path := hc.Path
	if path == "" {
		path = "/"
	}
	return []arg{
		{Name: "healthCheck", Value: hcDict(s)},
		{Name: "healthCheckPortIndex", Value: portIndex},
		{Name: "healthCheckPort", Value: portVal},
		str("healthCheckProtocol", hc.Protocol),
		str("healthCheckPath", path),
		integer("healthCheckTimeoutSeconds", int64(hc.TimeoutSeconds)),
		integer("healthCheckIntervalSeconds", int64(hc.IntervalSeconds)),
		integer("healthCheckGracePeriodSeconds", int64(hc.GracePeriodSeconds)),
		integer("healthCheckMaxConsecutiveFailures", int64(hc.MaxConsecutiveFailures)),
		integer("healthCheckFalls", int64(hc.MaxConsecutiveFailures)+1),
		str("healthCheckPortOptions", portOpts),
	}
}

// hcDict is the health check as the dict marathon-lb passes as
// {healthCheck}: the fields Marathon reports, for [key] indexing.
func hcDict(s *service) pystr.Value {
	hc := s.hc
	items := []pystr.Item{
		{Key: "protocol", Value: pystr.Str(hc.Protocol)},
		{Key: "gracePeriodSeconds", Value: pystr.Int(int64(hc.GracePeriodSeconds))},
		{Key: "intervalSeconds", Value: pystr.Int(int64(hc.IntervalSeconds))},
		{Key: "timeoutSeconds", Value: pystr.Int(int64(hc.TimeoutSeconds))},
		{Key: "maxConsecutiveFailures", Value: pystr.Int(int64(hc.MaxConsecutiveFailures))},
		{Key: "delaySeconds", Value: pystr.Int(int64(hc.DelaySeconds))},
	}
	if hc.Path != "" {
		items = append(items, pystr.Item{Key: "path", Value: pystr.Str(hc.Path)})
	}
	if hc.HasPortIndex {
		items = append(items, pystr.Item{Key: "portIndex", Value: pystr.Int(int64(hc.PortIndex))})
	}
	if hc.Port != 0 {
		items = append(items, pystr.Item{Key: "port", Value: pystr.Int(int64(hc.Port))})
	}
	if hc.Command != "" {
		items = append(items, pystr.Item{Key: "command", Value: pystr.Dict(pystr.Item{Key: "value", Value: pystr.Str(hc.Command)})})
	}
	switch hc.Protocol {
	case "HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS":
		items = append(items, pystr.Item{Key: "ignoreHttp1xx", Value: pystr.Bool(hc.IgnoreHTTP1xx)})
	}
	return pystr.Dict(items...)
}

// validate formats every rule that uses one of the service's template
// labels: a label str.format rejects leaves out only this service.
func (e *emitter) validate(s *service, c *contrib) error {
	check := func(r *Rule) error {
		if !r.HasOverride || e.info[r.Template].Literal {
			return nil
		}
		t := r.Override
		if e.info[r.Template].Trim {
			t = pystr.Strip(t)
		}
		if _, err := pystr.Format(t, r.Args); err != nil {
			return &labelError{labelKey(s.index, e.info[r.Template].Label), "template: " + err.Error()}
		}
		return nil
	}
	for _, rs := range [][]Rule{c.userlist, c.frontend, c.backend, c.http, c.https, c.appID} {
		for i := range rs {
			if err := check(&rs[i]); err != nil {
				return err
			}
			if rs[i].Nested != nil {
				if err := check(rs[i].Nested); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func addMap(local, global []MapEntry, m MapEntry) []MapEntry {
	if slices.Contains(global, m) || slices.Contains(local, m) {
		return local
	}
	return append(local, m)
}

func (c *contrib) group(vhost string) *groupedVhost {
	g, ok := c.grouped[vhost]
	if !ok {
		g = &groupedVhost{certs: map[string]bool{}, bindOpts: map[string]bool{}}
		c.grouped[vhost] = g
		c.groupedOrder = append(c.groupedOrder, vhost)
	}
	return g
}

func (g *groupedVhost) add(w int64, rules ...Rule) {
	g.blocks = append(g.blocks, Block{Service: -1, Weight: w, Rules: slices.Clone(rules)})
}

// commit adds a validated contribution.
func (e *emitter) commit(s *service, c *contrib) {
	idx := len(e.cfg.Services)
	if len(c.userlist) > 0 {
		e.cfg.Userlists = append(e.cfg.Userlists, Block{Service: idx, Rules: c.userlist})
	}
	if c.vhost {
		e.http = append(e.http, Block{Service: idx, Weight: c.weight, Rules: c.http})
		e.https = append(e.https, Block{Service: idx, Weight: c.weight, Rules: c.https})
	}
	for _, vh := range c.groupedOrder {
		g := c.grouped[vh]
		for i := range g.blocks {
			g.blocks[i].Service = idx
		}
		t, ok := e.grouped[vh]
		if !ok {
			e.grouped[vh] = g
			continue
		}
		t.blocks = append(t.blocks, g.blocks...)
		for k := range g.certs {
			t.certs[k] = true
		}
		for k := range g.bindOpts {
			t.bindOpts[k] = true
		}
	}
	if len(c.appID) > 0 {
		e.cfg.AppID.Blocks = append(e.cfg.AppID.Blocks, Block{Service: idx, Rules: c.appID})
	}
	if c.claimsAppIDFront {
		e.appIDs[s.appID] = true
	}
	e.cfg.DomainMap = append(e.cfg.DomainMap, c.domain...)
	e.cfg.AppMap = append(e.cfg.AppMap, c.appMap...)
	e.mapHTTP, e.mapHTTPS, e.mapAppID = c.mapHTTP, c.mapHTTPS, c.mapAppID

	svc := Service{
		AppID: s.appID, Index: s.index, Port: s.port, Name: c.name, Mode: c.mode, Balance: s.balance,
		BindAddr: s.bindAddr, BindOptions: s.bindOptions, HasBindOptions: s.hasBindOptions, SSLCert: s.sslCert,
		HasSSLCert: s.hasSSLCert, Path: s.path, Auth: s.auth, Sticky: s.sticky, RedirectToHTTPS: s.redirectToHTTPS,
		UseHSTS: s.useHSTS, Weight: c.weight, ProxyPass: s.proxyPass, RevProxy: s.revProxy, Redirect: s.redirect,
		NetworkAllowed: pystr.Fields(s.networkAllowed), HealthCheck: s.hc, Servers: c.servers,
		Frontend: c.frontend, Backend: c.backend,
	}
	svc.Groups = s.appGroups
	if s.hasGroups {
		svc.Groups = s.groups
	}
	if s.hostname != "" {
		svc.Vhosts = strings.Split(s.hostname, ",")
	}
	e.cfg.Services = append(e.cfg.Services, svc)
}

// finish sorts the vhost blocks and assembles the shared frontends.
func (e *emitter) finish() *Config {
	cfg := e.cfg
	byWeight := func(x, y Block) int { return cmp.Compare(y.Weight, x.Weight) }
	cfg.AppID.Name, cfg.AppID.Head = "marathon_http_appid_in", Rule{Template: HTTPFrontendAppIDHead}
	if e.o.DontBindHTTPHTTPS {
		return cfg
	}
	slices.SortStableFunc(e.http, byWeight)
	slices.SortStableFunc(e.https, byWeight)
	cfg.HTTP = &Frontend{Name: "marathon_http_in", Head: Rule{Template: HTTPFrontendHead}, Blocks: e.http}
	certs := e.o.sslCerts()
	if !e.o.GroupHTTPSByVhost {
		crts := make([]string, len(certs))
		for i, c := range certs {
			crts[i] = "crt " + c
		}
		cfg.HTTPS = &Frontend{Name: "marathon_https_in", Blocks: e.https,
			Head: Rule{Template: HTTPSFrontendHead, Args: pystr.Args{str("sslCerts", strings.Join(crts, " "))}}}
		return cfg
	}
	cfg.HTTPS = &Frontend{Name: "marathon_https_in", Head: Rule{Template: HTTPSGroupedFrontendHead}}
	vhosts := make([]string, 0, len(e.grouped))
	for vh := range e.grouped {
		vhosts = append(vhosts, vh)
	}
	slices.Sort(vhosts)
	for _, vh := range vhosts {
		g := e.grouped[vh]
		name := clean(vh)
		cfg.HTTPS.Blocks = append(cfg.HTTPS.Blocks, Block{Service: -1, Rules: []Rule{{Template: HTTPSGroupedVhostFrontendACL,
			Args: pystr.Args{str("backend", name), str("host", vh)}}}})
		vf := VhostFrontend{Vhost: vh, Name: name, Certs: sortedKeys(g.certs), BindOptions: sortedKeys(g.bindOpts)}
		if len(vf.Certs) == 0 {
			vf.Certs = slices.Compact(slices.Sorted(slices.Values(certs)))
		}
		crts := make([]string, len(vf.Certs))
		for i, c := range vf.Certs {
			crts[i] = "crt " + c
		}
		opts := make([]string, len(vf.BindOptions))
		for i, o := range vf.BindOptions {
			opts[i] = " " + o
		}
		vf.Backend = Rule{Template: HTTPSGroupedVhostBackendHead, Args: pystr.Args{str("name", name)}}
		vf.Head = Rule{Template: HTTPSGroupedVhostFrontendHead, Args: pystr.Args{str("name", name),
			str("sslCerts", strings.Join(crts, " ")), str("bindOpts", strings.Join(opts, " "))}}
		vf.Blocks = slices.Clone(g.blocks)
		slices.SortStableFunc(vf.Blocks, byWeight)
		cfg.Vhosts = append(cfg.Vhosts, vf)
	}
	return cfg
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
