package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// masterCache is /cache/master/ (§1.2): GETs of the Mesos leader's
// /master/… endpoints, 200s kept cacheTTL so that many dashboards polling
// the state cost the leader one request per TTL. A request with a
// Cache-Control header bypasses it.
type masterCache struct {
	mu      sync.Mutex
	entries map[string]*cached
}

type cached struct {
	at     time.Time
	header http.Header
	body   []byte
}

const (
	cacheTTL        = 5 * time.Second
	cacheMaxEntries = 64
	cacheMaxBody    = 64 << 20
)

func (g *Gateway) serveCache(w http.ResponseWriter, r *http.Request, raw string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		plain(w, http.StatusMethodNotAllowed, "405 Method Not Allowed")
		return
	}
	target := g.mesosURL()
	if target == nil {
		plain(w, http.StatusServiceUnavailable, "503 Service Unavailable: Mesos leader is unknown.")
		return
	}
	path := strings.TrimPrefix(raw, "/cache") // /master/…
	key := path + "?" + r.URL.RawQuery
	bypass := r.Header.Get("Cache-Control") != ""
	c := g.cache
	if !bypass {
		c.mu.Lock()
		e := c.entries[key]
		c.mu.Unlock()
		if e != nil && time.Since(e.at) < cacheTTL {
			writeCached(w, r, e, "HIT")
			return
		}
	}
	u := *target
	u.Path, u.RawPath, u.RawQuery = "", "", r.URL.RawQuery
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		plain(w, http.StatusBadGateway, "502 Bad Gateway")
		return
	}
	req.URL.RawPath = strings.TrimSuffix(target.EscapedPath(), "/") + path
	req.URL.Path = req.URL.RawPath
	req.Header.Set("User-Agent", "Master Admin Router")
	resp, err := g.dns.Do(req)
	if err != nil {
		plain(w, http.StatusBadGateway, "502 Bad Gateway")
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, cacheMaxBody+1))
	if err != nil || len(body) > cacheMaxBody {
		plain(w, http.StatusBadGateway, "502 Bad Gateway")
		return
	}
	e := &cached{at: time.Now(), header: resp.Header.Clone(), body: body}
	e.header.Del("Connection")
	status := "MISS"
	if bypass {
		status = "BYPASS"
	}
	if resp.StatusCode == http.StatusOK {
		c.mu.Lock()
		if len(c.entries) >= cacheMaxEntries {
			for k, old := range c.entries {
				if time.Since(old.at) >= cacheTTL {
					delete(c.entries, k)
				}
			}
			if len(c.entries) >= cacheMaxEntries {
				c.entries = map[string]*cached{}
			}
		}
		c.entries[key] = e
		c.mu.Unlock()
		writeCached(w, r, e, status)
		return
	}
	for k, v := range e.header {
		w.Header()[k] = v
	}
	w.Header().Set("X-Cache-Status", status)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

func writeCached(w http.ResponseWriter, r *http.Request, e *cached, status string) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	w.Header().Set("X-Cache-Status", status)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, bytes.NewReader(e.body))
	}
}
