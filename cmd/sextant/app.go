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

// marathonFromState reads the Marathon URL from <state dir>/endpoints.json.
func marathonFromState(stateDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, "endpoints.json"))
	if err != nil {
		return "", fmt.Errorf("no --marathon URL and no endpoints.json in %s (is `sextant up` running?): %w", stateDir, err)
	}
	var eps map[string]string
	if err := json.Unmarshal(b, &eps); err != nil || eps["marathon"] == "" {
		return "", fmt.Errorf("%s: no \"marathon\" endpoint", filepath.Join(stateDir, "endpoints.json"))
	}
	return eps["marathon"], nil
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
	fs := newFlagSet("app", stderr)
	stateDir := fs.String("state-dir", app.DefaultStateDir(), "state `DIR` of sextant up, for its endpoints.json")
	base := fs.String("marathon", "", "Marathon API `URL` (default: the \"marathon\" key of endpoints.json in --state-dir)")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of tables")
	stream := fs.String("stream", "stdout", "logs: which output of the task, stdout or stderr")
	tail := fs.Int64("tail", -1, "logs: only the last `N` bytes (-1: all)")
	force := fs.Bool("force", false, "scale: override a running deployment")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sextant app [flags] add FILE|- | list | show ID | rm ID | scale ID N | logs TASK")
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
		method, path = http.MethodGet, "/v2/apps?embed=apps.tasks"
		render = func(out []byte) error { return printAppList(stdout, out) }
	case "show":
		method, path = http.MethodGet, "/v2/apps"+appPath(pos[1])
		render = func(out []byte) error { return printApp(stdout, out) }
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
	u := *base
	if u == "" {
		if u, err = marathonFromState(*stateDir); err != nil {
			return err
		}
	}
	c := &marathonClient{base: strings.TrimRight(u, "/"), hc: &http.Client{Timeout: 30 * time.Second}}
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

func printAppList(w io.Writer, out []byte) error {
	var r struct {
		Apps []appRow `json:"apps"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("decoding /v2/apps: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tINSTANCES\tRUNNING\tHEALTHY\tUNHEALTHY\tSERVICE PORTS\tDEPLOYING\tCMD")
	for _, a := range r.Apps {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%v\t%s\n", a.ID, a.Instances, a.TasksRunning, a.TasksHealthy, a.TasksUnhealthy,
			a.servicePorts(), len(a.Deployments) > 0, short(a.Cmd, 40))
	}
	return tw.Flush()
}

func printApp(w io.Writer, out []byte) error {
	var r struct {
		App appRow `json:"app"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("decoding app: %w", err)
	}
	a := r.App
	fmt.Fprintf(w, "id:            %s\ncmd:           %s\ninstances:     %d (running %d, healthy %d, unhealthy %d)\nservice ports: %s\nversion:       %s\n",
		a.ID, a.Cmd, a.Instances, a.TasksRunning, a.TasksHealthy, a.TasksUnhealthy, a.servicePorts(), a.Version)
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
	Tasks []taskRow `json:"tasks"`
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
