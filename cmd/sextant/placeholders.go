package main

import (
	"context"
	"errors"
	"io"
)

// These commands are wired in by the files that implement them; until then
// they say so plainly.
var errNotBuilt = errors.New("this command is not built yet")

func runMesosDNS(context.Context, []string, io.Writer, io.Writer) error { return errNotBuilt }
func runDig(context.Context, []string, io.Writer, io.Writer) error      { return errNotBuilt }
