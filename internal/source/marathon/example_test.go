package marathon_test

import (
	"context"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/source/marathon"
)

// The source publishes into the hub; both run until ctx ends.
func ExampleNew() {
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: both have returned
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	h := hub.New(hub.Options{Logger: log, Registerer: reg})
	h.Register(hub.Marathon)
	src, err := marathon.New(marathon.Options{
		URLs:       []string{"http://10.0.0.1:8080", "http://10.0.0.2:8080"},
		Token:      "dcos-acs-auth-token", // sent as Authorization: token=…
		Logger:     log.With("component", "marathon"),
		Registerer: reg,
	}, h)
	if err != nil {
		log.Error("marathon source", "err", err)
		return
	}
	wg.Go(func() { _ = h.Run(ctx) })
	wg.Go(func() { _ = src.Run(ctx) })
}
