package master

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/operator/recordio"
	v1 "github.com/sextantdc/sextant/internal/mesos/operator/v1"
)

// heartbeatRecord is the framed HEARTBEAT event, the same bytes for every
// stream: 20\n{"type":"HEARTBEAT"}.
func heartbeatRecord() []byte { return recordio.Frame([]byte(`{"type":"HEARTBEAT"}`)) }

// subscriber is one open SUBSCRIBE stream.
type subscriber struct {
	q        chan []byte
	dropped  chan struct{}
	dropOnce sync.Once
	reason   string // why it was dropped; written once, before dropped closes

	mu   sync.Mutex
	rc   *http.ResponseController
	done bool // the handler returned; rc must not be used any more
}

// drop closes the stream from the server side. A handler blocked writing to
// a client that stopped reading is woken by an expired write deadline.
func (s *subscriber) drop(reason string) bool {
	first := false
	s.dropOnce.Do(func() {
		first = true
		s.reason = reason
		close(s.dropped)
		s.mu.Lock()
		if !s.done && s.rc != nil {
			_ = s.rc.SetWriteDeadline(time.Now())
		}
		s.mu.Unlock()
	})
	return first
}

// hubRun is one life of the fan-out goroutine: it runs while at least one
// stream is open, so an idle handler holds no goroutine.
type hubRun struct {
	stop chan struct{}
	prev *snap // last state whose events were queued; guarded by hub.mu
}

// hub derives events from provider changes once and queues the encoded
// records to every stream, never blocking on any of them.
type hub struct {
	h    *handler
	mu   sync.Mutex
	run  *hubRun
	subs []*subscriber // oldest first
}

// add registers a stream and returns the state its SUBSCRIBED must show:
// every later change reaches the stream as events relative to that state.
func (hb *hub) add(s *subscriber) *snap {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.run == nil {
		hb.run = &hubRun{stop: make(chan struct{}), prev: hb.h.current()}
		go hb.loop(hb.run)
	}
	for len(hb.subs) >= hb.h.opts.MaxSubscribers {
		oldest := hb.subs[0]
		hb.subs = hb.subs[1:]
		if oldest.drop("evicted") {
			hb.h.m.dropped.WithLabelValues("evicted").Inc()
		}
	}
	hb.subs = append(hb.subs, s)
	hb.h.m.subscribers.Set(float64(len(hb.subs)))
	return hb.run.prev
}

func (hb *hub) remove(s *subscriber) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	for i, x := range hb.subs {
		if x == s {
			hb.subs = append(hb.subs[:i:i], hb.subs[i+1:]...)
			break
		}
	}
	hb.h.m.subscribers.Set(float64(len(hb.subs)))
	if len(hb.subs) == 0 && hb.run != nil {
		close(hb.run.stop)
		hb.run = nil
	}
}

func (hb *hub) loop(run *hubRun) {
	hb.mu.Lock()
	prev := run.prev
	hb.mu.Unlock()
	for {
		select {
		case <-prev.changed:
		case <-run.stop:
			return
		}
		next := hb.h.current()
		evs := diff(prev.st, next.st, hb.h.convOpts())
		recs := make([][]byte, 0, len(evs))
		for i := range evs {
			b, err := json.Marshal(&evs[i])
			if err != nil {
				hb.h.log.Error("encoding event", "type", evs[i].Type, "err", err)
				continue
			}
			recs = append(recs, recordio.Frame(b))
		}
		hb.mu.Lock()
		if hb.run != run {
			hb.mu.Unlock()
			return
		}
		run.prev = next
		hb.h.m.records.Add(float64(len(recs)))
		for _, s := range hb.subs {
			for _, rec := range recs {
				select {
				case s.q <- rec:
					continue
				default:
				}
				if s.drop("slow") {
					hb.h.m.dropped.WithLabelValues("slow").Inc()
					hb.h.log.Warn("operator API subscriber cannot keep up; closing its stream", "queue", cap(s.q))
				}
				break
			}
		}
		hb.mu.Unlock()
		prev = next
	}
}

// subscribedRecord renders the framed SUBSCRIBED event of a state once.
func (h *handler) subscribedRecord(s *snap) ([]byte, error) {
	return s.subd.get(func() ([]byte, error) {
		hb := v1.Float64(h.opts.HeartbeatInterval.Seconds())
		b, err := json.Marshal(v1.Event{Type: v1.EventSubscribed, Subscribed: &v1.Subscribed{
			GetState: *h.v1State(s), HeartbeatIntervalSeconds: &hb,
		}})
		if err != nil {
			return nil, err
		}
		return recordio.Frame(b), nil
	})
}

// subscribe serves a SUBSCRIBE stream: SUBSCRIBED, one HEARTBEAT, then the
// events of every change and a HEARTBEAT per interval, until the client
// leaves or the server drops the stream.
func (h *handler) subscribe(w http.ResponseWriter, r *http.Request) {
	s := &subscriber{
		q:       make(chan []byte, h.opts.QueueSize),
		dropped: make(chan struct{}),
		rc:      http.NewResponseController(w),
	}
	first := h.hub.add(s)
	defer h.hub.remove(s)
	defer func() {
		s.mu.Lock()
		s.done = true
		s.mu.Unlock()
	}()

	rec, err := h.subscribedRecord(first)
	if err != nil {
		h.log.Error("rendering SUBSCRIBED", "err", err)
		http.Error(w, "Failed to render state", http.StatusInternalServerError)
		return
	}
	// The record encoding, not "recordio", as a Mesos master answers.
	w.Header().Set("Content-Type", contentJSON)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	hbRec := heartbeatRecord()
	if !h.write(w, s, rec, hbRec) {
		return
	}
	h.log.Debug("operator API subscriber connected", "remote", r.RemoteAddr)
	tick := time.NewTicker(h.opts.HeartbeatInterval)
	defer tick.Stop()
	batch := make([][]byte, 0, 64)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.dropped:
			h.log.Debug("operator API stream closed by server", "remote", r.RemoteAddr, "reason", s.reason)
			return
		case <-tick.C:
			if !h.write(w, s, hbRec) {
				return
			}
		case rec := <-s.q:
			// Write what is queued in one flush.
			batch = append(batch[:0], rec)
		more:
			for len(batch) < cap(batch) {
				select {
				case rec := <-s.q:
					batch = append(batch, rec)
				default:
					break more
				}
			}
			if !h.write(w, s, batch...) {
				return
			}
		}
	}
}

func (h *handler) write(w http.ResponseWriter, s *subscriber, recs ...[]byte) bool {
	select {
	case <-s.dropped:
		return false
	default:
	}
	for _, rec := range recs {
		if _, err := w.Write(rec); err != nil {
			return false
		}
	}
	return s.rc.Flush() == nil
}
