package testutil

import (
	"encoding/json"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// CloneState returns a deep copy of st (through its JSON form), so a test
// can change the copy while the snapshots built from st stay untouched.
func CloneState(t testing.TB, st *state.State) *state.State {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var out state.State
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}
