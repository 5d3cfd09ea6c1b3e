package pystr

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// testArgs are the values the tables use; they mirror what marathon-lb
// passes (strings, ints, None, the health-check dict).
func testArgs() Args {
	return Args{
		{"a", Str("ab")}, {"b", Str("4")}, {"c", Str("2")}, {"n", Int(42)}, {"neg", Int(-7)},
		{"big", Int(1234)}, {"nn", None()}, {"t", Bool(true)}, {"u", Str("é\n")}, {"q", Str("it's")},
		{"hc", Dict(Item{"path", Str("/")}, Item{"port", Int(80)}, Item{"ignoreHttp1xx", Bool(false)})},
	}
}

// formatCases are templates with what CPython 3.11 answers (checked by
// TestFormatMatchesPython where python3 is installed). A want of "!" is
// an error.
var formatCases = []struct{ tmpl, want string }{
	{"plain", "plain"},
	{"{a}", "ab"},
	{"x{a}y{n}z", "xaby42z"},
	{"{{a}}", "{a}"},
	{"}}{{", "}{"},
	{"{a}}}", "ab}"},
	{"{", "!"},
	{"}", "!"},
	{"x}y", "!"},
	{"{a", "!"},
	{"{a:", "!"},
	{"{}", "!"},
	{"{0}", "!"},
	{"{ a}", "!"},
	{"{z}", "!"},
	{"{a!r}", "'ab'"},
	{"{a!r:>5}", " 'ab'"},
	{"{a!s}", "ab"},
	{"{a!a}", "'ab'"},
	{"{u!r}", `'é\n'`},
	{"{u!a}", `'\xe9\n'`},
	{"{q!r}", `"it's"`},
	{"{a!x}", "!"},
	{"{a!}", "!"},
	{"{a!rr}", "!"},
	{"{a:{b}}", "ab  "},
	{"{a:{b:{c}}}", "!"},
	{"{a:{{}}}", "!"},
	{"{a:05}", "ab000"},
	{"{a:0>5}", "000ab"},
	{"{a:x<5}", "abxxx"},
	{"{a:<<5}", "ab<<<"},
	{"{a:^6}", "  ab  "},
	{"{a:é^6}", "ééabéé"},
	{"{a:.1}", "a"},
	{"{a:.}", "!"},
	{"{a:s}", "ab"},
	{"{a:=5}", "!"},
	{"{a:+}", "!"},
	{"{a:#}", "!"},
	{"{a:,}", "!"},
	{"{a:d}", "!"},
	{"{a:5d}", "!"},
	{"{n}", "42"},
	{"{n:05}", "00042"},
	{"{n:=5}", "   42"},
	{"{n:<5}|", "42   |"},
	{"{n:^5}", " 42  "},
	{"{n:-^10}", "----42----"},
	{"{n:+d}", "+42"},
	{"{n: }", " 42"},
	{"{n:+05}", "+0042"},
	{"{neg:05}", "-0007"},
	{"{neg:=+8}", "-      7"},
	{"{n:#x}", "0x2a"},
	{"{n:#X}", "0X2A"},
	{"{n:#o}", "0o52"},
	{"{n:#b}", "0b101010"},
	{"{n:_b}", "10_1010"},
	{"{n:,x}", "!"},
	{"{n:,_}", "!"},
	{"{n:_,}", "!"},
	{"{n:n}", "42"},
	{"{n:,n}", "!"},
	{"{n:c}", "*"},
	{"{n:+c}", "!"},
	{"{n:.2}", "!"},
	{"{n:s}", "!"},
	{"{n:z}", "!"},
	{"{n:q}", "!"},
	{"{n:dd}", "!"},
	{"{big:,}", "1,234"},
	{"{big:08,}", "0,001,234"},
	{"{big:010,}", "00,001,234"},
	{"{neg:07_}", "-00_007"},
	{"{n:#09_x}", "0x00_002a"},
	{"{n.real}", "42"},
	{"{n.imag}", "0"},
	{"{a.upper}", "!"},
	{"{a.}", "!"},
	{"{nn}", "None"},
	{"{nn:}", "None"},
	{"{nn:5}", "!"},
	{"{nn!r}", "None"},
	{"{t}", "True"},
	{"{t:d}", "1"},
	{"{t:5}", "    1"},
	{"{hc[path]}", "/"},
	{"{hc[port]}", "80"},
	{"{hc[port]:>4}", "  80"},
	{"{hc[ignoreHttp1xx]}", "False"},
	{"{hc[0]}", "!"},
	{"{hc[nope]}", "!"},
	{"{hc[path]x}", "!"},
	{"{hc[]}", "!"},
	{"{hc[path}", "!"},
	{"{a[0]}", "a"},
	{"{a[1]}", "b"},
	{"{a[2]}", "!"},
	{"{a[x]}", "!"},
	{"{a[}]}", "!"},
	{"{a]}", "!"},
	{"{n[0]}", "!"},
	{"{a{b}}", "!"},
	{"  server {a} {b}:{n} id {big}{nn}\n", "  server ab 4:42 id 1234None\n"},
}

func TestFormat(t *testing.T) {
	for _, c := range formatCases {
		got, err := Format(c.tmpl, testArgs())
		if c.want == "!" {
			if err == nil {
				t.Errorf("Format(%q) = %q, want an error", c.tmpl, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Format(%q) = %q, %v; want %q", c.tmpl, got, err, c.want)
		}
	}
}

// pyArgs builds the same keyword arguments for Python.
const pyArgs = `dict(a="ab", b="4", c="2", n=42, neg=-7, big=1234, nn=None, t=True, u="é\n", q="it's",
  hc={"path": "/", "port": 80, "ignoreHttp1xx": False})`

// TestFormatMatchesPython runs every table case through CPython's
// str.format: the table is the contract, Python is the judge.
func TestFormatMatchesPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the table cannot be checked against CPython")
	}
	var tmpls []string
	for _, c := range formatCases {
		tmpls = append(tmpls, c.tmpl)
	}
	in, _ := json.Marshal(tmpls)
	script := `
import json, sys
args = ` + pyArgs + `
out = []
for t in json.load(sys.stdin):
    try:
        out.append(t.format(**args))
    except Exception:
        out.append(None)
json.dump(out, sys.stdout)
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(string(in))
	b, err := cmd.Output()
	if err != nil {
		t.Skipf("python3 failed: %v", err)
	}
	var got []*string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for i, c := range formatCases {
		switch {
		case got[i] == nil && c.want != "!":
			t.Errorf("%q: Python fails, the table says %q", c.tmpl, c.want)
		case got[i] != nil && c.want == "!":
			// Where this package refuses what Python renders, the refusal
			// must be deliberate (FormatError "Unsupported").
			_, err := Format(c.tmpl, testArgs())
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Type != "Unsupported" {
				t.Errorf("%q: Python renders %q, the table says error (%v)", c.tmpl, *got[i], err)
			}
		case got[i] != nil && *got[i] != c.want:
			t.Errorf("%q: Python renders %q, the table says %q", c.tmpl, *got[i], c.want)
		}
	}
}

func TestParseInt(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		err  error
	}{
		{"42", 42, nil}, {" 42 ", 42, nil}, {"+4_2", 42, nil}, {"-1", -1, nil}, {"007", 7, nil}, {"-0", 0, nil},
		{"\u00a042\u3000", 42, nil}, {"٣", 3, nil}, {"𝟘𝟙𝟚", 12, nil}, {"9223372036854775807", 9223372036854775807, nil},
		{"-9223372036854775808", -9223372036854775808, nil},
		{"9223372036854775808", 0, ErrRange}, {"99999999999999999999999", 0, ErrRange},
		{"", 0, ErrInt}, {" ", 0, ErrInt}, {"4__2", 0, ErrInt}, {"_42", 0, ErrInt}, {"42_", 0, ErrInt},
		{"0x10", 0, ErrInt}, {"1e3", 0, ErrInt}, {"4 2", 0, ErrInt}, {"+-1", 0, ErrInt}, {"4.0", 0, ErrInt},
		{"\x1c5", 0, ErrInt}, {"+", 0, ErrInt}, {"abc", 0, ErrInt},
	}
	for _, c := range cases {
		got, err := ParseInt(c.in)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("ParseInt(%q) = %d, %v; want %d, %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestFields(t *testing.T) {
	got := Fields(" 10.0.0.0/8\t1.2.3.4\x1c5.6.7.8\u3000 ")
	want := []string{"10.0.0.0/8", "1.2.3.4", "5.6.7.8"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Fields = %q, want %q", got, want)
	}
	if Strip("\x1f a \u2000") != "a" {
		t.Errorf("Strip")
	}
}

// FuzzFormat: any template either renders or fails with a FormatError;
// it never panics, and text without braces renders as itself.
func FuzzFormat(f *testing.F) {
	for _, c := range formatCases {
		f.Add(c.tmpl)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		out, err := Format(tmpl, testArgs())
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Format(%q): error %v is not a FormatError", tmpl, err)
			}
			return
		}
		if !strings.ContainsAny(tmpl, "{}") && out != tmpl {
			t.Fatalf("Format(%q) = %q, want it unchanged", tmpl, out)
		}
	})
}

// FuzzParseInt: accepted text re-parses to the same number when printed.
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"42", " -1 ", "+4_2", "٣", "x", "9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseInt(s)
		if err != nil {
			return
		}
		m, err := ParseInt(Int(n).mustString())
		if err != nil || m != n {
			t.Fatalf("ParseInt(%q) = %d, but its decimal form parses to %d, %v", s, n, m, err)
		}
	})
}

func (v Value) mustString() string { s, _ := v.String(); return s }

// TestFormatRandomMatchesPython renders random templates built from the
// characters str.format cares about, here and in CPython; where this
// package does not refuse a template deliberately, both must agree.
// PYSTR_RANDOM sets the number of templates (default 20,000).
func TestFormatRandomMatchesPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	n := 20000
	if v := os.Getenv("PYSTR_RANDOM"); v != "" {
		fmt.Sscan(v, &n)
	}
	r := rand.New(rand.NewPCG(1, 2))
	atoms := []string{"{", "}", "[", "]", "!", ":", ".", ",", "_", "#", "0", "-", "+", " ", "<", ">", "=", "^", "a",
		"n", "neg", "big", "hc", "nn", "t", "q", "u", "path", "port", "x", "X", "d", "s", "r", "c", "b", "o", "5", "1",
		"2", "é", "z", "real"}
	tmpls := make([]string, n)
	for i := range tmpls {
		var b strings.Builder
		b.WriteString("{")
		for range 1 + r.IntN(12) {
			b.WriteString(atoms[r.IntN(len(atoms))])
		}
		if r.IntN(4) > 0 {
			b.WriteString("}")
		}
		tmpls[i] = b.String()
	}
	in, _ := json.Marshal(tmpls)
	cmd := exec.Command(py, "-c", `
import json, sys
args = `+pyArgs+`
out = []
for t in json.load(sys.stdin):
    try:
        out.append(t.format(**args))
    except Exception:
        out.append(None)
json.dump(out, sys.stdout)
`)
	cmd.Stdin = strings.NewReader(string(in))
	b, err := cmd.Output()
	if err != nil {
		t.Skipf("python3 failed: %v", err)
	}
	var want []*string
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i, tm := range tmpls {
		got, err := Format(tm, testArgs())
		var fe *FormatError
		if errors.As(err, &fe) && fe.Type == "Unsupported" {
			continue
		}
		if (want[i] == nil) != (err != nil) || want[i] != nil && *want[i] != got {
			if bad++; bad <= 20 {
				t.Errorf("%q: got %q, %v; Python %v", tm, got, err, want[i])
			}
		}
	}
}
