package operator

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/operator/recordio"
)

// subscribedCases are SUBSCRIBED records with good, bad and odd parts.
var subscribedCases = []string{
	specEvents[0],
	`{"type":"SUBSCRIBED","subscribed":{"get_state":{"get_tasks":{"tasks":[{"name":"a","task_id":{"value":"t1"},"framework_id":{"value":"f"},"agent_id":{"value":"a1"},"state":"TASK_RUNNING"},{"task_id":5},{"name":"b","task_id":{"value":"t2"},"framework_id":{"value":"f"},"state":"TASK_KILLED"}],"unreachable_tasks":[{"name":"u","task_id":{"value":"t3"},"framework_id":{"value":"f"},"state":"TASK_UNREACHABLE"}],"completed_tasks":[{"x":[1,{"y":[]}]}]},"get_executors":{"executors":[{"a":1}]},"get_frameworks":{"frameworks":[{"framework_info":{"name":"marathon","id":{"value":"f"}}},{"framework_info":7}]},"get_agents":{"agents":[{"agent_info":{"hostname":"h","id":{"value":"a1"}},"pid":"slave(1)@10.0.0.1:5051"},"bad"]}},"heartbeat_interval_seconds":15.5}}`,
	`{"type":"SUBSCRIBED","subscribed":{"heartbeat_interval_seconds":"x","get_state":{"get_agents":null,"get_tasks":{"tasks":null}}}}`,
	`{"type":"SUBSCRIBED","subscribed":{"get_state":null}}`,
	`{"type":"SUBSCRIBED","subscribed":{"get_state":{"get_tasks":{"tasks":{"not":"a list"}}}}}`,
	`{"type":"SUBSCRIBED","subscribed":{"get_state":5}}`,
	`{"type":"SUBSCRIBED","subscribed":{"get_state":{"get_tasks":{"tasks":[{"task_id":{"value":"t"}}]}}}`,
	`{"type":"SUBSCRIBED","subscribed":{}} trailing`,
	`{"subscribed":{"get_state":{"get_tasks":{"tasks":[{"task_id":{"value":"t"},"framework_id":{"value":"f"}}]}}},"type":"SUBSCRIBED"}`,
	`{"type":"HEARTBEAT"}`,
	`{"type":"SUBSCRIBED"}`,
	`[]`,
}

// sameAsWhole applies rec both ways and compares the outcomes.
func sameAsWhole(t *testing.T, rec []byte) {
	t.Helper()
	whole, streamed := newTestModel(), newTestModel()
	wt, wc, werr := whole.applyRecord(rec)
	st, sc, serr := streamed.applyStream(bytes.NewReader(rec))
	if (werr == nil) != (serr == nil) || whole.subscribed != streamed.subscribed {
		t.Fatalf("%s:\nwhole: %v (subscribed %v)\nstreamed: %v (subscribed %v)", rec, werr, whole.subscribed, serr, streamed.subscribed)
	}
	if !whole.subscribed {
		return
	}
	if wt != st || wc != sc || whole.heartbeat != streamed.heartbeat {
		t.Fatalf("%s: whole %s %v %v, streamed %s %v %v", rec, wt, wc, whole.heartbeat, st, sc, streamed.heartbeat)
	}
	if w, s := whole.state(), streamed.state(); !reflect.DeepEqual(w, s) {
		t.Fatalf("%s: states differ:\nwhole    %+v\nstreamed %+v", rec, w, s)
	}
	if whole.skipped != streamed.skipped {
		t.Fatalf("%s: skipped %d whole, %d streamed", rec, whole.skipped, streamed.skipped)
	}
}

// TestStreamedSubscribedMatchesWhole: a SUBSCRIBED record decoded as it
// arrives gives the model the same state, skips and errors as one read
// whole.
func TestStreamedSubscribedMatchesWhole(t *testing.T) {
	for _, c := range subscribedCases {
		sameAsWhole(t, []byte(c))
	}
}

// TestStreamLargeSubscribed: a stream whose SUBSCRIBED is over the size
// read whole (and over the limit for such records) is decoded as it
// arrives, and the records after it are read as usual.
func TestStreamLargeSubscribed(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"type":"SUBSCRIBED","subscribed":{"get_state":{"get_tasks":{"tasks":[`)
	n := 0
	for b.Len() < wholeRecord+1000 {
		if n > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"web","task_id":{"value":"t%d"},"framework_id":{"value":"f"},"agent_id":{"value":"a1"},"state":"TASK_RUNNING","labels":{"labels":[{"key":"k","value":"%s"}]}}`, n, strings.Repeat("v", 100))
		n++
	}
	b.WriteString(`]}},"heartbeat_interval_seconds":15}}`)
	stream := recordio.Frame([]byte(b.String()))
	stream = recordio.Append(stream, []byte(`{"type":"TASK_ADDED","task_added":{"task":{"name":"late","task_id":{"value":"late"},"framework_id":{"value":"f"},"state":"TASK_RUNNING"}}}`))
	rr := recordio.NewReader(bytes.NewReader(stream), 1<<20)
	m := newTestModel()
	rec, body, err := rr.NextStream(wholeRecord)
	if err != nil || body == nil || rec != nil {
		t.Fatalf("first record: %v, body %v", err, body != nil)
	}
	if _, changed, err := m.applyStream(body); err != nil || !changed || !m.subscribed {
		t.Fatalf("SUBSCRIBED: %v changed %v", err, changed)
	}
	rec, body, err = rr.NextStream(wholeRecord)
	if err != nil || body != nil {
		t.Fatalf("second record: %v, body %v", err, body != nil)
	}
	if _, _, err := m.applyRecord(rec); err != nil {
		t.Fatal(err)
	}
	if m.tasks.len() != n+1 || m.heartbeat.Seconds() != 15 {
		t.Fatalf("%d tasks, want %d; heartbeat %v", m.tasks.len(), n+1, m.heartbeat)
	}
}

func FuzzStreamedSubscribed(f *testing.F) {
	for _, c := range subscribedCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		low := bytes.ToLower(rec)
		for _, k := range []string{"type", "subscribed", "get_state", "get_tasks", "tasks", "unreachable_tasks", "get_frameworks", "frameworks", "get_agents", "agents", "heartbeat_interval_seconds"} {
			if bytes.Count(low, []byte(`"`+k+`"`)) > 1 {
				return // a repeated key: encoding/json takes the last, the streamed decoder the first
			}
		}
		sameAsWhole(t, rec)
	})
}
