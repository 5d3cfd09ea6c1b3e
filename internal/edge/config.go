package edge

import (
	"strconv"

	"github.com/sextantdc/sextant/internal/edge/pystr"
	"github.com/sextantdc/sextant/internal/model"
)

// Config is the edge configuration for one set of apps and Options:
// everything marathon-lb would put into haproxy.cfg and the two map
// files, as typed data plus, for each section, the template applications
// (Rules) that render it. Sections appear in the order of marathon-lb's
// file (spec §6.1): HEAD, Userlists, HTTP, AppID, HTTPS, Vhosts, then the
// services' frontends and backends.
type Config struct {
	// HAProxyDir is the directory of the configuration file; the map
	// files live there and the map templates name it.
	HAProxyDir string
	// Userlists has one block per service with HAPROXY_{n}_AUTH.
	Userlists []Block
	// HTTP is marathon_http_in (:80), HTTPS marathon_https_in (:443);
	// both nil with DontBindHTTPHTTPS. In grouped mode HTTPS is the TCP
	// SNI switch and Vhosts holds the TLS frontends.
	HTTP  *Frontend
	AppID Frontend // marathon_http_appid_in (:9091), always present
	HTTPS *Frontend
	// Vhosts are the per-vhost loopback backends and TLS frontends of
	// GroupHTTPSByVhost, sorted by vhost.
	Vhosts []VhostFrontend
	// Services are the included services, in marathon-lb's order: by app
	// id, then service port.
	Services []Service
	// DomainMap and AppMap are the lines of domain2backend.map and
	// app2backend.map (HAProxyMap only), in first-insertion order.
	DomainMap []MapEntry
	AppMap    []MapEntry
	// Problems are the services (or deployment groups) left out because a
	// label could not be applied, with the reason.
	Problems []Problem
}

// Frontend is one of the shared frontends.
type Frontend struct {
	Name string
	Head Rule
	// Blocks are the rule blocks in file order (vhost blocks sorted by
	// weight, larger first; ties keep service order).
	Blocks []Block
}

// Block is the rules one service (or, for the grouped SNI switch, one
// vhost) contributes to a section.
type Block struct {
	// Service indexes Config.Services; -1 when the block belongs to no
	// service.
	Service int
	// Weight is the sort key of vhost blocks (HAPROXY_{n}_BACKEND_WEIGHT,
	// 1 with a path, -1 for the map catch-all).
	Weight int64
	Rules  []Rule
}

// VhostFrontend is one vhost of GroupHTTPSByVhost: a backend that loops
// TLS connections for the vhost into an abstract socket, and the
// TLS-terminating frontend behind it.
type VhostFrontend struct {
	Vhost string
	// Name is the vhost with characters outside [A-Za-z0-9-] as '_'.
	Name string
	// Certs are the HAPROXY_{n}_SSL_CERT values of the services with this
	// vhost (else the shared certificates), BindOptions their
	// HAPROXY_{n}_BIND_OPTIONS; both sorted (marathon-lb iterates Python
	// sets, in an order that changes between runs).
	Certs       []string
	BindOptions []string
	Backend     Rule
	Head        Rule
	Blocks      []Block
}

// MapEntry is one line of a map file: key, one space, backend.
type MapEntry struct {
	Key     string
	Backend string
}

// Rule is one template application: the named template (or the
// service's own, from its HAPROXY_{n}_<TEMPLATE> label) formatted with
// Args as Python's str.format does, or appended verbatim when Literal.
type Rule struct {
	Template Template
	// Override is the service's template label, used instead of the
	// global template when HasOverride (an empty label is an empty
	// template: users hide a section that way).
	Override    string
	HasOverride bool
	Args        pystr.Args
	// Nested, when set, is rendered first and its text passed as the
	// argument NestedArg (the per-server health-check options inside
	// BACKEND_SERVER_OPTIONS).
	Nested    *Rule
	NestedArg string
}

// Service is one service port of one app: a frontend on its port and
// the backend it routes to.
type Service struct {
	// AppID is the app id after deployment-group merging; Index the
	// service-port index n of the labels; Port the bound port
	// (HAPROXY_{n}_PORT, else the Marathon service port).
	AppID string
	Index int
	Port  int64
	// Name is the frontend and backend name: the app id without its
	// leading slash, '/' as '_', then '_' and the port.
	Name   string
	Groups []string
	// Mode is the HAProxy mode, lower-cased as written (http, tcp or any
	// other label value).
	Mode     string
	Balance  string
	BindAddr string
	// BindOptions and SSLCert are appended to the frontend's bind line.
	BindOptions    string
	HasBindOptions bool
	SSLCert        string
	HasSSLCert     bool
	// Vhosts are the lower-cased HAPROXY_{n}_VHOST values (split on ','
	// as written); Path the raw path_beg argument.
	Vhosts          []string
	Path            string
	Auth            *Auth
	Sticky          bool
	RedirectToHTTPS bool
	UseHSTS         bool
	// Weight is the vhost rule blocks' sort key.
	Weight int64
	// ProxyPass, RevProxy and Redirect are the HTTP_BACKEND_* paths.
	ProxyPass      string
	RevProxy       string
	Redirect       string
	NetworkAllowed []string
	// HealthCheck is the Marathon health check HAProxy mirrors, if any.
	HealthCheck *model.HealthCheck
	Servers     []Server
	// Frontend and Backend render the service's two sections.
	Frontend []Rule
	Backend  []Rule
}

// Auth is HAPROXY_{n}_AUTH: realm:user:crypt(3) hash.
type Auth struct {
	Realm, User, Password string
}

// Server is one task port behind a service.
type Server struct {
	// Name is host_ip_port (ip_port when the host is the IP) with
	// characters outside [A-Za-z0-9-] as '_'; ID its stable HAProxy id.
	Name string
	ID   int
	Host string
	IP   string
	Port int
	// Draining servers are the old tasks of a blue/green deployment,
	// rendered disabled.
	Draining bool
	// Cookie is the sticky-session cookie value (first 10 hex digits of
	// sha1(Name)).
	Cookie string
}

// Problem is a service (Index ≥ 0) or a whole app or deployment group
// (Index -1) left out, and why.
type Problem struct {
	App    string
	Index  int
	Label  string // the label at fault, if one is
	Reason string
}

func (p Problem) String() string {
	s := "app " + strconv.Quote(p.App)
	if p.Index >= 0 {
		s += " service port " + strconv.Itoa(p.Index)
	}
	if p.Label != "" {
		s += " label " + p.Label
	}
	return s + ": " + p.Reason
}
