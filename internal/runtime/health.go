package runtime

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/sextantdc/sextant/internal/marathon"
)

type hcState struct {
	hc                  marathon.HealthCheck
	hasResult           bool
	alive               bool
	everHealthy         bool
	consecutiveFailures int
	firstSuccess        time.Time
	lastSuccess         time.Time
	lastFailure         time.Time
	lastFailureCause    string
}

type probeResult struct {
	ok      bool
	ignored bool // HTTP 1xx with ignoreHttp1xx
	cause   string
}

func (r *Runtime) startHealthChecks(t *task) {
	if len(t.app.HealthChecks) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	for i, hc := range t.app.HealthChecks {
		h := &hcState{hc: hc}
		t.health = append(t.health, h)
		target, err := r.probeTarget(t, hc)
		go r.runCheck(ctx, t, i, h.hc, target, err)
	}
}

// probeTarget resolves the port a check probes: the literal port, or the
// host port of portIndex (the container port when the mapping has none).
func (r *Runtime) probeTarget(t *task, hc marathon.HealthCheck) (string, error) {
	if hc.Protocol == "COMMAND" {
		return "", nil
	}
	port := 0
	switch {
	case hc.Port != nil:
		port = *hc.Port
	case hc.PortIndex != nil:
		i := *hc.PortIndex
		if i < len(t.ports) && t.ports[i] > 0 {
			port = t.ports[i]
		} else if t.app.Container != nil && i < len(t.app.Container.PortMappings) {
			port = t.app.Container.PortMappings[i].ContainerPort
		}
	}
	if port <= 0 {
		return "", fmt.Errorf("health check has no port")
	}
	return net.JoinHostPort(r.cfg.IP, strconv.Itoa(port)), nil
}

func (r *Runtime) runCheck(ctx context.Context, t *task, idx int, hc marathon.HealthCheck, target string, terr error) {
	interval := time.Duration(hc.IntervalSeconds) * time.Second
	first := min(interval, 5*time.Second)
	if hc.IsMesos() {
		first = time.Duration(hc.DelaySeconds) * time.Second
	}
	timer := time.NewTimer(first)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		var res probeResult
		if terr != nil {
			res = probeResult{cause: terr.Error()}
		} else {
			res = r.probe(ctx, t, hc, target)
		}
		if ctx.Err() != nil {
			return
		}
		r.healthResult(t, idx, res)
		timer.Reset(interval)
	}
}

func (r *Runtime) probe(ctx context.Context, t *task, hc marathon.HealthCheck, target string) probeResult {
	timeout := time.Duration(hc.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch hc.Protocol {
	case "TCP", "MESOS_TCP":
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", target)
		if err != nil {
			return probeResult{cause: err.Error()}
		}
		c.Close()
		return probeResult{ok: true}
	case "HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS":
		scheme := "http"
		if hc.Protocol == "HTTPS" || hc.Protocol == "MESOS_HTTPS" {
			scheme = "https"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+target+hc.Path, nil)
		if err != nil {
			return probeResult{cause: err.Error()}
		}
		// Marathon does not verify certificates of HTTPS checks.
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		cl := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := cl.Do(req)
		if err != nil {
			return probeResult{cause: err.Error()}
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 100 && resp.StatusCode < 200 && hc.IgnoreHTTP1xx && !hc.IsMesos():
			return probeResult{ignored: true}
		case resp.StatusCode >= 200 && resp.StatusCode < 400:
			return probeResult{ok: true}
		}
		return probeResult{cause: "HTTP status " + strconv.Itoa(resp.StatusCode)}
	case "COMMAND":
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", hc.Command.Value)
		cmd.Dir = t.sandbox
		cmd.Env = append(os.Environ(), marathon.Env(t.app, marathon.EnvInput{TaskID: t.id, Host: r.cfg.Hostname, Ports: t.ports, Sandbox: t.sandbox})...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		if err := cmd.Run(); err != nil {
			return probeResult{cause: "command: " + err.Error()}
		}
		return probeResult{ok: true}
	}
	return probeResult{cause: "unsupported protocol " + hc.Protocol}
}

// healthResult applies one probe result with Marathon's semantics
// (Marathon-level checks) or Mesos' (MESOS_* and COMMAND).
func (r *Runtime) healthResult(t *task, idx int, res probeResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.killing || t.state != stateRunning || idx >= len(t.health) {
		return
	}
	h := t.health[idx]
	hc := h.hc
	now := time.Now()
	if res.ignored {
		return
	}
	if res.ok {
		r.m.probes.WithLabelValues(hc.Protocol, "success").Inc()
		wasAlive := h.hasResult && h.alive
		if h.firstSuccess.IsZero() {
			h.firstSuccess = now
		}
		h.lastSuccess, h.alive, h.hasResult, h.everHealthy, h.consecutiveFailures = now, true, true, true, 0
		if !wasAlive {
			r.publishHealthChange(t, true)
		}
		r.healthChangedLocked(t)
		return
	}
	r.m.probes.WithLabelValues(hc.Protocol, "failure").Inc()
	grace := time.Duration(hc.GracePeriodSeconds) * time.Second
	if !h.everHealthy && now.Sub(t.startedAt) < grace {
		return // grace period: not counted, no events
	}
	kill := false
	if hc.IsMesos() {
		// Mesos kills after consecutive_failures failures (0: the first).
		kill = h.consecutiveFailures+1 >= hc.MaxConsecutiveFailures
	} else {
		// Marathon kills when the count already recorded reaches the
		// maximum, i.e. on the (max+1)-th consecutive failure.
		kill = hc.MaxConsecutiveFailures > 0 && h.consecutiveFailures >= hc.MaxConsecutiveFailures
	}
	wasAlive := !h.hasResult || h.alive
	h.consecutiveFailures++
	h.lastFailure, h.lastFailureCause, h.alive, h.hasResult = now, res.cause, false, true
	r.bus.Publish("failed_health_check_event", map[string]any{"appId": t.appID, "taskId": t.instanceID,
		"instanceId": t.instanceID, "version": t.version, "healthCheck": hc})
	if wasAlive {
		r.publishHealthChange(t, false)
	}
	r.healthChangedLocked(t)
	if kill {
		r.log.Info("killing unhealthy task", "task", t.id, "cause", res.cause)
		r.bus.Publish("unhealthy_instance_kill_event", map[string]any{"appId": t.appID, "taskId": t.id,
			"instanceId": t.instanceID, "version": t.version, "reason": res.cause, "host": r.cfg.Hostname, "slaveId": r.ident.agentID()})
		r.killLocked(t, 0, "unhealthy")
		r.publishLocked()
		r.poke()
	}
}

// publishHealthChange announces a check of t turning alive or not, in
// Marathon's two event generations.
func (r *Runtime) publishHealthChange(t *task, alive bool) {
	r.bus.Publish("health_status_changed_event", map[string]any{"appId": t.appID, "instanceId": t.instanceID,
		"taskId": t.id, "version": t.version, "alive": alive})
	r.bus.Publish("instance_health_changed_event", map[string]any{"instanceId": t.instanceID, "runSpecId": t.appID,
		"runSpecVersion": t.version, "healthy": alive})
}

// healthChangedLocked publishes a new RUNNING status when the task's
// aggregate health flips (Mesos' TASK_UPDATED with healthy set), for
// Mesos-level checks always and for Marathon-level ones when configured.
func (r *Runtime) healthChangedLocked(t *task) {
	agg := t.aggregateHealth()
	publish := r.cfg.PublishHealth
	for _, h := range t.health {
		if h.hc.IsMesos() {
			publish = true
		}
	}
	if !publish || agg == nil {
		return
	}
	if t.healthy != nil && *t.healthy == *agg {
		return
	}
	t.healthy = agg
	r.addStatus(t, stateRunning, agg, "")
	r.publishLocked()
	r.poke()
}
