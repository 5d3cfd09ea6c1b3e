// Package label is dcos-net's DNS label sanitiser (mesos_state's label/1 and
// domain_frag/1), used for every name under thisdcos.directory.
//
// It is deliberately not the Mesos-DNS sanitiser: dcos-net keeps runs of
// separators ("a--b" stays "a--b"), drops a leading non-alphanumeric prefix
// instead of replacing it, and once the label reaches 63 characters only
// appends alphanumerics. Names users already type (e.g.
// myapp-mygroup.marathon.autoip.dcos.thisdcos.directory) depend on these
// exact rules.
//
// Imports: the standard library and third-party modules only, no package of Sextant's.
package label

import "strings"

// MaxLen is the longest DNS label (RFC 1035 §2.3.4).
const MaxLen = 63

// Label turns s into one DNS label:
//  1. upper-case ASCII letters are lowered;
//  2. leading characters outside [a-z0-9] are dropped;
//  3. after the first kept character '-', '_' and '.' become '-', other
//     characters outside [a-z0-9] are dropped;
//  4. when the output reaches 63 characters, trailing '-' are trimmed and
//     from then on only [a-z0-9] are appended until it is 63 long again;
//  5. trailing '-' are removed.
//
// An input without any [a-z0-9] yields "".
func Label(s string) string {
	var out [MaxLen]byte
	n := 0
	full := false // step 4 reached: separators are no longer kept
loop:
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		alnum := ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
		switch {
		case alnum:
		case n == 0 || full:
			continue
		case c == '-' || c == '_' || c == '.':
			c = '-'
		default:
			continue
		}
		out[n] = c
		n++
		if n == MaxLen {
			if full {
				break loop
			}
			for n > 0 && out[n-1] == '-' {
				n--
			}
			full = true
			if n == MaxLen {
				break loop
			}
		}
	}
	for n > 0 && out[n-1] == '-' {
		n--
	}
	return string(out[:n])
}

// DomainFrag splits s at '.', drops empty parts, sanitises each part with
// Label and joins them with '.', so dots survive as label separators. Parts
// that sanitise to "" are dropped too, so the result never holds an empty
// label. It is used for L4LB VIP names and their allocation keys.
func DomainFrag(s string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(s, ".") {
		if part == "" {
			continue
		}
		l := Label(part)
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(l)
	}
	return b.String()
}

// Valid reports whether s is a label Label could have produced: 1 to 63
// characters of [a-z0-9-], starting and ending with [a-z0-9].
func Valid(s string) bool {
	if len(s) == 0 || len(s) > MaxLen || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-') {
			return false
		}
	}
	return true
}
