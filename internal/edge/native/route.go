package native

import (
	"net/http"
	"strings"
)

// request is what the rules look at, read once.
type request struct {
	r    *http.Request
	host string // lower-cased Host header
	sni  string // lower-cased SNI, "" without TLS or SNI
	tls  bool
	path string // raw path of the request URI, without the query
}

func newRequest(r *http.Request) request {
	q := request{r: r, host: lower(r.Host), path: rawPath(r.RequestURI)}
	if r.TLS != nil {
		q.tls = true
		q.sni = lower(r.TLS.ServerName)
	}
	return q
}

// lower avoids allocating for the usual, already lower-case names.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// rawPath is HAProxy's path fetch: the request URI up to '?', without
// scheme and authority for an absolute URI.
func rawPath(uri string) string {
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if len(uri) > 0 && uri[0] != '/' {
		if i := strings.Index(uri, "://"); i >= 0 {
			rest := uri[i+3:]
			if j := strings.IndexByte(rest, '/'); j >= 0 {
				return rest[j:]
			}
			return ""
		}
	}
	return uri
}

func (a *acl) match(q *request) bool {
	if a.matchOne(q) {
		return true
	}
	for _, x := range a.extra {
		if x.matchOne(q) {
			return true
		}
	}
	return false
}

func (a *acl) matchOne(q *request) bool {
	switch a.kind {
	case aclHost:
		return a.vals[q.host]
	case aclPath:
		for _, p := range a.paths {
			if p.fold {
				if len(q.path) >= len(p.prefix) && strings.EqualFold(q.path[:len(p.prefix)], p.prefix) {
					return true
				}
			} else if strings.HasPrefix(q.path, p.prefix) {
				return true
			}
		}
		return false
	case aclAuth:
		return a.users != nil && a.users.check(q.r.Header.Get("Authorization"))
	case aclAppID:
		return a.vals[lower(q.r.Header.Get("X-Marathon-App-Id"))]
	}
	return false
}

func (c cond) eval(q *request) bool {
	for _, t := range c {
		var m bool
		switch {
		case t.acl != nil:
			m = t.acl.match(q)
		case t.sniSet:
			m = q.sni == t.sni
		case t.ssl:
			m = q.tls
		}
		if m == t.neg {
			return false
		}
	}
	return true
}

type verdictKind uint8

const (
	noRoute verdictKind = iota
	toBackend
	challenge
	redirectHTTPS
)

type verdict struct {
	kind    verdictKind
	backend *backend
	realm   string
}

// route runs a frontend's rules on a request.
func (p *program) route(q *request) verdict {
	for i := range p.auths {
		if p.auths[i].cond.eval(q) {
			return verdict{kind: challenge, realm: p.auths[i].realm}
		}
	}
	for _, c := range p.redirects {
		if c.eval(q) {
			return verdict{kind: redirectHTTPS}
		}
	}
	best := len(p.uses)
	if i, ok := p.hostIndex[q.host]; ok {
		best = i
	}
	for _, i := range p.complex {
		if i >= best {
			break
		}
		u := &p.uses[i]
		if u.dyn != dynNone {
			be, ok := u.lookup(q)
			if !ok || be == nil {
				// An unresolved dynamic backend ends the rules.
				return verdict{}
			}
			return verdict{kind: toBackend, backend: be}
		}
		if u.cond.eval(q) {
			best = i
			break
		}
	}
	if best < len(p.uses) {
		return verdict{kind: toBackend, backend: p.uses[best].backend}
	}
	return verdict{}
}

func (u *useRule) lookup(q *request) (*backend, bool) {
	var key string
	switch u.dyn {
	case dynHost:
		key = q.host
		if i := strings.IndexByte(key, ':'); i >= 0 {
			key = key[:i]
		}
	case dynSNI:
		key = q.sni
	case dynAppID:
		key = lower(q.r.Header.Get("X-Marathon-App-Id"))
	}
	be, ok := u.dynMap[key]
	return be, ok
}
