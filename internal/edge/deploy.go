package edge

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/model"
)

// app is one app as marathon-lb processes it: possibly the merge of a
// blue/green pair, its id then being the deployment group's.
type app struct {
	id  string
	src *model.App // labels, ports and health checks (the old app's after a merge)
	// tasks are the app's tasks; after a merge the old app's sorted by
	// id, then the new app's.
	tasks []task
}

type task struct {
	t        *model.AppTask
	draining bool
}

const (
	deploymentGroup   = "HAPROXY_DEPLOYMENT_GROUP"
	deploymentStarted = "HAPROXY_DEPLOYMENT_STARTED_AT"
	deploymentNew     = "HAPROXY_DEPLOYMENT_NEW_INSTANCES"
	deploymentTarget  = "HAPROXY_DEPLOYMENT_TARGET_INSTANCES"
	appGroupsLabel    = "HAPROXY_GROUP"
)

// mergeDeployments is the first pass of marathon-lb's get_apps (spec
// §4.6): apps outside a deployment group as they are, then one app per
// HAPROXY_DEPLOYMENT_GROUP, in the order groups first appear. Two apps of
// a group merge into the older one (HAPROXY_DEPLOYMENT_STARTED_AT), its
// tasks first, and the first of its tasks by id are marked draining as the
// new app's healthy tasks take over. A group whose labels cannot be read
// is left out with a problem (marathon-lb raises and stops updating).
func mergeDeployments(apps []model.App) ([]*app, []Problem) {
	var plain []*app
	groups := map[string]*app{}
	var order []string
	broken := map[string]bool{}
	var probs []Problem
	for i := range apps {
		a := &apps[i]
		g, ok := a.Labels[deploymentGroup]
		if !ok {
			plain = append(plain, newApp(a.ID, a))
			continue
		}
		if !strings.HasPrefix(g, "/") {
			g = "/" + g
		}
		if broken[g] {
			continue
		}
		cur := newApp(g, a)
		prev, seen := groups[g]
		if !seen {
			groups[g] = cur
			order = append(order, g)
			continue
		}
		merged, err := mergePair(prev, cur)
		if err != nil {
			broken[g] = true
			probs = append(probs, Problem{App: g, Index: -1, Label: err.label, Reason: err.reason +
				" (apps " + prev.src.ID + " and " + a.ID + " of deployment group " + g + " are left out)"})
			continue
		}
		groups[g] = merged
	}
	out := plain
	for _, g := range order {
		if !broken[g] {
			out = append(out, groups[g])
		}
	}
	return out, probs
}

func newApp(id string, a *model.App) *app {
	out := &app{id: id, src: a, tasks: make([]task, len(a.Tasks))}
	for i := range a.Tasks {
		out.tasks[i] = task{t: &a.Tasks[i]}
	}
	return out
}

// mergePair merges cur into prev (the app merged so far for the group).
func mergePair(prev, cur *app) (*app, *labelError) {
	prevDate, err := startedAt(prev.src)
	if err != nil {
		return nil, err
	}
	curDate, err := startedAt(cur.src)
	if err != nil {
		return nil, err
	}
	old, neu := cur, prev
	if prevDate.Before(curDate) {
		old, neu = prev, cur
	}
	target := int64(1) // quirk: without NEW_INSTANCES the target is 1, not the label
	if _, ok := neu.src.Labels[deploymentNew]; ok {
		// marathon-lb tests int(label != 0), which is always true, so the
		// label's presence alone selects this branch.
		newScale, e1 := parseTime(neu.src.LastScalingAt)
		oldScale, e2 := parseTime(old.src.LastScalingAt)
		if e1 != nil || e2 != nil {
			return nil, &labelError{"versionInfo.lastScalingAt", "a hybrid deployment needs both apps' lastScalingAt"}
		}
		if oldScale.After(newScale) {
			old, neu = neu, old
		}
		v, ok := neu.src.Labels[deploymentTarget]
		if !ok {
			return nil, &labelError{deploymentTarget, "missing on the new app of a hybrid deployment"}
		}
		n, perr := parseInt(v)
		if perr != nil {
			return nil, &labelError{deploymentTarget, perr.Error()}
		}
		target = n
	}
	oldTasks := slices.Clone(old.tasks)
	slices.SortStableFunc(oldTasks, func(a, b task) int { return strings.Compare(a.t.ID, b.t.ID) })

	// Quirk: whether health results count is decided by the health checks
	// of the app being merged in (cur), not of the new one.
	healthyNew := int64(neu.src.Instances)
	if len(cur.src.HealthChecks) > 0 {
		healthyNew = 0
		for _, t := range neu.tasks {
			for _, r := range t.t.HealthResults {
				if r.Alive {
					healthyNew++
					break
				}
			}
		}
	}
	drainable := max(0, healthyNew+int64(old.src.Instances)-target)
	n := min(int64(len(oldTasks)), healthyNew, drainable)
	for i := range n {
		oldTasks[i].draining = true
	}
	return &app{id: old.id, src: old.src, tasks: append(oldTasks, neu.tasks...)}, nil
}

// startedAt is HAPROXY_DEPLOYMENT_STARTED_AT; absent is the earliest
// time, so an app deployed without zdd counts as the old one.
func startedAt(a *model.App) (time.Time, *labelError) {
	v, ok := a.Labels[deploymentStarted]
	if !ok {
		return time.Time{}, nil
	}
	t, err := parseTime(v)
	if err != nil {
		return time.Time{}, &labelError{deploymentStarted, err.Error()}
	}
	return t, nil
}

// parseTime reads the ISO-8601 forms zdd writes and Marathon reports
// (dateutil.parser in marathon-lb). A time without a zone is taken as
// UTC; marathon-lb would fail comparing it with one that has a zone.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05",
		"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04Z07:00",
		"2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not an ISO-8601 time: " + s)
}
