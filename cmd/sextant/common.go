package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"
)

// errUsage means the usage was printed because the command line was wrong
// (exit status 2); errHelp that it was printed because -h asked for it
// (exit status 0). Either way nothing else runs.
var (
	errUsage = errors.New("usage")
	errHelp  = errors.New("help")
)

// flagOutput is a flag set's output. Usage a user asked for (-h) goes to
// stdout, as every --help does, so that `sextant up -h | less` works;
// what a wrong command line prints goes to stderr. The flag package
// prints before Parse returns, so Parse's output is held until the
// outcome is known; anything else (a command's own usage call) goes to
// stderr at once.
type flagOutput struct {
	stdout, stderr io.Writer
	held           *bytes.Buffer
}

func (o *flagOutput) Write(p []byte) (int, error) {
	if o.held != nil {
		return o.held.Write(p)
	}
	return o.stderr.Write(p)
}

func newFlagSet(name string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sextant "+name, flag.ContinueOnError)
	fs.SetOutput(&flagOutput{stdout: stdout, stderr: stderr})
	return fs
}

// parseFlags parses args; the flag package has printed what was wrong (to
// stderr), or the usage for -h (to stdout).
func parseFlags(fs *flag.FlagSet, args []string) error {
	o, _ := fs.Output().(*flagOutput)
	if o != nil {
		o.held = &bytes.Buffer{}
	}
	err := fs.Parse(args)
	if o != nil {
		held := o.held
		o.held = nil
		w := o.stderr
		if errors.Is(err, flag.ErrHelp) {
			w = o.stdout
		}
		_, _ = w.Write(held.Bytes())
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return errUsage
	}
	return nil
}

// parseInterspersed parses flags that may appear before, between or after
// positional arguments (`sextant dig NAME --json`), and returns the
// positional ones in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// newLogger builds the process logger: text to stderr, level from -v style
// verbosity (0 info, 1+ debug) or an explicit level name.
func newLogger(w io.Writer, verbosity int, level string) *slog.Logger {
	lv := slog.LevelInfo
	if verbosity > 0 {
		lv = slog.LevelDebug
	}
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))
}
