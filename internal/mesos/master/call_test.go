package master

import (
	"strings"
	"testing"
)

func TestParseCall(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{`{"type":"GET_STATE"}`, "GET_STATE", ""},
		{`{"type":"SUBSCRIBE","unknown_field":1}`, "SUBSCRIBE", ""},
		{`{"type":null}`, "", "Expecting 'type' to be present"},
		{`{"type":"get_state"}`, "", "Expecting 'type' to be present"},
		{`{"type":{"a":1}}`, "", "Not expecting a JSON object"},
		{`{"type":true}`, "", "Not expecting a JSON boolean"},
		{`"GET_STATE"`, "", "Failed to convert JSON into Call protobuf"},
		{``, "", "Failed to parse body into JSON"},
		{`{"type":"GET_STATE"} x`, "", "Failed to parse body into JSON"},
	} {
		got, err := parseCall([]byte(tc.in))
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("%q: %q %v", tc.in, got, err)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
		}
	}
}

func FuzzParseCall(f *testing.F) {
	for _, s := range []string{`{"type":"GET_STATE"}`, `{"type":"SUBSCRIBE"}`, `{"type":7}`, `[]`, `{`, `{"type":"UNKNOWN"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		name, err := parseCall(b)
		if err == nil && !knownCall(name) {
			t.Fatalf("accepted unknown call %q", name)
		}
		if err != nil && name != "" {
			t.Fatalf("error with a name: %q %v", name, err)
		}
	})
}
