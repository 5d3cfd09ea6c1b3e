package testutil

import (
	"bytes"
	"sync"
)

// LogBuffer collects a process's or a logger's output; it is safe for
// concurrent writes and reads (a child's output arrives on its own
// goroutine while the test reads it).
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
