package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/marathon"
)

// APIOptions configures the Marathon API handler.
type APIOptions struct {
	// Heartbeat is the SSE heartbeat period (Marathon: 10 s).
	Heartbeat time.Duration
	// Metrics and Health, when set, are served at /metrics and /health.
	Metrics, Health http.Handler
	// Version is reported by /v2/info (a Marathon 1.10-compatible string).
	Version string
	Logger  *slog.Logger
}

type api struct {
	rt   *Runtime
	opts APIOptions
	log  *slog.Logger
}

// NewAPI returns the Marathon-compatible HTTP API of the runtime, plus the
// Sextant extension GET /sextant/v1/tasks/{taskId}/logs.
func NewAPI(rt *Runtime, opts APIOptions) http.Handler {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 10 * time.Second
	}
	if opts.Version == "" {
		opts.Version = "1.10.26"
	}
	if opts.Logger == nil {
		opts.Logger = rt.log
	}
	return &api{rt: rt, opts: opts, log: opts.Logger}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	var me *marathon.Error
	if errors.As(err, &me) {
		writeJSON(w, me.Status, me.Body())
		return
	}
	writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
}

func msg(w http.ResponseWriter, code int, m string) {
	writeJSON(w, code, map[string]string{"message": m})
}

func boolParam(r *http.Request, name string, def bool) bool {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def
	}
	return b
}

func (h *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	// This instance is always the leader.
	w.Header().Set("X-Marathon-Leader", "http://"+r.Host)
	switch {
	case p == "/ping":
		h.ping(w, r)
	case p == "/metrics" && h.opts.Metrics != nil:
		h.opts.Metrics.ServeHTTP(w, r)
	case p == "/health" && h.opts.Health != nil:
		h.opts.Health.ServeHTTP(w, r)
	case p == "/v2/info":
		h.info(w, r)
	case p == "/v2/leader":
		writeJSON(w, 200, map[string]string{"leader": r.Host})
	case p == "/v2/events":
		h.events(w, r)
	case p == "/v2/apps" || p == "/v2/apps/":
		h.apps(w, r)
	case strings.HasPrefix(p, "/v2/apps/"):
		h.app(w, r, strings.TrimPrefix(p, "/v2/apps"))
	case p == "/v2/tasks":
		h.allTasks(w, r)
	case p == "/v2/tasks/delete":
		h.deleteTasks(w, r)
	case p == "/v2/deployments":
		if r.Method != http.MethodGet {
			msg(w, 405, "Method not allowed")
			return
		}
		writeJSON(w, 200, h.rt.Deployments())
	case strings.HasPrefix(p, "/v2/deployments/"):
		h.deployment(w, r, strings.TrimPrefix(p, "/v2/deployments/"))
	case p == "/v2/queue":
		writeJSON(w, 200, map[string]any{"queue": h.rt.Queue()})
	case strings.HasPrefix(p, "/v2/queue/") && strings.HasSuffix(p, "/delay") && r.Method == http.MethodDelete:
		id := marathon.CanonicalID(strings.TrimSuffix(strings.TrimPrefix(p, "/v2/queue"), "/delay"))
		if err := h.rt.ResetDelay(id); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(p, "/sextant/v1/tasks/") && strings.HasSuffix(p, "/logs"):
		h.logs(w, r, strings.TrimSuffix(strings.TrimPrefix(p, "/sextant/v1/tasks/"), "/logs"))
	default:
		msg(w, http.StatusNotFound, "URI not found")
	}
}

func (h *api) ping(w http.ResponseWriter, r *http.Request) {
	acc := r.Header.Get("Accept")
	w.Header().Set("Cache-Control", "must-revalidate,no-cache,no-store")
	switch {
	case acc == "" || strings.Contains(acc, "*/*") || strings.Contains(acc, "text/"):
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "pong")
	case strings.Contains(acc, "application/json"):
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `"pong"`)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *api) info(w http.ResponseWriter, r *http.Request) {
	in := h.rt.Info()
	cfg := h.rt.Config()
	writeJSON(w, 200, map[string]any{"name": "marathon", "version": h.opts.Version, "buildref": "sextant", "elected": true,
		"leader": r.Host, "frameworkId": in["frameworkId"],
		"marathon_config": map[string]any{"master": "http://" + cfg.MesosAddr, "framework_name": "marathon", "hostname": cfg.Hostname,
			"webui_url": nil, "local_port_min": cfg.ServicePortMin, "local_port_max": cfg.ServicePortMax, "executor": "//cmd",
			"env_vars_prefix": nil, "mesos_role": nil, "default_network_name": nil, "mesos_bridge_name": "mesos-bridge",
			"features": []string{}, "task_launch_timeout": 300000},
		"zookeeper_config": map[string]any{"zk": nil},
		"http_config":      map[string]any{"http_port": portOf(r.Host), "https_port": 8443}})
}

func portOf(hostport string) int {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return 80
	}
	n, _ := strconv.Atoi(p)
	return n
}

// readBody enforces Marathon's media type rule and reads the body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			msg(w, http.StatusUnsupportedMediaType, "Unsupported Media Type")
			return nil, false
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20+1))
	if err != nil {
		msg(w, http.StatusRequestEntityTooLarge, "Request body too large")
		return nil, false
	}
	return b, true
}

// readJSON is readBody and Marathon's JSON parsing; on failure the error
// is already written.
func readJSON(w http.ResponseWriter, r *http.Request) (any, bool) {
	b, ok := readBody(w, r)
	if !ok {
		return nil, false
	}
	v, err := marathon.ParseJSON(b)
	if err != nil {
		writeErr(w, err)
		return nil, false
	}
	return v, true
}

// invalidJSON is Marathon's 422 for a JSON value of the wrong type at path
// (code: error.expected.jsobject, …).
func invalidJSON(path, code string) error {
	return &marathon.Error{Status: http.StatusUnprocessableEntity, Message: "Invalid JSON",
		Details: []marathon.Violation{{Path: path, Errors: []string{code}}}}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func embeds(r *http.Request) ViewOptions {
	var o ViewOptions
	for _, e := range r.URL.Query()["embed"] {
		switch strings.TrimPrefix(e, "apps.") {
		case "tasks":
			o.Tasks = true
		case "lastTaskFailure", "failures":
			o.LastTaskFailure = true
		}
	}
	return o
}

func (h *api) apps(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		views := h.rt.AppViews(r.URL.Query().Get("id"), embeds(r))
		if sel := r.URL.Query().Get("label"); sel != "" {
			views = filterLabels(views, sel)
		}
		if c := r.URL.Query().Get("cmd"); c != "" {
			var out []map[string]any
			for _, v := range views {
				if s, _ := v["cmd"].(string); strings.Contains(s, c) {
					out = append(out, v)
				}
			}
			views = out
		}
		if views == nil {
			views = []map[string]any{}
		}
		writeJSON(w, 200, map[string]any{"apps": views})
	case http.MethodPut, http.MethodPatch:
		h.bulkUpdate(w, r)
	case http.MethodPost:
		v, ok := readJSON(w, r)
		if !ok {
			return
		}
		a, err := marathon.FromValue(v)
		if err != nil {
			writeErr(w, err)
			return
		}
		submitted, res, err := h.rt.CreateApp(a, &Origin{ClientIP: clientIP(r), URI: r.URL.Path})
		if err != nil {
			writeErr(w, err)
			return
		}
		body := toMap(submitted)
		body["tasksStaged"], body["tasksRunning"], body["tasksHealthy"], body["tasksUnhealthy"] = 0, 0, 0, 0
		body["deployments"] = []map[string]string{{"id": res.DeploymentID}}
		body["tasks"] = []any{}
		w.Header().Set("Location", "http://"+r.Host+a.ID)
		w.Header().Set("Marathon-Deployment-Id", res.DeploymentID)
		writeJSON(w, http.StatusCreated, body)
	default:
		msg(w, http.StatusMethodNotAllowed, "Method not allowed")
	}
}

// filterLabels applies Marathon's label selector (k, k==v, k!=v, k in (a,b),
// k notin (a,b); comma = AND).
func filterLabels(views []map[string]any, sel string) []map[string]any {
	type term struct {
		key, op string
		vals    []string
	}
	var terms []term
	for _, part := range splitSelector(sel) {
		part = strings.TrimSpace(part)
		switch {
		case strings.Contains(part, "!="):
			k, v, _ := strings.Cut(part, "!=")
			terms = append(terms, term{strings.TrimSpace(k), "!=", []string{strings.TrimSpace(v)}})
		case strings.Contains(part, "=="):
			k, v, _ := strings.Cut(part, "==")
			terms = append(terms, term{strings.TrimSpace(k), "==", []string{strings.TrimSpace(v)}})
		case strings.Contains(part, " notin "), strings.Contains(part, " in "):
			op := " in "
			if strings.Contains(part, " notin ") {
				op = " notin "
			}
			k, v, _ := strings.Cut(part, op)
			v = strings.Trim(strings.TrimSpace(v), "()")
			var vals []string
			for _, x := range strings.Split(v, ",") {
				vals = append(vals, strings.TrimSpace(x))
			}
			terms = append(terms, term{strings.TrimSpace(k), strings.TrimSpace(op), vals})
		default:
			terms = append(terms, term{part, "exists", nil})
		}
	}
	var out []map[string]any
	for _, v := range views {
		labels, _ := v["labels"].(map[string]any)
		ok := true
		for _, t := range terms {
			val, has := labels[t.key].(string)
			in := false
			for _, x := range t.vals {
				if x == val {
					in = true
				}
			}
			switch t.op {
			case "exists":
				ok = ok && has
			case "==", "in":
				ok = ok && has && in
			case "!=", "notin":
				ok = ok && (!has || !in)
			}
		}
		if ok {
			out = append(out, v)
		}
	}
	return out
}

// splitSelector splits on commas outside parentheses.
func splitSelector(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func (h *api) app(w http.ResponseWriter, r *http.Request, rest string) {
	switch {
	case strings.HasSuffix(rest, "/*"):
		// A group listing: every app under the prefix.
		if r.Method != http.MethodGet {
			msg(w, 405, "Method not allowed")
			return
		}
		prefix := marathon.CanonicalID(strings.TrimSuffix(rest, "/*"))
		var out []map[string]any
		for _, v := range h.rt.AppViews("", embeds(r)) {
			if id, _ := v["id"].(string); strings.HasPrefix(id, strings.TrimSuffix(prefix, "/")+"/") {
				out = append(out, v)
			}
		}
		if out == nil {
			out = []map[string]any{}
		}
		writeJSON(w, 200, map[string]any{"apps": out})
		return
	case strings.HasSuffix(rest, "/versions"):
		id := marathon.CanonicalID(strings.TrimSuffix(rest, "/versions"))
		a, ok := h.rt.App(id)
		if !ok {
			writeErr(w, notFound(id))
			return
		}
		// Only the current version is kept.
		writeJSON(w, 200, map[string]any{"versions": []string{a.Version}})
		return
	case strings.HasSuffix(rest, "/restart"):
		if r.Method != http.MethodPost {
			msg(w, 405, "Method not allowed")
			return
		}
		res, err := h.rt.RestartApp(marathon.CanonicalID(strings.TrimSuffix(rest, "/restart")), boolParam(r, "force", false))
		h.result(w, res, err)
		return
	case strings.HasSuffix(rest, "/tasks") || strings.HasSuffix(rest, "/tasks/"):
		id := marathon.CanonicalID(strings.TrimSuffix(strings.TrimSuffix(rest, "/"), "/tasks"))
		if r.Method != http.MethodGet {
			msg(w, 405, "Method not allowed")
			return
		}
		ts, ok := h.rt.Tasks(id, nil, false)
		if !ok {
			writeErr(w, notFound(id))
			return
		}
		writeJSON(w, 200, map[string]any{"tasks": ts})
		return
	}
	if i := strings.LastIndex(rest, "/tasks/"); i > 0 {
		id := marathon.CanonicalID(rest[:i])
		taskID := rest[i+len("/tasks/"):]
		if r.Method != http.MethodDelete {
			msg(w, 405, "Method not allowed")
			return
		}
		scale, wipe := boolParam(r, "scale", false), boolParam(r, "wipe", false)
		if scale && wipe {
			msg(w, 400, "You cannot use scale and wipe at the same time.")
			return
		}
		view, res, err := h.rt.KillTask(id, taskID, scale, boolParam(r, "force", false))
		if err != nil {
			writeErr(w, err)
			return
		}
		if scale {
			h.result(w, res, nil)
			return
		}
		writeJSON(w, 200, map[string]any{"task": view})
		return
	}
	id := marathon.CanonicalID(rest)
	switch r.Method {
	case http.MethodGet:
		v, ok := h.rt.AppView(id, ViewOptions{Tasks: true, LastTaskFailure: true})
		if !ok {
			writeErr(w, notFound(id))
			return
		}
		writeJSON(w, 200, map[string]any{"app": v})
	case http.MethodPut, http.MethodPatch:
		h.update(w, r, id)
	case http.MethodDelete:
		res, err := h.rt.DeleteApp(id, boolParam(r, "force", true))
		h.result(w, res, err)
	default:
		msg(w, 405, "Method not allowed")
	}
}

func (h *api) result(w http.ResponseWriter, res Result, err error) {
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Marathon-Deployment-Id", res.DeploymentID)
	writeJSON(w, 200, map[string]string{"version": res.Version, "deploymentId": res.DeploymentID})
}

func (h *api) update(w http.ResponseWriter, r *http.Request, id string) {
	v, ok := readJSON(w, r)
	if !ok {
		return
	}
	body, isObj := v.(map[string]any)
	if !isObj {
		writeErr(w, invalidJSON("/", "error.expected.jsobject"))
		return
	}
	if _, hasV := body["version"]; hasV {
		for k := range body {
			if k != "version" && k != "id" {
				writeErr(w, &marathon.Error{Status: 422, Message: "Object is not valid",
					Details: []marathon.Violation{{Path: "/", Errors: []string{"The 'version' field may only be combined with the 'id' field."}}}})
				return
			}
		}
		// Rollback to a stored version: only the current one is kept.
		cur, exists := h.rt.App(id)
		if !exists {
			writeErr(w, notFound(id))
			return
		}
		if vs, _ := body["version"].(string); vs != cur.Version {
			writeErr(w, &marathon.Error{Status: 404, Message: "App '" + id + "' does not exist in version " + vs})
			return
		}
		body = map[string]any{}
	}
	partial := boolParam(r, "partialUpdate", true)
	cur, exists := h.rt.App(id)
	if r.Method == http.MethodPatch {
		partial = true
		if !exists {
			writeErr(w, notFound(id))
			return
		}
	}
	if exists && partial {
		merged, err := marathon.MergeUpdate(cur, body)
		if err != nil {
			writeErr(w, err)
			return
		}
		body = merged
	}
	body["id"] = id
	a, err := marathon.FromValue(body)
	if err != nil {
		writeErr(w, err)
		return
	}
	_, res, err := h.rt.UpdateApp(a, boolParam(r, "force", false), &Origin{ClientIP: clientIP(r), URI: r.URL.Path})
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Marathon-Deployment-Id", res.DeploymentID)
	code := http.StatusOK
	if res.Created {
		code = http.StatusCreated
		w.Header().Set("Location", "http://"+r.Host+id)
	}
	writeJSON(w, code, map[string]string{"version": res.Version, "deploymentId": res.DeploymentID})
}

// bulkUpdate is PUT/PATCH /v2/apps with an array of definitions: every
// item is validated first; then each is applied.
func (h *api) bulkUpdate(w http.ResponseWriter, r *http.Request) {
	v, ok := readJSON(w, r)
	if !ok {
		return
	}
	items, isArr := v.([]any)
	if !isArr {
		writeErr(w, invalidJSON("/", "error.expected.jsarray"))
		return
	}
	var apps []*marathon.App
	for i, it := range items {
		body, isObj := it.(map[string]any)
		if !isObj {
			writeErr(w, invalidJSON("/("+strconv.Itoa(i)+")", "error.expected.jsobject"))
			return
		}
		id, _ := body["id"].(string)
		id = marathon.CanonicalID(id)
		if cur, exists := h.rt.App(id); exists && (r.Method == http.MethodPatch || boolParam(r, "partialUpdate", true)) {
			var err error
			if body, err = marathon.MergeUpdate(cur, body); err != nil {
				writeErr(w, err)
				return
			}
			body["id"] = id
		}
		a, err := marathon.FromValue(body)
		if err != nil {
			writeErr(w, err)
			return
		}
		apps = append(apps, a)
	}
	var last Result
	for _, a := range apps {
		_, res, err := h.rt.UpdateApp(a, boolParam(r, "force", false), &Origin{ClientIP: clientIP(r), URI: r.URL.Path})
		if err != nil {
			writeErr(w, err)
			return
		}
		last = res
	}
	h.result(w, last, nil)
}

func (h *api) allTasks(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		msg(w, 405, "Method not allowed")
		return
	}
	q := r.URL.Query()
	states := append(q["status"], q["status[]"]...)
	ts, _ := h.rt.Tasks("", states, true)
	writeJSON(w, 200, map[string]any{"tasks": ts})
}

func (h *api) deleteTasks(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		msg(w, 405, "Method not allowed")
		return
	}
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	var req struct {
		IDs []string `json:"ids"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		writeErr(w, &marathon.Error{Status: 400, Message: "Invalid JSON", Details: err.Error()})
		return
	}
	scale := boolParam(r, "scale", false)
	var last Result
	killed := []map[string]any{}
	for _, id := range req.IDs {
		p, err := marathon.ParseTaskID(id)
		if err != nil {
			continue
		}
		view, res, err := h.rt.KillTask(p.AppID, id, scale, true)
		if err != nil {
			continue
		}
		last = res
		if view != nil {
			killed = append(killed, view)
		}
	}
	if scale {
		h.result(w, last, nil)
		return
	}
	writeJSON(w, 200, map[string]any{"tasks": killed})
}

func (h *api) deployment(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodDelete {
		msg(w, 405, "Method not allowed")
		return
	}
	if err := h.rt.CancelDeployment(id); err != nil {
		writeErr(w, err)
		return
	}
	// Without a stored history there is nothing to roll back to: both
	// forms stop the deployment.
	if boolParam(r, "force", false) {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	now := marathon.Timestamp(time.Now())
	dep := marathon.NewUUID()
	w.Header().Set("Marathon-Deployment-Id", dep)
	writeJSON(w, 200, map[string]string{"version": now, "deploymentId": dep})
}

func acceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			if strings.TrimSpace(part) == "text/event-stream" {
				return true
			}
		}
	}
	return false
}

// events serves the SSE stream exactly as Marathon (Jetty) frames it:
// "event: T\r\ndata: JSON\r\n\r\n", a bare CRLF heartbeat, no chunking,
// connection closed at the end.
func (h *api) events(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !acceptsEventStream(r) {
		msg(w, http.StatusMethodNotAllowed, "HTTP 405 Method Not Allowed")
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		msg(w, 500, "streaming unsupported")
		return
	}
	var types []string
	for _, t := range r.URL.Query()["event_type"] {
		for _, x := range strings.Split(t, ",") {
			if x = strings.TrimSpace(x); x != "" {
				types = append(types, x)
			}
		}
	}
	sub := h.rt.Bus().Subscribe(types)
	defer func() {
		h.rt.Bus().Unsubscribe(sub)
		h.rt.Bus().Publish("event_stream_detached", map[string]any{"remoteAddress": clientIP(r)})
	}()
	w.Header().Set("Content-Type", "text/event-stream;charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Connection", "close")
	// identity + Connection: close makes net/http stream without chunking.
	w.Header().Set("Transfer-Encoding", "identity")
	w.WriteHeader(200)
	fl.Flush()
	h.rt.Bus().Publish("event_stream_attached", map[string]any{"remoteAddress": clientIP(r)})
	bw := bufio.NewWriter(w)
	hb := time.NewTicker(h.opts.Heartbeat)
	defer hb.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.Done():
			return
		case <-hb.C:
			if _, err := bw.WriteString("\r\n"); err != nil {
				return
			}
		case ev := <-sub.C:
			writeEvent(bw, ev)
			// Drain what is already queued before flushing.
			for n := len(sub.C); n > 0; n-- {
				writeEvent(bw, <-sub.C)
			}
		}
		if err := bw.Flush(); err != nil {
			return
		}
		fl.Flush()
	}
}

// writeEvent frames one event as Jetty does, CRLF line ends, one data
// line per line of the payload.
func writeEvent(bw *bufio.Writer, ev Event) {
	bw.WriteString("event: " + ev.Type + "\r\n")
	for _, line := range strings.Split(string(ev.Data), "\n") {
		bw.WriteString("data: " + line + "\r\n")
	}
	bw.WriteString("\r\n")
}

// logs serves a task's stdout or stderr (Sextant extension):
// GET /sextant/v1/tasks/{taskId}/logs?stream=stdout|stderr&tail=N.
func (h *api) logs(w http.ResponseWriter, r *http.Request, taskID string) {
	dir, ok := h.rt.TaskSandbox(taskID)
	if !ok {
		msg(w, http.StatusNotFound, "Task '"+taskID+"' does not exist")
		return
	}
	stream := r.URL.Query().Get("stream")
	if stream == "" {
		stream = "stdout"
	}
	if stream != "stdout" && stream != "stderr" {
		msg(w, 400, "stream must be stdout or stderr")
		return
	}
	f, err := os.Open(filepath.Join(dir, stream))
	if err != nil {
		msg(w, http.StatusNotFound, "no "+stream+" for task '"+taskID+"'")
		return
	}
	defer f.Close()
	st, _ := f.Stat()
	if n, err := strconv.ParseInt(r.URL.Query().Get("tail"), 10, 64); err == nil && n >= 0 && st != nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.Copy(w, f)
}
