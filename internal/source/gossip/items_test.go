package gossip

import (
	"sync"
	"testing"

	"github.com/sextantdc/sextant/internal/model"
)

type sink struct {
	mu   sync.Mutex
	last *model.ItemsObservation
	n    int
}

func (s *sink) PublishItems(o *model.ItemsObservation) {
	s.mu.Lock()
	s.last, s.n = o, s.n+1
	s.mu.Unlock()
}

func TestItems(t *testing.T) {
	k := &sink{}
	s := New(k)
	s.Update("b.zone", 2, []byte("b2"))
	s.Update("a.zone", 1, []byte("a1"))
	s.Update("b.zone", 1, []byte("old")) // out of order: ignored
	s.Update("b.zone", 2, []byte("dup")) // same version: ignored
	if k.n != 2 {
		t.Fatalf("published %d times, want 2", k.n)
	}
	got := k.last.Items
	if len(got) != 2 || got[0].Name != "a.zone" || got[1].Name != "b.zone" || string(got[1].Payload) != "b2" {
		t.Fatalf("items %+v", got)
	}
	// Local items get increasing versions; an unchanged payload is no
	// change.
	if !s.Put("c.zone", []byte("c")) || s.Put("c.zone", []byte("c")) || !s.Put("c.zone", []byte("c2")) {
		t.Fatal("Put change detection")
	}
	var c model.Item
	for _, it := range k.last.Items {
		if it.Name == "c.zone" {
			c = it
		}
	}
	if c.Version != 2 || string(c.Payload) != "c2" {
		t.Fatalf("local item %+v", c)
	}
}

func TestItemsConcurrent(t *testing.T) {
	s := New(&sink{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for v := range uint64(100) {
				s.Update("z", v+uint64(i), []byte{byte(v)})
				s.Put("local", []byte{byte(v)})
			}
		})
	}
	wg.Wait()
}
