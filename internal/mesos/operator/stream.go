// Package operator consumes a Mesos master's v1 operator API: it subscribes
// to the event stream (POST /api/v1 {"type":"SUBSCRIBE"}), keeps a model of
// the cluster from the SUBSCRIBED snapshot and the events that follow, and
// hands out the model as complete v0 /master/state documents, so the rest
// of Sextant reads one shape whichever way the state arrived.
//
// Imports of Sextant's own packages: internal/mesos/operator/recordio, internal/mesos/operator/v1,
// internal/mesos/state; nothing else of Sextant.
package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/operator/recordio"
	v1 "github.com/sextantdc/sextant/internal/mesos/operator/v1"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

// ErrNotSupported means the master does not offer the operator event stream
// (no /api/v1, or a master older than 1.1 that rejects SUBSCRIBE); the
// caller should poll /master/state instead.
var ErrNotSupported = errors.New("mesos operator API: SUBSCRIBE not supported by this master")

// ErrDeadStream means no byte arrived for longer than the dead-stream
// timeout (k × the heartbeat interval).
var ErrDeadStream = errors.New("mesos operator API: stream silent past its heartbeat deadline")

// errResync ends one subscription so that Stream subscribes again.
var errResync = errors.New("periodic resubscribe")

const (
	maxRedirects = 3
	// maxCallResponse bounds a synchronous answer we read (GET_MASTER).
	maxCallResponse = 4 << 20
	// maxBatch bounds how many events are applied before onState is
	// called even while more are buffered, to keep consumers fresh during
	// a flood.
	maxBatch = 1000
)

// Options tune Stream. The zero value is usable.
type Options struct {
	// HeartbeatFactor k: the stream is dead after k × heartbeat interval
	// without a byte. Default 3 (as dcos-net).
	HeartbeatFactor float64
	// DeadTimeout, when > 0, overrides k × interval. It also applies to
	// masters that send no heartbeats (< 1.5), where the default is to
	// rely on Resync and TCP keep-alive.
	DeadTimeout time.Duration
	// FirstRecordTimeout bounds silence before SUBSCRIBED has been read
	// (bytes of a large snapshot reset it). Default 60s.
	FirstRecordTimeout time.Duration
	// ConnectTimeout bounds the wait for response headers. Default 10s.
	ConnectTimeout time.Duration
	// Resync makes Stream resubscribe (a fresh SUBSCRIBED replaces the
	// model) after a stream has been open this long, a safety net against
	// masters that lost updates. Default 10m; negative disables.
	Resync time.Duration
	// Authorization returns the Authorization header value for each request
	// ("Basic …", "Bearer …", "token=…"); nil sends none. It is sent again
	// after a redirect to the leader, unlike Go's default redirect policy.
	Authorization func() string
	// UserAgent is sent with every request. Default "sextant".
	UserAgent string
	// MaxRecordSize bounds one event record read whole. Default 256 MiB.
	// Records over it or over 4 MiB (SUBSCRIBED of a large cluster) are
	// decoded as they arrive instead: SUBSCRIBED item by item, whatever
	// its size; any other event value by value (a master sends none that
	// large).
	MaxRecordSize int
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.HeartbeatFactor <= 0 {
		o.HeartbeatFactor = 3
	}
	if o.FirstRecordTimeout <= 0 {
		o.FirstRecordTimeout = 60 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.Resync == 0 {
		o.Resync = 10 * time.Minute
	}
	if o.UserAgent == "" {
		o.UserAgent = "sextant"
	}
	if o.MaxRecordSize <= 0 {
		o.MaxRecordSize = recordio.DefaultMaxRecord
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Stream subscribes to baseURL's operator API and calls onState with a
// complete v0-shaped state after SUBSCRIBED and after applied events
// (events that arrived together are applied as one batch, then onState is
// called once). It returns when ctx ends (nil) or the stream fails (error);
// ErrNotSupported when the master does not offer the API (404/405/501, or
// 400 to SUBSCRIBE from a 1.0 master); ErrDeadStream when heartbeats stop.
// A redirect to the leader (307 with Location) is followed, with the
// Authorization header. baseURL is the master's root ("http://m:5050") or
// its /api/v1 URL. onState must not modify the state; each call gets a new
// one. c's Timeout, if any, applies to GET_MASTER but not to the stream.
func Stream(ctx context.Context, c *http.Client, baseURL string, opts Options, onState func(*state.State)) error {
	if c == nil {
		c = http.DefaultClient
	}
	o := opts.withDefaults()
	api, err := apiURL(baseURL)
	if err != nil {
		return err
	}
	s := &session{o: o, log: o.Logger}
	// Copies of the caller's client that hand redirects back to us, so the
	// re-issued request keeps its credentials and body.
	call := *c
	call.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	stream := call
	stream.Timeout = 0 // a stream lives for hours; silence is judged by heartbeats
	s.call, s.stream = &call, &stream
	for {
		err := s.once(ctx, api, onState)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errResync) {
			s.log.Debug("resubscribing to operator API", "url", api)
			continue
		}
		return err
	}
}

func apiURL(base string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil {
		return nil, fmt.Errorf("mesos operator API: base URL %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("mesos operator API: base URL %q: want http(s)://host[:port]", base)
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, "/api/v1") {
		p += "/api/v1"
	}
	u.Path, u.RawPath = p, ""
	return u, nil
}

type session struct {
	o            Options
	log          *slog.Logger
	call, stream *http.Client
}

// post sends one call, following up to maxRedirects redirects manually.
func (s *session) post(ctx context.Context, cl *http.Client, u *url.URL, body []byte) (*http.Response, *url.URL, error) {
	for hop := 0; ; hop++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", s.o.UserAgent)
		if s.o.Authorization != nil {
			if a := s.o.Authorization(); a != "" {
				req.Header.Set("Authorization", a)
			}
		}
		resp, err := cl.Do(req)
		if err != nil {
			return nil, nil, err
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			return resp, u, nil
		}
		loc := resp.Header.Get("Location")
		drain(resp)
		if hop >= maxRedirects {
			return nil, nil, fmt.Errorf("mesos operator API: more than %d redirects (last to %q)", maxRedirects, loc)
		}
		next, err := url.Parse(loc)
		if err != nil || loc == "" {
			return nil, nil, fmt.Errorf("mesos operator API: redirect with bad Location %q", loc)
		}
		// "//leader:5050/api/v1" keeps our scheme.
		u = u.ResolveReference(next)
		s.log.Debug("following redirect to leading master", "location", u.String())
	}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// statusError turns a non-200 answer into an error; answers meaning "this
// server has no operator API" wrap ErrNotSupported.
func statusError(call string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_ = resp.Body.Close()
	text := strings.TrimSpace(string(b))
	if len(text) > 200 {
		text = text[:200]
	}
	err := fmt.Errorf("mesos operator API: %s: %s: %q", call, resp.Status, text)
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented,
		http.StatusUnsupportedMediaType, http.StatusNotAcceptable:
		return fmt.Errorf("%w (%v)", ErrNotSupported, err)
	case http.StatusBadRequest:
		// A 1.0 master does not know SUBSCRIBE: the unknown enum name is
		// dropped and the call has no type.
		if strings.Contains(text, "Expecting 'type' to be present") {
			return fmt.Errorf("%w (%v)", ErrNotSupported, err)
		}
	}
	return err
}

// getMaster asks for MasterInfo (the v0 leader fields) and returns the URL
// of the master that answered, after redirects.
func (s *session) getMaster(ctx context.Context, api *url.URL) (*v1.MasterInfo, *url.URL, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.ConnectTimeout)
	defer cancel()
	resp, u, err := s.post(ctx, s.call, api, []byte(`{"type":"GET_MASTER"}`))
	if err != nil {
		return nil, nil, fmt.Errorf("mesos operator API: GET_MASTER: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, statusError("GET_MASTER", resp)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxCallResponse))
	if err != nil {
		return nil, nil, fmt.Errorf("mesos operator API: GET_MASTER: %w", err)
	}
	var r v1.Response
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, nil, fmt.Errorf("%w (GET_MASTER answer is not operator JSON: %v)", ErrNotSupported, err)
	}
	if r.GetMaster == nil {
		return nil, nil, fmt.Errorf("mesos operator API: GET_MASTER: answer without get_master")
	}
	return &r.GetMaster.MasterInfo, u, nil
}

// watchdog cancels a stream that stays silent for longer than its current
// timeout; every byte read re-arms it.
type watchdog struct {
	mu      sync.Mutex
	t       *time.Timer
	timeout time.Duration
	fired   atomic.Bool
}

func newWatchdog(timeout time.Duration, cancel func()) *watchdog {
	w := &watchdog{timeout: timeout}
	w.t = time.AfterFunc(timeout, func() {
		w.fired.Store(true)
		cancel()
	})
	return w
}

func (w *watchdog) set(timeout time.Duration) {
	w.mu.Lock()
	w.timeout = timeout
	w.mu.Unlock()
	w.kick()
}

func (w *watchdog) kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired.Load() {
		return
	}
	if w.timeout <= 0 {
		w.t.Stop()
		return
	}
	w.t.Reset(w.timeout)
}

func (w *watchdog) stop() { w.t.Stop() }

type kickReader struct {
	r io.Reader
	w *watchdog
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.w.kick()
	}
	return n, err
}

// once runs one subscription until it fails, ctx ends, or Resync is due.
func (s *session) once(ctx context.Context, api *url.URL, onState func(*state.State)) error {
	mi, leader, err := s.getMaster(ctx, api)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	headers := time.AfterFunc(s.o.ConnectTimeout, cancel)
	resp, _, err := s.post(sctx, s.stream, leader, []byte(`{"type":"SUBSCRIBE"}`))
	headerLate := !headers.Stop()
	if err != nil {
		if headerLate && ctx.Err() == nil {
			return fmt.Errorf("mesos operator API: SUBSCRIBE: no answer within %v", s.o.ConnectTimeout)
		}
		return fmt.Errorf("mesos operator API: SUBSCRIBE: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return statusError("SUBSCRIBE", resp)
	}
	if err := checkStreamType(resp.Header); err != nil {
		return err
	}

	var resync atomic.Bool
	if s.o.Resync > 0 {
		t := time.AfterFunc(s.o.Resync, func() { resync.Store(true); cancel() })
		defer t.Stop()
	}
	wd := newWatchdog(s.o.FirstRecordTimeout, cancel)
	defer wd.stop()
	rr := recordio.NewReader(&kickReader{r: resp.Body, w: wd}, s.o.MaxRecordSize)
	m := newModel(s.log, mi)

	fail := func(err error) error {
		switch {
		case ctx.Err() != nil:
			return nil
		case wd.fired.Load():
			return fmt.Errorf("%w (%v without a byte)", ErrDeadStream, wd.timeout)
		case resync.Load():
			return errResync
		case errors.Is(err, io.EOF):
			return fmt.Errorf("mesos operator API: stream closed by the master")
		}
		return fmt.Errorf("mesos operator API: stream: %w", err)
	}

	pending, batch := false, 0
	for {
		rec, body, err := rr.NextStream(wholeRecord)
		if err != nil {
			return fail(err)
		}
		var typ string
		var changed bool
		if body != nil {
			typ, changed, err = m.applyStream(body)
			if _, derr := io.Copy(io.Discard, body); derr != nil {
				return fail(derr)
			}
		} else {
			typ, changed, err = m.applyRecord(rec)
		}
		if !m.subscribed {
			if err == nil {
				err = fmt.Errorf("first event is %q", typ)
			}
			return fmt.Errorf("mesos operator API: expected SUBSCRIBED first: %w", err)
		}
		if err != nil {
			s.log.Warn("skipping operator event", "err", err)
		}
		if typ == v1.EventSubscribed && err == nil {
			timeout := s.o.DeadTimeout
			if timeout <= 0 && m.heartbeat > 0 {
				timeout = time.Duration(float64(m.heartbeat) * s.o.HeartbeatFactor)
			}
			wd.set(timeout)
			s.log.Info("subscribed to operator API", "url", leader.String(), "agents", m.agents.len(),
				"frameworks", m.frameworks.len(), "tasks", m.tasks.len(), "heartbeat", m.heartbeat)
		}
		pending = pending || changed
		batch++
		if pending && (batch >= maxBatch || !rr.HasRecord()) {
			onState(m.state())
			pending, batch = false, 0
		} else if !pending {
			batch = 0
		}
	}
}

// checkStreamType accepts the record encodings a master may announce:
// application/json (Mesos' operator stream), or application/recordio with a
// JSON Message-Content-Type; no Content-Type is tolerated.
func checkStreamType(h http.Header) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("%w (SUBSCRIBE answered with Content-Type %q)", ErrNotSupported, ct)
	}
	switch mt {
	case "application/json":
		return nil
	case "application/recordio":
		if m := h.Get("Message-Content-Type"); m == "" || strings.HasPrefix(m, "application/json") {
			return nil
		}
	}
	return fmt.Errorf("%w (SUBSCRIBE answered with Content-Type %q)", ErrNotSupported, ct)
}
