package gateway

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// safePath reports whether an escaped request path stays inside the route
// it names: no segment is "." or "..", however it is encoded (%2e%2e, or
// hidden behind an encoded slash such as ..%2f..), no encoded NUL, and no
// backslash that an upstream might take for a separator.
func safePath(raw string) bool {
	if raw == "" || raw[0] != '/' {
		return false
	}
	for _, seg := range strings.Split(raw, "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return false
		}
		if strings.ContainsAny(dec, "\x00\\") {
			return false
		}
		for _, part := range strings.Split(dec, "/") {
			if part == "." || part == ".." {
				return false
			}
		}
	}
	return true
}

func asMaxBytes(err error, target **http.MaxBytesError) bool { return errors.As(err, target) }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// statusWriter records the status code for the metrics; Unwrap lets
// http.ResponseController reach Flush and Hijack (streams, WebSockets).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// metrics are the gateway's per-upstream request counts and latencies
// (nginx VTS' figures: the buckets are Admin Router's).
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_gateway_requests_total",
			Help: "Requests the gateway answered, by upstream (or service:<name>) and status code."}, []string{"upstream", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sextant_gateway_request_duration_seconds",
			Help:    "Time to answer a request, by upstream (or service:<name>); streams count until they end.",
			Buckets: []float64{0.008, 0.04, 0.2, 1, 5, 25}}, []string{"upstream"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *metrics) observe(label string, code int, d time.Duration) {
	m.requests.WithLabelValues(label, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(label).Observe(d.Seconds())
}

// bufferPool recycles the proxy's copy buffers: without it every
// response allocates 32 KiB.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(x []byte) { b.p.Put(&x) }
