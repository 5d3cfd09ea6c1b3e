package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/vip"
)

// Watch keeps the discovery documents the gateway serves — every
// service's endpoints, the list of services, the VIP table — each with the
// index at which it last changed, and wakes the clients waiting on them.
//
// Indexes are the watch's own change counter (one step per snapshot that
// changed anything), not snapshot versions: a snapshot that changes
// nothing a client reads (a health result of another app, gossip items)
// does not wake anyone.
type Watch struct {
	log    *slog.Logger
	vipCfg vip.Config
	// MaxWait bounds a long poll's ?wait=; Heartbeat is the event
	// stream's keep-alive comment interval.
	maxWait, heartbeat time.Duration

	mu      sync.Mutex
	index   uint64
	docs    map[string]*doc
	changed chan struct{}
	ready   bool
}

type doc struct {
	body  []byte // nil: the document was removed (a service that went away)
	index uint64
}

// WatchOptions configure a Watch.
type WatchOptions struct {
	Logger *slog.Logger
	// VIPs configures the VIP table (allocation ranges).
	VIPs vip.Config
	// MaxWait bounds ?wait= (default 5 min); Heartbeat is the event
	// stream's keep-alive interval (default 15 s).
	MaxWait, Heartbeat time.Duration
}

// NewWatch builds an empty watch; Run fills it.
func NewWatch(o WatchOptions) *Watch {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxWait == 0 {
		o.MaxWait = 5 * time.Minute
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = 15 * time.Second
	}
	return &Watch{log: o.Logger, vipCfg: o.VIPs, maxWait: o.MaxWait, heartbeat: o.Heartbeat,
		docs: map[string]*doc{}, changed: make(chan struct{})}
}

// VIPBackend is one backend of a VIP in the discovery document.
type VIPBackend struct {
	IP      string `json:"ip"`
	Port    uint16 `json:"port"`
	Weight  uint8  `json:"weight"`
	AgentIP string `json:"agent_ip,omitempty"`
	TaskID  string `json:"task_id,omitempty"`
}

// VIPDoc is one VIP in the discovery document: /net/v1/vips' fields plus
// its addresses, the labels that declared it and each backend's task.
type VIPDoc struct {
	VIP      string       `json:"vip"`
	Protocol string       `json:"protocol"`
	Name     string       `json:"name,omitempty"`
	Port     uint16       `json:"port"`
	Addrs    []string     `json:"addrs"`
	Labels   []string     `json:"labels"`
	Backend  []VIPBackend `json:"backend"`
}

func vipDocs(t *vip.Table) []VIPDoc {
	out := make([]VIPDoc, 0, len(t.VIPs))
	for _, v := range t.VIPs {
		d := VIPDoc{Protocol: v.Protocol.String(), Port: v.Port, Addrs: []string{}, Labels: v.Labels, Backend: []VIPBackend{}}
		if v.Name != "" {
			d.VIP, d.Name = v.FQDN+":"+strconv.Itoa(int(v.Port)), v.FQDN
		} else {
			d.VIP = netip.AddrPortFrom(v.IP, v.Port).String()
		}
		if d.Labels == nil {
			d.Labels = []string{}
		}
		for _, a := range v.Addrs {
			d.Addrs = append(d.Addrs, a.String())
		}
		for _, b := range v.Backends {
			vb := VIPBackend{IP: b.IP.String(), Port: b.Port, Weight: b.Weight, TaskID: b.TaskID}
			if b.AgentIP.IsValid() {
				vb.AgentIP = b.AgentIP.String()
			}
			d.Backend = append(d.Backend, vb)
		}
		out = append(out, d)
	}
	return out
}

// Run follows the snapshots until the channel closes or ctx ends.
func (w *Watch) Run(ctx context.Context, snaps <-chan *model.Snapshot) error {
	var prev *model.Snapshot
	for {
		select {
		case <-ctx.Done():
			return nil
		case s, ok := <-snaps:
			if !ok {
				return nil
			}
			if s.SameSources(prev, "mesos", "marathon") {
				continue
			}
			prev = s
			w.Update(s)
		}
	}
}

// Update derives the documents from one snapshot and publishes those that
// changed.
func (w *Watch) Update(s *model.Snapshot) {
	next := map[string][]byte{}
	eps := BuildEndpoints(s)
	all, _ := json.Marshal(map[string]any{"services": eps})
	next["services"] = all
	for name, se := range eps {
		b, _ := json.Marshal(se)
		next["services/"+name] = b
	}
	t, probs := vip.BuildTable(s, w.vipCfg)
	for _, p := range probs {
		w.log.Debug("vip table", "problem", p.String())
	}
	vb, _ := json.Marshal(vipDocs(t))
	next["vips"] = vb
	eb, _ := json.Marshal(edgeRoutes(s))
	next["edge"] = eb

	w.mu.Lock()
	defer w.mu.Unlock()
	idx := w.index + 1
	changed := false
	for k, b := range next {
		if d, ok := w.docs[k]; ok && bytes.Equal(d.body, b) {
			continue
		}
		w.docs[k] = &doc{body: b, index: idx}
		changed = true
	}
	for k, d := range w.docs {
		if _, ok := next[k]; !ok && d.body != nil {
			w.docs[k] = &doc{index: idx}
			changed = true
		}
	}
	w.ready = true
	if changed {
		w.index = idx
		close(w.changed)
		w.changed = make(chan struct{})
	}
}

// get returns a document and the channel closed at the next change.
func (w *Watch) get(key string) (*doc, bool, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, ok := w.docs[key]
	if ok && d.body == nil {
		ok = false
	}
	if d == nil {
		d = &doc{index: 0}
	}
	return d, ok, w.changed
}

// Ready reports whether a snapshot has been seen.
func (w *Watch) Ready() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ready
}

// render turns a document into a response body: code 200 with the
// body, or 404 with none.
type render func(body []byte, ok bool) (int, []byte)

func wantsEvents(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream") || r.URL.Query().Has("stream")
}

// serve answers a discovery GET: now, after a change past ?index= (a long
// poll), or as an event stream.
func (w *Watch) serve(rw http.ResponseWriter, r *http.Request, key, event string, rd render) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rw.Header().Set("Allow", "GET, HEAD")
		plain(rw, http.StatusMethodNotAllowed, "405 Method Not Allowed")
		return
	}
	if wantsEvents(r) {
		w.stream(rw, r, key, event, rd)
		return
	}
	q := r.URL.Query()
	if is := q.Get("index"); is != "" {
		after, err := strconv.ParseUint(is, 10, 64)
		if err != nil {
			plain(rw, http.StatusBadRequest, "400 Bad Request: index: not an unsigned integer")
			return
		}
		wait := w.maxWait
		if ws := q.Get("wait"); ws != "" {
			d, err := time.ParseDuration(ws)
			if err != nil || d < 0 {
				plain(rw, http.StatusBadRequest, "400 Bad Request: wait: not a duration such as 30s")
				return
			}
			wait = min(d, w.maxWait)
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		for {
			d, _, ch := w.get(key)
			if d.index > after {
				break
			}
			select {
			case <-ch:
				continue
			case <-timer.C:
			case <-r.Context().Done():
				return
			}
			break
		}
	}
	d, ok, _ := w.get(key)
	code, body := rd(d.body, ok)
	rw.Header().Set("X-Sextant-Index", strconv.FormatUint(d.index, 10))
	rw.Header().Set("Cache-Control", "no-cache")
	if body != nil {
		rw.Header().Set("Content-Type", "application/json")
	}
	rw.WriteHeader(code)
	if body != nil {
		_, _ = rw.Write(body)
		_, _ = rw.Write([]byte("\n"))
	}
}

// stream sends the document as server-sent events: at once, then at every
// change; `id` is the document's index, so a reconnecting client's
// Last-Event-ID skips what it has.
func (w *Watch) stream(rw http.ResponseWriter, r *http.Request, key, event string, rd render) {
	rc := http.NewResponseController(rw)
	h := rw.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	rw.WriteHeader(http.StatusOK)
	var sent uint64
	if id, err := strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64); err == nil {
		sent = id
	}
	first := sent == 0
	hb := time.NewTicker(w.heartbeat)
	defer hb.Stop()
	for {
		d, ok, ch := w.get(key)
		if first || d.index > sent {
			first = false
			code, body := rd(d.body, ok)
			if code != http.StatusOK || body == nil {
				body = []byte("null")
			}
			if _, err := fmt.Fprintf(rw, "id: %d\nevent: %s\ndata: %s\n\n", d.index, event, body); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			sent = d.index
		}
		select {
		case <-ch:
		case <-hb.C:
			if _, err := fmt.Fprint(rw, ": keep-alive\n\n"); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

func whole(body []byte, ok bool) (int, []byte) {
	if !ok {
		return http.StatusNotFound, nil
	}
	return http.StatusOK, body
}

// ServeDiscovery serves /discovery/v1<path>: /vips, /services,
// /services/<name> and /edge.
func (w *Watch) ServeDiscovery(rw http.ResponseWriter, r *http.Request, path string) {
	switch {
	case path == "/vips":
		w.serve(rw, r, "vips", "vips", whole)
	case path == "/services":
		w.serve(rw, r, "services", "services", whole)
	case path == "/edge":
		w.serve(rw, r, "edge", "edge", whole)
	case strings.HasPrefix(path, "/services/"):
		name := strings.Trim(path[len("/services/"):], "/")
		w.serve(rw, r, "services/"+name, "endpoints", whole)
	default:
		plain(rw, http.StatusNotFound, "404 Not Found")
	}
}

// ServeServiceEndpoints answers /service/<name>/v1/endpoints[/<port>]
// for a service the model knows (§3), and reports whether it did.
func (w *Watch) ServeServiceEndpoints(rw http.ResponseWriter, r *http.Request, segs []string) bool {
	for i := 1; i <= len(segs) && i <= maxServiceSegments; i++ {
		rest := segs[i:]
		if len(rest) < 2 || len(rest) > 3 || rest[0] != "v1" || rest[1] != "endpoints" {
			continue
		}
		key := "services/" + strings.Join(segs[:i], "/")
		if _, ok, _ := w.get(key); !ok {
			continue
		}
		if len(rest) == 2 {
			w.serve(rw, r, key, "endpoints", func(body []byte, ok bool) (int, []byte) {
				var se ServiceEndpoints
				if !ok || json.Unmarshal(body, &se) != nil {
					return http.StatusNotFound, nil
				}
				b, _ := json.Marshal(se.Names())
				return http.StatusOK, b
			})
			return true
		}
		port := rest[2]
		w.serve(rw, r, key, "endpoint", func(body []byte, ok bool) (int, []byte) {
			var se ServiceEndpoints
			if !ok || json.Unmarshal(body, &se) != nil || se[port] == nil {
				return http.StatusNotFound, nil
			}
			b, _ := json.Marshal(se[port])
			return http.StatusOK, b
		})
		return true
	}
	return false
}
