package state

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePorts(t *testing.T) {
	cases := []struct {
		in      string
		want    []PortRange
		wantErr string
	}{
		{"", nil, ""},
		{"[]", nil, ""},
		{"[31111-31111, 31115-31117]", []PortRange{{31111, 31111}, {31115, 31117}}, ""},
		{"  [31000-32000] ", []PortRange{{31000, 32000}}, ""},
		{"[31000]", nil, "has no '-'"},
		{"[31000, 31001-31002]", []PortRange{{31001, 31002}}, "has no '-'"},
		{"[a-b, 5-6]", []PortRange{{5, 6}}, "not numeric"},
		{"31000-31001", nil, "no '['"},
		{"[31000-31001", nil, "no ']'"},
	}
	for _, c := range cases {
		got, err := ParsePorts(c.in)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParsePorts(%q) = %v, want %v", c.in, got, c.want)
		}
		if c.wantErr == "" && err != nil {
			t.Errorf("ParsePorts(%q): unexpected error %v", c.in, err)
		}
		if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("ParsePorts(%q) error = %v, want it to contain %q", c.in, err, c.wantErr)
		}
	}
}

func TestFormatPortsRoundTrip(t *testing.T) {
	in := []PortRange{{31000, 31001}, {31005, 31005}}
	s := FormatPorts(in)
	if s != "[31000-31001, 31005-31005]" {
		t.Fatalf("FormatPorts = %q", s)
	}
	back, err := ParsePorts(s)
	if err != nil || !reflect.DeepEqual(back, in) {
		t.Fatalf("round trip: %v %v", back, err)
	}
}

func TestParseUPID(t *testing.T) {
	good := map[string]UPID{
		"slave(1)@127.0.0.1:5051":         {"slave(1)", "127.0.0.1", "5051"},
		` "slave(1)@127.0.0.1:5051" `:     {"slave(1)", "127.0.0.1", "5051"},
		`"  slave(1)@127.0.0.1:5051  "`:   {"slave(1)", "127.0.0.1", "5051"},
		"slave(1)@[2001:db8::1]:5051":     {"slave(1)", "2001:db8::1", "5051"},
		"master@144.76.157.37:5050":       {"master", "144.76.157.37", "5050"},
		"scheduler(1)@host.example:25501": {"scheduler(1)", "host.example", "25501"},
		"5@0.0.0.6:7":                     {"5", "0.0.0.6", "7"},
	}
	for in, want := range good {
		got, err := ParseUPID(in)
		if err != nil || got != want {
			t.Errorf("ParseUPID(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "@", "1@", "@2", "3@4", "master!144.76.157.37;5050", "a@b@c:1", "x@1.2.3.4:99999", "x@2001:db8::1:5051", "x@[::1]5051", "x@:5051"} {
		if _, err := ParseUPID(in); err == nil {
			t.Errorf("ParseUPID(%q): want error", in)
		}
	}
}

// TestRawTypesMirrorTyped: the tolerant path reads each field through its
// raw twin, so a field added to a typed struct and not to its twin would
// be lost, silently, whenever the document holds a bad value elsewhere.
func TestRawTypesMirrorTyped(t *testing.T) {
	names := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if name != "-" {
				out = append(out, name)
			}
		}
		return out
	}
	for _, c := range []struct {
		name       string
		typed, raw any
	}{
		{"State", State{}, rawState{}},
		{"Slave", Slave{}, rawSlave{}},
		{"Framework", Framework{}, rawFramework{}},
		{"Task", Task{}, rawTask{}},
		{"Resources", Resources{}, rawResources{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, want := names(c.raw), names(c.typed); !reflect.DeepEqual(got, want) {
				t.Errorf("raw twin has fields %q, typed struct %q", got, want)
			}
		})
	}
}
