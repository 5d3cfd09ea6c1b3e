// Package marathon is the Marathon source: it reads every app of a
// Marathon (or of Sextant's local runtime, which serves the same API) with
// its tasks, health results, deployments and readiness, follows the event
// stream to know when to read again, and hands a *model.MarathonObservation
// to a Sink (the hub) after every successful read.
//
// # Name
//
// marathon — the Marathon apps source (what marathon-lb, Traefik's
// Marathon provider and the DNS roles read).
//
// # Description
//
//	                         ┌──────────── Run goroutine (owns all state) ─────────────┐
//	/v2/events (SSE) ──► stream goroutine ──► attached ─► full read now (Marathon replays nothing)
//	                     │ parse, count   ──► event ────► coalesce (20 ms) ─┐
//	                     └ idle 300 s / error ─► ended ─► reconnect after jittered backoff
//	resync timer (300 s; while not streaming: poll every ResyncInterval/10, ≥5 s) ─┤
//	                                                                               ▼
//	          GET /v2/apps?embed=apps.tasks&embed=apps.deployments&embed=apps.readiness
//	          (URLs in order from the last that worked) → tolerant decode
//	              ok  ─► Sink.PublishMarathon(obs)   (apps sorted by ID, problems listed)
//	              err ─► Sink.Fail("marathon", err)  (the sink keeps the last good one)
//
// Events are only invalidations, never applied: Marathon does not order
// events across its components and replays nothing after a reconnect, so
// the one state that is certainly right is a full read started after the
// change (spec marathon-api.md §5). Every read reason — events after
// Coalesce, the attach of a stream, the periodic resync, a retry after a
// failed read — brings one timer forward, so a burst of them yields one
// read, and an event that arrives during a read yields exactly one more.
// That makes the result converge: after the last event, the last read
// started after it.
//
// The stream request sends Accept: text/event-stream exactly (Jetty
// compares the value for equality), Cache-Control: no-cache, an explicit
// event_type list and plan-format=light. Redirects are followed with the
// credential (Marathon ≥1.7 sends a non-leader's stream to the leader
// with a 302). A 404, 405, 406, 501 or a non-SSE answer means no stream:
// the source polls and retries the stream every ten poll periods. Events
// an old Marathon sends despite the filter that only concern connections
// (event_stream_attached, …) cause no read; unreadable event data does.
//
// Decoding. Only a body that is not JSON, or whose top level has no apps
// array, fails a read. Anything wrong inside an app is contained, and
// reported as a model.Problem (Item `app "/web"` or `task "web.1" of app
// "/web"`, Field a path inside the app such as `tasks[2].ports[0]`),
// logged once when it first appears, and counted by kind:
//
//   - app skipped: not an object; id missing, empty or not a string; an id
//     seen before (the first is kept); networks[] with entries of which
//     none is usable (where its tasks are reached is unknown);
//   - task skipped: not an object; id missing, empty or not a string; an
//     id already seen in this read (Build joins tasks by id);
//   - field dropped, item kept: a value of the wrong type, an unknown enum
//     (container type, docker network, network mode of one networks[]
//     entry, port protocol → tcp, task state → TASK_UNKNOWN), a number out
//     of range or not an integer, a label whose value is not a string, an
//     ipAddresses entry that is not an IP, a health check result without
//     a boolean alive, a health or readiness check with an unknown
//     protocol (the check is dropped).
//
// Index-aligned lists keep their indexes: a bad port definition or
// mapping becomes an empty port and a bad task port becomes 0, so the
// ports after it still pair with the right task ports (§1.3). JSON null
// is absent everywhere.
//
// Mapping: the network mode follows marathon-lb (§3.1 of
// marathon-lb.md): host; a non-empty ≤1.4 ipAddress → container (its
// networkName names the network; "mesos-bridge" is bridge, as Marathon
// migrates it); container.docker.network USER → container, BRIDGE →
// bridge; ≥1.5 networks[] overrides (a missing mode is "container"; the
// last entry's mode wins). Ports by index: bridge and container modes
// take container.portMappings, else container.docker.portMappings, else
// for ipAddress apps ipAddress.discovery.ports (container ports, no
// service ports); otherwise portDefinitions, else the ≤1.4 ports list. In
// bridge mode a mapping without hostPort has Marathon's default 0
// (dynamic); in container mode it has none. Health and readiness checks
// get Marathon's defaults for absent fields. readinessCheckResults become
// AppTask.Ready (ready when every result for the task is).
//
// # Config
//
// Options (see the field comments); defaults: ResyncInterval 300 s,
// Coalesce 20 ms, RequestTimeout 30 s, StreamIdleTimeout 300 s, backoff
// 1 s → 30 s jittered ±20%, MaxBytes 256 MiB; polling (NoStream, or
// while the stream is down) every ResyncInterval/10 within [5 s,
// ResyncInterval], so 30 s by default. Basic and Token are
// exclusive, as are CACertFile, InsecureSkipVerify and HTTPClient. URLs
// must be http(s) without credentials, query or fragment; an error names
// the option and index ("urls[1]: …").
//
// # Metrics
//
//	sextant_marathon_fetch_total{result="ok|error"}
//	sextant_marathon_fetch_duration_seconds
//	sextant_marathon_last_success_timestamp_seconds
//	sextant_marathon_events_total{type}            known event types, "other", "invalid"
//	sextant_marathon_stream_up
//	sextant_marathon_stream_reconnects_total
//	sextant_marathon_apps, sextant_marathon_tasks  of the last observation
//	sextant_marathon_items_skipped_total{kind="app|task|field"}  on every read that skips them
//
// # Readiness
//
// Check is nil once an observation was published and the last read
// succeeded; Status tells the URL in use, the last success and error,
// and whether the stream is attached or the source polls.
//
// # Examples
//
//	h := hub.New(hub.Options{Logger: log, Registerer: reg})
//	h.Register(hub.Marathon)
//	src, err := marathon.New(marathon.Options{
//		URLs:       []string{"http://10.0.0.1:8080", "http://10.0.0.2:8080"},
//		Token:      token, // DC/OS: Authorization: token=…
//		Logger:     log.With("component", "marathon"),
//		Registerer: reg,
//	}, h)
//	if err != nil {
//		return err
//	}
//	g.Go(func() error { return src.Run(ctx) })
//
// Imports: internal/model, the standard library and Prometheus. Not the
// hub: the Sink interface is the seam, and tests use a recorder.
package marathon
