package alloc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Store persists the master's state document. Version is opaque to the
// caller: Save succeeds only when the stored document is still the one
// Load returned with that version (ErrConflict otherwise), so a master
// that lost leadership cannot overwrite its successor's allocations.
type Store interface {
	// Load returns the document (nil when none was saved) and its version.
	Load(ctx context.Context) (doc []byte, version int64, err error)
	// Save replaces the document if it is still at version.
	Save(ctx context.Context, doc []byte, version int64) (int64, error)
}

// ErrConflict: the stored document changed since it was loaded.
var ErrConflict = errors.New("state changed in the store since it was read")

// FileStore keeps the document in one file, replaced atomically (write a
// temporary file, fsync, rename, fsync the directory), so a crash leaves
// the old or the new document, never a torn one. It is for one master:
// the version is a counter kept by this process.
type FileStore struct {
	Path string

	mu      sync.Mutex
	version int64
}

// Load reads the file; a missing file is an empty state.
func (s *FileStore) Load(context.Context) ([]byte, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, s.version, nil
	}
	if err != nil {
		return nil, 0, err
	}
	return b, s.version, nil
}

// Save replaces the file.
func (s *FileStore) Save(_ context.Context, doc []byte, version int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if version != s.version {
		return 0, ErrConflict
	}
	dir := filepath.Dir(s.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(s.Path)+".tmp*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := f.Write(doc); err != nil {
		f.Close()
		return 0, fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, s.Path); err != nil {
		return 0, err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	s.version++
	return s.version, nil
}
