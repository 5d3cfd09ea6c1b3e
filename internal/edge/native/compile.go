package native

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/pystr"
)

// table is one configuration compiled for serving: the frontends by
// listen address and the backends they route to. A table is immutable;
// Apply builds a new one and swaps it in.
type table struct {
	byAddr   map[string]*frontend
	backends map[string]*backend
	// listeners are the addresses to listen on, with whether the shared
	// HTTPS frontend's TLS applies to all of them.
	addrs    []string
	order    []*frontend
	warnings []string
}

// frontend is one HAProxy frontend as the native engine serves it.
type frontend struct {
	name string
	addr string
	port string // the bound port, for X-Forwarded-Port
	mode string // "http" or "tcp"
	// certs, when set, terminate TLS on the listener.
	certs *certStore
	prog  *program
	// grouped is the SNI switch of --group-https-by-vhost: each vhost
	// has its own TLS frontend (certificates and rules).
	grouped map[string]*frontend
	// backend is the service-port frontend's unconditional use_backend.
	backend *backend
	stats   *counters
}

// program is a frontend's http rules, evaluated as HAProxy does: every
// matching http-request auth first, then the redirects, then the first
// matching use_backend, whatever their order in the file.
type program struct {
	acls      map[string]*acl
	auths     []authRule
	redirects []cond
	uses      []useRule
	// hostIndex finds, for a Host header, the first use_backend whose
	// only condition is a host ACL; the others are scanned in order.
	hostIndex map[string]int
	complex   []int
}

type authRule struct {
	cond  cond
	realm string
}

type useRule struct {
	cond    cond
	backend *backend
	// dyn is a map lookup (%[…,map(file)]): a miss ends the rules with
	// no backend, as an unresolved dynamic use_backend does.
	dyn    dynKind
	dynMap map[string]*backend
}

type dynKind uint8

const (
	dynNone dynKind = iota
	dynHost
	dynSNI
	dynAppID
)

// cond is an AND of terms.
type cond []term

type term struct {
	neg bool
	acl *acl
	// sni is an inline { ssl_fc_sni X } (sniSet), ssl an inline ssl_fc.
	sni    string
	sniSet bool
	ssl    bool
}

type aclKind uint8

const (
	aclHost aclKind = iota
	aclPath
	aclAuth
	aclAppID
)

// acl is every line declaring one ACL name: HAProxy ORs them.
type acl struct {
	name  string
	kind  aclKind
	vals  map[string]bool // host, app id: lower-cased
	paths []pathBeg
	users *userlist
	mixed bool // lines of several kinds under one name
	extra []*acl
}

type pathBeg struct {
	prefix string
	fold   bool
}

// compile turns a configuration into a table. prev carries the state
// that outlives a configuration (server health, pools, counters).
func (e *Engine) compile(cfg *edge.Config) (*table, error) {
	if cfg == nil {
		return nil, errors.New("no configuration")
	}
	t := &table{byAddr: map[string]*frontend{}, backends: map[string]*backend{}}
	users := map[string]*userlist{}
	for _, b := range cfg.Userlists {
		if b.Service < 0 || b.Service >= len(cfg.Services) {
			continue
		}
		s := &cfg.Services[b.Service]
		if s.Auth != nil {
			users["user_"+s.Name] = newUserlist(s.Auth.User, s.Auth.Password)
		}
	}
	for i := range cfg.Services {
		s := &cfg.Services[i]
		be, warn := e.compileBackend(s)
		t.warnings = append(t.warnings, warn...)
		t.backends[s.Name] = be
	}
	c := compiler{t: t, users: users, cfg: cfg}
	addFE := func(fe *frontend) error {
		if fe.stats == nil {
			fe.stats = e.frontendStats(fe.name)
		}
		if other, dup := t.byAddr[fe.addr]; dup {
			return fmt.Errorf("frontends %s and %s both bind %s", other.name, fe.name, fe.addr)
		}
		t.byAddr[fe.addr] = fe
		t.addrs = append(t.addrs, fe.addr)
		t.order = append(t.order, fe)
		return nil
	}
	var errs []error
	if cfg.HTTP != nil && e.o.HTTPAddr != "" {
		fe := c.httpFrontend(cfg.HTTP, e.o.HTTPAddr)
		errs = append(errs, addFE(fe))
	}
	if e.o.AppIDAddr != "" {
		fe := c.httpFrontend(&cfg.AppID, e.o.AppIDAddr)
		errs = append(errs, addFE(fe))
	}
	if cfg.HTTPS != nil && e.o.HTTPSAddr != "" {
		fe, err := c.httpsFrontend(e, cfg)
		if err != nil {
			return nil, err
		}
		errs = append(errs, addFE(fe))
	}
	for i := range cfg.Services {
		s := &cfg.Services[i]
		if hidden(s.Frontend) {
			continue
		}
		fe := &frontend{name: s.Name, mode: s.Mode, backend: t.backends[s.Name], stats: e.frontendStats(s.Name)}
		fe.addr = e.serviceAddr(s.BindAddr, s.Port)
		fe.port = strconv.FormatInt(s.Port, 10)
		if s.SSLCert != "" {
			fe.certs = e.certs.store([]string{s.SSLCert})
		}
		if err := addFE(fe); err != nil {
			t.warnings = append(t.warnings, err.Error()+": "+s.Name+" not bound")
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	t.warnings = append(t.warnings, c.warnings...)
	return t, nil
}

// hidden reports a service-port frontend whose templates were
// overridden to nothing (users expose vhost-only services that way).
func hidden(rules []edge.Rule) bool {
	for _, r := range rules {
		if r.Template == edge.FrontendHead && r.HasOverride && strings.TrimSpace(r.Override) == "" {
			return true
		}
	}
	return false
}

func (e *Engine) serviceAddr(bind string, port int64) string {
	if e.o.ServiceAddr != nil {
		return e.o.ServiceAddr(bind, port)
	}
	if bind == "*" || bind == "" {
		bind = ""
	} else if a, err := netip.ParseAddr(bind); err == nil && a.Is6() {
		bind = "[" + bind + "]"
	}
	return bind + ":" + strconv.FormatInt(port, 10)
}

type compiler struct {
	t        *table
	cfg      *edge.Config
	users    map[string]*userlist
	warnings []string
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return addr
}

func (c *compiler) httpFrontend(f *edge.Frontend, addr string) *frontend {
	fe := &frontend{name: f.Name, addr: addr, port: portOf(addr), mode: "http", prog: c.program(f.Blocks)}
	return fe
}

func (c *compiler) httpsFrontend(e *Engine, cfg *edge.Config) (*frontend, error) {
	f := cfg.HTTPS
	fe := &frontend{name: f.Name, addr: e.o.HTTPSAddr, port: portOf(e.o.HTTPSAddr), mode: "http"}
	if len(cfg.Vhosts) == 0 && f.Head.Template != edge.HTTPSGroupedFrontendHead {
		fe.certs = e.certs.store(crtArgs(f.Head.Args))
		fe.prog = c.program(f.Blocks)
		return fe, nil
	}
	// Grouped: the SNI switch picks a vhost frontend, each with its own
	// certificates; the certificates of all of them answer the handshake.
	fe.grouped = map[string]*frontend{}
	var all []string
	for i := range cfg.Vhosts {
		v := &cfg.Vhosts[i]
		sub := &frontend{name: v.Name, addr: fe.addr, port: fe.port, mode: "http", prog: c.program(v.Blocks),
			certs: e.certs.store(v.Certs)}
		all = append(all, v.Certs...)
		fe.grouped[strings.ToLower(v.Vhost)] = sub
	}
	fe.certs = e.certs.store(all)
	fe.certs.bySNI = map[string]*certStore{}
	for vh, sub := range fe.grouped {
		fe.certs.bySNI[vh] = sub.certs
	}
	return fe, nil
}

// crtArgs reads the certificate paths of HTTPS_FRONTEND_HEAD's sslCerts
// argument ("crt a crt b").
func crtArgs(args pystr.Args) []string {
	v, ok := args.Lookup("sslCerts")
	if !ok {
		return []string{edge.DefaultSSLCert}
	}
	s, _ := v.String()
	f := strings.Fields(s)
	var out []string
	for i := 0; i+1 < len(f); i += 2 {
		if f[i] == "crt" {
			out = append(out, f[i+1])
		}
	}
	return out
}

func arg(r *edge.Rule, name string) string {
	v, ok := r.Args.Lookup(name)
	if !ok {
		return ""
	}
	s, _ := v.String()
	return s
}

// program interprets the frontend rules of the default templates. A
// rule rendered from a template label is read as its default template
// would be (its text cannot be interpreted), and said so.
func (c *compiler) program(blocks []edge.Block) *program {
	p := &program{acls: map[string]*acl{}, hostIndex: map[string]int{}}
	for _, b := range blocks {
		for i := range b.Rules {
			r := &b.Rules[i]
			if r.HasOverride {
				c.warnings = append(c.warnings, fmt.Sprintf("block of service %d: template label %s is read as the default template",
					b.Service, r.Template))
			}
			c.rule(p, r)
		}
	}
	p.index()
	return p
}

func (c *compiler) declare(p *program, name string, kind aclKind) *acl {
	a, ok := p.acls[name]
	if !ok {
		a = &acl{name: name, kind: kind, vals: map[string]bool{}}
		p.acls[name] = a
		return a
	}
	if a.kind == kind {
		return a
	}
	// Same name, another fetch: HAProxy ORs them too.
	for _, x := range a.extra {
		if x.kind == kind {
			return x
		}
	}
	x := &acl{name: name, kind: kind, vals: map[string]bool{}}
	a.extra = append(a.extra, x)
	a.mixed = true
	return x
}

func (c *compiler) ref(p *program, name string) term {
	a, ok := p.acls[name]
	if !ok {
		// Referenced before any declaration: declare an empty one that
		// later lines fill (HAProxy would reject such a file).
		a = &acl{name: name, kind: aclHost, vals: map[string]bool{}}
		p.acls[name] = a
	}
	return term{acl: a}
}

func (c *compiler) backend(name string) *backend { return c.t.backends[name] }

func (c *compiler) rule(p *program, r *edge.Rule) {
	A := "host_" + arg(r, "cleanedUpHostname")
	auth := "auth_" + arg(r, "cleanedUpHostname")
	B := arg(r, "backend")
	path := "path_" + B
	host := func() { c.declare(p, A, aclHost).vals[strings.ToLower(arg(r, "hostname"))] = true }
	pathACL := func() {
		a := c.declare(p, path, aclPath)
		a.paths = append(a.paths, parsePathBeg(arg(r, "path"))...)
	}
	authACL := func() {
		a := c.declare(p, auth, aclAuth)
		if u := c.users["user_"+B]; u != nil {
			a.users = u
		} else if a.users == nil {
			a.users = &userlist{}
		}
	}
	use := func(cd cond) {
		if be := c.backend(B); be != nil {
			p.uses = append(p.uses, useRule{cond: cd, backend: be})
		}
	}
	notAuth := func() term { t := c.ref(p, auth); t.neg = true; return t }
	sni := term{sni: strings.ToLower(arg(r, "hostname")), sniSet: true}
	realm := arg(r, "realm")
	switch r.Template {
	case edge.HTTPFrontendACL:
		host()
		use(cond{c.ref(p, A)})
	case edge.HTTPFrontendACLOnly:
		host()
	case edge.HTTPFrontendRoutingOnly:
		use(cond{c.ref(p, A)})
	case edge.HTTPFrontendACLWithPath:
		host()
		pathACL()
		use(cond{c.ref(p, A), c.ref(p, path)})
	case edge.HTTPFrontendACLOnlyWithPath, edge.HTTPSFrontendACLOnlyWithPath:
		pathACL()
	case edge.HTTPFrontendRoutingOnlyWithPath:
		use(cond{c.ref(p, A), c.ref(p, path)})
	case edge.HTTPFrontendACLWithAuth:
		host()
		authACL()
		p.auths = append(p.auths, authRule{cond{c.ref(p, A), notAuth()}, realm})
		use(cond{c.ref(p, A)})
	case edge.HTTPFrontendACLWithAuthAndPath:
		host()
		authACL()
		pathACL()
		p.auths = append(p.auths, authRule{cond{c.ref(p, A), c.ref(p, path), notAuth()}, realm})
		use(cond{c.ref(p, A), c.ref(p, path)})
	case edge.HTTPFrontendACLOnlyWithPathAndAuth:
		pathACL()
		authACL()
	case edge.HTTPFrontendRoutingOnlyWithAuth:
		authACL()
		p.auths = append(p.auths, authRule{cond{c.ref(p, A), notAuth()}, realm})
		use(cond{c.ref(p, A)})
	case edge.HTTPFrontendRoutingOnlyWithPathAndAuth:
		p.auths = append(p.auths, authRule{cond{c.ref(p, A), c.ref(p, path), notAuth()}, realm})
		use(cond{c.ref(p, A), c.ref(p, path)})
	case edge.MapHTTPFrontendACL, edge.MapHTTPFrontendACLOnly:
		p.uses = append(p.uses, useRule{dyn: dynHost, dynMap: c.mapOf(c.cfg.DomainMap)})
	case edge.BackendRedirectHTTPToHTTPS:
		p.redirects = append(p.redirects, cond{{ssl: true, neg: true}, c.ref(p, A)})
	case edge.BackendRedirectHTTPToHTTPSWithPath:
		p.redirects = append(p.redirects, cond{{ssl: true, neg: true}, c.ref(p, A), c.ref(p, path)})
	case edge.HTTPSFrontendACL:
		use(cond{sni})
	case edge.HTTPSFrontendACLWithPath:
		use(cond{sni, c.ref(p, path)})
	case edge.HTTPSFrontendACLWithAuth:
		authACL()
		p.auths = append(p.auths, authRule{cond{sni, notAuth()}, realm})
		use(cond{sni})
	case edge.HTTPSFrontendACLWithAuthAndPath:
		authACL()
		pathACL()
		p.auths = append(p.auths, authRule{cond{sni, c.ref(p, path), notAuth()}, realm})
		use(cond{sni, c.ref(p, path)})
	case edge.MapHTTPSFrontendACL:
		p.uses = append(p.uses, useRule{dyn: dynSNI, dynMap: c.mapOf(c.cfg.DomainMap)})
	case edge.HTTPFrontendAppIDACL:
		name := "app_" + arg(r, "cleanedUpAppId")
		c.declare(p, name, aclAppID).vals[strings.ToLower(arg(r, "appId"))] = true
		use(cond{c.ref(p, name)})
	case edge.MapHTTPFrontendAppIDACL:
		p.uses = append(p.uses, useRule{dyn: dynAppID, dynMap: c.mapOf(c.cfg.AppMap)})
	}
}

func (c *compiler) mapOf(es []edge.MapEntry) map[string]*backend {
	m := make(map[string]*backend, len(es))
	for _, e := range es {
		// HAProxy's map keeps the first line of a key.
		if _, dup := m[e.Key]; !dup {
			m[strings.ToLower(e.Key)] = c.backend(e.Backend)
		}
	}
	return m
}

// parsePathBeg reads a path_beg argument as HAProxy does: flags (-i
// folds case, -- ends them), then one prefix per word.
func parsePathBeg(s string) []pathBeg {
	fold := false
	var out []pathBeg
	flags := true
	for _, w := range strings.Fields(s) {
		if flags && strings.HasPrefix(w, "-") {
			switch w {
			case "-i":
				fold = true
			case "--":
				flags = false
			}
			continue
		}
		flags = false
		if fold {
			w = strings.ToLower(w)
		}
		out = append(out, pathBeg{prefix: w, fold: fold})
	}
	return out
}

// index finds the use_backend rules that a host lookup can decide.
func (p *program) index() {
	for i, u := range p.uses {
		if u.dyn == dynNone && len(u.cond) == 1 && !u.cond[0].neg && u.cond[0].acl != nil &&
			u.cond[0].acl.kind == aclHost && !u.cond[0].acl.mixed {
			for h := range u.cond[0].acl.vals {
				if _, seen := p.hostIndex[h]; !seen {
					p.hostIndex[h] = i
				}
			}
			continue
		}
		p.complex = append(p.complex, i)
	}
}
