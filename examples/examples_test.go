package examples

import (
	"io/fs"
	"testing"

	"github.com/sextantdc/sextant/internal/marathon"
)

// TestExamplesDecode: every example is a valid Marathon app with its own
// id, so `sextant up` never skips one as invalid.
func TestExamplesDecode(t *testing.T) {
	names, err := fs.Glob(Apps, "*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	ids := map[string]string{}
	for _, n := range names {
		b, err := Apps.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		a, err := marathon.Decode(b)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if prev, dup := ids[a.ID]; dup {
			t.Errorf("%s and %s both define %s", prev, n, a.ID)
		}
		ids[a.ID] = n
	}
}
