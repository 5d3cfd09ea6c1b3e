package runtime

import (
	"bytes"
	"encoding/json"
	"sync"
	"time"

	"github.com/sextantdc/sextant/internal/marathon"
)

// Event is one Marathon event as it goes on the wire: its type and the
// single-line JSON payload (which carries eventType and timestamp).
type Event struct {
	Type string
	Data []byte
}

// Subscriber receives events in publication order through a bounded queue.
// When the queue overflows the subscriber is dropped (Done is closed) so
// that a slow reader never blocks the runtime; it reconnects and resyncs,
// as every Marathon client must after a reconnect anyway.
type Subscriber struct {
	C      chan Event
	done   chan struct{}
	filter map[string]bool
	once   sync.Once
}

// Done is closed when the bus dropped the subscriber.
func (s *Subscriber) Done() <-chan struct{} { return s.done }

func (s *Subscriber) drop() { s.once.Do(func() { close(s.done) }) }

// Bus fans events out to subscribers.
type Bus struct {
	mu      sync.Mutex
	subs    map[*Subscriber]struct{}
	queue   int
	now     func() time.Time
	dropped func()
}

// NewBus returns a bus whose subscribers each get a queue of size queue.
func NewBus(queue int, now func() time.Time) *Bus {
	if queue <= 0 {
		queue = 1024
	}
	if now == nil {
		now = time.Now
	}
	return &Bus{subs: map[*Subscriber]struct{}{}, queue: queue, now: now}
}

// Subscribe adds a subscriber; types filters by event type (empty: all).
func (b *Bus) Subscribe(types []string) *Subscriber {
	s := &Subscriber{C: make(chan Event, b.queue), done: make(chan struct{})}
	if len(types) > 0 {
		s.filter = map[string]bool{}
		for _, t := range types {
			s.filter[t] = true
		}
	}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Unsubscribe removes a subscriber.
func (b *Bus) Unsubscribe(s *Subscriber) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
	s.drop()
}

// Len is the number of subscribers.
func (b *Bus) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Publish sends an event to every subscriber. payload gets eventType and
// timestamp added. Publish never blocks.
func (b *Bus) Publish(eventType string, payload map[string]any) {
	if payload == nil {
		payload = map[string]any{}
	}
	payload["eventType"] = eventType
	payload["timestamp"] = marathon.Timestamp(b.now())
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(payload); err != nil {
		return
	}
	ev := Event{Type: eventType, Data: bytes.TrimRight(buf.Bytes(), "\n")}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.filter != nil && !s.filter[eventType] {
			continue
		}
		select {
		case s.C <- ev:
		default:
			delete(b.subs, s)
			s.drop()
			if b.dropped != nil {
				b.dropped()
			}
		}
	}
}
