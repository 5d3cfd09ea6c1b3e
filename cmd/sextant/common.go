package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"
)

// errUsage means the flag package already printed what was wrong.
var errUsage = errors.New("usage")

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sextant "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	return nil
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
