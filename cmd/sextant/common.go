package main

import (
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

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sextant "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args; the flag package has already printed what was
// wrong, or the usage for -h.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
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
