// Package zdd is marathon-lb's zero-downtime deployment helper (zdd.py,
// spec marathon-lb.md §10) as a library: `sextant edge deploy APP.json`.
//
// # Name
//
// edge/zdd — blue/green deployments through the edge's deployment labels.
//
// # Description
//
//	APP.json (HAPROXY_DEPLOYMENT_GROUP, HAPROXY_DEPLOYMENT_ALT_PORT)
//	   │  GET /v2/apps?embed=apps.tasks: the group's apps
//	   ▼
//	none ─► <id>-blue, all instances, wait until healthy
//	one  ─► <id>-<other colour> on the alternate service port, 1 instance
//	        (HAPROXY_0_PORT keeps the shared frontend), then every step:
//	          every edge (/_haproxy_getpids ≤ 2, /haproxy?stats;csv):
//	            old servers MAINT with no sessions ─► POST /v2/tasks/delete?scale=true
//	            new tasks healthy in Marathon and UP on every edge ─► scale new up
//	          new at target, old empty ─► DELETE the old app
//	        no progress within MaxWait ─► roll back: old app back to its
//	        instances, new app deleted
//	two  ─► a deployment was interrupted: Resume, CompleteCur (keep the
//	        newest) or CompletePrev (keep the oldest), else an error
//
// The edge (both engines) does the traffic shifting itself: it merges
// the two apps of a group into one backend and puts the old tasks in
// maintenance as the new app's healthy tasks arrive (spec §4.6); zdd
// only scales and kills.
//
// # Config
//
// Options: Marathon, Edges, InitialInstances, StepDelay, MaxWait,
// Resume, CompleteCur, CompletePrev, Client, Log.
//
// # Metrics
//
// None: a command. Progress goes to Options.Log.
//
// # Readiness
//
// Not applicable.
//
// # Examples
//
//	err := zdd.Deploy(ctx, appJSON, zdd.Options{Marathon: "http://127.0.0.1:8080",
//		Edges: []string{"http://127.0.0.1:9090"}})
//
// # Imports
//
// None of Sextant's packages.
package zdd
