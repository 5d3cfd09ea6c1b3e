// Package role is the Mesos-DNS consumer: it turns every snapshot of its
// subscription into records, serves them over DNS and the Mesos-DNS HTTP
// API, all from one config.json. It never builds a source of its own: the
// wiring (internal/app) runs the Mesos source and the hub and hands the
// role a subscription.
//
// Inputs: *config.Config, a hub subscription, the hub's source status.
// Outputs: DNS answers and the /v1 API. Imports: the hub, the model, the
// mesosdns packages, the DNS server and forwarders, obs.
//
// Unlike the original, which opened no listener before its first
// successful load (clients got "connection refused", and a master that was
// down at start left resolvers with nothing at all), the listeners open at
// once: until the first snapshot is loaded, names in the domain get
// SERVFAIL, other names are forwarded as configured, and /health answers
// 503 saying which source has no data and why. A listener that cannot bind
// is a fatal error naming the address, at start. Every later failed
// refresh keeps the last good records served; the staleness shows in the
// log, /metrics, /health and /v1/status.
package role

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/dnsserver"
	"github.com/sextantdc/sextant/internal/forward"
	"github.com/sextantdc/sextant/internal/hub"
	"github.com/sextantdc/sextant/internal/mesosdns/api"
	"github.com/sextantdc/sextant/internal/mesosdns/config"
	"github.com/sextantdc/sextant/internal/mesosdns/records"
	"github.com/sextantdc/sextant/internal/mesosdns/resolver"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/obs"
)

// Options let an embedding process (sextant up, tests) run the role with
// its own listener addresses and observe readiness.
type Options struct {
	// Version is reported by /v1/version.
	Version string
	Logger  *slog.Logger
	// Registry receives every metric; nil means a fresh obs.NewRegistry().
	Registry *prometheus.Registry
	// DNSAddr and HTTPAddr ("ip:port", port 0 allowed) replace the
	// config's listener:port and httpListener:httpport when set.
	DNSAddr, HTTPAddr string
	// Listening is called once the listeners are bound, before anything
	// is loaded, with the addresses actually bound ("" for a listener that
	// is off).
	Listening func(Addrs)
	// Ready is called once, after the first successful load, with the
	// same addresses.
	Ready func(Addrs)
	// Status reports the sources behind the snapshots (for /v1/status and
	// /health); nil reports none.
	Status SourceStatus
	// Now is the clock for SOA serials (default time.Now).
	Now func() time.Time
	// InterfaceAddrs lists this host's addresses for the name-server
	// record when listener is 0.0.0.0 (default net.InterfaceAddrs).
	InterfaceAddrs func() ([]netip.Addr, error)
	// LogRecords logs every generated record at debug level after each
	// reload (what Mesos-DNS printed at -v=2).
	LogRecords bool
}

// SourceStatus is what the role needs to know about its sources; *hub.Hub
// implements it.
type SourceStatus interface {
	// Sources is each source's status, for /v1/status.
	Sources() []hub.SourceStatus
	// SourceHealth is each source with the /health rule applied.
	SourceHealth() []obs.SourceHealth
}

// Addrs are the bound listener addresses.
type Addrs struct {
	DNS  string
	HTTP string
}

// Status is the /v1/status document: an addition to the original API that
// shows whether the records served are current.
type Status struct {
	// Sources are the hub's view of each source: last success, last
	// error, stale.
	Sources []hub.SourceStatus
	// Serial is the SOA serial served (Unix time of the last good reload).
	Serial uint32
	// SnapshotVersion is the version of the snapshot behind the records.
	SnapshotVersion uint64
	// SnapshotAgeSeconds is how old the state behind the records is.
	SnapshotAgeSeconds float64
	// RecordProblems counts items left out by record generation.
	RecordProblems int
}

// Run serves the snapshots of sub until ctx ends (then it returns nil
// after a clean shutdown) or a listener fails.
func Run(ctx context.Context, cfg *config.Config, sub *hub.Subscription, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = obs.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.InterfaceAddrs == nil {
		o.InterfaceAddrs = interfaceAddrs
	}
	log := o.Logger
	if !cfg.DNSOn && !cfg.HTTPOn {
		return errors.New("dnson and httpon are both false: nothing to serve")
	}

	rcfg, err := resolverConfig(cfg)
	if err != nil {
		return err
	}
	res, err := resolver.New(rcfg, log.With("component", "dns"), o.Registry)
	if err != nil {
		return err
	}
	m := newMetrics(o.Registry)

	var lastSnap struct {
		sync.Mutex
		version  uint64
		fetched  time.Time
		problems int
	}
	status := func() any {
		lastSnap.Lock()
		defer lastSnap.Unlock()
		age := 0.0
		if !lastSnap.fetched.IsZero() {
			age = o.Now().Sub(lastSnap.fetched).Seconds()
		}
		var sources []hub.SourceStatus
		if o.Status != nil {
			sources = o.Status.Sources()
		}
		return Status{Sources: sources, Serial: res.Serial(), SnapshotVersion: lastSnap.version, SnapshotAgeSeconds: age, RecordProblems: lastSnap.problems}
	}
	health := &obs.Health{}
	if o.Status != nil {
		health.SetSources(o.Status)
	}
	health.Add("records", func() error {
		if !res.Loaded() {
			return errors.New("no records loaded yet: names in the domain get SERVFAIL")
		}
		return nil
	})
	handler := api.New(api.Options{
		Version:       o.Version,
		EnumerationOn: cfg.EnumerationOn,
		Records:       res.Records,
		Serial:        res.Serial,
		Config:        cfg.PublicJSONWithSerial,
		AXFR: api.AXFRInfo{TTL: cfg.TTL, RefreshSeconds: cfg.RefreshSeconds,
			Mname: dns.Fqdn(cfg.SOAMname), Rname: dns.Fqdn(cfg.SOARname), Domain: cfg.Domain},
		Status:  status,
		Metrics: obs.MetricsHandler(o.Registry),
		Health:  health,
		Logger:  log.With("component", "http"),
	})

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Whatever ends Run stops every goroutine it started and waits for them.
	defer func() {
		cancel()
		wg.Wait()
	}()
	fatal := make(chan error, 3)
	snaps := sub.Snapshots(ctx)

	gen := records.NewGenerator()
	listenerAddrs := []netip.Addr(nil)
	if cfg.Listener == "0.0.0.0" || cfg.Listener == "::" {
		if listenerAddrs, err = o.InterfaceAddrs(); err != nil {
			log.Warn("listing interface addresses for the name-server record", "err", err)
		}
	}
	addrs, err := startListeners(ctx, &wg, cfg, o, res, handler, fatal)
	if err != nil {
		return err
	}
	log.Info("listening; names in the domain get SERVFAIL until the first load", "dns", addrs.DNS, "http", addrs.HTTP)
	if o.Listening != nil {
		o.Listening(addrs)
	}
	started := false
	logged := map[string]bool{}
	var lastInput *model.Snapshot
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			return nil
		case err := <-fatal:
			return err
		case snap, ok := <-snaps:
			if !ok {
				continue // ctx ended
			}
			if snap.SameSources(lastInput, hub.Mesos, hub.Marathon) {
				continue // only other nodes' items changed
			}
			lastInput = snap
			start := time.Now()
			rs, problems := gen.Generate(snap, records.Config{
				Domain:        cfg.Domain,
				EnforceRFC952: cfg.EnforceRFC952,
				IPSources:     cfg.IPSources,
				SOAMname:      dns.Fqdn(cfg.SOAMname),
				Listener:      cfg.Listener,
				ListenerAddrs: listenerAddrs,
				Masters:       snap.Masters,
				HealthAware:   cfg.HealthAware,
			})
			serial := uint32(o.Now().Unix())
			res.Update(rs, serial)
			m.generate.Observe(time.Since(start).Seconds())
			m.problems.Set(float64(len(problems)))
			m.reloads.Inc()
			// Each problem is logged when it first appears, so a standing
			// bad item does not flood the log on every reload.
			seen := make(map[string]bool, len(problems))
			for _, p := range problems {
				k := p.String()
				seen[k] = true
				if !logged[k] {
					log.Warn("record skipped", "item", p.Item, "field", p.Field, "reason", p.Reason)
				}
			}
			logged = seen
			lastSnap.Lock()
			fetched := snap.Built
			if v, ok := snap.Source(hub.Mesos); ok {
				fetched = v.Fetched
			}
			lastSnap.version, lastSnap.fetched, lastSnap.problems = snap.Version, fetched, len(problems)
			lastSnap.Unlock()
			if o.LogRecords {
				logRecords(log, rs)
			}
			// Debug, as the original logged reloads only at -v=1: with the
			// event stream a reload follows every task change, and at info
			// the lines would bury what a user must see (task exits, a
			// stale source).
			log.Debug("records reloaded", "version", snap.Version, "serial", serial, "a", len(rs.A), "aaaa", len(rs.AAAA), "srv", len(rs.SRV), "problems", len(problems), "took", time.Since(start))
			if !started {
				started = true
				log.Info("serving", "dns", addrs.DNS, "http", addrs.HTTP, "version", snap.Version, "a", len(rs.A), "aaaa", len(rs.AAAA), "srv", len(rs.SRV))
				if o.Ready != nil {
					o.Ready(addrs)
				}
			}
		}
	}
}

func resolverConfig(cfg *config.Config) (resolver.Config, error) {
	rc := resolver.Config{
		Domain:         cfg.Domain,
		TTL:            uint32(max(cfg.TTL, 0)),
		SOAMname:       dns.Fqdn(cfg.SOAMname),
		SOARname:       dns.Fqdn(cfg.SOARname),
		SOARefresh:     cfg.SOARefresh,
		SOARetry:       cfg.SOARetry,
		SOAExpire:      cfg.SOAExpire,
		SRVWeight:      cfg.SRVRecordDefaultWeight,
		RecurseOn:      cfg.RecurseOn,
		SetTruncateBit: cfg.SetTruncateBit,
	}
	if !cfg.ExternalOn {
		return rc, nil // REFUSED for every name outside the domain
	}
	timeout := time.Duration(cfg.Timeout) * time.Second
	if len(cfg.Resolvers) > 0 {
		f, err := forward.NewSequential(cfg.Resolvers, timeout)
		if err != nil {
			return rc, fmt.Errorf("resolvers: %w", err)
		}
		rc.Default = f
	}
	for zone, ups := range cfg.ZoneResolvers {
		f, err := forward.NewSequential(ups, timeout)
		if err != nil {
			return rc, fmt.Errorf("zoneResolvers[%s]: %w", zone, err)
		}
		if rc.Zones == nil {
			rc.Zones = map[string]resolver.Forwarder{}
		}
		rc.Zones[zone] = f
	}
	return rc, nil
}

func startListeners(ctx context.Context, wg *sync.WaitGroup, cfg *config.Config, o Options, res *resolver.Resolver, handler http.Handler, fatal chan<- error) (Addrs, error) {
	var addrs Addrs
	if cfg.DNSOn {
		addr := o.DNSAddr
		if addr == "" {
			addr = net.JoinHostPort(cfg.Listener, strconv.Itoa(cfg.Port))
		}
		srv, err := dnsserver.Listen(dnsserver.Config{Addr: addr, Handler: res, Logger: o.Logger.With("component", "dns")})
		if err != nil {
			return addrs, err
		}
		addrs.DNS = srv.Addr().String()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ctx); err != nil {
				fatal <- fmt.Errorf("dns server %s: %w", addrs.DNS, err)
			}
		}()
	}
	if cfg.HTTPOn {
		addr := o.HTTPAddr
		if addr == "" {
			addr = net.JoinHostPort(cfg.HTTPListener, strconv.Itoa(cfg.HTTPPort))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return addrs, fmt.Errorf("http listener %s: %w", addr, err)
		}
		addrs.HTTP = l.Addr().String()
		hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)}
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fatal <- fmt.Errorf("http server %s: %w", addrs.HTTP, err)
			}
		}()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
		}()
	}
	return addrs, nil
}

func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range as {
		if p, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(p.IP); ok && !ip.Unmap().IsLoopback() {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

type metrics struct {
	generate prometheus.Histogram
	problems prometheus.Gauge
	reloads  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		generate: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sextant_mesosdns_generate_seconds",
			Help:    "Time to generate the record set from a snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
		problems: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sextant_mesosdns_record_problems",
			Help: "Items the last record generation skipped (each is logged).",
		}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sextant_mesosdns_reloads_total",
			Help: "Record sets generated and swapped in.",
		}),
	}
	reg.MustRegister(m.generate, m.problems, m.reloads)
	return m
}

// logRecords logs the whole record set, sorted, one line per value.
func logRecords(log *slog.Logger, rs *records.RecordSet) {
	for _, kind := range []struct {
		name string
		m    map[string][]string
	}{{"A", rs.A}, {"AAAA", rs.AAAA}, {"SRV", rs.SRV}} {
		names := make([]string, 0, len(kind.m))
		for n := range kind.m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			for _, v := range kind.m[n] {
				log.Debug("record", "type", kind.name, "name", n, "value", v)
			}
		}
	}
}
