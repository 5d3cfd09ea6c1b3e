// Package admin serves the edge's port 9090: marathon-lb's admin and
// stats endpoints (spec marathon-lb.md §7) with their exact bodies, for
// any edge.Engine, plus /metrics.
//
// # Name
//
// edge/admin — what HAProxy's "listen stats" and marathon-lb's Lua
// services answer on :9090, served by Go for both engines.
//
// # Description
//
//	GET /haproxy?stats          HTML stats page (HAProxy's own for the HAProxy engine)
//	GET /haproxy?stats;csv      "# pxname,svname,…" then one row per frontend, backend, server
//	    /_haproxy_health_check  HAProxy's monitor-uri page
//	    /_haproxy_getconfig     haproxy.cfg of the generation serving (after a rejected one: the last good)
//	    /_haproxy_getvhostmap   domain2backend.map body
//	    /_haproxy_getappmap     app2backend.map body
//	    /_haproxy_getpids       the engine's pids, space-separated
//	    /_mlb_signal/hup        full re-fetch and regeneration (Options.Resync)
//	    /_mlb_signal/usr1       re-validate and reload the running generation (Engine.Reload)
//	    /_sextant_problems      JSON: the services and apps left out, and why
//	GET /metrics                Prometheus: the registry given, and haproxy_* series from the stats rows
//	GET /health                 the role's health (Options.Health), when given
//
// Like marathon-lb's, these answer any method without authentication;
// bind the listener where only operators reach it.
//
// # Config
//
// Options: Engine, Resync, Gatherer, Health, Logger.
//
// # Metrics
//
// haproxy_frontend_*, haproxy_backend_*, haproxy_server_* (the names of
// HAProxy's own exporter) computed from Engine.Stats at scrape time.
//
// # Readiness
//
// /_haproxy_health_check answers 200 as long as the listener accepts, as
// HAProxy's monitor-uri does.
//
// # Examples
//
//	srv := &http.Server{Handler: admin.Handler(admin.Options{Engine: eng, Resync: src.Resync, Gatherer: reg})}
//
// # Imports
//
// internal/edge only.
package admin
