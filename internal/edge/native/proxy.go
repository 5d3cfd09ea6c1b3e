package native

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HAProxy's own error pages, as marathon-lb's users see them.
const (
	page401 = "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"
	page403 = "<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"
	page502 = "<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n"
	page503 = "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"
	page504 = "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n"
)

func errorPage(w http.ResponseWriter, code int, body string) int {
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
	return code
}

// handler serves the http frontend bound at addr, in the table current
// when each request arrives.
type handler struct {
	e    *Engine
	addr string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := h.e
	fe := e.cur.Load().byAddr[h.addr]
	if fe == nil || fe.mode != "http" {
		errorPage(w, http.StatusServiceUnavailable, page503)
		return
	}
	fe.stats.reqTot.Add(1)
	be := fe.backend
	if be == nil {
		prog := fe.prog
		if fe.grouped != nil {
			var sni string
			if r.TLS != nil {
				sni = lower(r.TLS.ServerName)
			}
			sub := fe.grouped[sni]
			if sub == nil {
				fe.stats.resp(errorPage(w, http.StatusServiceUnavailable, page503))
				return
			}
			prog = sub.prog
		}
		q := newRequest(r)
		v := prog.route(&q)
		switch v.kind {
		case challenge:
			w.Header().Set("WWW-Authenticate", `Basic realm="`+v.realm+`"`)
			fe.stats.resp(errorPage(w, http.StatusUnauthorized, page401))
			return
		case redirectHTTPS:
			w.Header().Set("Location", "https://"+r.Host+r.RequestURI)
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusMovedPermanently)
			fe.stats.resp(http.StatusMovedPermanently)
			return
		case noRoute:
			fe.stats.resp(errorPage(w, http.StatusServiceUnavailable, page503))
			return
		}
		be = v.backend
	}
	fe.stats.resp(e.serveBackend(w, r, fe, be))
}

// clientIP is the address part of RemoteAddr, without allocating.
func clientIP(remote string) string {
	i := strings.LastIndexByte(remote, ':')
	if i < 0 {
		return remote
	}
	ip := remote[:i]
	if len(ip) > 1 && ip[0] == '[' {
		ip = ip[1 : len(ip)-1]
	}
	return ip
}

const stickyCookie = "mesosphere_server_id"

// stickyValue is the persistence cookie of a request.
func stickyValue(r *http.Request) string {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if v, ok := strings.CutPrefix(part, stickyCookie+"="); ok {
				return v
			}
		}
	}
	return ""
}

var errRetry = errors.New("retry on another server")

// serveBackend applies the backend's request rules, picks a server and
// exchanges the request with it, trying other servers while a
// connection cannot be made. It returns the status sent.
func (e *Engine) serveBackend(w http.ResponseWriter, r *http.Request, fe *frontend, be *backend) int {
	be.stats.reqTot.Add(1)
	src := clientIP(r.RemoteAddr)
	if !be.allows(src) {
		return be.stats.resp(errorPage(w, http.StatusForbidden, page403))
	}
	if be.hasRedir && rawPath(r.RequestURI) == "/" && lower(r.Host) == be.redirHost {
		w.Header().Set("Location", be.redirPath)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusMovedPermanently)
		return be.stats.resp(http.StatusMovedPermanently)
	}
	q := pickInfo{src: src, now: time.Now().UnixNano()}
	if be.hash != hashNone {
		q.path = rawPath(r.RequestURI)
		q.header = r.Header
	}
	if be.sticky {
		q.cookie = stickyValue(r)
	}
	for range e.o.Retries + 1 {
		srv := be.pick(&q)
		if srv == nil {
			break
		}
		code, err := e.exchange(w, r, fe, be, srv, q.cookie)
		if err == nil {
			return be.stats.resp(code)
		}
		srv.st.failed(e)
		q.skip = srv
		be.stats.wredis.Add(1)
		srv.st.stats.wretr.Add(1)
	}
	return be.stats.resp(errorPage(w, http.StatusServiceUnavailable, page503))
}

// exchange sends the request to srv and its response to the client. It
// returns errRetry when nothing was sent to the client and the request
// may go to another server.
func (e *Engine) exchange(w http.ResponseWriter, r *http.Request, fe *frontend, be *backend, srv *server, cookie string) (int, error) {
	st := srv.st
	sc := st.stats
	n := st.active.Add(1)
	sc.bumpMax(n)
	defer st.active.Add(-1)
	sc.stot.Add(1)
	sc.lbtot.Add(1)
	sc.reqTot.Add(1)
	now := time.Now()
	replay := r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	uc := st.pool.get(now)
	reused := uc != nil
	for {
		if uc == nil {
			var err error
			if uc, err = e.dial(srv.addr); err != nil {
				sc.econ.Add(1)
				be.stats.econ.Add(1)
				return 0, errRetry
			}
		}
		_ = uc.c.SetDeadline(now.Add(e.o.ServerTimeout))
		out, err := e.writeRequest(uc, r, fe, be)
		sc.bin.Add(out)
		be.stats.bin.Add(out)
		if err == nil {
			_, err = uc.br.Peek(1)
		}
		if err == nil {
			break
		}
		uc.c.Close()
		uc = nil
		var be2 *bodyError
		switch {
		case errors.As(err, &be2):
			// The client's body failed: nothing for a server to answer.
			sc.cliAbrt.Add(1)
			return errorPage(w, http.StatusBadRequest, ""), nil
		case isTimeout(err):
			// The server may be working on it: never send it twice.
			sc.eresp.Add(1)
			return errorPage(w, http.StatusGatewayTimeout, page504), nil
		case reused && replay:
			reused = false // a keep-alive connection the server had closed
			continue
		case replay:
			sc.eresp.Add(1)
			return 0, errRetry
		}
		sc.eresp.Add(1)
		return errorPage(w, http.StatusBadGateway, page502), nil
	}
	return e.relay(w, r, be, srv, uc, cookie)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// relay reads the response from uc and writes it to the client; the
// connection goes back to the pool when the response ended cleanly.
func (e *Engine) relay(w http.ResponseWriter, r *http.Request, be *backend, srv *server, uc *upConn, cookie string) (int, error) {
	sc := srv.st.stats
	h := w.Header()
	var resp respHead
	for {
		if err := readHead(uc, h, &resp); err != nil {
			uc.c.Close()
			sc.eresp.Add(1)
			be.stats.eresp.Add(1)
			clear(h)
			if isTimeout(err) {
				return errorPage(w, http.StatusGatewayTimeout, page504), nil
			}
			return errorPage(w, http.StatusBadGateway, page502), nil
		}
		if resp.status >= 200 || resp.status == http.StatusSwitchingProtocols {
			break
		}
		clear(h) // an interim 1xx: the final response follows
	}
	sc.bout.Add(int64(resp.size))
	be.stats.bout.Add(int64(resp.size))
	if resp.status == http.StatusSwitchingProtocols {
		return e.tunnel(w, uc, &resp, sc)
	}
	if be.hsts {
		h["Strict-Transport-Security"] = hstsValue
	}
	if be.hasRev {
		if loc := h["Location"]; len(loc) > 0 && revMatch(loc[0], be.revHost) {
			h["Location"] = []string{be.revRoot}
		}
	}
	if be.sticky && cookie != srv.cookie && srv.cookie != "" {
		h.Add("Set-Cookie", stickyCookie+"="+srv.cookie+"; path=/")
		h.Set("Cache-Control", "private")
	}
	noBody := r.Method == http.MethodHead || resp.status == http.StatusNoContent || resp.status == http.StatusNotModified
	if resp.chunked {
		resp.length = -1
	} else if resp.lengthValue != nil && resp.status != http.StatusNoContent && resp.status != http.StatusNotModified {
		h["Content-Length"] = resp.lengthValue
	}
	w.WriteHeader(resp.status)
	sc.resp(resp.status)
	if noBody {
		e.done(srv, uc, resp.close)
		return resp.status, nil
	}
	var n int64
	var err error
	switch {
	case resp.chunked:
		n, err = e.copyChunked(w, uc)
	case resp.length >= 0:
		n, err = e.copyN(w, uc, resp.length)
	default:
		n, err = e.copyN(w, uc, -1)
		resp.close = true
	}
	sc.bout.Add(n)
	be.stats.bout.Add(n)
	if err != nil {
		uc.c.Close()
		var ce *clientError
		if errors.As(err, &ce) {
			sc.cliAbrt.Add(1)
		} else {
			sc.srvAbrt.Add(1)
		}
		// The status line is out: all that is left is to cut the
		// client's connection so that it sees the response is short.
		panic(http.ErrAbortHandler)
	}
	e.done(srv, uc, resp.close)
	return resp.status, nil
}

var hstsValue = []string{"max-age=15768000"}

func (e *Engine) done(srv *server, uc *upConn, closeConn bool) {
	if closeConn {
		uc.c.Close()
		return
	}
	srv.st.pool.put(uc, time.Now())
}

// revMatch is marathon-lb's revproxy condition:
// ^(https?://{hostname}(:[0-9]+)?)?(/.*)
func revMatch(loc, host string) bool {
	if strings.HasPrefix(loc, "/") {
		return true
	}
	rest, ok := strings.CutPrefix(loc, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(loc, "https://"); !ok {
			return false
		}
	}
	rest, ok = strings.CutPrefix(rest, host)
	if !ok {
		return false
	}
	if r, ok := strings.CutPrefix(rest, ":"); ok {
		i := 0
		for i < len(r) && r[i] >= '0' && r[i] <= '9' {
			i++
		}
		if i == 0 {
			return false
		}
		rest = r[i:]
	}
	return strings.HasPrefix(rest, "/")
}
