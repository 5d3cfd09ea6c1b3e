package runtime

import (
	"encoding/json"
	"testing"
	"time"
)

// TestDeleteAppWithoutTasks: deleting an app scaled to 0 is a stop
// deployment that succeeds at once, not one that fails for want of the
// app.
func TestDeleteAppWithoutTasks(t *testing.T) {
	rt, _ := newRT(t, t.TempDir())
	if _, _, err := rt.CreateApp(mustApp(t, `{"id":"/idle","cmd":"exec sleep 60","instances":0,"portDefinitions":[]}`), nil); err != nil {
		t.Fatal(err)
	}
	// The create deployment locks the app until it ends (Marathon answers
	// 409 to a delete without force meanwhile), so wait for it first.
	deadline := time.After(20 * time.Second)
	for len(rt.Deployments()) > 0 {
		select {
		case <-deadline:
			t.Fatal("the create deployment never ended")
		case <-time.After(10 * time.Millisecond):
		}
	}
	sub := rt.Bus().Subscribe([]string{"deployment_success", "deployment_failed"})
	res, err := rt.DeleteApp("/idle", false)
	if err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-sub.C:
			var d struct {
				ID   string `json:"id"`
				Plan struct {
					ID string `json:"id"`
				} `json:"plan"`
			}
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.Plan.ID != res.DeploymentID {
				continue // the create deployment finishing
			}
			if ev.Type != "deployment_success" {
				t.Fatalf("%s: %s", ev.Type, ev.Data)
			}
			return
		case <-deadline:
			t.Fatal("no end of the stop deployment")
		}
	}
}
