// Package gateway is the masters' single HTTP entry point (DC/OS' Admin
// Router, ../shared/spec/adminrouter-and-ui.md §1–3): the route table onto
// Sextant's components and the cluster's services, the authentication of
// every route that needs it, the service endpoints API, a watch API for
// client-side discovery, and the dashboard.
//
// One job: route and answer HTTP requests from the live cluster model.
// Every request reads the current snapshot (Options.Current), so a task
// that moved is routed to its new place as soon as the model knows it —
// there is no route cache to go stale. `/service/<name>/` resolves as
// Admin Router does (§1.3): Marathon apps labelled DCOS_SERVICE_NAME,
// then frameworks by id and name and their webui_url, then a Mesos-DNS SRV
// query; `/agent/<id>/` from the agents' pids; `/mesos/` to the leader the
// snapshot names. Requests that need a token are answered 401 before any
// 404 or 503, so an anonymous caller learns nothing.
//
// The watch API (/discovery/v1/…, and ?index= or an event stream on
// /service/<name>/v1/endpoints) follows the snapshots: Watch.Run derives
// each service's endpoints and the VIP table from every snapshot and wakes
// the waiting clients of what changed.
//
// Imports: internal/model, internal/vip (the VIP table of the watch API),
// internal/directory (task DNS names), internal/directory/label,
// internal/edge (the edge routes the apps' labels configure),
// internal/gateway/auth, internal/gateway/ui (the dashboard's files),
// internal/obs, internal/httpfast (the hot path's server loop).
package gateway
