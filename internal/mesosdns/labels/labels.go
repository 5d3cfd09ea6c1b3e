// Package labels turns arbitrary Mesos names (task, framework, DiscoveryInfo
// and host names) into DNS labels exactly as Mesos-DNS did, so that every
// name a Mesos-DNS user relies on keeps resolving.
//
// Two rule sets exist. RFC 1123 (the default) allows labels of up to 63
// characters that may start with a digit; RFC 952 (Mesos-DNS'
// EnforceRFC952) allows 24 characters and no leading digit.
//
// The cut to the maximum length copies a Mesos-DNS peculiarity on purpose:
// when the cut lands in (or just before) a run of dashes, the dashes are
// dropped and text from after the run is appended, so "hello" + 58 dashes +
// "f" becomes "hellof". The appended text may end in '-', which means the
// result is not always a fixed point of Label (see Label).
//
// Imports: the standard library and third-party modules only, no package of Sextant's.
package labels

import "strings"

// Maximum label lengths of the two rule sets.
const (
	MaxRFC1123 = 63
	MaxRFC952  = 24
)

// Label sanitises s into a single DNS label:
//
//  1. A–Z are lower-cased; a–z and 0–9 are kept; '-', '.' and '_' become
//     '-'; every other byte (spaces, punctuation, all non-ASCII) is deleted.
//  2. Leading '-' are stripped (RFC 952: leading '-' and digits).
//  3. The result is cut to the maximum length (63, RFC 952: 24): the head
//     of that length loses its trailing '-'; if any were lost, the text after
//     the head, without its leading '-', fills the freed room.
//
// The result may be empty. It consists of [a-z0-9-] only, never starts with
// '-' (RFC 952: nor with a digit) and is never longer than the maximum. It
// can end in '-' only when step 3 appended text; in that case Label applied
// again drops the trailing dashes. A result that does not end in '-' is
// returned unchanged by Label.
func Label(s string, rfc952 bool) string {
	max := MaxRFC1123
	if rfc952 {
		max = MaxRFC952
	}
	if valid(s, max, rfc952) {
		return s // the common case: already a clean label, no allocation
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+('a'-'A'))
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c == '-' || c == '.' || c == '_':
			b = append(b, '-')
		}
		// Everything else, including every byte of a multi-byte UTF-8
		// sequence (all ≥ 0x80), is deleted, as Mesos-DNS' rune mapping did.
	}
	// Left trim.
	start := 0
	for start < len(b) && (b[start] == '-' || rfc952 && b[start] >= '0' && b[start] <= '9') {
		start++
	}
	b = b[start:]
	size := min(len(b), max)
	head := size
	for head > 0 && b[head-1] == '-' {
		head--
	}
	if head == size {
		return string(b[:size])
	}
	tail := b[size:]
	for len(tail) > 0 && tail[0] == '-' {
		tail = tail[1:]
	}
	n := min(len(tail), size-head)
	out := make([]byte, 0, head+n)
	out = append(out, b[:head]...)
	out = append(out, tail[:n]...)
	return string(out)
}

// valid reports whether Label would return s unchanged through its fast
// path: only [a-z0-9-], no leading '-' (RFC 952: no leading digit), no
// trailing '-', and at most max bytes.
func valid(s string, max int, rfc952 bool) bool {
	if len(s) == 0 || len(s) > max || s[0] == '-' || s[len(s)-1] == '-' {
		return len(s) == 0
	}
	if rfc952 && s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// RFC1123 is Label with the default (RFC 1123) rules.
func RFC1123(s string) string { return Label(s, false) }

// RFC952 is Label with the RFC 952 rules.
func RFC952(s string) string { return Label(s, true) }

// DomainFrag sanitises a dotted name (framework names, unresolved host
// names) into a domain fragment: s is split on '.', each part goes through
// Label, empty results are dropped and the rest are joined with '.'. So
// "marathon-0.6.0-dev" stays as it is under RFC 1123 and becomes
// "marathon-0.dev" under RFC 952 (the parts "6" and "0" vanish).
func DomainFrag(s string, rfc952 bool) string {
	if strings.IndexByte(s, '.') < 0 {
		return Label(s, rfc952)
	}
	parts := strings.Split(s, ".")
	out := parts[:0]
	for _, p := range parts {
		if l := Label(p, rfc952); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, ".")
}
