// Package edge is the label adapter of Sextant's edge, a drop-in
// Marathon-LB: it turns Marathon apps and marathon-lb's flags into one
// typed configuration, the services marathon-lb would balance and the
// rules of its shared frontends, in marathon-lb's order.
//
// # Name
//
// edge — marathon-lb's configuration generator without its templates
// (spec marathon-lb.md §2–§6); edge/haproxy renders the result.
//
// # Description
//
//	[]model.App ──► mergeDeployments ──► services (get_apps) ──► config() ──► *Config ──► haproxy.Render
//	  (snapshot)     HAPROXY_DEPLOYMENT_*   one per service port,   groups, enabled,   Services,     haproxy.cfg,
//	                 blue/green → one app   labels, tasks → servers rules per service  HTTP/AppID/   map bodies
//	                                                                (committed when     HTTPS blocks,
//	                                                                its labels work)    Problems
//
// Build follows marathon_lb.py step by step, so that rendering the result
// with marathon-lb's templates gives marathon-lb's file byte for byte
// (docs/compat/edge.md lists every difference and why):
//
//   - deployment groups merge first (§4.6): the older app of a pair
//     (HAPROXY_DEPLOYMENT_STARTED_AT) keeps its definition, its first
//     tasks by id drain as the new app's healthy tasks arrive;
//   - each service port index n is a service (§3.2), with its labels
//     (HAPROXY_{n}_*) applied in name order, its health check (§4.4) and a
//     server per task port of each task marathon-lb keeps (§4.3): running,
//     lost or unreachable, with a host that resolves, and alive under
//     --health-check;
//   - services are included by group (§4.1) and HAPROXY_{n}_ENABLED, sorted
//     by (app id, port), and each renders into its contribution to every
//     section (§6.1): userlist, :80, :9091, :443 (or the grouped SNI
//     switch and vhost frontends), frontend, backend; the vhost decision
//     table (§6.4) picks the templates, weights order the vhost blocks
//     (§6.3), map mode fills the map bodies (§6.6).
//
// Every template application is a Rule: the template's name, the
// service's own template when a HAPROXY_{n}_<TEMPLATE> label gives one,
// and exactly the arguments marathon-lb's call site passes (a template
// label sees those names and no others). Servers carry marathon-lb's
// names (host_ip_port) and stable ids (sha256 mod 32767), which zdd and
// load-server-state-from-file rely on.
//
// A label that cannot be applied — an integer label that int() rejects,
// an AUTH without two ':', a template label str.format rejects with its
// call site's arguments, a health-check port index past its siblings, a
// combination HAProxy refuses (a vhost on a tcp service) — leaves out its
// service only, listed in Config.Problems; a deployment group whose
// labels cannot be read is left out whole. marathon-lb stops generating
// on the first such label, freezing every app behind it (§9.4).
//
// Engine (engine.go) is the contract of the engines that run a
// Generation — the Config with marathon-lb's haproxy.cfg and map bodies —
// and report HAProxy's stats rows and pids for the :9090 endpoints
// (edge/haproxy's Engine, edge/native).
//
// # Config
//
// Options mirror marathon-lb's flags: Groups (required), StrictMode,
// HealthCheck, HAProxyMap, DontBindHTTPHTTPS, GroupHTTPSByVhost,
// SSLCerts, ConfigFile (the map files' directory), ServicePorts (the
// IP-per-task range), FrameworkName ($FRAMEWORK_NAME) and Resolve (agent
// host names to IPv4, gethostbyname's job; IP literals need none).
//
// # Metrics
//
// None: Build is a pure function. Its caller counts problems.
//
// # Readiness
//
// Not applicable (no state).
//
// # Examples
//
//	cfg, err := edge.Build(snap.Apps, edge.Options{Groups: []string{"external"}, HealthCheck: true})
//	if err != nil {
//		return err // invalid options only
//	}
//	for _, p := range cfg.Problems {
//		log.Warn("edge service left out", "problem", p.String())
//	}
//	tm, err := haproxy.Load(haproxy.LoadOptions{Dir: "templates", LookupEnv: os.LookupEnv})
//	…
//	out, err := haproxy.Render(cfg, tm) // out.Config, out.DomainMap, out.AppMap
//
// Imports: internal/model and internal/edge/pystr only.
package edge
