package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/sextantdc/sextant/internal/marathon"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

const (
	stateStaging  = "TASK_STAGING"
	stateStarting = "TASK_STARTING"
	stateRunning  = "TASK_RUNNING"
	stateKilling  = "TASK_KILLING"
	stateKilled   = "TASK_KILLED"
	stateFinished = "TASK_FINISHED"
	stateFailed   = "TASK_FAILED"
	stateError    = "TASK_ERROR"
)

// maxStatuses bounds a task's status history (health flips add statuses).
const maxStatuses = 20

type task struct {
	id, instanceID string
	appID          string
	app            *marathon.App // the definition this task runs
	version        string
	configVersion  string
	state          string
	ports          marathon.TaskPorts
	stagedAt       time.Time
	startedAt      time.Time // also when it became RUNNING: there is no wait in between
	statuses       []state.Status
	sandbox        string
	pid            int
	killing        bool
	killReason     string
	health         []*hcState
	healthy        *bool // last published aggregate
	cancel         context.CancelFunc
	done           chan struct{}
	// ip and network are the task's container network address and name
	// ("" on the agent's network).
	ip, network string
}

// ready is "counts for a deployment": running, and healthy when the app
// has health checks.
func (t *task) ready(a *marathon.App) bool {
	if t.state != stateRunning || t.killing {
		return false
	}
	if len(a.HealthChecks) == 0 {
		return true
	}
	h := t.aggregateHealth()
	return h != nil && *h
}

// aggregateHealth is nil until every check has a result, then whether all
// of them are alive.
func (t *task) aggregateHealth() *bool {
	if len(t.health) == 0 {
		return nil
	}
	all := true
	for _, h := range t.health {
		if !h.hasResult {
			return nil
		}
		all = all && h.alive
	}
	return &all
}

func (r *Runtime) addStatus(t *task, st string, healthy *bool, msg string) {
	s := state.Status{State: st, Timestamp: float64(time.Now().UnixNano()) / 1e9, Healthy: healthy}
	if st == stateRunning || st == stateKilling {
		s.ContainerStatus = &state.ContainerStatus{NetworkInfos: []state.NetworkInfo{{
			Name: t.network, IPAddresses: []state.IPAddress{{Protocol: "IPv4", IPAddress: r.taskIP(t)}}}}}
	}
	t.statuses = append(t.statuses, s)
	if len(t.statuses) > maxStatuses {
		t.statuses = append([]state.Status(nil), t.statuses[len(t.statuses)-maxStatuses:]...)
	}
	t.state = st
	r.bus.Publish("status_update_event", r.statusEvent(t, msg))
	r.bus.Publish("instance_changed_event", map[string]any{"instanceId": t.instanceID, "condition": condition(st),
		"runSpecId": t.appID, "agentId": r.ident.agentID(), "host": r.cfg.Hostname, "runSpecVersion": t.version})
}

func condition(st string) string {
	switch st {
	case stateStaging:
		return "Staging"
	case stateStarting:
		return "Starting"
	case stateRunning:
		return "Running"
	case stateKilling:
		return "Killing"
	case stateKilled:
		return "Killed"
	case stateFinished:
		return "Finished"
	case stateFailed:
		return "Failed"
	case stateError:
		return "Error"
	}
	return "Unknown"
}

// hostPorts are the host ports the task holds (port mappings without one
// are left out), never nil: the APIs render an empty list.
func (t *task) hostPorts() []int {
	ports := []int{}
	for _, p := range t.ports {
		if p > 0 {
			ports = append(ports, p)
		}
	}
	return ports
}

func (r *Runtime) statusEvent(t *task, msg string) map[string]any {
	ports := t.hostPorts()
	return map[string]any{"slaveId": r.ident.agentID(), "taskId": t.id, "taskStatus": t.state, "message": msg,
		"appId": t.appID, "host": r.cfg.Hostname, "ipAddresses": []map[string]string{{"ipAddress": r.taskIP(t), "protocol": "IPv4"}},
		"ports": ports, "version": t.version}
}

// launchLocked starts one new task of ar. The task is published as
// STAGING, then its process is started.
func (r *Runtime) launchLocked(ar *appRec) (*task, error) {
	a := ar.app
	ports, err := r.allocatePorts(a)
	if err != nil {
		return nil, err
	}
	inst := marathon.NewInstanceID(a.ID)
	t := &task{id: marathon.TaskID(inst, 1), instanceID: inst, appID: a.ID, app: a, version: a.Version,
		configVersion: a.VersionInfo.LastConfigChangeAt, ports: ports, stagedAt: time.Now(), done: make(chan struct{})}
	t.sandbox = filepath.Join(r.cfg.StateDir, "tasks", t.id)
	for _, p := range ports {
		if p > 0 {
			r.usedHost[p] = t.id
		}
	}
	ar.tasks[t.id] = t
	r.m.launched.Inc()
	r.addStatus(t, stateStaging, nil, "")
	if ar.backoff != nil {
		ar.backoff.stamp = time.Now()
	}
	if err := r.startProcess(t); err != nil {
		close(t.done)
		r.finishLocked(ar, t, stateFailed, "Failed to launch: "+err.Error(), exitStatus{err: err})
		return t, nil
	}
	r.addStatus(t, stateStarting, nil, "")
	t.startedAt = time.Now()
	r.addStatus(t, stateRunning, nil, "")
	r.startHealthChecks(t)
	return t, nil
}

func (r *Runtime) startProcess(t *task) error {
	if err := os.MkdirAll(t.sandbox, 0o755); err != nil {
		return err
	}
	stdout, err := os.OpenFile(filepath.Join(t.sandbox, "stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	stderr, err := os.OpenFile(filepath.Join(t.sandbox, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		stdout.Close()
		return err
	}
	a := t.app
	var cmd *exec.Cmd
	if a.Cmd != "" {
		cmd = exec.Command("/bin/sh", "-c", a.Cmd)
	} else if len(a.Args) > 0 {
		cmd = exec.Command(a.Args[0], a.Args[1:]...)
	} else {
		stdout.Close()
		stderr.Close()
		return errors.New("app has neither cmd nor args (container images are not supported by this runtime)")
	}
	env := os.Environ()
	env = append(env, marathon.Env(a, marathon.EnvInput{TaskID: t.id, Host: r.cfg.Hostname, Ports: t.ports, Sandbox: t.sandbox})...)
	cmd.Env = env
	cmd.Dir = t.sandbox
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Its own process group, so that a kill reaches every process the task
	// started, and a Ctrl-C on the terminal reaches only sextant, which
	// then stops the tasks with their grace period.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	joined, err := r.joinNetwork(t)
	if err == nil {
		if joined != nil {
			err = joined.Enter(cmd.Start)
		} else {
			err = cmd.Start()
		}
	}
	if err != nil {
		r.leaveNetwork(t)
		stdout.Close()
		stderr.Close()
		return err
	}
	stdout.Close()
	stderr.Close()
	t.pid = cmd.Process.Pid
	// The pid file lets a later start reap the group if sextant itself
	// died without stopping its tasks.
	_ = os.WriteFile(filepath.Join(t.sandbox, "pid"), []byte(strconv.Itoa(t.pid)), 0o644)
	r.tasks.Add(1)
	go r.wait(t, cmd)
	return nil
}

// wait reaps the task's process, clears the rest of its group, and records
// the terminal state.
func (r *Runtime) wait(t *task, cmd *exec.Cmd) {
	defer r.tasks.Done()
	err := cmd.Wait()
	// Whatever the leader left behind in its group goes with it.
	_ = syscall.Kill(-t.pid, syscall.SIGKILL)
	_ = os.Remove(filepath.Join(t.sandbox, "pid"))
	r.leaveNetwork(t)
	r.mu.Lock()
	defer r.mu.Unlock()
	close(t.done)
	if t.cancel != nil {
		t.cancel()
	}
	ex := exitOf(err)
	st, msg := stateFinished, "Command exited with status 0"
	if t.killing {
		st, msg = stateKilled, "Command terminated with signal ("+t.killReason+")"
	} else if err != nil {
		st, msg = stateFailed, "Command "+ex.text()
	}
	ar := r.apps[t.appID]
	r.finishLocked(ar, t, st, msg, ex)
	r.publishLocked()
	r.poke()
}

// exitStatus is how a task's process ended: its exit code, the signal
// that ended it, or the error that kept it from starting or being waited
// for.
type exitStatus struct {
	code   int
	signal string
	err    error
}

func exitOf(err error) exitStatus {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return exitStatus{code: -1, signal: ws.Signal().String()}
		}
		return exitStatus{code: ee.ExitCode()}
	}
	if err != nil {
		return exitStatus{code: -1, err: err}
	}
	return exitStatus{}
}

// text is Mesos' wording after "Command ".
func (e exitStatus) text() string {
	switch {
	case e.signal != "":
		return "terminated with signal " + e.signal
	case e.err != nil:
		return e.err.Error()
	}
	return "exited with status " + strconv.Itoa(e.code)
}

// logAttrs are the exit's log attributes.
func (e exitStatus) logAttrs() []any {
	switch {
	case e.signal != "":
		return []any{"signal", e.signal}
	case e.err != nil:
		return []any{"err", e.err.Error()}
	}
	return []any{"exit_code", e.code}
}

// finishLocked records a terminal state: status, back-off, bookkeeping,
// the sandbox kept or pruned, and a log line. ar may be nil when the app
// was deleted meanwhile.
func (r *Runtime) finishLocked(ar *appRec, t *task, st, msg string, ex exitStatus) {
	defer r.logExitLocked(ar, t, st, msg, ex)
	r.addStatus(t, st, nil, msg)
	for _, p := range t.ports {
		if r.usedHost[p] == t.id {
			delete(r.usedHost, p)
		}
	}
	r.m.terminal.WithLabelValues(st).Inc()
	// Re-render once the task's linger is over, so that it leaves the
	// state even when nothing else changes.
	r.lingerUntil = time.Now().Add(terminalLinger + 100*time.Millisecond)
	r.completed = append(r.completed, t)
	if len(r.completed) > 1000 {
		r.completed = r.completed[1:]
	}
	r.retainSandboxLocked(t)
	if ar == nil || ar.tasks[t.id] != t {
		return
	}
	delete(ar.tasks, t.id)
	if st != stateKilled {
		a := ar.app
		ar.lastErr = &taskFailure{AppID: a.ID, Host: r.cfg.Hostname, Message: msg, State: st, TaskID: t.id,
			Timestamp: marathon.Timestamp(time.Now()), Version: t.version, SlaveID: r.ident.agentID()}
		// Back-off (B.9): a failure or a clean exit of the current
		// config version grows the delay.
		if t.configVersion == a.VersionInfo.LastConfigChangeAt {
			maxD := time.Duration(a.MaxLaunchDelaySeconds) * time.Second
			if ar.backoff == nil {
				d := time.Duration(a.BackoffSeconds) * time.Second
				ar.backoff = &backoff{configVersion: t.configVersion, delay: min(d, maxD)}
			} else {
				ar.backoff.delay = min(time.Duration(float64(ar.backoff.delay)*a.BackoffFactor), maxD)
			}
			ar.backoff.stamp = time.Now()
		}
	}
	if len(ar.tasks) == 0 && ar.app.Instances == 0 {
		r.bus.Publish("app_terminated_event", map[string]any{"appId": ar.app.ID})
	}
}

// killLocked starts killing a task: TASK_KILLING, SIGTERM to its group,
// SIGKILL after the grace period (the app's taskKillGracePeriodSeconds,
// default 3 s, capped by maxGrace when > 0).
func (r *Runtime) killLocked(t *task, maxGrace time.Duration, reason string) {
	if t.killing {
		return
	}
	t.killing = true
	t.killReason = reason
	if t.pid == 0 {
		return
	}
	grace := 3 * time.Second
	if g := t.app.TaskKillGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if maxGrace > 0 && grace > maxGrace {
		grace = maxGrace
	}
	r.addStatus(t, stateKilling, t.healthy, "")
	_ = syscall.Kill(-t.pid, syscall.SIGTERM)
	pid, done := t.pid, t.done
	go func() {
		select {
		case <-done:
		case <-time.After(grace):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}()
}

// retainSandboxLocked counts t's sandbox among its app's finished ones
// and removes the oldest beyond KeepSandboxes.
func (r *Runtime) retainSandboxLocked(t *task) {
	kept := append(r.finished[t.appID], t.sandbox)
	for len(kept) > r.cfg.KeepSandboxes {
		_ = os.RemoveAll(kept[0])
		kept = kept[1:]
	}
	r.finished[t.appID] = kept
}

// pruneSandboxes keeps the newest keep task sandboxes of each app from
// earlier runs and removes the rest, so the state directory does not grow
// without bound. It returns the kept ones by app id, oldest first. A
// directory whose name is not a task id counts as an app of its own.
func pruneSandboxes(dir string, keep int) map[string][]string {
	kept := map[string][]string{}
	entries, err := os.ReadDir(filepath.Join(dir, "tasks"))
	if err != nil {
		return kept
	}
	type ent struct {
		path string
		mod  time.Time
	}
	byApp := map[string][]ent{}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !e.IsDir() {
			continue
		}
		app := e.Name()
		if p, err := marathon.ParseTaskID(e.Name()); err == nil {
			app = p.AppID
		}
		byApp[app] = append(byApp[app], ent{filepath.Join(dir, "tasks", e.Name()), info.ModTime()})
	}
	for app, es := range byApp {
		sort.Slice(es, func(i, j int) bool { return es[i].mod.After(es[j].mod) })
		for i, e := range es {
			if i >= keep {
				_ = os.RemoveAll(e.path)
			}
		}
		es = es[:min(keep, len(es))]
		for i := len(es) - 1; i >= 0; i-- {
			kept[app] = append(kept[app], es[i].path)
		}
	}
	return kept
}

// reapStale kills process groups of tasks a previous run left behind
// (sextant killed without stopping them). A group is killed only when its
// leader still carries that task's MESOS_TASK_ID, so a recycled pid of an
// unrelated process is never touched.
func reapStale(dir string, log interface{ Warn(string, ...any) }) {
	pids, _ := filepath.Glob(filepath.Join(dir, "tasks", "*", "pid"))
	for _, f := range pids {
		b, err := os.ReadFile(f)
		_ = os.Remove(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
		if err != nil || pid <= 1 {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue
		}
		want := []byte("MESOS_TASK_ID=" + filepath.Base(filepath.Dir(f)) + "\x00")
		if bytes.Contains(env, want) {
			log.Warn("killing a task left over by a previous run", "pid", pid, "task", filepath.Base(filepath.Dir(f)))
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}
