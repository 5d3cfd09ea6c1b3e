package runtime

import (
	"context"
	"log/slog"
	"time"
)

// Exit log lines: a burst of exitLogBurst per app, then one per
// exitLogEvery. An app whose command fails at once restarts about ten
// times in its first 20 s of back-off; every exit logged would drown the
// log, none logged hides the crash loop (Marathon only shows it in its UI).
const (
	exitLogBurst = 3
	exitLogEvery = 10 * time.Second
)

// exitLog is a token bucket over one app's exit log lines, counting the
// exits it held back so that the next line can say how many there were.
type exitLog struct {
	tokens   float64
	last     time.Time
	unlogged int
}

// allow reports whether an exit at now gets a log line, and then how many
// exits went unlogged since the previous line.
func (e *exitLog) allow(now time.Time) (bool, int) {
	if e.last.IsZero() {
		e.tokens = exitLogBurst
	} else {
		e.tokens = min(exitLogBurst, e.tokens+float64(now.Sub(e.last))/float64(exitLogEvery))
	}
	e.last = now
	if e.tokens < 1 {
		e.unlogged++
		return false, 0
	}
	e.tokens--
	n := e.unlogged
	e.unlogged = 0
	return true, n
}

// nextLaunchLocked is how long until ar launches a task to replace one
// that ended: 0 at once, -1 when none is due (every instance is there,
// the app is gone, the runtime is stopping).
func (r *Runtime) nextLaunchLocked(ar *appRec, now time.Time) time.Duration {
	if ar == nil || r.closing {
		return -1
	}
	cur := 0
	for _, t := range ar.tasks {
		if !t.killing && t.configVersion == ar.app.VersionInfo.LastConfigChangeAt {
			cur++
		}
	}
	if cur >= ar.app.Instances {
		return -1
	}
	if b := ar.backoff; b != nil {
		if d := b.stamp.Add(b.delay).Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// logExitLocked logs a task's end at a level `sextant up` shows by default
// (a failure as a warning), rate-limited per app: app, task, exit code or
// signal, and when the next launch is due. Kills at shutdown are not
// logged one by one.
func (r *Runtime) logExitLocked(ar *appRec, t *task, st, msg string, ex exitStatus) {
	if r.closing {
		return
	}
	now := time.Now()
	el := r.exitLogs[t.appID]
	if el == nil {
		el = &exitLog{}
		r.exitLogs[t.appID] = el
	}
	ok, unlogged := el.allow(now)
	if !ok {
		return
	}
	attrs := []any{"app", t.appID, "task", t.id, "state", st}
	level, what := slog.LevelWarn, "task failed"
	switch st {
	case stateKilled:
		level, what = slog.LevelInfo, "task killed"
		attrs = append(attrs, "reason", t.killReason)
	case stateFinished:
		level, what = slog.LevelInfo, "task exited"
		attrs = append(attrs, ex.logAttrs()...)
	default:
		attrs = append(attrs, ex.logAttrs()...)
	}
	switch d := r.nextLaunchLocked(ar, now); {
	case d >= 0:
		attrs = append(attrs, "next_launch_in", d.Round(10*time.Millisecond).String())
	case st != stateKilled:
		// A killed task is often replaced before its process is gone;
		// only a failure or an exit needs saying that none follows.
		attrs = append(attrs, "next_launch_in", "none")
	}
	if unlogged > 0 {
		attrs = append(attrs, "unlogged_exits", unlogged)
	}
	attrs = append(attrs, "message", msg)
	r.log.Log(context.Background(), level, what, attrs...)
}
