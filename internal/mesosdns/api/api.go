// Package api is the Mesos-DNS HTTP API (spec/mesos-dns.md §7): the same
// paths, status codes, JSON shapes and pretty-printing as the original,
// plus /metrics, /health and /v1/status.
//
// Every /v1 route is GET only (405 otherwise), unknown paths are 404, and
// an Accept header that rules out application/json is 406; those replies
// are the original's text bodies. Success bodies are
// json.MarshalIndent(v, " ", " ") with no trailing newline.
//
// Imports of Sextant's own packages: internal/mesosdns/records; nothing else of Sextant.
package api

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/sextantdc/sextant/internal/mesosdns/records"
)

// Options wire the API to the running server.
type Options struct {
	// Version is reported by /v1/version ("dev" when empty).
	Version string
	// EnumerationOn registers /v1/enumerate and /v1/axfr.
	EnumerationOn bool
	// Records returns the record set being served (nil: none yet).
	Records func() *records.RecordSet
	// Serial returns the SOA serial being served.
	Serial func() uint32
	// Config returns the /v1/config document (JSON, secrets already
	// redacted) for the given serial.
	Config func(serial uint32) ([]byte, error)
	// AXFR holds the zone facts /v1/axfr reports besides the records.
	AXFR AXFRInfo
	// Status returns the /v1/status document (the source's staleness).
	Status func() any
	// Metrics and Health serve /metrics and /health when set.
	Metrics, Health http.Handler
	Logger          *slog.Logger
}

// AXFRInfo is the configuration part of /v1/axfr.
type AXFRInfo struct {
	TTL            int32
	RefreshSeconds int
	Mname, Rname   string // with trailing dots
	Domain         string
}

type api struct {
	o Options
}

// New returns the API handler.
func New(o Options) http.Handler {
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Records == nil {
		o.Records = func() *records.RecordSet { return nil }
	}
	if o.Serial == nil {
		o.Serial = func() uint32 { return 0 }
	}
	return &api{o: o}
}

const (
	notFound      = "404: Page Not Found"
	notAllowed    = "405: Method Not Allowed"
	notAcceptable = "406: Not Acceptable"
)

func text(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/metrics" && a.o.Metrics != nil:
		a.o.Metrics.ServeHTTP(w, r)
		return
	case p == "/health" && a.o.Health != nil:
		a.o.Health.ServeHTTP(w, r)
		return
	}
	h, ok := a.route(p)
	if !ok {
		text(w, http.StatusNotFound, notFound)
		return
	}
	if r.Method != http.MethodGet {
		text(w, http.StatusMethodNotAllowed, notAllowed)
		return
	}
	if !acceptsJSON(r.Header.Values("Accept")) {
		text(w, http.StatusNotAcceptable, notAcceptable)
		return
	}
	h(w, r)
}

// route maps a path to its handler. Path parameters are one segment.
func (a *api) route(p string) (http.HandlerFunc, bool) {
	switch p {
	case "/v1/version":
		return a.version, true
	case "/v1/config":
		return a.config, true
	case "/v1/status":
		if a.o.Status != nil {
			return a.status, true
		}
	case "/v1/enumerate":
		if a.o.EnumerationOn {
			return a.enumerate, true
		}
	case "/v1/axfr":
		if a.o.EnumerationOn {
			return a.axfr, true
		}
	}
	if rest, ok := strings.CutPrefix(p, "/v1/hosts/"); ok && rest != "" {
		if host, ok := strings.CutSuffix(rest, "/ports"); ok && host != "" && !strings.Contains(host, "/") {
			return func(w http.ResponseWriter, _ *http.Request) {
				text(w, http.StatusNotImplemented, "To be implemented...")
			}, true
		}
		if !strings.Contains(rest, "/") {
			return func(w http.ResponseWriter, _ *http.Request) { a.hosts(w, rest) }, true
		}
	}
	if rest, ok := strings.CutPrefix(p, "/v1/services/"); ok && rest != "" && !strings.Contains(rest, "/") {
		return func(w http.ResponseWriter, _ *http.Request) { a.services(w, rest) }, true
	}
	return nil, false
}

// acceptsJSON follows the original's rule: no Accept header, */* or
// application/json (parameters ignored) anywhere in the list.
func acceptsJSON(values []string) bool {
	if len(values) == 0 {
		return true
	}
	all := strings.Join(values, ",")
	if strings.TrimSpace(all) == "" {
		return true
	}
	for _, part := range strings.Split(all, ",") {
		mt, _, _ := strings.Cut(part, ";")
		mt = strings.TrimSpace(mt)
		if mt == "*/*" || mt == "application/json" {
			return true
		}
	}
	return false
}

func (a *api) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, " ", " ")
	if err != nil {
		a.o.Logger.Error("encoding API reply", "err", err)
		text(w, http.StatusInternalServerError, "500: Internal Server Error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (a *api) version(w http.ResponseWriter, _ *http.Request) {
	a.writeJSON(w, struct {
		Service string
		URL     string
		Version string
	}{"Mesos-DNS", "https://github.com/mesosphere/mesos-dns", a.o.Version})
}

func (a *api) config(w http.ResponseWriter, _ *http.Request) {
	if a.o.Config == nil {
		a.writeJSON(w, struct{}{})
		return
	}
	b, err := a.o.Config(a.o.Serial())
	if err != nil {
		a.o.Logger.Error("rendering config", "err", err)
		text(w, http.StatusInternalServerError, "500: Internal Server Error")
		return
	}
	a.writeJSON(w, json.RawMessage(b))
}

func (a *api) status(w http.ResponseWriter, _ *http.Request) { a.writeJSON(w, a.o.Status()) }

// key normalises a host or service path parameter like the DNS lookup
// key: lower case, ".*" removed, trailing dot added.
func key(s string) string {
	k := strings.ToLower(s)
	k = strings.ReplaceAll(k, ".*", "")
	if !strings.HasSuffix(k, ".") {
		k += "."
	}
	return k
}

type hostJSON struct {
	Host string `json:"host"`
	IP   string `json:"ip"`
}

func (a *api) hosts(w http.ResponseWriter, host string) {
	var out []hostJSON
	if rs := a.o.Records(); rs != nil {
		k := key(host)
		for _, v := range rs.A[k] {
			out = append(out, hostJSON{k, v})
		}
		for _, v := range rs.AAAA[k] {
			out = append(out, hostJSON{k, v})
		}
	}
	if len(out) == 0 {
		out = []hostJSON{{}}
	}
	a.writeJSON(w, out)
}

type serviceJSON struct {
	Service string `json:"service"`
	Host    string `json:"host"`
	IP      string `json:"ip"`
	Port    string `json:"port"`
}

func (a *api) services(w http.ResponseWriter, service string) {
	var out []serviceJSON
	if rs := a.o.Records(); rs != nil {
		for _, v := range rs.SRV[key(service)] {
			target, port, err := net.SplitHostPort(v)
			if err != nil {
				continue
			}
			if as := rs.A[target]; len(as) > 0 {
				out = append(out, serviceJSON{service, target, as[0], port})
			}
			if as := rs.AAAA[target]; len(as) > 0 {
				out = append(out, serviceJSON{service, target, as[0], port})
			}
		}
	}
	if len(out) == 0 {
		out = []serviceJSON{{}}
	}
	a.writeJSON(w, out)
}

func (a *api) enumerate(w http.ResponseWriter, _ *http.Request) {
	var fws []records.EnumFramework
	if rs := a.o.Records(); rs != nil && len(rs.Frameworks) > 0 {
		fws = make([]records.EnumFramework, len(rs.Frameworks))
		for i, f := range rs.Frameworks {
			fws[i] = f
			if fws[i].Tasks == nil {
				fws[i].Tasks = []records.EnumTask{}
			}
		}
	}
	// Field order as the original: tasks before name.
	type fw struct {
		Tasks []records.EnumTask `json:"tasks"`
		Name  string             `json:"name"`
	}
	var out struct {
		Frameworks []fw `json:"frameworks"`
	}
	for _, f := range fws {
		out.Frameworks = append(out.Frameworks, fw{f.Tasks, f.Name})
	}
	a.writeJSON(w, out)
}

func (a *api) axfr(w http.ResponseWriter, _ *http.Request) {
	type recs struct {
		As    map[string][]string
		AAAAs map[string][]string
		SRVs  map[string][]string
	}
	out := struct {
		TTL            int32
		Serial         uint32
		RefreshSeconds int
		Mname          string
		Rname          string
		Domain         string
		Records        recs
	}{a.o.AXFR.TTL, a.o.Serial(), a.o.AXFR.RefreshSeconds, a.o.AXFR.Mname, a.o.AXFR.Rname, a.o.AXFR.Domain,
		recs{map[string][]string{}, map[string][]string{}, map[string][]string{}}}
	if rs := a.o.Records(); rs != nil {
		for k, v := range rs.A {
			out.Records.As[k] = v
		}
		for k, v := range rs.AAAA {
			out.Records.AAAAs[k] = v
		}
		for k, v := range rs.SRV {
			out.Records.SRVs[k] = v
		}
	}
	a.writeJSON(w, out)
}
