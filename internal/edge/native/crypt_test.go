package native

import (
	"encoding/base64"
	"os/exec"
	"strings"
	"testing"
)

// Vectors from the SHA-crypt specification.
func TestCryptVectors(t *testing.T) {
	for _, c := range []struct{ pass, setting, want string }{
		{"Hello world!", "$5$saltstring", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
		{"Hello world!", "$6$saltstring", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
		{"Hello world!", "$5$rounds=10000$saltstringsaltstring", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
		{"Hello world!", "$6$rounds=10000$saltstringsaltstring", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
	} {
		got, ok := crypt(c.pass, c.setting)
		if !ok || got != c.want {
			t.Errorf("crypt(%q, %q) = %q, want %q", c.pass, c.setting, got, c.want)
		}
	}
	if _, ok := crypt("x", "plain"); ok {
		t.Error("an unknown scheme must not verify")
	}
}

// TestCryptOpenSSL checks against openssl passwd, when it is installed.
func TestCryptOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	for _, scheme := range []string{"-1", "-5", "-6"} {
		for _, pass := range []string{"a", "secret", strings.Repeat("long password ", 9)} {
			out, err := exec.Command("openssl", "passwd", scheme, "-salt", "abcdefgh", pass).Output()
			if err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSpace(string(out))
			if got, _ := crypt(pass, want); got != want {
				t.Errorf("openssl %s %q: %q, crypt %q", scheme, pass, want, got)
			}
		}
	}
}

func TestUserlist(t *testing.T) {
	u := newUserlist("alice", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1")
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, c := range []struct {
		h  string
		ok bool
	}{
		{basic("alice:Hello world!"), true},
		{basic("alice:Hello world!"), true}, // cached
		{basic("alice:hello world!"), false},
		{basic("bob:Hello world!"), false},
		{basic("alice"), false},
		{"Basic !!!", false},
		{"Bearer x", false},
		{"", false},
	} {
		if got := u.check(c.h); got != c.ok {
			t.Errorf("check(%q) = %v, want %v", c.h, got, c.ok)
		}
	}
}
