package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sextantdc/sextant/internal/edge"
)

// Options configure the handler.
type Options struct {
	Engine edge.Engine
	// Resync asks for a full re-fetch from Marathon and a regeneration
	// (marathon-lb's SIGHUP); nil answers /_mlb_signal/hup with 500, as
	// marathon-lb does in poll mode.
	Resync func() error
	// Gatherer is served on /metrics beside the stats series; nil serves
	// the stats series alone.
	Gatherer prometheus.Gatherer
	// Health, when set, serves /health (the role's readiness and its
	// sources).
	Health http.Handler
	Logger *slog.Logger
}

// StatsPager is an engine with its own HTML stats page (HAProxy's).
type StatsPager interface {
	StatsPage() http.Handler
}

// HealthBody is HAProxy's monitor-uri answer.
const HealthBody = "<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n"

// Handler serves the 9090 endpoints.
func Handler(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("/haproxy", s.stats)
	mux.HandleFunc("/_haproxy_health_check", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, HealthBody)
	})
	mux.HandleFunc("/_haproxy_getconfig", s.text(func(g *edge.Generation) string { return g.HAProxyCfg }))
	mux.HandleFunc("/_haproxy_getvhostmap", s.text(func(g *edge.Generation) string { return g.DomainMap }))
	mux.HandleFunc("/_haproxy_getappmap", s.text(func(g *edge.Generation) string { return g.AppMap }))
	mux.HandleFunc("/_haproxy_getpids", func(w http.ResponseWriter, _ *http.Request) {
		pids := o.Engine.Pids()
		f := make([]string, len(pids))
		for i, p := range pids {
			f[i] = strconv.Itoa(p)
		}
		plain(w, http.StatusOK, strings.Join(f, " "))
	})
	mux.HandleFunc("/_mlb_signal/hup", func(w http.ResponseWriter, _ *http.Request) {
		if o.Resync == nil {
			plain(w, http.StatusInternalServerError,
				"Failed to send SIGHUP signal to marathon-lb (exit code 1). Is marathon-lb running in 'poll' mode?")
			return
		}
		if err := o.Resync(); err != nil {
			o.Logger.Warn("resync on /_mlb_signal/hup", "err", err)
			plain(w, http.StatusInternalServerError,
				"Failed to send SIGHUP signal to marathon-lb (exit code 1). Is marathon-lb running in 'poll' mode?")
			return
		}
		plain(w, http.StatusOK, "Sent SIGHUP signal to marathon-lb")
	})
	mux.HandleFunc("/_mlb_signal/usr1", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
		defer cancel()
		if err := o.Engine.Reload(ctx); err != nil {
			o.Logger.Warn("reload on /_mlb_signal/usr1", "err", err)
			plain(w, http.StatusInternalServerError,
				"Failed to send SIGUSR1 signal to marathon-lb (exit code 1). Is marathon-lb running in 'poll' mode?")
			return
		}
		plain(w, http.StatusOK, "Sent SIGUSR1 signal to marathon-lb")
	})
	mux.HandleFunc("/_sextant_problems", func(w http.ResponseWriter, _ *http.Request) {
		type problem struct {
			App    string `json:"app"`
			Index  int    `json:"servicePortIndex"`
			Label  string `json:"label,omitempty"`
			Reason string `json:"reason"`
		}
		out := []problem{}
		if g := o.Engine.Current(); g != nil && g.Config != nil {
			for _, p := range g.Config.Problems {
				out = append(out, problem{p.App, p.Index, p.Label, p.Reason})
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(newStatsCollector(o.Engine))
	gs := prometheus.Gatherers{reg}
	if o.Gatherer != nil {
		gs = append(gs, o.Gatherer)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(gs, promhttp.HandlerOpts{}))
	if o.Health != nil {
		mux.Handle("/health", o.Health)
	}
	return mux
}

type server struct{ o Options }

func plain(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// text serves one body of the generation serving; empty before the first.
func (s *server) text(body func(*edge.Generation) string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		b := ""
		if g := s.o.Engine.Current(); g != nil {
			b = body(g)
		}
		plain(w, http.StatusOK, b)
	}
}

// stats serves /haproxy?stats (HTML) and /haproxy?stats;csv. HAProxy
// takes options after "stats" separated by ';' (csv, norefresh, up, …).
func (s *server) stats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.RawQuery
	if q != "stats" && !strings.HasPrefix(q, "stats;") {
		http.NotFound(w, r)
		return
	}
	opts := strings.Split(q, ";")[1:]
	for _, o := range opts {
		if o == "csv" {
			w.Header().Set("Content-Type", "text/csv")
			_, _ = w.Write([]byte(CSV(s.o.Engine.Stats())))
			return
		}
	}
	if p, ok := s.o.Engine.(StatsPager); ok {
		p.StatsPage().ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	var b strings.Builder
	b.WriteString("<html><head><title>Statistics Report</title></head><body><h1>Statistics Report</h1>\n<table border=1>\n<tr>")
	for _, c := range []string{"pxname", "svname", "status", "scur", "smax", "stot", "bin", "bout", "weight", "addr"} {
		b.WriteString("<th>" + c + "</th>")
	}
	b.WriteString("</tr>\n")
	for _, row := range s.o.Engine.Stats() {
		f := row.Fields()
		b.WriteString("<tr>")
		for _, c := range []string{"pxname", "svname", "status", "scur", "smax", "stot", "bin", "bout", "weight", "addr"} {
			b.WriteString("<td>" + html.EscapeString(f[column(c)]) + "</td>")
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table></body></html>\n")
	_, _ = w.Write([]byte(b.String()))
}

func column(name string) int {
	for i, c := range edge.StatColumns {
		if c == name {
			return i
		}
	}
	return -1
}

// CSV is HAProxy's stats CSV: the header, one line per row (each line
// ends with a comma, as HAProxy's do), then an empty line.
func CSV(rows []edge.StatRow) string {
	var b strings.Builder
	b.WriteString("# " + strings.Join(edge.StatColumns, ",") + ",\n")
	for i := range rows {
		for _, f := range rows[i].Fields() {
			if strings.ContainsAny(f, ",\"\n") {
				f = strconv.Quote(f)
			}
			b.WriteString(f + ",")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return b.String()
}
