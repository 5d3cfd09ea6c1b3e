package marathon

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BasicAuth is the HTTP Basic credential sent with every request.
type BasicAuth struct {
	User     string
	Password string
}

// Options configure a Source. Zero values take the defaults noted.
type Options struct {
	// URLs are Marathon base URLs ("http://10.0.0.1:8080"), tried in order
	// from the last one that worked. Required.
	URLs []string
	// Basic or Token (sent as "Authorization: token=<Token>", DC/OS style)
	// authenticate every request, redirects included; at most one.
	Basic *BasicAuth
	Token string
	// CACertFile verifies https URLs against these CAs instead of the
	// system's; InsecureSkipVerify does not verify at all. Exclusive with
	// each other and with HTTPClient.
	CACertFile         string
	InsecureSkipVerify bool
	// HTTPClient, when set, supplies the transport (and a redirect policy
	// if it has one). Its Timeout is not used: the event stream lives for
	// hours; RequestTimeout bounds the other requests.
	HTTPClient *http.Client
	// ResyncInterval is the period of the forced full re-read while the
	// stream is up (default 300 s, marathon-lb's).
	ResyncInterval time.Duration
	// Coalesce is how long an invalidation waits for more (default 20 ms):
	// a burst of events yields one re-read.
	Coalesce time.Duration
	// RequestTimeout bounds one GET /v2/apps, and the wait for the event
	// stream's response headers (default 30 s).
	RequestTimeout time.Duration
	// StreamIdleTimeout: a stream that delivers not a single byte for this
	// long is reconnected (default 300 s, marathon-lb's; Marathon writes a
	// heartbeat every 10 s).
	StreamIdleTimeout time.Duration
	// BackoffMin and BackoffMax bound the jittered delay before retrying a
	// failed read or reconnecting the stream (default 1 s / 30 s).
	BackoffMin, BackoffMax time.Duration
	// MaxBytes caps one apps response and one event (default 256 MiB).
	MaxBytes int64
	// NoStream polls instead of following /v2/events. Polling (also the
	// fallback while the stream is down or not offered) reads every
	// ResyncInterval/10, at least 5 s and at most ResyncInterval.
	NoStream bool

	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock of timestamps (default time.Now).
	Now func() time.Time
}

func (o *Options) fill() error {
	if len(o.URLs) == 0 {
		return errors.New("marathon source: urls: none given")
	}
	clean := make([]string, len(o.URLs))
	for i, raw := range o.URLs {
		u, err := checkURL(raw)
		if err != nil {
			return fmt.Errorf("marathon source: urls[%d]: %w", i, err)
		}
		clean[i] = u
	}
	o.URLs = clean
	if o.Basic != nil && o.Token != "" {
		return errors.New("marathon source: basic and token authentication are exclusive")
	}
	if o.CACertFile != "" && o.InsecureSkipVerify {
		return errors.New("marathon source: a CA file and insecure-skip-verify are exclusive")
	}
	if o.HTTPClient != nil && (o.CACertFile != "" || o.InsecureSkipVerify) {
		return errors.New("marathon source: TLS options and an HTTP client are exclusive; configure the client's transport")
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"resync interval", &o.ResyncInterval, 300 * time.Second},
		{"coalesce", &o.Coalesce, 20 * time.Millisecond},
		{"request timeout", &o.RequestTimeout, 30 * time.Second},
		{"stream idle timeout", &o.StreamIdleTimeout, 300 * time.Second},
		{"backoff min", &o.BackoffMin, time.Second},
		{"backoff max", &o.BackoffMax, 30 * time.Second},
	} {
		if *d.v < 0 {
			return fmt.Errorf("marathon source: %s must not be negative, got %v", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if o.BackoffMax < o.BackoffMin {
		return fmt.Errorf("marathon source: backoff max %v is below backoff min %v", o.BackoffMax, o.BackoffMin)
	}
	if o.MaxBytes < 0 {
		return fmt.Errorf("marathon source: max bytes must not be negative, got %d", o.MaxBytes)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 256 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// checkURL accepts an absolute http(s) URL without credentials, query or
// fragment, and returns it without a trailing slash.
func checkURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%q: %w", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q is not an http(s) URL", raw)
	case u.Host == "":
		return "", fmt.Errorf("%q has no host", raw)
	case u.User != nil:
		// URLs show up in logs, Status and snapshots; credentials must not.
		return "", fmt.Errorf("%q carries credentials; use the basic or token option", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("%q has a query or fragment", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// newClient builds the one client of the source. It has no overall
// timeout (the stream lives for hours; requests carry their own deadline),
// adds the credential to every request including redirected ones, and
// follows redirects: Marathon ≥1.7 answers /v2/events on a non-leader with
// a 302 to the leader, and Go would drop the Authorization header of a
// redirect to another host.
func newClient(o *Options) (*http.Client, error) {
	var base http.RoundTripper
	var redirect func(*http.Request, []*http.Request) error
	var jar http.CookieJar
	if o.HTTPClient != nil {
		base, redirect, jar = o.HTTPClient.Transport, o.HTTPClient.CheckRedirect, o.HTTPClient.Jar
		if base == nil {
			base = http.DefaultTransport
		}
	} else {
		tc, err := tlsConfig(o)
		if err != nil {
			return nil, err
		}
		dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		base = &http.Transport{
			Proxy:               nil, // Marathon is reached directly, as by marathon-lb
			DialContext:         dialer.DialContext,
			TLSClientConfig:     tc,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
		}
	}
	if redirect == nil {
		redirect = checkRedirect
	}
	var auth string
	switch {
	case o.Basic != nil:
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(o.Basic.User, o.Basic.Password)
		auth = r.Header.Get("Authorization")
	case o.Token != "":
		auth = "token=" + o.Token
	}
	rt := base
	if auth != "" {
		rt = &authTransport{base: base, auth: auth}
	}
	return &http.Client{Transport: rt, CheckRedirect: redirect, Jar: jar}, nil
}

// checkRedirect follows up to 5 redirects and never from https to http:
// the credential goes along with every hop.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing a redirect from https to %s", req.URL.Redacted())
	}
	return nil
}

func tlsConfig(o *Options) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.InsecureSkipVerify {
		tc.InsecureSkipVerify = true //nolint:gosec // asked for explicitly (DC/OS clusters with self-signed certificates).
	}
	if o.CACertFile != "" {
		b, err := os.ReadFile(o.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("marathon source: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("marathon source: CA file %s: no PEM certificate", o.CACertFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// authTransport sets the Authorization header on every request the
// client sends, so redirects to the leader authenticate too.
type authTransport struct {
	base http.RoundTripper
	auth string
}

func (t *authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", t.auth)
	return t.base.RoundTrip(r)
}
