// Package native is the edge's native engine: marathon-lb's
// configuration served by Go listeners, for machines without HAProxy.
//
// # Name
//
// native — an edge.Engine that reads the typed configuration (package
// edge) the way HAProxy reads the haproxy.cfg rendered from it.
//
// # Description
//
//	edge.Generation ──► compile ──► table ──atomic.Pointer──► listeners (kept while bound)
//	 (typed config)     frontend rules     frontends by          :80 :443 :9091, service ports
//	                    as HAProxy reads   address, backends,    ├─ http: HTTP/1.1 server → route →
//	                    them; servers      servers with state    │   backend → own HTTP/1.1 client
//	                    keep their state   kept across tables    └─ tcp: splice to a server
//	                                                             (http: the engine's own HTTP/1.1 server)
//
// Each frontend rule of the configuration is a template application;
// compile interprets marathon-lb's default templates as HAProxy
// evaluates their text: ACLs of one name are ORed, every http-request
// auth runs first, then the redirects, then the first use_backend that
// matches (a Host index finds the plain vhost rules, the others are
// scanned in file order); an unresolved map lookup ends the rules. A
// template label on a frontend rule is read as its default template and
// logged (its text is HAProxy's language, which this engine does not
// parse); a service-port frontend hidden by empty templates is not
// bound.
//
// Backends follow their options: option forwardfor, X-Forwarded-Port
// and -Proto, HSTS, the proxypass, revproxy and redirect paths, the
// network allow-list, cookie persistence (mesosphere_server_id, insert
// indirect nocache), the balance algorithm (roundrobin, static-rr,
// leastconn, first, random, source, uri, hdr(name); others round robin),
// draining servers out of rotation, active checks as the server lines
// say (check inter, fall, rise 2; httpchk GET path) and passive health
// (a server that refuses a connection is passed over for PassiveDown;
// the request is redispatched, up to Retries times).
//
// Apply compiles aside and swaps the table: listeners whose address
// stays are kept, so no connection or request in flight is dropped;
// only added and removed addresses open and close listeners (a removed
// one stops accepting and lets its requests finish). Server state —
// health, idle keep-alive connections, counters — is kept for a
// (backend, server, address) that stays.
//
// Neither side is net/http's. Clients are served by the engine's own
// HTTP/1.1 server (server.go): a goroutine per connection, one request
// object reused for the connection's life, the response written with
// the connection's buffer and flushed once (net/http allocates a
// request, a context and a response per request and watches every
// connection with a second read); writes to a client are under the
// client timeout. Towards servers,
// each has a pool of keep-alive connections with their buffers; a
// request is written and its response read on the calling goroutine,
// header values are copied in one string, bodies are written from the
// connection's read buffer. A request that meets a keep-alive
// connection the server had closed is sent again on a new one when it
// has no body. A proxied request costs two allocations in the engine
// (BenchmarkHandler) and as many for the client's header values.
//
// # Config
//
// Options: the shared frontends' addresses (HTTPAddr, HTTPSAddr,
// AppIDAddr), ServiceAddr for service ports, marathon-lb's timeouts,
// Retries, PassiveDown, MaxIdlePerServer, Logger, Registerer.
// Certificates come from the configuration (--ssl-certs, SSL_CERT
// labels, grouped vhosts); a missing file is replaced by a self-signed
// certificate and logged.
//
// # Metrics
//
// sextant_edge_native_applies_total, sextant_edge_native_apply_failures_total,
// sextant_edge_native_apply_seconds, sextant_edge_native_listeners; the
// per-proxy figures are Stats() rows (HAProxy's CSV columns), which the
// admin server serves and exports.
//
// # Readiness
//
// Ready once Apply returned nil: its listeners are bound.
//
// # Examples
//
//	eng := native.New(native.Options{HTTPAddr: ":80", HTTPSAddr: ":443", AppIDAddr: ":9091", Logger: log})
//	defer eng.Close()
//	cfg, _ := edge.Build(apps, edge.Options{Groups: []string{"external"}})
//	out, _ := haproxy.Render(cfg, haproxy.Default())
//	err := eng.Apply(ctx, &edge.Generation{Config: cfg, HAProxyCfg: out.Config, DomainMap: out.DomainMap, AppMap: out.AppMap})
//
// # Imports
//
// internal/edge, internal/edge/pystr, internal/httpfast (the client
// side's server loop).
package native
