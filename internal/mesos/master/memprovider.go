package master

import (
	"sync"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// MemProvider is a Provider that serves whatever state was last Set: a
// building block for tests of Mesos consumers and for serving a fixed or
// externally computed state. It is safe for concurrent use.
type MemProvider struct {
	mu sync.Mutex
	st *state.State
	ch chan struct{}
}

// NewMemProvider returns a provider serving st (nil serves an empty state).
func NewMemProvider(st *state.State) *MemProvider {
	if st == nil {
		st = &state.State{}
	}
	return &MemProvider{st: st, ch: make(chan struct{})}
}

// Set replaces the state and signals the change. The caller must not modify
// st afterwards.
func (p *MemProvider) Set(st *state.State) {
	if st == nil {
		st = &state.State{}
	}
	p.mu.Lock()
	p.st = st
	close(p.ch)
	p.ch = make(chan struct{})
	p.mu.Unlock()
}

// State implements Provider.
func (p *MemProvider) State() *state.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// Changed implements Provider.
func (p *MemProvider) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ch
}
