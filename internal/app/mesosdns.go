package app

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/mesosdns/config"
	"github.com/sextantdc/sextant/internal/mesosdns/role"
	"github.com/sextantdc/sextant/internal/obs"
	mesossrc "github.com/sextantdc/sextant/internal/source/mesos"
)

// MesosDNSConfig is the configuration of `sextant mesos-dns`.
type MesosDNSConfig struct {
	// ConfigPath is the Mesos-DNS config.json (-config).
	ConfigPath string
	// LogRecords logs every record after each reload (-v=2).
	LogRecords bool
	Version    string
	// The fields below let tests and embedders adjust the composition.

	// DNSAddr and HTTPAddr replace the config's listeners when set.
	DNSAddr, HTTPAddr string
	// Listening is called once the listeners are bound (at start, before
	// anything is loaded); Ready once the first records are served.
	Listening, Ready func(role.Addrs)
	// Source adjusts the Mesos source's options before it starts.
	Source func(*mesossrc.Options)
}

// MesosDNS runs a drop-in Mesos-DNS: the Mesos source built from the
// config file, the hub, and the Mesos-DNS consumer. Its listeners open at
// once (SERVFAIL until the first load); its /health follows the hub's
// rule with Mesos-DNS' own limit: 503 before the first load and once the
// source has been stale for more than 3 × refreshSeconds.
func MesosDNS(ctx context.Context, c MesosDNSConfig, log *slog.Logger) error {
	cfg, warns, err := config.Load(c.ConfigPath, config.Options{})
	for _, w := range warns {
		log.Warn("config", "key", w.Key, "warning", w.Message)
	}
	if err != nil {
		return err
	}
	log.Info("starting Mesos-DNS", "version", c.Version, "config", cfg.File, "domain", cfg.Domain,
		"dns", cfg.Listener+":"+strconv.Itoa(cfg.Port), "dnson", cfg.DNSOn,
		"http", cfg.HTTPListener+":"+strconv.Itoa(cfg.HTTPPort), "httpon", cfg.HTTPOn, "health_aware", cfg.HealthAware)
	return RunMesosDNS(ctx, cfg, c, log)
}

// RunMesosDNS is MesosDNS with the configuration already loaded.
func RunMesosDNS(ctx context.Context, cfg *config.Config, c MesosDNSConfig, log *slog.Logger) error {
	reg := obs.NewRegistry()
	pl := newPipeline(hub.Options{Logger: log.With("component", "hub"), Registerer: reg,
		StaleAfter: 3 * time.Duration(max(cfg.RefreshSeconds, 1)) * time.Second})
	so := cfg.SourceOptions()
	so.Logger = log.With("component", "source")
	if c.Source != nil {
		c.Source(&so)
	}
	if _, err := pl.mesos(so); err != nil {
		return err
	}
	pl.consumer("mesos-dns", func(ctx context.Context, sub *hub.Subscription) error {
		return role.Run(ctx, cfg, sub, role.Options{Version: c.Version, Logger: log, Registry: reg, LogRecords: c.LogRecords,
			DNSAddr: c.DNSAddr, HTTPAddr: c.HTTPAddr, Listening: c.Listening, Ready: c.Ready, Status: pl.hub})
	})
	return pl.run(ctx)
}
