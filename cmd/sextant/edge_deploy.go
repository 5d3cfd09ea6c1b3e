package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sextantdc/sextant/internal/app"
)

// runEdgeDeploy is `sextant edge deploy APP.json`: marathon-lb's zdd.
// Without --marathon and --edge it uses the running `sextant up`
// (endpoints.json).
func runEdgeDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o app.DeployOptions
	var edges repeatFlag
	var stateDir, logLevel string
	fs := newFlagSet("edge deploy", stdout, stderr)
	fs.StringVar(&o.Marathon, "marathon", "", "Marathon base `URL` (default: the running sextant up's)")
	fs.Var(&edges, "edge", "edge admin `URL` (port 9090; repeatable: every edge must agree; default: sextant up's)")
	fs.IntVar(&o.InitialInstances, "initial-instances", 1, "instances the new colour starts with")
	fs.DurationVar(&o.StepDelay, "step-delay", 5*time.Second, "time between two steps")
	fs.DurationVar(&o.MaxWait, "max-wait", 300*time.Second, "longest a step may make no progress before the deployment rolls back")
	fs.BoolVar(&o.Resume, "resume", false, "resume an interrupted deployment")
	fs.BoolVar(&o.CompleteCur, "complete-cur", false, "finish an interrupted deployment keeping the newest app")
	fs.BoolVar(&o.CompletePrev, "complete-prev", false, "finish an interrupted deployment keeping the previous app")
	fs.StringVar(&stateDir, "state-dir", "", "state `DIR` of the sextant up to use (default: the usual one)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: sextant edge deploy [flags] APP.json")
		return errUsage
	}
	def, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	if o.Marathon == "" || len(edges) == 0 {
		eps, err := upEndpoints(stateDir)
		if err != nil {
			return fmt.Errorf("no --marathon/--edge given and no running sextant up: %w", err)
		}
		if o.Marathon == "" {
			o.Marathon = eps["marathon"]
		}
		if len(edges) == 0 && eps["edge_admin"] != "" {
			edges = repeatFlag{eps["edge_admin"]}
		}
	}
	if len(edges) == 0 {
		return errors.New("--edge: at least one edge admin URL is required")
	}
	o.Edges = edges
	o.Log = newLogger(stderr, 0, logLevel)
	if err := app.EdgeDeploy(ctx, def, o); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "deployed", fs.Arg(0))
	return nil
}

// upEndpoints reads endpoints.json of the sextant up in stateDir (the
// default state directory when empty).
func upEndpoints(stateDir string) (map[string]string, error) {
	if stateDir == "" {
		stateDir = app.DefaultStateDir()
	}
	b, err := os.ReadFile(filepath.Join(stateDir, "endpoints.json"))
	if err != nil {
		return nil, err
	}
	var eps map[string]string
	if err := json.Unmarshal(b, &eps); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(stateDir, "endpoints.json"), err)
	}
	return eps, nil
}
