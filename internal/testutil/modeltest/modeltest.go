// Package modeltest builds model snapshots for tests, the way the running
// system does: a Mesos state goes through the Mesos source's translation
// (and Marathon apps, where given) into model.Build. It is apart from
// package testutil because the model's own tests use testutil: testutil
// cannot import the model.
//
// Imports of Sextant's own packages: internal/mesos/state, internal/model,
// internal/source/mesos (tests only ever import this package).
package modeltest

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/source/mesos"
)

// Options are the inputs of FromState besides the state.
type Options struct {
	Version uint64
	Now     time.Time
	// Resolved maps host names in pids to addresses.
	Resolved map[string][]netip.Addr
	// Masters is the Mesos source's master list.
	Masters []string
	// Apps, when set, is a Marathon observation merged in.
	Apps []model.App
}

// FromState builds the snapshot of a Mesos state (and apps).
func FromState(st *state.State, o Options) *model.Snapshot {
	obs := mesos.Observe(st, o.Resolved)
	obs.Masters = o.Masters
	var all model.Observations
	all.Mesos = obs
	if o.Apps != nil {
		all.Marathon = &model.MarathonObservation{Apps: o.Apps}
	}
	return model.Build(all, model.BuildOptions{Version: o.Version, Now: o.Now})
}

// LoadSnapshot parses the v0 /master/state JSON file at path and builds
// the snapshot numbered version from it; it fails the test on any error.
func LoadSnapshot(t testing.TB, path string, version uint64) *model.Snapshot {
	t.Helper()
	return FromState(LoadState(t, path), Options{Version: version})
}

// LoadState parses the v0 /master/state JSON file at path; it fails the
// test on any error.
func LoadState(t testing.TB, path string) *state.State {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, skipped, err := state.Parse(b)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("parse state: skipped %v, err %v", skipped, err)
	}
	return st
}
