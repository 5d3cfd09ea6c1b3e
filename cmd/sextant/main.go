// Command sextant is the DC/OS networking and service-discovery stack in one
// binary: each subcommand runs a role (or several) or talks to one.
//
// Imports of Sextant's own packages: internal/app; nothing else of Sextant.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"up", "run a whole single-node cluster here: runtime, Marathon and Mesos APIs, every role", runUp},
		{"mesos-dns", "drop-in Mesos-DNS: -config config.json", runMesosDNS},
		{"agent", "node roles: DNS forwarder (dcos-dns)", runAgent},
		{"master", "master roles: zone building and distribution, DNS", runMaster},
		{"app", "manage apps on a Marathon API: add, list, show, rm, scale, logs", runApp},
		{"edge", "drop-in marathon-lb: --marathon URL --group G; edge deploy APP.json (blue/green)", runEdge},
		{"dig", "ask Sextant's DNS: dig NAME [TYPE]", runDig},
		{"vip", "list the VIPs a node serves, where to connect, and their backends' state: vip list", runVIP},
		{"version", "print the version", func(_ context.Context, args []string, w io.Writer, _ io.Writer) error {
			if len(args) > 0 {
				fmt.Fprintln(w, "usage: sextant version")
				return errHelp
			}
			fmt.Fprintln(w, "sextant", version)
			return nil
		}},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sextant COMMAND [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'sextant help COMMAND' (or 'sextant COMMAND -h') for a command's flags.")
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	args = leadingStateDir(args)
	if len(args) == 0 {
		// No command is a mistake: the usage goes with the error.
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "help":
		if len(args) == 1 {
			usage(stdout)
			return 0
		}
		// `sextant help CMD` is `sextant CMD -h`: the flags, on stdout.
		args = []string{args[1], "-h"}
	}
	if args[0] == "-version" || args[0] == "--version" {
		args[0] = "version"
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		// SIGTERM and SIGINT cancel the context: every role shuts down
		// cleanly from it.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
			switch err {
			case errHelp:
				return 0
			case errUsage:
				return 2
			}
			fmt.Fprintf(stderr, "sextant %s: %v\n", c.name, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "sextant: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// leadingStateDir lets --state-dir come before the command, as the hints
// `sextant up` prints put it (`sextant --state-dir DIR app add FILE`): it
// becomes the command's first flag. Commands without a state directory
// then reject it by name.
func leadingStateDir(args []string) []string {
	switch {
	case len(args) >= 3 && (args[0] == "--state-dir" || args[0] == "-state-dir"):
		return append([]string{args[2], "--state-dir", args[1]}, args[3:]...)
	case len(args) >= 2 && (strings.HasPrefix(args[0], "--state-dir=") || strings.HasPrefix(args[0], "-state-dir=")):
		return append([]string{args[1], args[0]}, args[2:]...)
	}
	return args
}
