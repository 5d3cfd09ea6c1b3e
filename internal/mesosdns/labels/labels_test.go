package labels

import (
	"strings"
	"testing"
)

// Vectors from the Mesos-DNS label tests (records/labels/labels_test.go at
// e888ef4), both rule sets.
func TestLabel(t *testing.T) {
	dashes := func(n int) string { return strings.Repeat("-", n) }
	const keep = "\x00" // marker: output equals input
	const none = "\x01" // marker: no upstream vector for this rule set
	cases := []struct {
		in, rfc1123, rfc952 string
	}{
		{"", "", ""},
		{"a---", "a", "a"},
		{"---a---", "a", "a"},
		{"---a---b", "a---b", "a---b"},
		{"a.b.c.d.e", "a-b-c-d-e", "a-b-c-d-e"},
		{"a.c.d_de.", "a-c-d-de", "a-c-d-de"},
		{"abc--123", "abc--123", "abc--123"},
		{"r29f.dev.angrypigs", "r29f-dev-angrypigs", "r29f-dev-angrypigs"},
		{"4abc123", "4abc123", "abc123"},
		{"-4abc123", "4abc123", "abc123"},
		{"89fdgsf---gs7-fgs--d7fddg-123", keep, "fdgsf---gs7-fgs--d7fddg1"},
		{"89fdgsf---gs7-fgs--d7fddg---123", keep, "fdgsf---gs7-fgs--d7fddg1"},
		{"89fdgsf---gs7-fgs--d7fddg-", "89fdgsf---gs7-fgs--d7fddg", "fdgsf---gs7-fgs--d7fddg"},
		{"fd%gsf---gs7-f$gs--d7fddg-123", "fdgsf---gs7-fgs--d7fddg-123", "fdgsf---gs7-fgs--d7fddg1"},
		{"chronos with a space AND MIXED CASE-2.0.1", "chronoswithaspaceandmixedcase-2-0-1", "chronoswithaspaceandmixe"},
		{"hello" + dashes(58) + "f", "hellof", "hellof"},
		{"hello" + dashes(56) + "f", keep, "hellof"},
		{"fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123",
			"fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891", none},
		{"##fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-",
			"fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789", none},
		// Beyond the upstream table: non-ASCII and invalid UTF-8 are deleted.
		{"café_Ünïcode", "caf-ncode", "caf-ncode"},
		{"a\xff\xfeb", "ab", "ab"},
		{"123", "123", ""},
		{"___", "", ""},
	}
	for _, c := range cases {
		want1123 := c.rfc1123
		if want1123 == keep {
			want1123 = c.in
		}
		if got := Label(c.in, false); got != want1123 {
			t.Errorf("RFC1123(%q) = %q, want %q", c.in, got, want1123)
		}
		if got := RFC1123(c.in); got != want1123 {
			t.Errorf("RFC1123 func(%q) = %q, want %q", c.in, got, want1123)
		}
		if c.rfc952 == none {
			continue
		}
		if got := Label(c.in, true); got != c.rfc952 {
			t.Errorf("RFC952(%q) = %q, want %q", c.in, got, c.rfc952)
		}
		if got := RFC952(c.in); got != c.rfc952 {
			t.Errorf("RFC952 func(%q) = %q, want %q", c.in, got, c.rfc952)
		}
	}
}

func TestDomainFrag(t *testing.T) {
	cases := []struct{ in, rfc1123, rfc952 string }{
		{"pod_123$abc.marathon-0.6.0-dev.mesos", "pod-123abc.marathon-0.6.0-dev.mesos", "pod-123abc.marathon-0.dev.mesos"},
		{"a..c.e", "a.c.e", "a.c.e"},
		{".a.c", "a.c", "a.c"},
		{"a.c.", "a.c", "a.c"},
		{"space space.com", "spacespace.com", "spacespace.com"},
		{"(@ host . com", "host.com", "host.com"},
		{"MiXeDcase.CoM", "mixedcase.com", "mixedcase.com"},
		{"not$1234.com", "not1234.com", "not1234.com"},
		{".", "", ""},
		{"..", "", ""},
		{"...", "", ""},
		{"", "", ""},
		{"chronos with a space AND MIXED CASE-2.0.1", "chronoswithaspaceandmixedcase-2.0.1", "chronoswithaspaceandmixe"},
		{"marathon", "marathon", "marathon"},
	}
	for _, c := range cases {
		if got := DomainFrag(c.in, false); got != c.rfc1123 {
			t.Errorf("DomainFrag(%q, 1123) = %q, want %q", c.in, got, c.rfc1123)
		}
		if got := DomainFrag(c.in, true); got != c.rfc952 {
			t.Errorf("DomainFrag(%q, 952) = %q, want %q", c.in, got, c.rfc952)
		}
	}
}

// TestLabelTrailingDash pins the one case where Label's output is not a
// fixed point: the appended text ends exactly on a '-'.
func TestLabelTrailingDash(t *testing.T) {
	in := "a" + strings.Repeat("-", 62) + strings.Repeat("b", 61) + "-c"
	got := Label(in, false)
	want := "a" + strings.Repeat("b", 61) + "-"
	if got != want {
		t.Fatalf("Label = %q, want %q", got, want)
	}
	if again := Label(got, false); again != strings.TrimRight(want, "-") {
		t.Fatalf("Label(Label) = %q, want the trailing dash dropped", again)
	}
}

// checkLabel asserts the properties every Label output has.
func checkLabel(t *testing.T, in, out string, rfc952 bool) {
	t.Helper()
	max := MaxRFC1123
	if rfc952 {
		max = MaxRFC952
	}
	if len(out) > max {
		t.Fatalf("Label(%q, %v) = %q: %d bytes > %d", in, rfc952, out, len(out), max)
	}
	for i := 0; i < len(out); i++ {
		c := out[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			t.Fatalf("Label(%q, %v) = %q: bad byte %q", in, rfc952, out, c)
		}
	}
	if out == "" {
		return
	}
	if out[0] == '-' || rfc952 && out[0] >= '0' && out[0] <= '9' {
		t.Fatalf("Label(%q, %v) = %q: bad first byte", in, rfc952, out)
	}
	// Idempotence holds exactly when no trailing dash was appended; with
	// one, a second pass only drops the trailing dashes, and from then on
	// the label is a fixed point.
	again := Label(out, rfc952)
	if strings.HasSuffix(out, "-") {
		if again != strings.TrimRight(out, "-") {
			t.Fatalf("Label(Label(%q)) = %q, want %q", in, again, strings.TrimRight(out, "-"))
		}
		if third := Label(again, rfc952); third != again {
			t.Fatalf("Label is not a fixed point on %q: %q", again, third)
		}
	} else if again != out {
		t.Fatalf("Label not idempotent on %q: %q then %q", in, out, again)
	}
}

func FuzzLabel(f *testing.F) {
	for _, s := range []string{"", "a---", "---a---b", "89fdgsf---gs7-fgs--d7fddg---123",
		"hello" + strings.Repeat("-", 58) + "f", "a" + strings.Repeat("-", 62) + strings.Repeat("b", 61) + "-c",
		"chronos with a space AND MIXED CASE-2.0.1", "pod_123$abc.marathon-0.6.0-dev.mesos", "café\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, rfc952 := range []bool{false, true} {
			out := Label(s, rfc952)
			checkLabel(t, s, out, rfc952)
			frag := DomainFrag(s, rfc952)
			if frag == "" {
				continue
			}
			for _, p := range strings.Split(frag, ".") {
				if p == "" {
					t.Fatalf("DomainFrag(%q) = %q: empty part", s, frag)
				}
				checkLabel(t, s, p, rfc952)
			}
			// A fragment's parts are Label outputs, so a second pass only
			// drops the trailing dashes of parts (none, usually).
			parts := strings.Split(frag, ".")
			for i := range parts {
				parts[i] = strings.TrimRight(parts[i], "-")
			}
			if f2, want := DomainFrag(frag, rfc952), strings.Join(parts, "."); f2 != want {
				t.Fatalf("DomainFrag(DomainFrag(%q)) = %q, want %q", s, f2, want)
			}
		}
	})
}

func BenchmarkLabel(b *testing.B) {
	for _, s := range []string{"nginx", "chronos with a space AND MIXED CASE-2.0.1"} {
		b.Run(s[:5], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Label(s, false)
			}
		})
	}
}
