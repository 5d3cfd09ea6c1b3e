package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sextantdc/sextant/internal/app"
)

// marathonFromState reads the Marathon URL from <state dir>/endpoints.json
// and names the file it read.
func marathonFromState(stateDir string) (string, string, error) {
	f := filepath.Join(stateDir, "endpoints.json")
	b, err := os.ReadFile(f)
	if err != nil {
		return "", f, fmt.Errorf("no --marathon URL and no %s (is `sextant up` running? with another state directory, pass --state-dir DIR or set XDG_STATE_HOME as it was): %w", f, err)
	}
	var eps map[string]string
	if err := json.Unmarshal(b, &eps); err != nil || eps["marathon"] == "" {
		return "", f, fmt.Errorf("%s: no \"marathon\" endpoint", f)
	}
	return eps["marathon"], f, nil
}

type marathonClient struct {
	base string
	hc   *http.Client
}

// apiError is a non-2xx answer of the Marathon API.
type apiError struct {
	status int
	body   string
}

func (e *apiError) Error() string {
	var m struct {
		Message string          `json:"message"`
		Details json.RawMessage `json:"details"`
	}
	if json.Unmarshal([]byte(e.body), &m) == nil && m.Message != "" {
		s := fmt.Sprintf("HTTP %d: %s", e.status, m.Message)
		var vs []struct {
			Path   string   `json:"path"`
			Errors []string `json:"errors"`
		}
		if json.Unmarshal(m.Details, &vs) == nil {
			for _, v := range vs {
				s += fmt.Sprintf("\n  %s: %s", v.Path, strings.Join(v.Errors, "; "))
			}
		} else if len(m.Details) > 0 {
			s += ": " + string(m.Details)
		}
		return s
	}
	return fmt.Sprintf("HTTP %d: %s", e.status, strings.TrimSpace(e.body))
}

func (c *marathonClient) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, &apiError{status: resp.StatusCode, body: string(b)}
	}
	return b, nil
}

// appPath escapes an app id for a URL path, keeping its slashes.
func appPath(id string) string {
	var parts []string
	for _, s := range strings.Split(strings.Trim(id, "/"), "/") {
		parts = append(parts, url.PathEscape(s))
	}
	return "/" + strings.Join(parts, "/")
}

func runApp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("app", stdout, stderr)
	stateDir := fs.String("state-dir", app.DefaultStateDir(), "state `DIR` of the sextant up to talk to, for its endpoints.json (default as sextant up's: $XDG_STATE_HOME/sextant, else ~/.local/state/sextant)")
	base := fs.String("marathon", "", "Marathon API `URL` (default: the \"marathon\" key of endpoints.json in --state-dir)")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of tables")
	stream := fs.String("stream", "stdout", "logs: which output of the task, stdout or stderr")
	tail := fs.Int64("tail", -1, "logs: only the last `N` bytes (-1: all)")
	force := fs.Bool("force", false, "scale: override a running deployment")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sextant app [flags] add FILE|- | list | show ID | rm ID | scale ID N | logs TASK")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errUsage
	}
	u := *base
	if u == "" {
		var from string
		if u, from, err = marathonFromState(*stateDir); err != nil {
			return err
		}
		if !*asJSON {
			// Which cluster answered is not obvious when several state
			// directories exist; scripts (--json) get the answer only.
			fmt.Fprintf(stderr, "sextant app: Marathon at %s (from %s)\n", u, from)
		}
	}
	c := &marathonClient{base: strings.TrimRight(u, "/"), hc: &http.Client{Timeout: 30 * time.Second}}
	// Each verb is one API request: what to send, and how to print the
	// answer when --json is not given (nil: as it comes).
	var (
		method, path string
		body         []byte
		render       func(out []byte) error
	)
	nargs := map[string]int{"add": 1, "list": 0, "show": 1, "rm": 1, "scale": 2, "logs": 1}
	if n, ok := nargs[pos[0]]; !ok || len(pos) != n+1 {
		fs.Usage()
		return errUsage
	}
	switch pos[0] {
	case "add":
		if pos[1] == "-" {
			body, err = io.ReadAll(os.Stdin)
		} else {
			body, err = os.ReadFile(pos[1])
		}
		if err != nil {
			return err
		}
		method, path = http.MethodPost, "/v2/apps"
		render = func(out []byte) error {
			var a struct {
				ID          string              `json:"id"`
				Deployments []map[string]string `json:"deployments"`
			}
			_ = json.Unmarshal(out, &a)
			dep := ""
			if len(a.Deployments) > 0 {
				dep = a.Deployments[0]["id"]
			}
			fmt.Fprintf(stdout, "created %s (deployment %s)\n", a.ID, dep)
			return nil
		}
	case "list":
		method, path = http.MethodGet, "/v2/apps?embed=apps.tasks&embed=apps.lastTaskFailure"
		render = func(out []byte) error { return printAppList(stdout, out, c.delays(ctx), time.Now()) }
	case "show":
		method, path = http.MethodGet, "/v2/apps"+appPath(pos[1])+"?embed=app.tasks&embed=app.lastTaskFailure"
		render = func(out []byte) error { return printApp(stdout, out, c.delays(ctx), time.Now()) }
	case "rm":
		method, path = http.MethodDelete, "/v2/apps"+appPath(pos[1])
		render = func(out []byte) error { return printResult(stdout, out, "removed "+pos[1]) }
	case "scale":
		n, err := strconv.Atoi(pos[2])
		if err != nil || n < 0 {
			return fmt.Errorf("scale: instances %q is not a number ≥ 0", pos[2])
		}
		method, path, body = http.MethodPut, "/v2/apps"+appPath(pos[1]), []byte(fmt.Sprintf(`{"instances":%d}`, n))
		if *force {
			path += "?force=true"
		}
		render = func(out []byte) error { return printResult(stdout, out, fmt.Sprintf("scaled %s to %d", pos[1], n)) }
	case "logs":
		q := url.Values{"stream": {*stream}}
		if *tail >= 0 {
			q.Set("tail", strconv.FormatInt(*tail, 10))
		}
		method, path = http.MethodGet, "/sextant/v1/tasks/"+url.PathEscape(pos[1])+"/logs?"+q.Encode()
	}
	out, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if *asJSON || render == nil {
		_, err = stdout.Write(out)
		return err
	}
	return render(out)
}

// launchDelay is an app's entry in /v2/queue: instances waiting to be
// launched, and the back-off before the next launch.
type launchDelay struct {
	Count int `json:"count"`
	Delay struct {
		TimeLeftSeconds int  `json:"timeLeftSeconds"`
		Overdue         bool `json:"overdue"`
	} `json:"delay"`
}

// delays reads /v2/queue by app id. The tables only decorate their rows
// with it, so a failure leaves them without (nil).
func (c *marathonClient) delays(ctx context.Context) map[string]launchDelay {
	out, err := c.do(ctx, http.MethodGet, "/v2/queue", nil)
	if err != nil {
		return nil
	}
	var q struct {
		Queue []struct {
			App struct {
				ID string `json:"id"`
			} `json:"app"`
			launchDelay
		} `json:"queue"`
	}
	if json.Unmarshal(out, &q) != nil {
		return nil
	}
	m := map[string]launchDelay{}
	for _, e := range q.Queue {
		m[e.App.ID] = e.launchDelay
	}
	return m
}

// delayText is the DELAY cell: the back-off left before the next launch.
func delayText(d launchDelay, ok bool) string {
	if !ok || d.Delay.Overdue || d.Delay.TimeLeftSeconds <= 0 {
		return "-"
	}
	return (time.Duration(d.Delay.TimeLeftSeconds) * time.Second).String()
}

func printAppList(w io.Writer, out []byte, delays map[string]launchDelay, now time.Time) error {
	var r struct {
		Apps []appRow `json:"apps"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("decoding /v2/apps: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tINSTANCES\tRUNNING\tHEALTHY\tUNHEALTHY\tSERVICE PORTS\tDEPLOYING\tLAST EXIT\tDELAY\tCMD")
	for _, a := range r.Apps {
		d, ok := delays[a.ID]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%v\t%s\t%s\t%s\n", a.ID, a.Instances, a.TasksRunning, a.TasksHealthy, a.TasksUnhealthy,
			a.servicePorts(), len(a.Deployments) > 0, a.LastTaskFailure.short(now), delayText(d, ok), short(a.Cmd, 40))
	}
	return tw.Flush()
}

func printApp(w io.Writer, out []byte, delays map[string]launchDelay, now time.Time) error {
	var r struct {
		App appRow `json:"app"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("decoding app: %w", err)
	}
	a := r.App
	fmt.Fprintf(w, "id:            %s\ncmd:           %s\ninstances:     %d (running %d, healthy %d, unhealthy %d)\nservice ports: %s\nversion:       %s\n",
		a.ID, a.Cmd, a.Instances, a.TasksRunning, a.TasksHealthy, a.TasksUnhealthy, a.servicePorts(), a.Version)
	if f := a.LastTaskFailure; f != nil {
		fmt.Fprintf(w, "last exit:     %s (%s): task %s %s: %s\n", f.Timestamp, f.ago(now), f.TaskID, f.State, f.Message)
	}
	if d, ok := delays[a.ID]; ok {
		when := "due now"
		if t := delayText(d, true); t != "-" {
			when = "in " + t + " (launch back-off)"
		}
		fmt.Fprintf(w, "next launch:   %s, %d instance(s) waiting\n", when, d.Count)
	}
	if len(a.Labels) > 0 {
		fmt.Fprintln(w, "labels:")
		for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
			fmt.Fprintf(w, "  %s=%s\n", k, a.Labels[k])
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSTATE\tHOST\tPORTS\tHEALTH\tSTARTED")
	for _, t := range a.Tasks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.State, t.Host, ints(t.Ports), t.health(), t.StartedAt)
	}
	return tw.Flush()
}

// taskFailure is Marathon's lastTaskFailure.
type taskFailure struct {
	TaskID    string `json:"taskId"`
	State     string `json:"state"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
}

// ago is how long before now the failure was ("?" when the timestamp
// does not parse).
func (f *taskFailure) ago(now time.Time) string {
	t, err := time.Parse(time.RFC3339Nano, f.Timestamp)
	if err != nil {
		return "?"
	}
	return max(now.Sub(t), 0).Round(time.Second).String() + " ago"
}

// short is the LAST EXIT cell: Mesos' wording ("Command exited with
// status 1", "Command terminated with signal Killed") reduced to the code
// or signal, with its age.
func (f *taskFailure) short(now time.Time) string {
	if f == nil {
		return "-"
	}
	what := f.State
	switch m := f.Message; {
	case strings.HasPrefix(m, "Command exited with status "):
		what = "exit " + strings.TrimPrefix(m, "Command exited with status ")
	case strings.HasPrefix(m, "Command terminated with signal "):
		what = "signal " + strings.Trim(strings.TrimPrefix(m, "Command terminated with signal "), "()")
	case strings.HasPrefix(m, "Failed to launch"):
		what = "launch failed"
	}
	return what + ", " + f.ago(now)
}

// printResult prints what a deployment-starting request did.
func printResult(w io.Writer, out []byte, what string) error {
	var r struct {
		DeploymentID string `json:"deploymentId"`
	}
	_ = json.Unmarshal(out, &r)
	fmt.Fprintf(w, "%s (deployment %s)\n", what, r.DeploymentID)
	return nil
}

type appRow struct {
	ID              string              `json:"id"`
	Cmd             string              `json:"cmd"`
	Instances       int                 `json:"instances"`
	TasksRunning    int                 `json:"tasksRunning"`
	TasksHealthy    int                 `json:"tasksHealthy"`
	TasksUnhealthy  int                 `json:"tasksUnhealthy"`
	Version         string              `json:"version"`
	Labels          map[string]string   `json:"labels"`
	Deployments     []map[string]string `json:"deployments"`
	PortDefinitions []struct {
		Port int `json:"port"`
	} `json:"portDefinitions"`
	Container *struct {
		PortMappings []struct {
			ServicePort int `json:"servicePort"`
		} `json:"portMappings"`
	} `json:"container"`
	Tasks           []taskRow    `json:"tasks"`
	LastTaskFailure *taskFailure `json:"lastTaskFailure"`
}

func (a appRow) servicePorts() string {
	var ps []int
	for _, p := range a.PortDefinitions {
		ps = append(ps, p.Port)
	}
	if a.Container != nil {
		for _, p := range a.Container.PortMappings {
			ps = append(ps, p.ServicePort)
		}
	}
	return ints(ps)
}

type taskRow struct {
	ID                 string `json:"id"`
	State              string `json:"state"`
	Host               string `json:"host"`
	Ports              []int  `json:"ports"`
	StartedAt          string `json:"startedAt"`
	HealthCheckResults []struct {
		Alive bool `json:"alive"`
	} `json:"healthCheckResults"`
}

func (t taskRow) health() string {
	if len(t.HealthCheckResults) == 0 {
		return "-"
	}
	for _, h := range t.HealthCheckResults {
		if !h.Alive {
			return "unhealthy"
		}
	}
	return "healthy"
}

func ints(xs []int) string {
	if len(xs) == 0 {
		return "-"
	}
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// short keeps a table cell on one line and at most n characters.
func short(s string, n int) string {
	r := []rune(strings.ReplaceAll(s, "\n", " "))
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}
