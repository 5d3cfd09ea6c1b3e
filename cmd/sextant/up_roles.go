package main

import (
	"context"
	"log/slog"

	"github.com/sextantdc/sextant/internal/obs"
)

// upRole is a networking role `sextant up` runs against the local Mesos
// API, through the same client it uses against a real cluster.
type upRole struct {
	name      string
	listeners []listener
	run       func(ctx context.Context, mesosURL string, log *slog.Logger, health *obs.Health) error
}

// upRoles lists the roles built into this binary.
func upRoles(f upFlags) []upRole {
	return nil
}
