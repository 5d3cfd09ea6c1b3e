package modeltest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	body := `{"leader":"master@10.0.0.1:5050","slaves":[{"id":"S1","pid":"slave(1)@10.0.0.7:5051","hostname":"agent-1"}],` +
		`"frameworks":[{"id":"F1","name":"marathon","tasks":[{"id":"web.1","name":"web","framework_id":"F1","slave_id":"S1","state":"TASK_RUNNING"}]}]}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	snap := LoadSnapshot(t, path, 9)
	if snap.Version != 9 {
		t.Fatalf("version %d, want 9", snap.Version)
	}
	if len(snap.Agents) != 1 || len(snap.Tasks) != 1 || snap.Leader.Host != "10.0.0.1" {
		t.Fatalf("snapshot %+v", snap)
	}
}
