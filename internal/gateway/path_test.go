package gateway

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

func TestSafePath(t *testing.T) {
	for raw, want := range map[string]bool{
		"/":                      true,
		"/service/a/b%20c":       true,
		"/service/a/%2Fetc":      true, // an encoded slash alone stays inside
		"/service/a/..":          false,
		"/service/a/../b":        false,
		"/service/a/%2e%2e/b":    false,
		"/service/a/%2E./b":      false,
		"/service/a/..%2f..%2fb": false,
		"/service/a/x%2f..%2f..": false,
		"/service/a/.":           false,
		"/service/a/%5c..":       false,
		"/service/a/%00":         false,
		"/service/a/%zz":         false,
		"relative":               false,
		"":                       false,
		"/service/a/...":         true,
		"/service/a/..foo":       true,
	} {
		if got := safePath(raw); got != want {
			t.Errorf("safePath(%q) = %v, want %v", raw, got, want)
		}
	}
}

// FuzzPath: a path the guard lets through never climbs out of its route
// once decoded, and the /service splitter loses no segment.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"/service/a/b", "/service/a/..%2f..", "/service////a//b/", "/agent/S1/%2e%2e", "/mesos/%2F%2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !safePath(raw) {
			return
		}
		dec, err := url.PathUnescape(raw)
		if err != nil {
			t.Fatalf("accepted undecodable %q", raw)
		}
		// Any prefix route /x/y/ keeps the decoded path under itself.
		parts := strings.SplitN(strings.TrimPrefix(raw, "/"), "/", 3)
		if len(parts) == 3 && parts[0] != "" && parts[1] != "" {
			prefix := "/" + parts[0] + "/" + parts[1] + "/"
			if pd, err := url.PathUnescape(prefix); err == nil && strings.HasPrefix(dec, pd) {
				if c := path.Clean(dec); !strings.HasPrefix(c+"/", path.Clean(pd)+"/") {
					t.Fatalf("%q cleans to %q, outside %q", raw, c, pd)
				}
			}
		}
		if rest, ok := strings.CutPrefix(raw, "/service/"); ok {
			segs, ends := splitService(rest)
			if len(segs) != len(ends) {
				t.Fatal("segments and ends differ")
			}
			for i, s := range segs {
				if s == "" {
					t.Fatalf("empty segment %d of %q", i, rest)
				}
				if ends[i] > len(rest) {
					t.Fatalf("end %d past %q", ends[i], rest)
				}
			}
		}
	})
}
