package master

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	v1 "github.com/sextantdc/sextant/internal/mesos/operator/v1"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

const (
	defaultHeartbeat      = 15 * time.Second
	defaultQueueSize      = 1024
	defaultMaxSubscribers = 1000
	defaultVersion        = "1.11.0"
	// maxCallBody bounds a call's request body: the calls served here carry
	// no payload beyond their type.
	maxCallBody = 1 << 20

	contentJSON     = "application/json"
	contentProtobuf = "application/x-protobuf"
)

// snap is one provider state with its renderings, each made at most once
// and shared by every request until the provider changes.
type snap struct {
	st      *state.State
	changed <-chan struct{}

	v0   lazyBody
	v1s  sync.Once
	v1   *v1.GetState
	v1gs lazyBody // the whole GET_STATE response
	subd lazyBody // the framed SUBSCRIBED record (without heartbeat interval variance: fixed per handler)
}

// lazyBody is a response body rendered once, with its gzip form made on
// first demand.
type lazyBody struct {
	once   sync.Once
	raw    []byte
	err    error
	gzOnce sync.Once
	gz     []byte
}

func (b *lazyBody) get(render func() ([]byte, error)) ([]byte, error) {
	b.once.Do(func() { b.raw, b.err = render() })
	return b.raw, b.err
}

func (b *lazyBody) gzipped() []byte {
	b.gzOnce.Do(func() { b.gz = gzipBytes(b.raw) })
	return b.gz
}

func gzipBytes(p []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	_, _ = zw.Write(p)
	_ = zw.Close()
	return buf.Bytes()
}

type metrics struct {
	subscribers prometheus.Gauge
	records     prometheus.Counter
	dropped     *prometheus.CounterVec
	requests    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	m := &metrics{
		subscribers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sextant_mesos_api_subscribers", Help: "Open operator API SUBSCRIBE streams.",
		}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sextant_mesos_api_events_total", Help: "Operator API events derived from provider changes.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sextant_mesos_api_subscribers_dropped_total", Help: "SUBSCRIBE streams closed by the server, by reason.",
		}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sextant_mesos_api_calls_total", Help: "Operator API calls by type and status code.",
		}, []string{"call", "code"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.subscribers, m.records, m.dropped, m.requests} {
			if err := reg.Register(c); err != nil {
				log.Warn("mesos api metrics not registered", "err", err)
			}
		}
	}
	return m
}

type handler struct {
	p     Provider
	opts  Options
	log   *slog.Logger
	start time.Time
	m     *metrics
	mux   *http.ServeMux
	hub   hub

	mu   sync.Mutex
	snap *snap
}

// NewHandler returns an http.Handler serving the Mesos master endpoints
// from p:
//
//	POST /api/v1, /master/api/v1        operator API (JSON), SUBSCRIBE stream
//	GET  /master/state, /state,
//	     /master/state.json, /state.json v0 state
//	GET  /version, /master/version      build information
//	GET  /health, /master/health        200 when serving
//	GET  /master/redirect, /redirect    307 to the leading master
func NewHandler(p Provider, opts Options, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = defaultHeartbeat
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = defaultQueueSize
	}
	if opts.MaxSubscribers <= 0 {
		opts.MaxSubscribers = defaultMaxSubscribers
	}
	if opts.Version == "" {
		opts.Version = defaultVersion
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &handler{p: p, opts: opts, log: logger, start: opts.Now()}
	h.m = newMetrics(opts.Registerer, logger)
	h.hub.h = h
	mux := http.NewServeMux()
	for _, path := range []string{"/api/v1", "/master/api/v1"} {
		mux.HandleFunc(path, h.serveAPI)
	}
	for _, path := range []string{"/master/state", "/state", "/master/state.json", "/state.json"} {
		mux.HandleFunc(path, h.serveState)
	}
	for _, path := range []string{"/version", "/master/version"} {
		mux.HandleFunc(path, h.serveVersion)
	}
	for _, path := range []string{"/health", "/master/health"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	}
	for _, path := range []string{"/redirect", "/master/redirect"} {
		mux.HandleFunc(path, h.serveRedirect)
	}
	h.mux = mux
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// current returns the renderings of the provider's current state, making
// new ones only after the provider signalled a change.
func (h *handler) current() *snap {
	h.mu.Lock()
	s := h.snap
	h.mu.Unlock()
	if s != nil {
		select {
		case <-s.changed:
		default:
			return s
		}
	}
	ch := h.p.Changed() // before State: a change in between closes ch
	s = &snap{st: h.p.State(), changed: ch}
	if s.st == nil {
		s.st = &state.State{}
	}
	h.mu.Lock()
	h.snap = s
	h.mu.Unlock()
	return s
}

func (h *handler) convOpts() v1.FromV0Options {
	return v1.FromV0Options{Version: h.opts.Version, Registered: h.start, Now: h.opts.Now}
}

func (h *handler) v1State(s *snap) *v1.GetState {
	s.v1s.Do(func() {
		var errs []error
		s.v1, errs = v1.FromV0(s.st, h.convOpts())
		for _, err := range errs {
			h.log.Warn("state item partly converted", "err", err)
		}
	})
	return s.v1
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && !strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") {
			return true
		}
	}
	return false
}

func writeBody(w http.ResponseWriter, r *http.Request, ctype string, b *lazyBody) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Add("Vary", "Accept-Encoding")
	body := b.raw
	if acceptsGzip(r) {
		body = b.gzipped()
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// redirect answers 307 to the configured leader when this handler plays a
// non-leading master. It reports whether it answered.
func (h *handler) redirect(w http.ResponseWriter, r *http.Request) bool {
	if h.opts.Leader == "" {
		return false
	}
	w.Header().Set("Location", "//"+h.opts.Leader+r.URL.RequestURI())
	w.WriteHeader(http.StatusTemporaryRedirect)
	return true
}

func (h *handler) serveState(w http.ResponseWriter, r *http.Request) {
	if h.redirect(w, r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Expecting 'GET'", http.StatusMethodNotAllowed)
		return
	}
	s := h.current()
	if _, err := s.v0.get(func() ([]byte, error) { return json.Marshal(s.st) }); err != nil {
		h.log.Error("rendering state", "err", err)
		http.Error(w, "Failed to render state", http.StatusInternalServerError)
		return
	}
	writeBody(w, r, contentJSON, &s.v0)
}

func (h *handler) versionInfo() v1.VersionInfo {
	v := h.current().st.Version
	if v == "" {
		v = h.opts.Version
	}
	return v1.VersionInfo{Version: v, GitTag: v, BuildUser: "sextant"}
}

func (h *handler) serveVersion(w http.ResponseWriter, r *http.Request) {
	b, _ := json.Marshal(h.versionInfo())
	w.Header().Set("Content-Type", contentJSON)
	_, _ = w.Write(b)
}

func (h *handler) serveRedirect(w http.ResponseWriter, r *http.Request) {
	target := h.opts.Leader
	if target == "" {
		mi := v1.MasterFromV0(h.current().st, h.opts.Version)
		switch {
		case mi.Address != nil && mi.Address.Port != 0:
			host := mi.Address.Hostname
			if mi.Address.IP != "" {
				host = mi.Address.IP
			}
			target = hostPort(host, mi.Address.Port)
		case mi.Hostname != "" && mi.Port != 0:
			target = hostPort(mi.Hostname, mi.Port)
		default:
			target = r.Host
		}
	}
	w.Header().Set("Location", "//"+target)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// knownCall reports whether name is a mesos.v1.master.Call type; other
// names are unknown enum values, which Mesos drops, leaving 'type' unset.
func knownCall(name string) bool {
	switch name {
	case "UNKNOWN", "GET_HEALTH", "GET_FLAGS", "GET_VERSION", "GET_METRICS", "GET_LOGGING_LEVEL", "SET_LOGGING_LEVEL", "LIST_FILES", "READ_FILE", "GET_STATE", "GET_AGENTS", "GET_FRAMEWORKS", "GET_EXECUTORS", "GET_OPERATIONS", "GET_TASKS", "GET_ROLES", "GET_WEIGHTS", "UPDATE_WEIGHTS", "GET_MASTER", "SUBSCRIBE", "RESERVE_RESOURCES", "UNRESERVE_RESOURCES", "CREATE_VOLUMES", "DESTROY_VOLUMES", "GROW_VOLUME", "SHRINK_VOLUME", "GET_MAINTENANCE_STATUS", "GET_MAINTENANCE_SCHEDULE", "UPDATE_MAINTENANCE_SCHEDULE", "START_MAINTENANCE", "STOP_MAINTENANCE", "DRAIN_AGENT", "DEACTIVATE_AGENT", "REACTIVATE_AGENT", "GET_QUOTA", "UPDATE_QUOTA", "SET_QUOTA", "REMOVE_QUOTA", "TEARDOWN", "MARK_AGENT_GONE":
		return true
	}
	return false
}

// parseCall extracts the call type from a JSON Call, with Mesos' error
// texts for a body that is not JSON or not a Call.
func parseCall(body []byte) (string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || !json.Valid(body) {
			return "", fmt.Errorf("Failed to parse body into JSON: %v", err)
		}
		return "", fmt.Errorf("Failed to convert JSON into Call protobuf: expecting a JSON object")
	}
	t, ok := raw["type"]
	if !ok || string(t) == "null" {
		return "", errors.New("Failed to validate master::Call: Expecting 'type' to be present")
	}
	var name string
	if err := json.Unmarshal(t, &name); err != nil {
		return "", errors.New("Failed to convert JSON into Call protobuf: Not expecting a JSON " + jsonKind(t) + " for field 'type'")
	}
	if !knownCall(name) {
		return "", errors.New("Failed to validate master::Call: Expecting 'type' to be present")
	}
	return name, nil
}

func jsonKind(b []byte) string {
	switch {
	case len(b) == 0:
		return "value"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array"
	case b[0] == 't' || b[0] == 'f':
		return "boolean"
	default:
		return "number"
	}
}

// acceptsJSON applies Mesos' Accept rules: no header accepts everything;
// otherwise application/json, application/* or */* with q > 0.
func acceptsJSON(r *http.Request) bool {
	vals := r.Header.Values("Accept")
	if len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f <= 0 {
					continue
				}
			}
			if mt == contentJSON || mt == "application/*" || mt == "*/*" {
				return true
			}
		}
	}
	return false
}

func (h *handler) fail(w http.ResponseWriter, call string, code int, text string) {
	h.m.requests.WithLabelValues(call, strconv.Itoa(code)).Inc()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, text)
}

func (h *handler) serveAPI(w http.ResponseWriter, r *http.Request) {
	if h.opts.Authenticate != nil && !h.opts.Authenticate(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="mesos-master-readwrite"`)
		h.fail(w, "", http.StatusUnauthorized, "")
		return
	}
	if h.redirect(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, "", http.StatusMethodNotAllowed, "Expecting 'POST', received '"+r.Method+"'")
		return
	}
	ctype := r.Header.Get("Content-Type")
	if ctype == "" {
		h.fail(w, "", http.StatusBadRequest, "Expecting 'Content-Type' to be present")
		return
	}
	if ctype != contentJSON {
		// Protobuf calls are not implemented: say so rather than pretend.
		h.fail(w, "", http.StatusUnsupportedMediaType, "Expecting 'Content-Type' of application/json (application/x-protobuf is not supported by this server)")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCallBody+1))
	if err != nil {
		h.fail(w, "", http.StatusBadRequest, "Failed to read body: "+err.Error())
		return
	}
	if len(body) > maxCallBody {
		h.fail(w, "", http.StatusRequestEntityTooLarge, "Request body too large")
		return
	}
	call, err := parseCall(body)
	if err != nil {
		h.fail(w, "", http.StatusBadRequest, err.Error())
		return
	}
	if !acceptsJSON(r) {
		h.fail(w, call, http.StatusNotAcceptable, "Expecting 'Accept' to allow 'application/json'")
		return
	}
	switch call {
	case "SUBSCRIBE":
		h.m.requests.WithLabelValues(call, "200").Inc()
		h.subscribe(w, r)
		return
	case "GET_STATE":
		s := h.current()
		if _, err := s.v1gs.get(func() ([]byte, error) {
			return json.Marshal(v1.Response{Type: call, GetState: h.v1State(s)})
		}); err != nil {
			h.log.Error("rendering GET_STATE", "err", err)
			h.fail(w, call, http.StatusInternalServerError, "Failed to render state")
			return
		}
		h.m.requests.WithLabelValues(call, "200").Inc()
		writeBody(w, r, contentJSON, &s.v1gs)
		return
	}
	resp := v1.Response{Type: call}
	switch call {
	case "GET_HEALTH":
		resp.GetHealth = &v1.GetHealth{Healthy: true}
	case "GET_VERSION":
		resp.GetVersion = &v1.GetVersion{VersionInfo: h.versionInfo()}
	case "GET_MASTER":
		s := h.current()
		start := v1.Float64(float64(h.start.UnixNano()) / 1e9)
		resp.GetMaster = &v1.GetMaster{MasterInfo: v1.MasterFromV0(s.st, h.opts.Version), StartTime: &start, ElectedTime: &start}
	case "GET_TASKS":
		gs := h.v1State(h.current())
		resp.GetTasks = &gs.GetTasks
	case "GET_AGENTS":
		gs := h.v1State(h.current())
		resp.GetAgents = &gs.GetAgents
	case "GET_FRAMEWORKS":
		gs := h.v1State(h.current())
		resp.GetFrameworks = &gs.GetFrameworks
	case "GET_EXECUTORS":
		gs := h.v1State(h.current())
		resp.GetExecutors = &gs.GetExecutors
	default:
		h.fail(w, call, http.StatusNotImplemented, "Call "+call+" is not implemented by this server")
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		h.log.Error("rendering call", "call", call, "err", err)
		h.fail(w, call, http.StatusInternalServerError, "Failed to render "+call)
		return
	}
	h.m.requests.WithLabelValues(call, "200").Inc()
	lb := &lazyBody{raw: b}
	lb.once.Do(func() {})
	writeBody(w, r, contentJSON, lb)
}
