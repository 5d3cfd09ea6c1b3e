package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sextantdc/sextant/internal/app"
)

// glogFlags are the logging flags Mesos-DNS inherited from glog. Scripts
// and unit files pass them, so they are accepted; only -v has an effect
// (logs go to stderr through slog).
var glogFlags = []string{"logtostderr", "alsologtostderr", "stderrthreshold", "log_dir", "vmodule", "log_backtrace_at"}

// runMesosDNS is `sextant mesos-dns`: a drop-in Mesos-DNS reading the
// original's config.json.
func runMesosDNS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("mesos-dns", stdout, stderr)
	cfgPath := fs.String("config", "config.json", "path to the Mesos-DNS config file")
	showVersion := fs.Bool("version", false, "print the version and exit")
	verbosity := fs.Int("v", 0, "log verbosity: 1 verbose, 2 very verbose (glog style)")
	vv := fs.Bool("vv", false, "very verbose logging (same as -v=2)")
	for _, name := range glogFlags {
		if name == "logtostderr" || name == "alsologtostderr" {
			fs.Bool(name, false, "accepted for compatibility (glog); logs always go to stderr")
		} else {
			fs.String(name, "", "accepted for compatibility (glog); ignored")
		}
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sextant mesos-dns: unexpected arguments %q\n", fs.Args())
		return errUsage
	}
	if *showVersion {
		fmt.Fprintln(stdout, version)
		return nil
	}
	if *vv && *verbosity < 2 {
		*verbosity = 2
	}
	log := newLogger(stderr, *verbosity, "")
	return app.MesosDNS(ctx, app.MesosDNSConfig{ConfigPath: *cfgPath, LogRecords: *verbosity >= 2, Version: version}, log)
}
