package zdd

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Labels zdd reads and writes.
const (
	LabelGroup   = "HAPROXY_DEPLOYMENT_GROUP"
	LabelAltPort = "HAPROXY_DEPLOYMENT_ALT_PORT"
	LabelColour  = "HAPROXY_DEPLOYMENT_COLOUR"
	LabelStarted = "HAPROXY_DEPLOYMENT_STARTED_AT"
	LabelTarget  = "HAPROXY_DEPLOYMENT_TARGET_INSTANCES"
	LabelNew     = "HAPROXY_DEPLOYMENT_NEW_INSTANCES"
	LabelAppID   = "HAPROXY_APP_ID"
	LabelPort    = "HAPROXY_0_PORT"
)

// Options configure a deployment.
type Options struct {
	// Marathon is the Marathon (or `sextant up`) base URL.
	Marathon string
	// Edges are the admin URLs (port 9090) of every edge balancing the
	// app; zdd waits for all of them.
	Edges []string
	// InitialInstances is how many instances the new app starts with
	// (default 1).
	InitialInstances int
	// StepDelay is the time between steps (default 5 s); MaxWait how long
	// a step may make no progress before the deployment rolls back
	// (default 300 s).
	StepDelay, MaxWait time.Duration
	// Resume continues an interrupted deployment; CompleteCur finishes it
	// keeping the newest app, CompletePrev keeping the oldest.
	Resume, CompleteCur, CompletePrev bool
	Client                            *http.Client
	Log                               *slog.Logger
	// Now is the clock of HAPROXY_DEPLOYMENT_STARTED_AT (time.Now).
	Now func() time.Time
}

// ErrRolledBack is a deployment that did not become healthy in time:
// the old app serves again and the new one is gone.
var ErrRolledBack = errors.New("zdd: the new app did not become healthy in time; rolled back")

type app struct {
	ID        string            `json:"id"`
	Instances int               `json:"instances"`
	Labels    map[string]string `json:"labels"`
	Tasks     []task            `json:"tasks"`
	Checks    []json.RawMessage `json:"healthChecks"`
}

type task struct {
	ID     string `json:"id"`
	Host   string `json:"host"`
	State  string `json:"state"`
	Ports  []int  `json:"ports"`
	Health []struct {
		Alive bool `json:"alive"`
	} `json:"healthCheckResults"`
	IPs []struct {
		IP string `json:"ipAddress"`
	} `json:"ipAddresses"`
}

func (t task) healthy(checks bool) bool {
	if t.State != "TASK_RUNNING" {
		return false
	}
	if !checks {
		return true
	}
	return slices.ContainsFunc(t.Health, func(h struct {
		Alive bool `json:"alive"`
	}) bool {
		return h.Alive
	})
}

// serverNames are the names the edge may give the task's first port:
// host_ip_port, or ip_port when the host is the IP (dots as '_').
func (t task) serverNames() []string {
	if len(t.Ports) == 0 {
		return nil
	}
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
				return r
			}
			return '_'
		}, s)
	}
	p := strconv.Itoa(t.Ports[0])
	names := []string{clean(t.Host + "_" + p)}
	for _, ip := range t.IPs {
		names = append(names, clean(t.Host+"_"+ip.IP+"_"+p), clean(ip.IP+"_"+p))
	}
	return names
}

type deployer struct {
	o Options
}

// definition is an app definition zdd can deploy.
type definition struct {
	spec      map[string]any
	id, group string
	labels    map[string]string
	alt, port int
	instances int
}

// parseDefinition reads the app definition: an id, string labels with
// HAPROXY_DEPLOYMENT_GROUP and a port in HAPROXY_DEPLOYMENT_ALT_PORT,
// and one service port. Errors name the field.
func parseDefinition(def []byte) (*definition, error) {
	var spec map[string]any
	if err := json.Unmarshal(def, &spec); err != nil {
		return nil, fmt.Errorf("app definition: %w", err)
	}
	if spec == nil {
		return nil, errors.New("app definition: not a JSON object")
	}
	id, _ := spec["id"].(string)
	if id == "" {
		return nil, errors.New("app definition: id: missing or not a string")
	}
	labels := map[string]string{}
	if raw, ok := spec["labels"]; ok && raw != nil {
		l, ok := raw.(map[string]any)
		if !ok {
			return nil, errors.New("app definition: labels: not an object")
		}
		for k, v := range l {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("app definition: labels.%s: not a string", k)
			}
			labels[k] = s
		}
	}
	group := labels[LabelGroup]
	if group == "" {
		return nil, fmt.Errorf("app definition: labels.%s: required", LabelGroup)
	}
	alt, err := strconv.Atoi(labels[LabelAltPort])
	if err != nil || alt <= 0 || alt > 65535 {
		return nil, fmt.Errorf("app definition: labels.%s: %q is not a port", LabelAltPort, labels[LabelAltPort])
	}
	port, err := servicePort(spec)
	if err != nil {
		return nil, err
	}
	instances := 1
	if raw, ok := spec["instances"]; ok {
		n, ok := raw.(float64)
		if !ok || n < 0 || n != float64(int(n)) {
			return nil, errors.New("app definition: instances: not a count")
		}
		instances = int(n)
	}
	return &definition{spec: spec, id: id, group: group, labels: labels, alt: alt, port: port, instances: instances}, nil
}

// Deploy runs one deployment of the app definition def.
func Deploy(ctx context.Context, def []byte, o Options) error {
	if o.InitialInstances <= 0 {
		o.InitialInstances = 1
	}
	if o.StepDelay <= 0 {
		o.StepDelay = 5 * time.Second
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 300 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	d := &deployer{o: o}
	def0, err := parseDefinition(def)
	if err != nil {
		return err
	}
	spec, id, labels, group, alt, port, instances := def0.spec, def0.id, def0.labels, def0.group, def0.alt, def0.port, def0.instances

	apps, err := d.apps(ctx)
	if err != nil {
		return err
	}
	var existing []app
	for _, a := range apps {
		if a.Labels[LabelGroup] == group {
			existing = append(existing, a)
		}
	}
	sort.SliceStable(existing, func(i, j int) bool {
		return existing[i].Labels[LabelStarted] < existing[j].Labels[LabelStarted]
	})
	switch {
	case len(existing) > 2:
		return fmt.Errorf("deployment group %s has %d apps; remove all but two", group, len(existing))
	case len(existing) == 2:
		old, neu := existing[0], existing[1]
		switch {
		case o.CompleteCur:
			return d.finish(ctx, neu, old)
		case o.CompletePrev:
			return d.finish(ctx, old, neu)
		case o.Resume:
			return d.shift(ctx, group, old, neu)
		}
		return fmt.Errorf("deployment group %s has two apps (%s, %s): a deployment was interrupted; "+
			"resume it, or complete it keeping the newest or the previous app", group, old.ID, neu.ID)
	}

	colour, sport := "blue", port
	target := instances
	var old *app
	if len(existing) == 1 {
		old = &existing[0]
		target = old.Instances
		if old.Labels[LabelColour] == "blue" {
			colour = "green"
		}
		orig, err := strconv.Atoi(old.Labels[LabelPort])
		if err != nil {
			orig = port
		}
		port = orig
		sport = alt
		if s, err := d.servicePortOf(ctx, old.ID); err == nil && s == alt {
			sport = orig
		}
	}
	labels[LabelAppID] = id
	labels[LabelPort] = strconv.Itoa(port)
	labels[LabelColour] = colour
	labels[LabelStarted] = o.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	labels[LabelTarget] = strconv.Itoa(target)
	labels[LabelNew] = "0"
	spec["labels"] = labels
	spec["id"] = strings.TrimSuffix(id, "/") + "-" + colour
	if old != nil {
		spec["instances"] = min(o.InitialInstances, target)
		setServicePort(spec, sport)
	}
	body, _ := json.Marshal(spec)
	if err := d.call(ctx, "POST", "/v2/apps", body, nil); err != nil {
		return fmt.Errorf("creating %s: %w", spec["id"], err)
	}
	o.Log.Info("created", "app", spec["id"], "colour", colour, "instances", spec["instances"])
	neu, err := d.app(ctx, spec["id"].(string))
	if err != nil {
		return err
	}
	if old == nil {
		return d.waitHealthy(ctx, neu.ID, target)
	}
	return d.shift(ctx, group, *old, neu)
}

// shift moves traffic from old to neu one step at a time.
func (d *deployer) shift(ctx context.Context, group string, old, neu app) error {
	target, err := strconv.Atoi(neu.Labels[LabelTarget])
	if err != nil {
		target = old.Instances
	}
	backend := strings.ReplaceAll(strings.TrimPrefix(group, "/"), "/", "_") + "_" + neu.Labels[LabelPort]
	progress := time.Now()
	for {
		if time.Since(progress) > d.o.MaxWait {
			return d.rollback(ctx, old, neu, target)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d.o.StepDelay):
		}
		var err error
		if old, err = d.app(ctx, old.ID); err != nil {
			return err
		}
		if neu, err = d.app(ctx, neu.ID); err != nil {
			return err
		}
		rows, busy, err := d.edgeRows(ctx, backend)
		if err != nil {
			d.o.Log.Warn("reading the edges", "err", err)
			continue
		}
		if busy {
			d.o.Log.Info("an edge is still reloading; waiting")
			continue
		}
		// Old tasks every edge has drained: in maintenance, no session.
		var drained []string
		for _, t := range old.Tasks {
			if everyEdge(rows, t, func(r row) bool { return r.status == "MAINT" && r.qcur == 0 && r.scur == 0 }) {
				drained = append(drained, t.ID)
			}
		}
		healthy := 0
		for _, t := range neu.Tasks {
			if t.healthy(len(neu.Checks) > 0) && everyEdge(rows, t, func(r row) bool { return strings.HasPrefix(r.status, "UP") }) {
				healthy++
			}
		}
		if len(drained) > 0 {
			body, _ := json.Marshal(map[string]any{"ids": drained})
			if err := d.call(ctx, "POST", "/v2/tasks/delete?scale=true", body, nil); err != nil {
				return fmt.Errorf("killing drained tasks: %w", err)
			}
			d.o.Log.Info("killed drained tasks", "app", old.ID, "tasks", drained)
			progress = time.Now()
			continue
		}
		if neu.Instances < target && healthy >= neu.Instances {
			n := neu.Instances + (neu.Instances+1)/2
			if n >= old.Instances || n > target {
				n = target
			}
			if err := d.scale(ctx, neu.ID, n); err != nil {
				return err
			}
			d.o.Log.Info("scaled", "app", neu.ID, "instances", n)
			progress = time.Now()
			continue
		}
		if neu.Instances >= target && healthy >= target && len(old.Tasks) == 0 {
			return d.delete(ctx, old.ID)
		}
		if len(old.Tasks) == 0 && old.Instances > 0 && healthy >= target {
			if err := d.scale(ctx, old.ID, 0); err != nil {
				return err
			}
		}
	}
}

// rollback brings the old app back to its instances and deletes the new.
func (d *deployer) rollback(ctx context.Context, old, neu app, target int) error {
	d.o.Log.Warn("no progress: rolling back", "old", old.ID, "new", neu.ID)
	if err := d.scale(ctx, old.ID, target); err != nil {
		return err
	}
	if err := d.waitHealthy(ctx, old.ID, target); err != nil {
		return err
	}
	if err := d.delete(ctx, neu.ID); err != nil {
		return err
	}
	return ErrRolledBack
}

// finish keeps one app of an interrupted deployment at its target.
func (d *deployer) finish(ctx context.Context, keep, drop app) error {
	target, err := strconv.Atoi(keep.Labels[LabelTarget])
	if err != nil || target <= 0 {
		target = max(keep.Instances, drop.Instances)
	}
	if err := d.scale(ctx, keep.ID, target); err != nil {
		return err
	}
	if err := d.waitHealthy(ctx, keep.ID, target); err != nil {
		return err
	}
	return d.delete(ctx, drop.ID)
}

func (d *deployer) waitHealthy(ctx context.Context, id string, n int) error {
	deadline := time.Now().Add(d.o.MaxWait)
	for time.Now().Before(deadline) {
		a, err := d.app(ctx, id)
		if err == nil {
			h := 0
			for _, t := range a.Tasks {
				if t.healthy(len(a.Checks) > 0) {
					h++
				}
			}
			if h >= n {
				d.o.Log.Info("healthy", "app", id, "tasks", h)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(d.o.StepDelay, time.Second)):
		}
	}
	return fmt.Errorf("%s: fewer than %d healthy tasks after %v", id, n, d.o.MaxWait)
}

type row struct {
	svname       string
	status       string
	qcur, scur   int
	pxname, kind string
}

// edgeRows reads every edge's rows of backend; busy when an edge still
// runs more than two processes (a reload draining).
func (d *deployer) edgeRows(ctx context.Context, backend string) ([][]row, bool, error) {
	var all [][]row
	for _, e := range d.o.Edges {
		var pids string
		if err := d.get(ctx, e+"/_haproxy_getpids", &pids); err != nil {
			return nil, false, err
		}
		if len(strings.Fields(pids)) > 2 {
			return nil, true, nil
		}
		var body string
		if err := d.get(ctx, e+"/haproxy?stats;csv", &body); err != nil {
			return nil, false, err
		}
		rows, err := parseCSV(body, backend)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", e, err)
		}
		all = append(all, rows)
	}
	return all, false, nil
}

func parseCSV(body, backend string) ([]row, error) {
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "# ")))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errors.New("empty stats")
	}
	idx := map[string]int{}
	for i, c := range recs[0] {
		idx[c] = i
	}
	need := 0
	for _, c := range []string{"pxname", "svname", "status", "qcur", "scur"} {
		i, ok := idx[c]
		if !ok {
			return nil, fmt.Errorf("stats: no %s column", c)
		}
		need = max(need, i+1)
	}
	var out []row
	for _, rec := range recs[1:] {
		if len(rec) < need || rec[idx["pxname"]] != backend {
			continue
		}
		sv := rec[idx["svname"]]
		if sv == "FRONTEND" || sv == "BACKEND" {
			continue
		}
		q, _ := strconv.Atoi(rec[idx["qcur"]])
		s, _ := strconv.Atoi(rec[idx["scur"]])
		out = append(out, row{svname: sv, status: rec[idx["status"]], qcur: q, scur: s})
	}
	return out, nil
}

// everyEdge reports whether the task's server satisfies ok on every edge.
func everyEdge(edges [][]row, t task, ok func(row) bool) bool {
	names := t.serverNames()
	for _, rows := range edges {
		i := slices.IndexFunc(rows, func(r row) bool { return slices.Contains(names, r.svname) })
		if i < 0 || !ok(rows[i]) {
			return false
		}
	}
	return len(edges) > 0
}

func (d *deployer) apps(ctx context.Context) ([]app, error) {
	var r struct {
		Apps []app `json:"apps"`
	}
	if err := d.call(ctx, "GET", "/v2/apps?embed=apps.tasks", nil, &r); err != nil {
		return nil, err
	}
	return r.Apps, nil
}

func (d *deployer) app(ctx context.Context, id string) (app, error) {
	var r struct {
		App app `json:"app"`
	}
	err := d.call(ctx, "GET", "/v2/apps"+id+"?embed=app.tasks", nil, &r)
	return r.App, err
}

func (d *deployer) servicePortOf(ctx context.Context, id string) (int, error) {
	var r struct {
		App map[string]any `json:"app"`
	}
	if err := d.call(ctx, "GET", "/v2/apps"+id, nil, &r); err != nil {
		return 0, err
	}
	return servicePort(r.App)
}

func (d *deployer) scale(ctx context.Context, id string, n int) error {
	body, _ := json.Marshal(map[string]int{"instances": n})
	if err := d.call(ctx, "PUT", "/v2/apps"+id+"?force=true", body, nil); err != nil {
		return fmt.Errorf("scaling %s to %d: %w", id, n, err)
	}
	return nil
}

func (d *deployer) delete(ctx context.Context, id string) error {
	if err := d.call(ctx, "DELETE", "/v2/apps"+id+"?force=true", nil, nil); err != nil {
		return fmt.Errorf("deleting %s: %w", id, err)
	}
	d.o.Log.Info("deleted", "app", id)
	return nil
}

func (d *deployer) call(ctx context.Context, method, path string, body []byte, out any) error {
	u, err := url.JoinPath(d.o.Marathon, "")
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(u, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := d.o.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (d *deployer) get(ctx context.Context, u string, out *string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	resp, err := d.o.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	*out = string(b)
	return err
}

// servicePort is the app's first service port (portDefinitions, or the
// first port mapping's servicePort).
func servicePort(spec map[string]any) (int, error) {
	if pd, ok := spec["portDefinitions"].([]any); ok && len(pd) > 0 {
		if m, ok := pd[0].(map[string]any); ok {
			if p, ok := m["port"].(float64); ok {
				return checkPort("portDefinitions[0].port", p)
			}
		}
	}
	if pm := portMappings(spec); len(pm) > 0 {
		if m, ok := pm[0].(map[string]any); ok {
			if p, ok := m["servicePort"].(float64); ok {
				return checkPort("portMappings[0].servicePort", p)
			}
		}
	}
	return 0, errors.New("app definition: no service port (portDefinitions[0].port or portMappings[0].servicePort)")
}

func portMappings(spec map[string]any) []any {
	if c, ok := spec["container"].(map[string]any); ok {
		if pm, ok := c["portMappings"].([]any); ok {
			return pm
		}
		if dk, ok := c["docker"].(map[string]any); ok {
			if pm, ok := dk["portMappings"].([]any); ok {
				return pm
			}
		}
	}
	return nil
}

func setServicePort(spec map[string]any, port int) {
	if pd, ok := spec["portDefinitions"].([]any); ok && len(pd) > 0 {
		if m, ok := pd[0].(map[string]any); ok {
			m["port"] = port
			return
		}
	}
	if pm := portMappings(spec); len(pm) > 0 {
		if m, ok := pm[0].(map[string]any); ok {
			m["servicePort"] = port
		}
	}
}

func checkPort(field string, p float64) (int, error) {
	if p < 0 || p > 65535 || p != float64(int(p)) {
		return 0, fmt.Errorf("app definition: %s: %v is not a port", field, p)
	}
	return int(p), nil
}
