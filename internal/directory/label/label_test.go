package label

import (
	"strings"
	"testing"
)

// The vectors of the dcos-net spec (§A.6), taken from mesos_state's tests.
func TestLabel(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"separators kept", "fd%gsf---gs7-f$gs--d7fddg-123", "fdgsf---gs7-fgs--d7fddg-123"},
		{"leading dash dropped", "-4abc123", "4abc123"},
		{"trailing dash dropped", "89fdgsf---gs7-fgs--d7fddg-", "89fdgsf---gs7-fgs--d7fddg"},
		{"slashes vanish", "/mygroup/myapp", "mygroupmyapp"},
		{"dots become dashes", "myapp.mygroup", "myapp-mygroup"},
		{"63 char rule", "fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123", "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891"},
		{"upstream: trailing dash at 63", "##fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-", "fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789"},
		{"upstream: dashes kept", "89fdgsf---gs7-fgs--d7fddg---123", "89fdgsf---gs7-fgs--d7fddg---123"},
		{"upstream: dashes at 63 dropped", "%%fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789---123", "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891"},
		{"upstream: dollars", "$$fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-123", "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891"},
		{"upstream: 0-0", "0-0", "0-0"},
		{"upstream: plain", "4abc123", "4abc123"},
		{"empty", "", ""},
		{"no alnum", "-_./$%", ""},
		{"upper case", "My_App", "my-app"},
		{"underscore", "a_b", "a-b"},
		{"non ascii dropped", "café", "caf"},
		{"leading separators", "..__--x", "x"},
		{"dash at 63 trimmed then alnum", strings.Repeat("a", 62) + "-b", strings.Repeat("a", 62) + "b"},
		{"separators after full dropped", strings.Repeat("a", 62) + "-" + "--cd", strings.Repeat("a", 62) + "c"},
		{"exactly 63", strings.Repeat("x", 63), strings.Repeat("x", 63)},
		{"longer than 63", strings.Repeat("x", 70), strings.Repeat("x", 63)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Label(tc.in); got != tc.want {
				t.Errorf("Label(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLabel63IsExact(t *testing.T) {
	got := Label("fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123")
	if len(got) != 63 {
		t.Fatalf("len = %d, want 63", len(got))
	}
}

func TestDomainFrag(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/mygroup/myapp", "mygroupmyapp"},
		{"myapp", "myapp"},
		{"/myapp", "myapp"},
		{"My_App", "my-app"},
		{"/api.hello-world", "api.hello-world"},
		{"hello-world", "hello-world"},
		{"broker", "broker"},
		{"a..b.", "a.b"},
		{".leading.dot", "leading.dot"},
		{"a.$$.b", "a.b"},
		{"", ""},
		{"...", ""},
	}
	for _, tc := range tests {
		if got := DomainFrag(tc.in); got != tc.want {
			t.Errorf("DomainFrag(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{"a": true, "a-b": true, "-a": false, "a-": false, "": false, "A": false, "a_b": false, strings.Repeat("a", 64): false} {
		if Valid(s) != want {
			t.Errorf("Valid(%q) = %v", s, !want)
		}
	}
}

func FuzzLabel(f *testing.F) {
	for _, s := range []string{"fd%gsf---gs7-f$gs--d7fddg-123", "-4abc123", "/mygroup/myapp", "myapp.mygroup", "", "My_App",
		"fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123", "/api.hello-world"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l := Label(s)
		if l != "" && !Valid(l) {
			t.Fatalf("Label(%q) = %q is not a valid label", s, l)
		}
		if again := Label(l); again != l {
			t.Fatalf("Label not idempotent: %q → %q → %q", s, l, again)
		}
		d := DomainFrag(s)
		if len(d) > 0 {
			for part := range strings.SplitSeq(d, ".") {
				if !Valid(part) {
					t.Fatalf("DomainFrag(%q) = %q has invalid label %q", s, d, part)
				}
			}
		}
		if again := DomainFrag(d); again != d {
			t.Fatalf("DomainFrag not idempotent: %q → %q → %q", s, d, again)
		}
	})
}
