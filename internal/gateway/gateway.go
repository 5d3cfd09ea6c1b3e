package gateway

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/gateway/auth"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/obs"
)

// Options configure a Gateway.
type Options struct {
	// Current returns the live snapshot (nil before the first build).
	Current func() *model.Snapshot
	// Mesos is the Mesos master URL used while the snapshot names no
	// leader.
	Mesos string
	// MesosDNS is the Mesos-DNS HTTP API (for /mesos_dns/ and the
	// /service resolver's SRV fallback); Net the node DNS role's API
	// (dcos-net's, /net/); OverlayMaster the overlay master's API, ""
	// when it does not run; Edge the edge's admin API, "" when none.
	MesosDNS, Net, OverlayMaster, Edge string
	// Components lists the running components' addresses (sextant up's
	// endpoints.json), read per request; it also finds the edge's admin
	// API when Edge is empty. Nil: none.
	Components func() map[string]string
	// Auth checks tokens and serves the IAM routes; nil turns every
	// check off (DC/OS' oauth_enabled=false).
	Auth *auth.Service
	// Watch serves the endpoints and watch APIs; nil builds none.
	Watch *Watch
	// UI holds the dashboard's files (index.html at the root).
	UI fs.FS
	// Health is served at /health.
	Health http.Handler
	// ClusterID and PublicIP answer /metadata.
	ClusterID, PublicIP string
	Version             string
	Logger              *slog.Logger
	// Registry takes the gateway's metrics and is served at /metrics and
	// /nginx/metrics (nil: a registry of its own).
	Registry *prometheus.Registry
	// Transport carries proxied requests; nil is a tuned clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// MaxBody bounds request bodies on /service/ (default 32 GiB) and
	// elsewhere (default 1 GiB).
	MaxServiceBody, MaxBody int64
}

// Gateway is the HTTP handler of the gateway role.
type Gateway struct {
	o       Options
	log     *slog.Logger
	proxy   *httputil.ReverseProxy
	dns     *http.Client
	ui      http.Handler
	metrics *metrics
	gather  http.Handler
	cache   *masterCache
}

// New builds a gateway.
func New(o Options) *Gateway {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Current == nil {
		o.Current = func() *model.Snapshot { return nil }
	}
	if o.MaxServiceBody == 0 {
		o.MaxServiceBody = 32 << 30
	}
	if o.MaxBody == 0 {
		o.MaxBody = 1 << 30
	}
	tr := o.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 256
		t.MaxIdleConns = 1024
		t.ResponseHeaderTimeout = 0
		// A proxy passes the client's Accept-Encoding and the upstream's
		// encoding through untouched.
		t.DisableCompression = true
		tr = newDirectTransport(t)
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	g := &Gateway{o: o, log: o.Logger, dns: &http.Client{Timeout: 5 * time.Second, Transport: tr}, metrics: newMetrics(reg),
		cache: &masterCache{entries: map[string]*cached{}}}
	g.proxy = &httputil.ReverseProxy{Rewrite: g.rewrite, Transport: tr, ModifyResponse: g.modifyResponse,
		ErrorHandler: g.proxyError, ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug), BufferPool: newBufferPool()}
	if o.UI != nil {
		g.ui = http.FileServerFS(o.UI)
	}
	g.gather = obs.MetricsHandler(reg)
	return g
}

// plain writes one of Admin Router's one-line plain-text error bodies.
func plain(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body+"\n")
}

// Error texts of §1.3, §1.4 and §1.8.
const (
	errServiceNotFound = "404 Not Found: service not found."
	errMarathonCache   = "503 Service Unavailable: invalid Marathon svcapps cache"
	errMesosCache      = "503 Service Unavailable: invalid Mesos state cache"
	errMesosDNS        = "503 Service Unavailable: MesosDNS request has failed"
	errAgentCache      = "503 Service Unavailable: cache state is invalid"
	errBadPath         = "400 Bad Request: the path leaves its route"
)

func errAgentUnknown(id string) string { return "404 Not Found: agent `" + id + "` unknown." }

// route is what the proxy needs to know about one request, carried in its
// context from ServeHTTP to rewrite and modifyResponse.
type route struct {
	upstream string // metrics label
	target   *url.URL
	// path is the escaped path to send (it is joined to target's path).
	path string
	// stripAuth blanks Authorization (Mesos-DNS, dcos-net); token, set
	// when the token came from the cookie, is sent as Authorization.
	stripAuth bool
	token     string
	// dropAcceptEncoding for agents; connClose for Mesos and agents.
	dropAcceptEncoding, connClose bool
	// servicePrefix ("/service/<name>") rewrites upstream redirects.
	servicePrefix string
	reqHost       string
	// watcher, on the hot path, watches the client for a streamed
	// response; cancel ends the upstream request when the client leaves.
	watcher clientWatcher
	cancel  context.CancelFunc
	stop    func()
}

type routeKey struct{}

// ServeHTTP routes one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	label := g.serve(sw, r)
	g.metrics.observe(label, sw.code(), time.Since(start))
}

// serve answers r and returns its metrics label.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) string {
	w.Header().Set("Server", "sextant")
	raw := r.URL.EscapedPath()
	if !safePath(raw) {
		plain(w, http.StatusBadRequest, errBadPath)
		return "bad-path"
	}
	q := ""
	if r.URL.RawQuery != "" {
		q = "?" + r.URL.RawQuery
	}
	switch raw {
	case "/login":
		http.Redirect(w, r, "/#/login"+q, http.StatusFound)
		return "ui"
	case "/mesos", "/net", "/mesos_dns", "/overlay-master", "/discovery":
		redirect(w, raw+"/"+q, http.StatusMovedPermanently)
		return "redirect"
	case "/marathon":
		redirect(w, "/marathon/"+q, http.StatusTemporaryRedirect)
		return "redirect"
	case "/nginx/metrics", "/metrics":
		g.gather.ServeHTTP(w, r)
		return "metrics"
	case "/health":
		if g.o.Health == nil {
			w.WriteHeader(http.StatusOK)
			return "health"
		}
		g.o.Health.ServeHTTP(w, r)
		return "health"
	case "/dcos-metadata/dcos-version.json":
		w.Header().Set("Cache-Control", "no-cache")
		writeJSON(w, map[string]string{"version": g.o.Version, "dcos-variant": "open", "dcos-image-commit": "", "bootstrap-id": ""})
		return "metadata"
	case "/dcos-metadata/ui-config.json":
		writeJSON(w, map[string]any{"uiConfiguration": map[string]any{"plugins": map[string]any{}}, "clusterConfiguration": map[string]any{}})
		return "metadata"
	}
	switch {
	case strings.HasPrefix(raw, "/acs/api/v1/auth/"):
		if g.o.Auth == nil {
			plain(w, http.StatusNotFound, "404 Not Found: authentication is off")
			return "IAM"
		}
		g.o.Auth.ServeOpen(w, r)
		return "IAM"
	case strings.HasPrefix(raw, "/cache/master/"):
		// Open, as in open DC/OS: the UI polls it before logging in.
		g.serveCache(w, r, raw)
		return "MesosCache"
	case raw == "/" || strings.HasPrefix(raw, "/assets/") || raw == "/index.html" || strings.HasPrefix(raw, "/ui/"):
		g.serveUI(w, r)
		return "ui"
	}
	// Everything below needs a token.
	tok, ok := g.authenticate(w, r)
	if !ok {
		return "unauthorized"
	}
	switch {
	case strings.HasPrefix(raw, "/acs/api/v1/users"):
		g.o.Auth.ServeUsers(w, r)
		return "IAM"
	case raw == "/acs/api/v1" || strings.HasPrefix(raw, "/acs/api/v1/"):
		plain(w, http.StatusNotFound, "404 Not Found")
		return "IAM"
	case raw == "/metadata":
		doc := map[string]string{"PUBLIC_IPV4": g.o.PublicIP}
		if doc["PUBLIC_IPV4"] == "" {
			if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
				if ap, err := netip.ParseAddrPort(a.String()); err == nil {
					doc["PUBLIC_IPV4"] = ap.Addr().Unmap().String()
				}
			}
		}
		if g.o.ClusterID != "" {
			doc["CLUSTER_ID"] = g.o.ClusterID
		}
		writeJSON(w, doc)
		return "metadata"
	case strings.HasPrefix(raw, "/mesos/"):
		g.forward(w, r, &route{upstream: "Mesos", target: g.mesosURL(), path: raw[len("/mesos"):], token: tok, connClose: true})
		return "Mesos"
	case strings.HasPrefix(raw, "/mesos_dns/"):
		return g.fixed(w, r, "MesosDNS", g.o.MesosDNS, raw[len("/mesos_dns"):], tok, true)
	case strings.HasPrefix(raw, "/net/"):
		return g.fixed(w, r, "DCOSNet", g.o.Net, raw[len("/net"):], tok, true)
	case strings.HasPrefix(raw, "/overlay-master/"):
		// The overlay master serves its state under this same path (the
		// Mesos module's), so nothing is stripped.
		if g.o.OverlayMaster == "" {
			plain(w, http.StatusServiceUnavailable, "503 Service Unavailable: the overlay master is not running")
			return "Overlay"
		}
		return g.fixed(w, r, "Overlay", g.o.OverlayMaster, raw, tok, false)
	case raw == "/gateway/v1/components":
		comps := map[string]string{}
		if g.o.Components != nil {
			comps = g.o.Components()
		}
		writeJSON(w, map[string]any{"components": comps, "edge": g.edgeURL(), "version": g.o.Version})
		return "components"
	case strings.HasPrefix(raw, "/edge/"):
		e := g.edgeURL()
		if e == "" {
			plain(w, http.StatusServiceUnavailable, "503 Service Unavailable: the edge is not running")
			return "Edge"
		}
		return g.fixed(w, r, "Edge", e, raw[len("/edge"):], tok, true)
	case strings.HasPrefix(raw, "/agent/") || strings.HasPrefix(raw, "/slave/"):
		g.agent(w, r, raw, tok)
		return "Agent"
	case strings.HasPrefix(raw, "/marathon/"):
		// Deprecated: an internal rewrite to /service/marathon/.
		return g.service(w, r, "/service/marathon"+raw[len("/marathon"):], tok)
	case strings.HasPrefix(raw, "/service/"):
		return g.service(w, r, raw, tok)
	case strings.HasPrefix(raw, "/discovery/v1/") && g.o.Watch != nil:
		g.o.Watch.ServeDiscovery(w, r, strings.TrimPrefix(raw, "/discovery/v1"))
		return "discovery"
	}
	plain(w, http.StatusNotFound, "404 Not Found")
	return "none"
}

// redirect sends a relative Location (Admin Router sets absolute_redirect
// off: host-header attacks).
func redirect(w http.ResponseWriter, loc string, code int) {
	w.Header().Set("Location", loc)
	w.WriteHeader(code)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// authenticate checks the request's token; on failure it has written the
// 401. It returns the token when it came from the cookie (to be sent on
// as Authorization).
func (g *Gateway) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	if g.o.Auth == nil {
		return "", true
	}
	c, tok, where, err := g.o.Auth.Authenticate(r)
	if err != nil {
		g.log.Debug("unauthorized", "path", r.URL.Path, "err", err)
		auth.Unauthorized(w)
		return "", false
	}
	g.log.Debug("authenticated", "uid", c.UID, "path", r.URL.Path)
	if where == auth.FromCookie {
		return tok, true
	}
	return "", true
}

func (g *Gateway) serveUI(w http.ResponseWriter, r *http.Request) {
	if g.ui == nil {
		plain(w, http.StatusNotFound, "404 Not Found: no dashboard built in")
		return
	}
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	if strings.HasPrefix(r.URL.Path, "/assets/") {
		h.Set("Cache-Control", "max-age=172800")
		h.Set("Vary", "Accept-Encoding")
	} else {
		h.Set("Cache-Control", "max-age=30")
	}
	g.ui.ServeHTTP(w, r)
}

// edgeURL is the edge's admin API: Options.Edge, else what the running
// components list, else "".
func (g *Gateway) edgeURL() string {
	if g.o.Edge != "" {
		return g.o.Edge
	}
	if g.o.Components == nil {
		return ""
	}
	comps := g.o.Components()
	// The endpoints.json keys an edge's admin API may go by.
	for _, k := range [...]string{"edge_admin", "edge_api", "edge_stats", "edge"} {
		if v := comps[k]; strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") {
			return v
		}
	}
	return ""
}

// mesosURL is the leader the snapshot names, re-read per request, else
// the configured master.
func (g *Gateway) mesosURL() *url.URL {
	if s := g.o.Current(); s != nil && s.Leader.OK {
		return &url.URL{Scheme: "http", Host: net.JoinHostPort(s.Leader.Host, strconv.Itoa(int(s.Leader.Port)))}
	}
	u, err := url.Parse(g.o.Mesos)
	if err != nil || u.Host == "" {
		return nil
	}
	return u
}

// fixed proxies to a configured component with the route's prefix
// stripped.
func (g *Gateway) fixed(w http.ResponseWriter, r *http.Request, name, base, path, tok string, stripAuth bool) string {
	u, err := url.Parse(base)
	if base == "" || err != nil || u.Host == "" {
		plain(w, http.StatusServiceUnavailable, "503 Service Unavailable: "+name+" is not configured")
		return name
	}
	g.forward(w, r, &route{upstream: name, target: u, path: path, token: tok, stripAuth: stripAuth})
	return name
}

func (g *Gateway) agent(w http.ResponseWriter, r *http.Request, raw, tok string) {
	rest := raw[len("/agent/"):] // "/slave/" is as long
	id, path, _ := strings.Cut(rest, "/")
	path = "/" + path
	s := g.o.Current()
	if s == nil {
		plain(w, http.StatusServiceUnavailable, errAgentCache)
		return
	}
	uid, _ := url.PathUnescape(id)
	a, ok := s.AgentByID(uid)
	if !ok || a.Host == "" {
		plain(w, http.StatusNotFound, errAgentUnknown(uid))
		return
	}
	host := a.Host
	if a.IP.IsValid() {
		host = a.IP.String()
	}
	port := a.Port
	if port == 0 {
		port = 5051
	}
	g.forward(w, r, &route{upstream: "Agent", target: &url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(int(port)))},
		path: path, token: tok, dropAcceptEncoding: true, connClose: true})
}

// forward proxies r along rt.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, rt *route) {
	if rt.target == nil {
		plain(w, http.StatusServiceUnavailable, "503 Service Unavailable: "+rt.upstream+" leader is unknown.")
		return
	}
	if rt.path == "" {
		rt.path = "/"
	}
	rt.reqHost = r.Host
	if r.Body != nil && r.ContentLength != 0 {
		r.Body = http.MaxBytesReader(w, r.Body, g.o.MaxBody)
	}
	g.proxyRoute(w, r, rt)
}

// rewrite builds the upstream request: target, path, the headers of §1.6.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	rt := pr.In.Context().Value(routeKey{}).(*route)
	out := pr.Out
	out.URL.Scheme = rt.target.Scheme
	out.URL.Host = rt.target.Host
	raw := strings.TrimSuffix(rt.target.EscapedPath(), "/") + rt.path
	p, err := url.PathUnescape(raw)
	if err != nil {
		p = raw
	}
	out.URL.Path, out.URL.RawPath = p, raw
	out.URL.RawQuery = pr.In.URL.RawQuery
	out.Host = pr.In.Host
	if xff, ok := pr.In.Header["X-Forwarded-For"]; ok {
		out.Header["X-Forwarded-For"] = xff
	}
	pr.SetXForwarded()
	out.Header.Del("X-Forwarded-Host")
	if host, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		out.Header.Set("X-Real-IP", host)
	}
	stripCookies(out.Header)
	switch {
	case rt.stripAuth:
		out.Header.Del("Authorization")
	case rt.token != "":
		out.Header.Set("Authorization", "token="+rt.token)
	}
	if rt.dropAcceptEncoding {
		out.Header.Del("Accept-Encoding")
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "") // as nginx: no Go default
	}
}

// stripCookies removes DC/OS' two cookies: services must rely on the
// Authorization header only.
func stripCookies(h http.Header) {
	vals := h.Values("Cookie")
	if len(vals) == 0 {
		return
	}
	var kept []string
	for _, v := range vals {
		for _, part := range strings.Split(v, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if name == auth.AuthCookie || name == auth.InfoCookie || strings.TrimSpace(part) == "" {
				continue
			}
			kept = append(kept, strings.TrimSpace(part))
		}
	}
	if len(kept) == 0 {
		h.Del("Cookie")
		return
	}
	h.Set("Cookie", strings.Join(kept, "; "))
}

func (g *Gateway) modifyResponse(resp *http.Response) error {
	rt := resp.Request.Context().Value(routeKey{}).(*route)
	if rt.connClose && resp.StatusCode != http.StatusSwitchingProtocols {
		// Intermediaries then drop streaming subscribers when the client
		// leaves.
		resp.Header.Set("Connection", "close")
	}
	resp.Header.Del("Server")
	if rt.watcher != nil && resp.ContentLength < 0 && resp.StatusCode != http.StatusSwitchingProtocols {
		rt.stop = rt.watcher.WatchClient(rt.cancel)
	}
	if rt.servicePrefix != "" {
		if loc := resp.Header.Get("Location"); loc != "" {
			resp.Header.Set("Location", rewriteLocation(loc, rt))
		}
	}
	return nil
}

// rewriteLocation maps an upstream redirect back under /service/<name>
// (§1.3): absolute URLs only when scheme and host are the upstream's and
// the request's.
func rewriteLocation(loc string, rt *route) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	prefixed := func(p string) string {
		if p == rt.servicePrefix || strings.HasPrefix(p, rt.servicePrefix+"/") {
			return p
		}
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		return rt.servicePrefix + p
	}
	switch {
	case u.IsAbs():
		if u.Scheme != rt.target.Scheme || u.Host != rt.reqHost {
			return loc
		}
		out := prefixed(u.EscapedPath())
		if u.RawQuery != "" {
			out += "?" + u.RawQuery
		}
		if u.Fragment != "" {
			out += "#" + u.EscapedFragment()
		}
		return out
	case strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//"):
		return prefixed(loc)
	}
	return loc
}

func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	rt := r.Context().Value(routeKey{}).(*route)
	var mbe *http.MaxBytesError
	switch {
	case asMaxBytes(err, &mbe):
		plain(w, http.StatusRequestEntityTooLarge, "413 Request Entity Too Large")
	case r.Context().Err() != nil:
		// The client went away: nothing to answer.
		w.WriteHeader(499)
	case isTimeout(err):
		plain(w, http.StatusGatewayTimeout, "504 Gateway Time-out")
	default:
		g.log.Info("upstream failed", "upstream", rt.upstream, "target", rt.target.Host, "err", err)
		plain(w, http.StatusBadGateway, "502 Bad Gateway")
	}
}
