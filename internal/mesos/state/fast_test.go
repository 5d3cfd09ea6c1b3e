package state_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/mesos/state"
	"github.com/sextantdc/sextant/internal/mesos/state/statesynth"
	"github.com/sextantdc/sextant/internal/mesosdns/records/synth"
	"github.com/sextantdc/sextant/internal/testutil"
)

// unmarshalled is what encoding/json makes of doc, and whether Parse's
// typed attempt with it succeeds (no error, an object).
func unmarshalled(doc []byte) (*state.State, bool) {
	var s state.State
	if err := json.Unmarshal(doc, &s); err != nil || !strings.HasPrefix(strings.TrimLeft(string(doc), " \t\r\n"), "{") {
		return nil, false
	}
	return &s, true
}

// checkFast fails when the fast decoder accepts doc and disagrees with
// encoding/json, or accepts a document encoding/json does not; wantFast
// says it must accept doc.
func checkFast(t *testing.T, name string, doc []byte, wantFast bool) {
	t.Helper()
	fast, ok := state.ParseFast(doc)
	want, wantOK := unmarshalled(doc)
	switch {
	case ok && !wantOK:
		t.Fatalf("%s: fast decoder accepts a document encoding/json rejects:\n%.300s", name, doc)
	case ok && !reflect.DeepEqual(fast, want):
		w, _ := json.Marshal(want)
		g, _ := json.Marshal(fast)
		t.Fatalf("%s: fast decoder differs from encoding/json:\nwant %.600s\ngot  %.600s", name, w, g)
	case !ok && wantFast:
		t.Fatalf("%s: fast decoder gave up on a clean document:\n%.300s", name, doc)
	}
}

func TestFastMatchesUnmarshal(t *testing.T) {
	docs := map[string][]byte{}
	if b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "..", "shared", "fixtures", "mesos", "fake.json")); err == nil {
		docs["fake.json"] = b
	}
	for _, n := range []int{0, 1, 300} {
		b, _ := json.Marshal(synth.State(n, 1))
		docs["synth "+strconv.Itoa(n)] = b
		b, _ = json.Marshal(statesynth.Generate(statesynth.DefaultShape(n, 2)))
		docs["statesynth "+strconv.Itoa(n)] = b
	}
	for name, doc := range docs {
		checkFast(t, name, doc, true)
	}

	// Edge cases, each decoded as encoding/json decodes it (or left to it).
	for _, c := range []struct {
		name string
		doc  string
		fast bool // the fast decoder must take it
	}{
		{"empty object", `{}`, true},
		{"nulls everywhere", `{"id":null,"slaves":null,"frameworks":[null,{"id":null,"tasks":[null,{"resources":null,"statuses":[null],` +
			`"labels":[null],"discovery":null,"container":null,"health_check":null}]}],"leader_info":null}`, true},
		{"empty lists stay non-nil", `{"slaves":[],"frameworks":[{"tasks":[{"statuses":[],"labels":[],"discovery":{"ports":{"ports":[]}},` +
			`"container":{"network_infos":[],"docker":{"port_mappings":[]}}}]}]}`, true},
		{"unknown keys of every kind", `{"x":{"a":[1,-2.5e3,"s",true,false,null,{"b":{}}]},"slaves":[{"id":"S","flags":{"k":"v"}}],` +
			`"completed_frameworks":[{"tasks":[{"id":"done"}]}]}`, true},
		{"escapes and unicode", `{"id":"a\"b\\c\/d\u00e9\ud83d\ude00\n","hostname":"héllo","leader":"\u0041"}`, true},
		{"invalid utf-8 is replaced", "{\"id\":\"a\xffb\"}", true},
		{"escaped key", `{"\u0069d":"x"}`, true},
		{"attributes", `{"slaves":[{"id":"S","attributes":{"rack":"r1","n":3,"nested":{"a":[1,"b",null]},"t":true}}]}`, true},
		{"numbers", `{"slaves":[{"id":"S","resources":{"cpus":0.5,"mem":-0,"disk":1e3,"gpus":12345678901234567890,"ports":"[1-2]"}}],` +
			`"leader_info":{"ip":4294967295,"port":-5}}`, true},
		{"white space", " \t\n{ \"id\" : \"x\" , \"slaves\" : [ ] }\r\n", true},
		{"bools", `{"slaves":[{"id":"S","active":true},{"id":"T","active":false},{"id":"U","active":null}]}`, true},
		// Left to encoding/json: the result or the error is its own.
		{"key differing in case", `{"ID":"x"}`, false},
		{"key with a non-ASCII letter", "{\"\u212aey\":\"x\"}", false},
		{"duplicate key", `{"id":"a","id":"b"}`, false},
		{"wrong type", `{"slaves":[{"id":1}]}`, false},
		{"uint out of range", `{"leader_info":{"ip":4294967296}}`, false},
		{"uint from float", `{"leader_info":{"ip":1.0}}`, false},
		{"float out of range", `{"slaves":[{"id":"S","resources":{"cpus":1e400}}]}`, false},
		{"not an object", `[]`, false},
		{"null document", `null`, false},
		{"trailing data", `{} x`, false},
		{"trailing comma", `{"id":"x",}`, false},
		{"leading zero", `{"leader_info":{"port":01}}`, false},
		{"bad escape", `{"id":"\x"}`, false},
		{"control character", "{\"id\":\"a\tb\"}", false},
		{"unterminated", `{"id":"x"`, false},
		{"bad literal", `{"slaves":[{"id":"S","active":tru}]}`, false},
	} {
		t.Run(c.name, func(t *testing.T) { checkFast(t, c.name, []byte(c.doc), c.fast) })
	}
}

// TestFastKnowsEveryField: a state with every field of every type set
// decodes alike both ways, so a field added to a struct and not to the
// fast decoder fails here instead of being dropped silently.
func TestFastKnowsEveryField(t *testing.T) {
	var s state.State
	n := 0
	fill(reflect.ValueOf(&s).Elem(), &n)
	doc, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	checkFast(t, "every field", doc, true)
	fast, _ := state.ParseFast(doc)
	if !reflect.DeepEqual(fast, &s) {
		t.Fatalf("every field: round trip differs:\n%s", doc)
	}
}

// fill sets every field reachable from v to a distinct non-zero value;
// lists get two elements.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + strconv.Itoa(*n))
	case reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Uint32:
		v.SetUint(uint64(*n))
	case reflect.Int:
		v.SetInt(int64(*n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), n)
		fill(v.Index(1), n)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(reflect.ValueOf("k"+strconv.Itoa(*n)), reflect.ValueOf(any("v")))
	case reflect.Struct:
		for i := range v.NumField() {
			if tag := v.Type().Field(i).Tag.Get("json"); tag == "-" || strings.HasPrefix(tag, "-,") {
				continue
			}
			fill(v.Field(i), n)
		}
	}
}

// FuzzFastMatchesUnmarshal: whatever the fast decoder accepts, encoding/json
// accepts and decodes to the same state.
func FuzzFastMatchesUnmarshal(f *testing.F) {
	b, _ := json.Marshal(statesynth.Generate(statesynth.DefaultShape(3, 1)))
	f.Add(b)
	f.Add([]byte(`{"slaves":[{"id":"S","attributes":{"a":[1,{"b":null}]},"active":true}],"frameworks":[{"tasks":[null]}]}`))
	f.Add([]byte(`{"id":"\u00e9","ID":"x","leader_info":{"ip":1,"address":{"port":2}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkFast(t, "fuzz", doc, false)
	})
}
