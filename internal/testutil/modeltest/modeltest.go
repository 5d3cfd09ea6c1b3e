// Package modeltest builds model snapshots for tests. It is apart from
// package testutil because the model's own tests use testutil: testutil
// cannot import the model.
package modeltest

import (
	"os"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
)

// LoadSnapshot parses the v0 /master/state JSON file at path and builds
// the snapshot numbered version from it; it fails the test on any error.
func LoadSnapshot(t testing.TB, path string, version uint64) *model.Snapshot {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, skipped, err := state.Parse(b)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("parse state: skipped %v, err %v", skipped, err)
	}
	return model.Build(st, model.BuildOptions{Version: version})
}
