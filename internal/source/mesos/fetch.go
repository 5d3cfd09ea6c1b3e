package mesos

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// httpClients builds the state client (keep-alive off, timeout
// StateTimeout, as the original) and the stream client (no overall
// timeout: a subscription lives for hours). Both carry the credential.
func httpClients(o *Options) (poll, stream *http.Client, err error) {
	tc, err := tlsConfig(o)
	if err != nil {
		return nil, nil, err
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	base := &http.Transport{
		Proxy:               nil, // the masters are always reached directly
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tc,
		DisableKeepAlives:   true,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	login := &http.Client{Transport: base, Timeout: o.StateTimeout}
	wrap := func(rt http.RoundTripper) http.RoundTripper {
		if o.Basic == nil && o.IAM == nil {
			return rt
		}
		return &authTransport{base: rt, basic: o.Basic, iam: o.IAM, login: login, now: o.Now}
	}
	streamBase := base.Clone()
	streamBase.DisableKeepAlives = false
	poll = &http.Client{Transport: wrap(base), Timeout: o.StateTimeout}
	// Redirects are not followed: Go drops the Authorization header on a
	// cross-host redirect, and a 307 from a non-leader means "ask the
	// leader", which the caller does itself.
	stream = &http.Client{
		Transport:     wrap(streamBase),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return poll, stream, nil
}

// tlsConfig follows the original: with HTTPS on and no CA file the
// master's certificate is not verified (DC/OS masters used self-signed
// certificates); a CA file turns verification on.
func tlsConfig(o *Options) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CACertFile != "" {
		b, err := os.ReadFile(o.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate", o.CACertFile)
		}
		tc.RootCAs = pool
	} else if o.HTTPS {
		tc.InsecureSkipVerify = true //nolint:gosec // compatibility: Mesos-DNS skips verification without a CA file.
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("client certificate: set both the certificate and the key file, or neither")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// fetcher downloads /master/state.
type fetcher struct {
	client    *http.Client
	scheme    string
	userAgent string
	maxBytes  int64
}

// StatusError is a state fetch answered with a non-2xx status. The original
// did not look at the status; we do, so a 503 from a proxy is a failed
// fetch that names the status instead of a JSON error.
type StatusError struct {
	URL    string
	Status string
	Code   int
}

func (e *StatusError) Error() string { return "GET " + e.URL + ": status " + e.Status }

func (f *fetcher) url(addr string) string {
	return f.scheme + "://" + addr + "/master/state"
}

// get fetches and decodes the state of one master. The skipped list names
// the parts of the state that were left out for a bad value.
func (f *fetcher) get(ctx context.Context, addr string) (*state.State, []state.Skipped, error) {
	u := f.url(addr)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("master %s: %w", addr, err)
	}
	// The original's headers (sic: Content-Type on a GET, no Accept).
	req.Header.Set("User-Agent", f.userAgent)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("master %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, nil, &StatusError{URL: u, Status: resp.Status, Code: resp.StatusCode}
	}
	b, err := readBody(resp, f.maxBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("master %s: read state: %w", addr, err)
	}
	if int64(len(b)) > f.maxBytes {
		return nil, nil, fmt.Errorf("master %s: state larger than %d bytes", addr, f.maxBytes)
	}
	st, skipped, err := state.Parse(b)
	if err != nil {
		return nil, nil, fmt.Errorf("master %s: %w", addr, err)
	}
	return st, skipped, nil
}

// readBody reads at most max+1 bytes of a response. A state runs to tens
// of megabytes: with its length known the buffer is allocated once, where
// io.ReadAll would grow it step by step, leaving about four times the
// document in garbage behind.
func readBody(resp *http.Response, max int64) ([]byte, error) {
	r := io.LimitReader(resp.Body, max+1)
	if n := resp.ContentLength; n > 0 && n <= max {
		// The client delivers no more than the announced length.
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(r)
}

// fetchMaster fetches from one master and follows the leader it names,
// once: if the leader's IP differs from the one asked, the state is
// fetched again from the leader's IP with the port of the master just
// asked (the original ignores the leader's own port) and used as it is.
// It returns the address the state finally came from.
func (f *fetcher) fetchMaster(ctx context.Context, addr string) (*state.State, []state.Skipped, string, error) {
	st, skipped, err := f.get(ctx, addr)
	if err != nil {
		return nil, nil, "", err
	}
	if st.Leader == "" {
		return nil, nil, "", fmt.Errorf("master %s: fetched state does not contain leader information%s", addr, leaderSkipped(skipped))
	}
	u, err := state.ParseUPID(st.Leader)
	if err != nil {
		return nil, nil, "", fmt.Errorf("master %s: leader: %w", addr, err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, "", fmt.Errorf("master %s: %w", addr, err)
	}
	if sameHost(u.Host, host) {
		return st, skipped, addr, nil
	}
	leader := net.JoinHostPort(u.Host, port)
	st2, skipped2, err := f.get(ctx, leader)
	if err != nil {
		return nil, nil, "", fmt.Errorf("leader %s named by master %s: %w", leader, addr, err)
	}
	return st2, skipped2, leader, nil
}

// leaderSkipped says why the leader is missing when it was there but of
// the wrong type, which "no leader information" alone would hide.
func leaderSkipped(skipped []state.Skipped) string {
	for _, s := range skipped {
		if s.Kind == state.KindField && s.Field == "leader" {
			return " (" + s.Reason + ")"
		}
	}
	return ""
}

func sameHost(a, b string) bool {
	ia, errA := netip.ParseAddr(a)
	ib, errB := netip.ParseAddr(b)
	if errA == nil && errB == nil {
		return ia.Unmap() == ib.Unmap()
	}
	return strings.EqualFold(a, b)
}

// fetch walks the master list [presumed leader, others…]: the first success
// wins; if all fail, the last error is returned. onFail is told about each
// failed master. With the state come the parts of it that were skipped
// for a bad value.
func (f *fetcher) fetch(ctx context.Context, masters []string, onFail func(addr string, err error)) (*state.State, []state.Skipped, string, error) {
	var last error
	for _, m := range masters {
		if m == "" {
			continue
		}
		st, skipped, from, err := f.fetchMaster(ctx, m)
		if err == nil {
			if st.Leader == "" {
				return nil, nil, "", fmt.Errorf("master %s: empty master (state names no leader)", from)
			}
			return st, skipped, from, nil
		}
		last = err
		if ctx.Err() != nil {
			return nil, nil, "", err
		}
		onFail(m, err)
	}
	if last == nil {
		return nil, nil, "", errors.New("no master known")
	}
	return nil, nil, "", last
}
