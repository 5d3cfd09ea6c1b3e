package auth

import (
	"sync"
	"time"
)

// verifiedCacheSize bounds the tokens remembered as verified: a client
// sends the same token with every request, and an RSA verification costs
// more than proxying a small response.
const verifiedCacheSize = 4096

// verifiedTTL is how long a verified token is trusted without being
// verified again (never past its exp).
const verifiedTTL = time.Minute

// verified remembers recently verified tokens. Only valid tokens enter
// it, so a flood of bad tokens cannot evict the good ones faster than
// they are used; when full, it starts over.
type verified struct {
	mu  sync.Mutex
	max int
	m   map[string]verifiedEntry
}

type verifiedEntry struct {
	c     *Claims
	until time.Time
}

func newVerified(max int) *verified { return &verified{max: max, m: map[string]verifiedEntry{}} }

func (v *verified) get(tok string, now time.Time) (*Claims, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.m[tok]
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.c, true
}

func (v *verified) put(tok string, c *Claims, now time.Time) {
	until := now.Add(verifiedTTL)
	if c.ExpiresAt != nil && c.ExpiresAt.Before(until) {
		until = c.ExpiresAt.Time
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.m) >= v.max {
		v.m = map[string]verifiedEntry{}
	}
	v.m[tok] = verifiedEntry{c: c, until: until}
}
