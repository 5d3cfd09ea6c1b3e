package runtime

import (
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/marathon"
)

// Action is one deployment step action.
type Action struct {
	Action string `json:"action"`
	App    string `json:"app"`
}

// Deployment is a running deployment (Marathon's deployment plan).
type Deployment struct {
	ID           string
	Version      string
	AffectedApps []string
	Steps        [][]Action
	CurrentStep  int // 1-based
	stopTasks    []*task
}

func (d *Deployment) steps() []map[string]any {
	steps := []map[string]any{}
	for _, s := range d.Steps {
		steps = append(steps, map[string]any{"actions": s})
	}
	return steps
}

func (d *Deployment) plan() map[string]any {
	return map[string]any{"id": d.ID, "version": d.Version, "steps": d.steps()}
}

func (d *Deployment) current() map[string]any {
	i := d.CurrentStep - 1
	if i < 0 || i >= len(d.Steps) {
		i = len(d.Steps) - 1
	}
	return map[string]any{"actions": d.Steps[i]}
}

// JSON is the deployment as GET /v2/deployments renders it.
func (d *Deployment) JSON() map[string]any {
	cur := []map[string]any{}
	if i := d.CurrentStep - 1; i >= 0 && i < len(d.Steps) {
		for _, a := range d.Steps[i] {
			cur = append(cur, map[string]any{"action": a.Action, "app": a.App, "readinessCheckResults": []any{}})
		}
	}
	return map[string]any{"id": d.ID, "version": d.Version, "affectedApps": d.AffectedApps, "affectedPods": []string{},
		"steps": d.steps(), "currentActions": cur, "currentStep": d.CurrentStep, "totalSteps": len(d.Steps)}
}

// Result is what a state-changing call returns besides the app.
type Result struct {
	Version      string
	DeploymentID string
	Created      bool
}

func (r *Runtime) newDeploymentLocked(version string, app string, steps ...string) *Deployment {
	d := &Deployment{ID: marathon.NewUUID(), Version: version, AffectedApps: []string{app}, CurrentStep: 1}
	for _, s := range steps {
		d.Steps = append(d.Steps, []Action{{Action: s, App: app}})
	}
	r.deployments[d.ID] = d
	r.depOrder = append(r.depOrder, d.ID)
	if ar := r.apps[app]; ar != nil {
		ar.depID = d.ID
	}
	r.bus.Publish("deployment_info", map[string]any{"plan": d.plan(), "currentStep": d.current()})
	// Start and stop steps take effect at once; the remaining step
	// finishes when the app has converged.
	for d.CurrentStep < len(d.Steps) {
		r.bus.Publish("deployment_step_success", map[string]any{"plan": d.plan(), "currentStep": d.current()})
		d.CurrentStep++
		r.bus.Publish("deployment_info", map[string]any{"plan": d.plan(), "currentStep": d.current()})
	}
	return d
}

func (r *Runtime) removeDeploymentLocked(id string, ok bool, reason string) {
	d := r.deployments[id]
	if d == nil {
		return
	}
	delete(r.deployments, id)
	for i, x := range r.depOrder {
		if x == id {
			r.depOrder = append(r.depOrder[:i:i], r.depOrder[i+1:]...)
			break
		}
	}
	for _, app := range d.AffectedApps {
		if ar := r.apps[app]; ar != nil && ar.depID == id {
			ar.depID = ""
		}
	}
	if ok {
		r.bus.Publish("deployment_step_success", map[string]any{"plan": d.plan(), "currentStep": d.current()})
		r.bus.Publish("deployment_success", map[string]any{"id": d.ID, "plan": d.plan()})
	} else {
		r.bus.Publish("deployment_failed", map[string]any{"id": d.ID, "plan": d.plan(), "reason": reason})
	}
}

// progressDeployments finishes deployments whose apps have converged.
func (r *Runtime) progressDeployments() bool {
	changed := false
	for _, id := range append([]string(nil), r.depOrder...) {
		d := r.deployments[id]
		if d.stopTasks != nil {
			done := true
			for _, t := range d.stopTasks {
				select {
				case <-t.done:
				default:
					done = false
				}
			}
			if done {
				r.removeDeploymentLocked(id, true, "")
				changed = true
			}
			continue
		}
		ar := r.apps[d.AffectedApps[0]]
		if ar == nil {
			r.removeDeploymentLocked(id, false, "app removed")
			changed = true
			continue
		}
		a := ar.app
		ready := 0
		converged := true
		for _, t := range ar.tasks {
			if t.configVersion != a.VersionInfo.LastConfigChangeAt {
				converged = false
				break
			}
			if !t.killing && t.ready(a) {
				ready++
			}
		}
		if converged && ready == a.Instances && len(ar.tasks) == a.Instances {
			r.removeDeploymentLocked(id, true, "")
			changed = true
		}
	}
	return changed
}

// takeOverLocked makes way for a new deployment of ar: a running one
// locks the app (409) unless force cancels it, for reason.
func (r *Runtime) takeOverLocked(ar *appRec, force bool, reason string) error {
	if ar.depID == "" {
		return nil
	}
	if !force {
		return lockedError(ar.depID)
	}
	r.removeDeploymentLocked(ar.depID, false, reason)
	return nil
}

func lockedError(depID string) error {
	return &marathon.Error{Status: http.StatusConflict, Deployments: []string{depID},
		Message: "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/" + depID + "'."}
}

func notFound(id string) error {
	return &marathon.Error{Status: http.StatusNotFound, Message: "App '" + id + "' does not exist"}
}

// groupConflict reports an id that equals a group of existing apps or lies
// under an existing app.
func (r *Runtime) groupConflict(id string) bool {
	for other := range r.apps {
		if strings.HasPrefix(other, id+"/") || strings.HasPrefix(id, other+"/") {
			return true
		}
	}
	return false
}

// Origin names the API client of a change, for api_post_event; nil for
// changes that do not come from the app API.
type Origin struct {
	ClientIP, URI string
}

func (r *Runtime) apiPostLocked(o *Origin, a *marathon.App) {
	if o != nil {
		r.bus.Publish("api_post_event", map[string]any{"clientIp": o.ClientIP, "uri": o.URI, "appDefinition": a})
	}
}

// CreateApp adds a new app (POST /v2/apps). It returns the definition as
// submitted (service ports still 0, as Marathon answers) and the result.
func (r *Runtime) CreateApp(a *marathon.App, o *Origin) (*marathon.App, Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.createLocked(a, o)
}

func (r *Runtime) createLocked(a *marathon.App, o *Origin) (*marathon.App, Result, error) {
	if r.closing {
		return nil, Result{}, marathon.Errorf(http.StatusServiceUnavailable, "Runtime is shutting down")
	}
	if _, ok := r.apps[a.ID]; ok {
		return nil, Result{}, marathon.Errorf(http.StatusConflict, "An app with id [%s] already exists.", a.ID)
	}
	if err := supported(a); err != nil {
		return nil, Result{}, err
	}
	if r.groupConflict(a.ID) {
		return nil, Result{}, &marathon.Error{Status: http.StatusUnprocessableEntity, Message: "Object is not valid",
			Details: []marathon.Violation{{Path: "/", Errors: []string{"Groups and Applications may not have the same identifier."}}}}
	}
	now := marathon.Timestamp(time.Now())
	a.Version = now
	a.VersionInfo = &marathon.VersionInfo{LastScalingAt: now, LastConfigChangeAt: now}
	submitted := a.Clone()
	if err := r.assignServicePorts(a, nil); err != nil {
		return nil, Result{}, err
	}
	r.apps[a.ID] = &appRec{app: a, tasks: map[string]*task{}}
	_ = r.saveLocked()
	r.apiPostLocked(o, submitted)
	d := r.newDeploymentLocked(now, a.ID, "StartApplication", "ScaleApplication")
	r.bus.Publish("group_change_success", map[string]any{"groupId": parentGroup(a.ID), "version": now})
	r.publishLocked()
	r.poke()
	return submitted, Result{Version: now, DeploymentID: d.ID, Created: true}, nil
}

// supported rejects what this runtime cannot run (422, as Marathon
// rejects what its cluster cannot offer).
func supported(a *marathon.App) error {
	if a.Container != nil && a.Container.Docker != nil && a.Container.Docker.Image != "" {
		return &marathon.Error{Status: http.StatusUnprocessableEntity, Message: "Object is not valid",
			Details: []marathon.Violation{{Path: "/container", Errors: []string{"container images are not supported by this runtime"}}}}
	}
	return nil
}

func parentGroup(id string) string {
	i := strings.LastIndexByte(id, '/')
	if i <= 0 {
		return "/"
	}
	return id[:i]
}

// UpdateApp replaces an app's definition (PUT), creating it when absent.
// A change of instances only is a scale (tasks kept); any other change is
// a new config version (tasks replaced per upgradeStrategy).
func (r *Runtime) UpdateApp(a *marathon.App, force bool, o *Origin) (*marathon.App, Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ar, ok := r.apps[a.ID]
	if !ok {
		return r.createLocked(a, o)
	}
	if err := supported(a); err != nil {
		return nil, Result{}, err
	}
	if err := r.takeOverLocked(ar, force, "canceled by a forced update"); err != nil {
		return nil, Result{}, err
	}
	prev := ar.app
	now := marathon.Timestamp(time.Now())
	a.VersionInfo = &marathon.VersionInfo{LastScalingAt: now, LastConfigChangeAt: prev.VersionInfo.LastConfigChangeAt}
	a.Version = now
	if err := r.assignServicePorts(a, prev); err != nil {
		return nil, Result{}, err
	}
	step := "ScaleApplication"
	if !sameConfig(prev, a) {
		a.VersionInfo.LastConfigChangeAt = now
		step = "RestartApplication"
	}
	ar.app = a
	_ = r.saveLocked()
	r.apiPostLocked(o, a)
	d := r.newDeploymentLocked(now, a.ID, step)
	r.bus.Publish("group_change_success", map[string]any{"groupId": parentGroup(a.ID), "version": now})
	r.publishLocked()
	r.poke()
	return a, Result{Version: now, DeploymentID: d.ID}, nil
}

// sameConfig reports whether two definitions differ only in instances and
// versions.
func sameConfig(x, y *marathon.App) bool {
	a, b := x.Clone(), y.Clone()
	a.Instances, b.Instances = 0, 0
	a.Version, b.Version = "", ""
	a.VersionInfo, b.VersionInfo = nil, nil
	return reflect.DeepEqual(a, b)
}

// DeleteApp removes an app and kills its tasks (force is Marathon's
// default for DELETE: a running deployment is canceled).
func (r *Runtime) DeleteApp(id string, force bool) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ar, ok := r.apps[id]
	if !ok {
		return Result{}, notFound(id)
	}
	if err := r.takeOverLocked(ar, force, "canceled by app deletion"); err != nil {
		return Result{}, err
	}
	delete(r.apps, id)
	_ = r.saveLocked()
	now := marathon.Timestamp(time.Now())
	// Never nil, even without tasks: a non-nil stopTasks is what marks a
	// stop deployment, which succeeds once they are gone.
	stop := []*task{}
	for _, t := range ar.tasks {
		r.killLocked(t, 0, "app deleted")
		stop = append(stop, t)
	}
	d := r.newDeploymentLocked(now, id, "StopApplication")
	d.stopTasks = stop
	r.bus.Publish("app_terminated_event", map[string]any{"appId": id})
	r.bus.Publish("group_change_success", map[string]any{"groupId": parentGroup(id), "version": now})
	r.publishLocked()
	r.poke()
	return Result{Version: now, DeploymentID: d.ID}, nil
}

// RestartApp makes a new config version: every task is replaced.
func (r *Runtime) RestartApp(id string, force bool) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ar, ok := r.apps[id]
	if !ok {
		return Result{}, notFound(id)
	}
	if err := r.takeOverLocked(ar, force, "canceled by a forced restart"); err != nil {
		return Result{}, err
	}
	now := marathon.Timestamp(time.Now())
	a := ar.app.Clone()
	a.Version = now
	a.VersionInfo = &marathon.VersionInfo{LastScalingAt: ar.app.VersionInfo.LastScalingAt, LastConfigChangeAt: now}
	ar.app = a
	ar.backoff = nil
	_ = r.saveLocked()
	d := r.newDeploymentLocked(now, id, "RestartApplication")
	r.publishLocked()
	r.poke()
	return Result{Version: now, DeploymentID: d.ID}, nil
}

// KillTask kills one task; with scale the app's instances drop by one.
func (r *Runtime) KillTask(appID, taskID string, scale, force bool) (map[string]any, Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ar, ok := r.apps[appID]
	if !ok {
		return nil, Result{}, notFound(appID)
	}
	var t *task
	if p, err := marathon.ParseTaskID(taskID); err == nil {
		for _, x := range ar.tasks {
			if x.id == taskID || x.instanceID == p.InstanceID {
				t = x
				break
			}
		}
	}
	if t == nil {
		return nil, Result{}, marathon.Errorf(http.StatusNotFound, "Task '%s' does not exist", taskID)
	}
	if !scale {
		view := r.taskJSON(t, false)
		r.killLocked(t, 0, "killed by request")
		r.publishLocked()
		r.poke()
		return view, Result{}, nil
	}
	if err := r.takeOverLocked(ar, force, "canceled by a forced kill"); err != nil {
		return nil, Result{}, err
	}
	now := marathon.Timestamp(time.Now())
	a := ar.app.Clone()
	if a.Instances > 0 {
		a.Instances--
	}
	a.Version = now
	a.VersionInfo = &marathon.VersionInfo{LastScalingAt: now, LastConfigChangeAt: ar.app.VersionInfo.LastConfigChangeAt}
	ar.app = a
	r.killLocked(t, 0, "killed by request (scale)")
	_ = r.saveLocked()
	d := r.newDeploymentLocked(now, appID, "ScaleApplication")
	r.publishLocked()
	r.poke()
	return nil, Result{Version: now, DeploymentID: d.ID}, nil
}

// App returns a copy of one app definition.
func (r *Runtime) App(id string) (*marathon.App, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ar, ok := r.apps[id]
	if !ok {
		return nil, false
	}
	return ar.app.Clone(), true
}

// AppIDs lists the app ids in order.
func (r *Runtime) AppIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sortedAppIDs(r.apps)
}

// ViewOptions says what an app view embeds.
type ViewOptions struct {
	Tasks, LastTaskFailure bool
}

// AppView renders one app as the API shows it, with counts, deployments
// and optional embeds. ok is false for an unknown app.
func (r *Runtime) AppView(id string, o ViewOptions) (map[string]any, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ar, ok := r.apps[id]
	if !ok {
		return nil, false
	}
	return r.appViewLocked(ar, o), true
}

func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]any{}
	}
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	return m
}

func (r *Runtime) appViewLocked(ar *appRec, o ViewOptions) map[string]any {
	m := toMap(ar.app)
	var staged, running, healthy, unhealthy int
	ts := r.sortedTasks(ar)
	for _, t := range ts {
		switch t.state {
		case stateStaging, stateStarting:
			staged++
		case stateRunning:
			running++
			if h := t.aggregateHealth(); h != nil {
				if *h {
					healthy++
				} else {
					unhealthy++
				}
			}
		}
	}
	m["tasksStaged"], m["tasksRunning"], m["tasksHealthy"], m["tasksUnhealthy"] = staged, running, healthy, unhealthy
	deps := []map[string]string{}
	if ar.depID != "" {
		deps = append(deps, map[string]string{"id": ar.depID})
	}
	m["deployments"] = deps
	if o.Tasks {
		tl := []map[string]any{}
		for _, t := range ts {
			tl = append(tl, r.taskJSON(t, false))
		}
		m["tasks"] = tl
	}
	if o.LastTaskFailure && ar.lastErr != nil {
		m["lastTaskFailure"] = ar.lastErr
	}
	return m
}

func (r *Runtime) sortedTasks(ar *appRec) []*task {
	ts := make([]*task, 0, len(ar.tasks))
	for _, t := range ar.tasks {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].stagedAt.Before(ts[j].stagedAt) })
	return ts
}

// AppViews renders every app, filtered by id substring (empty: all).
func (r *Runtime) AppViews(idFilter string, o ViewOptions) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []map[string]any{}
	for _, id := range sortedAppIDs(r.apps) {
		if strings.Contains(id, idFilter) {
			out = append(out, r.appViewLocked(r.apps[id], o))
		}
	}
	return out
}

func tsOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return marathon.Timestamp(t)
}

func (r *Runtime) taskJSON(t *task, withServicePorts bool) map[string]any {
	ports := t.hostPorts()
	hcr := []map[string]any{}
	for _, h := range t.health {
		if !h.hasResult {
			continue
		}
		var cause any
		if h.lastFailureCause != "" {
			cause = h.lastFailureCause
		}
		hcr = append(hcr, map[string]any{"alive": h.alive, "consecutiveFailures": h.consecutiveFailures,
			"firstSuccess": tsOrNil(h.firstSuccess), "lastSuccess": tsOrNil(h.lastSuccess), "lastFailure": tsOrNil(h.lastFailure),
			"lastFailureCause": cause, "instanceId": t.instanceID})
	}
	m := map[string]any{"id": t.id, "appId": t.appID, "host": r.cfg.Hostname, "slaveId": r.ident.agentID(), "state": t.state,
		"ports": ports, "ipAddresses": []map[string]string{{"ipAddress": r.taskIP(t), "protocol": "IPv4"}},
		"stagedAt": tsOrNil(t.stagedAt), "startedAt": tsOrNil(t.startedAt), "version": t.version,
		"healthCheckResults": hcr, "localVolumes": []any{}}
	if withServicePorts {
		sp := t.app.ServicePorts()
		if sp == nil {
			sp = []int{}
		}
		m["servicePorts"] = sp
	}
	return m
}

// Tasks renders the live tasks of one app (ok false: unknown app), or of
// every app when appID is empty, optionally filtered by state.
func (r *Runtime) Tasks(appID string, states []string, withServicePorts bool) ([]map[string]any, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ars []*appRec
	if appID != "" {
		ar, ok := r.apps[appID]
		if !ok {
			return nil, false
		}
		ars = []*appRec{ar}
	} else {
		for _, id := range sortedAppIDs(r.apps) {
			ars = append(ars, r.apps[id])
		}
	}
	want := map[string]bool{}
	for _, s := range states {
		want["TASK_"+strings.ToUpper(s)] = true
	}
	out := []map[string]any{}
	for _, ar := range ars {
		for _, t := range r.sortedTasks(ar) {
			if len(want) > 0 && !want[t.state] {
				continue
			}
			out = append(out, r.taskJSON(t, withServicePorts))
		}
	}
	return out, true
}

// Deployments lists running deployments.
func (r *Runtime) Deployments() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []map[string]any{}
	for _, id := range r.depOrder {
		out = append(out, r.deployments[id].JSON())
	}
	return out
}

// CancelDeployment stops a deployment (DELETE /v2/deployments/{id}?force=true).
func (r *Runtime) CancelDeployment(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.deployments[id]; !ok {
		return marathon.Errorf(http.StatusNotFound, "DeploymentPlan %s does not exist", id)
	}
	r.removeDeploymentLocked(id, false, "canceled")
	return nil
}

// Queue lists apps that still want tasks launched (GET /v2/queue).
func (r *Runtime) Queue() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []map[string]any{}
	now := time.Now()
	for _, id := range sortedAppIDs(r.apps) {
		ar := r.apps[id]
		cur := 0
		for _, t := range ar.tasks {
			if !t.killing && t.configVersion == ar.app.VersionInfo.LastConfigChangeAt {
				cur++
			}
		}
		if cur >= ar.app.Instances {
			continue
		}
		left, overdue := 0, true
		if b := ar.backoff; b != nil {
			if until := b.stamp.Add(b.delay); now.Before(until) {
				left, overdue = int(until.Sub(now).Seconds()+0.999), false
			}
		}
		out = append(out, map[string]any{"app": r.appViewLocked(ar, ViewOptions{}), "count": ar.app.Instances - cur, "role": "*",
			"delay": map[string]any{"timeLeftSeconds": left, "overdue": overdue}, "since": ar.app.VersionInfo.LastConfigChangeAt})
	}
	return out
}

// ResetDelay drops an app's launch back-off (DELETE /v2/queue/{id}/delay).
func (r *Runtime) ResetDelay(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ar, ok := r.apps[id]
	if !ok {
		return notFound(id)
	}
	ar.backoff = nil
	r.poke()
	return nil
}

func sortedAppIDs(m map[string]*appRec) []string {
	return slices.Sorted(maps.Keys(m))
}

// TaskSandbox returns the directory holding a task's stdout and stderr,
// for live and finished tasks alike.
func (r *Runtime) TaskSandbox(taskID string) (string, bool) {
	if taskID == "" || strings.ContainsAny(taskID, "/\\") || taskID == "." || taskID == ".." {
		return "", false
	}
	dir := filepath.Join(r.cfg.StateDir, "tasks", taskID)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", false
	}
	return dir, true
}

// Info is what /v2/info reports about the runtime.
func (r *Runtime) Info() map[string]any {
	return map[string]any{"frameworkId": r.ident.frameworkID(), "hostname": r.cfg.Hostname,
		"local_port_min": r.cfg.ServicePortMin, "local_port_max": r.cfg.ServicePortMax}
}
