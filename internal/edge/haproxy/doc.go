// Package haproxy renders an edge configuration into haproxy.cfg and the
// two map bodies exactly as marathon-lb writes them, with marathon-lb's
// templates.
//
// # Name
//
// edge/haproxy — the HAProxy text of the edge (spec marathon-lb.md §5,
// §6.1, §7).
//
// # Description
//
//	LoadOptions ──► Load ──► *Templates (defaults ← files ← environment; HAProxy 2.0 or 2.2 dialect)
//	*edge.Config ───────────────┐
//	                            ▼
//	                          Render ──► Output{Config, DomainMap, AppMap}
//	                 HEAD, userlists, marathon_http_in, marathon_http_appid_in,
//	                 marathon_https_in (+ grouped vhost backends and frontends),
//	                 service frontends, service backends
//
// Each Rule of the configuration becomes text: its service's template
// label if it has one, else the global template; literal templates
// (HEAD, the shared heads without placeholders, BACKEND_HTTP_OPTIONS,
// BACKEND_HSTS_OPTIONS, BACKEND_STICKY_OPTIONS, the allow/deny lines)
// verbatim, every other through Python's str.format (package pystr),
// the per-server health-check options trimmed and prefixed by one space.
//
// Global templates come, per template, from a non-empty environment
// variable HAPROXY_<NAME> ("\n" unescaped), else the file
// <Dir>/HAPROXY_<NAME>, else marathon-lb's default; the default HEAD
// takes its option lines from HAPROXY_GLOBAL_DEFAULT_OPTIONS. Render
// refuses a HEAD that cannot reload seamlessly (ErrHead), as
// marathon-lb does.
//
// The map bodies are what /_haproxy_getvhostmap and /_haproxy_getappmap
// serve on :9090: "key backend\n" lines, empty without --haproxy-map.
//
// Dialect HAProxy20 (the default) is marathon-lb's text byte for byte,
// including reqirep, rspirep and rspadd, which HAProxy 2.1 removed;
// HAProxy22 replaces those three defaults by http-request and
// http-response rules with the same effect, for the HAProxy versions
// distributions ship now.
//
// # Config
//
// LoadOptions: Dir, LookupEnv, Dialect.
//
// # Metrics
//
// None: Load and Render are pure (Load reads files). Running haproxy -c,
// writing the files and reloading belong to the engine.
//
// # Readiness
//
// Not applicable.
//
// # Examples
//
//	tm, err := haproxy.Load(haproxy.LoadOptions{Dir: "templates", LookupEnv: os.LookupEnv,
//		Dialect: haproxy.HAProxy22})
//	if err != nil {
//		return err
//	}
//	out, err := haproxy.Render(cfg, tm)
//
// The tests compare every fixture and many generated app sets with
// marathon-lb's own generator; see docs/compat/edge.md.
//
// Imports of Sextant's own packages: internal/edge, internal/edge/pystr; nothing else of Sextant.
package haproxy
