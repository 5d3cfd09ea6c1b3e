package forward

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// DefaultSequentialTimeout is Mesos-DNS's default `timeout` (seconds 5).
const DefaultSequentialTimeout = 5 * time.Second

// Sequential forwards like Mesos-DNS (spec/mesos-dns.md §6.6): the upstreams
// are tried in the configured order, the client's message goes out unchanged
// over the client's transport, and the first exchange that yields a
// parseable reply wins, whatever its rcode. Each try is bounded by Timeout
// (dial, write and read), so the worst case is len(Upstreams) × Timeout.
//
// All tries failed → SERVFAIL with ErrAllFailed; no upstreams → REFUSED
// with ErrNoUpstreams.
type Sequential struct {
	upstreams []string
	timeout   time.Duration
	pools     pools
}

var _ Forwarder = (*Sequential)(nil)

// NewSequential checks and normalises the upstreams ("ip" or "ip:port").
// A zero timeout means DefaultSequentialTimeout.
func NewSequential(upstreams []string, timeout time.Duration) (*Sequential, error) {
	s := &Sequential{timeout: timeout}
	if s.timeout <= 0 {
		s.timeout = DefaultSequentialTimeout
	}
	var errs []error
	for _, u := range upstreams {
		n, err := NormalizeUpstream(u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.upstreams = append(s.upstreams, n)
	}
	s.pools = newPools(s.upstreams)
	return s, errors.Join(errs...)
}

// Close releases the idle upstream sockets.
func (s *Sequential) Close() {
	for _, p := range s.pools {
		p.close()
	}
}

// Upstreams returns the normalised upstream list.
func (s *Sequential) Upstreams() []string { return append([]string(nil), s.upstreams...) }

// Forward implements Forwarder.
func (s *Sequential) Forward(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error) {
	if len(s.upstreams) == 0 {
		return Reply(req, dns.RcodeRefused), ErrNoUpstreams
	}
	var errs []error
	for _, u := range s.upstreams {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		r, err := exchange(ctx, req, nil, network, u, s.timeout, s.pools[u])
		if err == nil {
			return r, nil
		}
		errs = append(errs, err)
	}
	return Reply(req, dns.RcodeServerFailure), fmt.Errorf("%w: %w", ErrAllFailed, errors.Join(errs...))
}
