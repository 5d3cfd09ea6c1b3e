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
// # Engine
//
// Engine is the HAProxy engine (an edge.Engine): it runs Debian's HAProxy
// in master-worker mode (haproxy -W -S master.sock) as a child process,
// on a file derived from marathon-lb's text (runFile): the admin socket
// (level admin, expose-fd listeners), the server-state base and the
// stats listener move into the run directory, the Lua services are
// dropped (the 9090 endpoints are Go's, package edge/admin), a global
// maxconn the descriptor limit cannot hold is lowered, http backends
// retry requests a killed task closed without an answer (POST excluded),
// and binds may be moved (Rebind). Apply compares the new file with the running one:
//
//	same file                         → nothing
//	same file apart from server lines → runtime API: add server, enable
//	                                    health/server, disable server; a
//	                                    removed server drains in MAINT and
//	                                    is deleted once its sessions end
//	anything else                     → haproxy -c, then SIGUSR2 to the
//	                                    master (server state saved first;
//	                                    the new worker takes the sockets)
//
// A file haproxy -c rejects is never loaded: the apps at fault are found
// by binary search over the apps in order (Generation.Without renders
// without them), left out with their reason in Config.Problems, and the
// rest is loaded; when nothing is left the last good generation keeps
// serving. A service port HAProxy cannot bind (taken by another
// process: haproxy -c cannot know) leaves out its app the same way, from
// the start or reload's alerts; a failed reload is seen at once in the
// master's "[failed: N]" count. The apps left out stay out, with no new
// search, while later generations differ from theirs in servers only. Backends with sticky cookies change by reload (HAProxy 2.6
// refuses "cookie" on servers added at run time).
//
// # Config
//
// LoadOptions: Dir, LookupEnv, Dialect. EngineOptions: ConfigFile,
// RunDir, Binary, Rebind, ReloadTimeout, DrainTimeout, Logger,
// Registerer.
//
// # Metrics
//
// Render is pure. The engine counts applies by how
// (sextant_edge_haproxy_applies_total{how=runtime|reload|rejected|failed}),
// their duration, reloads, runtime commands and check failures.
//
// # Readiness
//
// The engine serves once its first Apply returned nil (Current is set).
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
// Imports of Sextant's own packages: internal/edge, internal/edge/pystr, internal/model; nothing else of Sextant.
package haproxy
