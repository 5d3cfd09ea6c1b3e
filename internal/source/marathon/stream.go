package marathon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"
)

// subscribed are the event types asked for with event_type (Marathon
// ≥1.3.7 filters server-side): everything that can change an app, a task,
// its health or readiness, plus the scheduler's re-registration, after
// which Marathon's view is rebuilt (spec marathon-api.md §5.3).
var subscribed = []string{
	"status_update_event", "health_status_changed_event", "api_post_event", "app_terminated_event",
	"deployment_info", "deployment_success", "deployment_failed", "deployment_step_success", "deployment_step_failure",
	"group_change_success", "group_change_failed",
	"instance_changed_event", "instance_health_changed_event", "unhealthy_instance_kill_event",
	"scheduler_registered_event", "scheduler_reregistered_event",
	"pod_created_event", "pod_updated_event", "pod_deleted_event",
}

// bookkeeping are event types an older Marathon, which ignores
// event_type, sends anyway; they say nothing about apps and do not cause
// a read (another client attaching must not make every source re-read).
var bookkeeping = []string{
	"event_stream_attached", "event_stream_detached", "subscribe_event", "unsubscribe_event",
	"framework_message_event",
}

// informational are other known types, counted under their own name.
var informational = []string{
	"failed_health_check_event", "add_health_check_event", "remove_health_check_event",
	"unhealthy_task_kill_event", "unknown_instance_terminated_event", "scheduler_disconnected_event",
}

// eventsURL is the stream request: the subscribed types, and light plans
// (Marathon 1.6+) since a deployment event is only a trigger here.
func eventsURL(base string) string {
	q := url.Values{"plan-format": {"light"}, "event_type": subscribed}
	return base + "/v2/events?" + q.Encode()
}

// streamMsg is what a stream goroutine tells the Run loop: that it has
// attached (at most once), then that it ended (exactly once).
type streamMsg struct {
	gen      uint64
	attached bool
	url      int // index of the URL attached to

	err         error
	unsupported bool          // no URL offers the stream; poll
	idle        bool          // ended because it went quiet
	lived       time.Duration // how long it was attached (0: never)
}

// errUnsupported marks an answer meaning "no event stream here": 404 (no
// /v2/events before Marathon 0.11), 405 (Jetty's fall-through when the
// Accept header does not match), 406, 501, or a 2xx that is not an event
// stream (a proxy in the way).
var errUnsupported = errors.New("event stream not offered")

// stream attaches to the first URL (from start, in order) that offers the
// stream, reads it until it ends, and returns how it ended. attached is
// called once the response headers are in.
func (s *Source) stream(ctx context.Context, start int, attached func(url int)) streamMsg {
	n := len(s.o.URLs)
	var errs readErrors
	unsupported := false
	for k := range n {
		i := (start + k) % n
		resp, cancel, err := s.openStream(ctx, s.o.URLs[i])
		if err != nil {
			if ctx.Err() != nil {
				return streamMsg{err: ctx.Err()}
			}
			unsupported = unsupported || errors.Is(err, errUnsupported)
			errs = append(errs, err)
			continue
		}
		attached(i)
		since := time.Now()
		idle, err := s.readStream(ctx, resp, cancel)
		return streamMsg{err: err, idle: idle, lived: time.Since(since)}
	}
	var err error = errs
	if len(errs) == 1 {
		err = errs[0]
	}
	return streamMsg{err: err, unsupported: unsupported}
}

// openStream sends the stream request to one URL. On success the caller
// owns the response and must call cancel when done.
func (s *Source) openStream(ctx context.Context, base string) (*http.Response, context.CancelFunc, error) {
	u := eventsURL(base)
	sctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("open event stream at %s: %w", base, err)
	}
	// Jetty's EventSourceServlet compares the Accept value for equality:
	// exactly this string, nothing added.
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	var timedOut atomic.Bool
	hdr := time.AfterFunc(s.o.RequestTimeout, func() { timedOut.Store(true); cancel() })
	resp, err := s.client.Do(req)
	hdr.Stop()
	if err != nil {
		cancel()
		if timedOut.Load() {
			return nil, nil, fmt.Errorf("open event stream at %s: no response within %v", base, s.o.RequestTimeout)
		}
		return nil, nil, fmt.Errorf("open event stream: %w", err)
	}
	fail := func(err error) (*http.Response, context.CancelFunc, error) {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		cancel()
		return nil, nil, err
	}
	se := &StatusError{URL: base + "/v2/events", Status: resp.Status, Code: resp.StatusCode}
	switch {
	case resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusMethodNotAllowed,
		resp.StatusCode == http.StatusNotAcceptable, resp.StatusCode == http.StatusNotImplemented:
		return fail(fmt.Errorf("%w: %w", errUnsupported, se))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return fail(se)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return fail(fmt.Errorf("%w: %s answered with content type %q", errUnsupported, base+"/v2/events", resp.Header.Get("Content-Type")))
	}
	return resp, cancel, nil
}

// readStream reads events until the stream ends, breaks, or delivers no
// byte for StreamIdleTimeout (heartbeats count). Every event that may
// change the apps pokes the Run loop; idle tells why it ended.
func (s *Source) readStream(ctx context.Context, resp *http.Response, cancel context.CancelFunc) (idle bool, err error) {
	defer cancel()
	defer resp.Body.Close()
	var quiet atomic.Bool
	t := time.AfterFunc(s.o.StreamIdleTimeout, func() { quiet.Store(true); cancel() })
	defer t.Stop()
	body := &activityReader{r: resp.Body, t: t, d: s.o.StreamIdleTimeout}
	rd := newSSEReader(body, int(min(s.o.MaxBytes, math.MaxInt32)))
	for {
		ev, err := rd.next()
		if err != nil {
			switch {
			case quiet.Load():
				return true, fmt.Errorf("event stream idle for %v", s.o.StreamIdleTimeout)
			case ctx.Err() != nil:
				return false, ctx.Err()
			case errors.Is(err, io.EOF):
				return false, errors.New("event stream closed by marathon")
			}
			return false, fmt.Errorf("read event stream: %w", err)
		}
		if s.event(ev) {
			select {
			case s.invalid <- struct{}{}:
			default:
			}
		}
	}
}

// event counts one event and reports whether it may change the apps.
// Anything unreadable does: an event is only ever a trigger for a full
// read, so reading it too often is harmless and missing it is not.
func (s *Source) event(ev sseEvent) bool {
	if ev.TooLong {
		s.m.events.WithLabelValues("invalid").Inc()
		s.log.Debug("marathon event too large; treated as a change", "event", ev.Type)
		return true
	}
	types, ok := eventTypes(ev.Data)
	if !ok {
		s.m.events.WithLabelValues("invalid").Inc()
		s.log.Debug("marathon event data is not JSON; treated as a change", "event", ev.Type)
		return true
	}
	invalidates := false
	for _, t := range types {
		if t == "" {
			t = ev.Type
		}
		s.m.events.WithLabelValues(eventLabel(t)).Inc()
		if !isOneOf(t, bookkeeping) {
			invalidates = true
		}
	}
	return invalidates
}

// eventLabel bounds the metric's label values to the known types.
func eventLabel(t string) string {
	if isOneOf(t, subscribed) || isOneOf(t, bookkeeping) || isOneOf(t, informational) {
		return t
	}
	return "other"
}

func isOneOf(s string, l []string) bool { return slices.Contains(l, s) }

// activityReader pushes the idle deadline back on every byte read.
type activityReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (a *activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.t.Reset(a.d)
	}
	return n, err
}
