package pystr

import (
	"errors"
	"math"
	"strings"
	"unicode"
)

// IsSpace is Python's str.isspace for one character: the Unicode
// whitespace of CPython (which, unlike Go's unicode.IsSpace, includes the
// ASCII separators U+001C–U+001F).
func IsSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0, 0x1680,
		0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// Fields is Python's s.split() without arguments: runs of whitespace
// separate fields, and leading or trailing whitespace yields none.
func Fields(s string) []string { return strings.FieldsFunc(s, IsSpace) }

// Strip is Python's s.strip() without arguments.
func Strip(s string) string { return strings.TrimFunc(s, IsSpace) }

func isPrintable(r rune) bool { return unicode.IsPrint(r) }

// ErrInt is returned by ParseInt for text int() rejects.
var ErrInt = errors.New("invalid literal for int() with base 10")

// ErrRange is returned by ParseInt for a number int() accepts but that
// does not fit in 64 bits (Python ints are unbounded).
var ErrRange = errors.New("integer out of range")

// intSpace is the whitespace int() skips around a number: ASCII
// whitespace and, because CPython first maps non-ASCII Unicode spaces to
// ' ', those too; the ASCII separators U+001C–U+001F are not skipped.
func intSpace(r rune) bool {
	switch r {
	case 0x1c, 0x1d, 0x1e, 0x1f:
		return false
	}
	return IsSpace(r)
}

// ParseInt is Python's int(s) for a str: optional surrounding whitespace,
// an optional sign, decimal digits (any Unicode decimal digit, as CPython
// accepts "٣") with single underscores between digits. marathon-lb reads
// every integer label with it.
func ParseInt(s string) (int64, error) {
	s = strings.TrimFunc(s, intSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, ErrInt
	}
	var n uint64
	prevDigit := false
	overflow := false
	for _, r := range s {
		if r == '_' {
			if !prevDigit {
				return 0, ErrInt
			}
			prevDigit = false
			continue
		}
		d, ok := decimal(r)
		if !ok {
			return 0, ErrInt
		}
		prevDigit = true
		if n > (math.MaxUint64-uint64(d))/10 {
			overflow = true
			continue
		}
		n = n*10 + uint64(d)
	}
	if !prevDigit {
		return 0, ErrInt // trailing underscore
	}
	switch {
	case overflow, !neg && n > math.MaxInt64, neg && n > 1<<63:
		return 0, ErrRange
	case neg:
		return -int64(n-1) - 1, nil
	}
	return int64(n), nil
}

// decimal is the value of a Unicode decimal digit (category Nd). Unicode
// encodes every set of decimal digits as a contiguous run from 0 to 9,
// and adjacent runs (the mathematical digits) each start at 0, so the
// value is the distance from the start of the whole Nd range, mod 10.
func decimal(r rune) (int, bool) {
	if r >= '0' && r <= '9' {
		return int(r - '0'), true
	}
	if r < 0x80 || !unicode.IsDigit(r) {
		return 0, false
	}
	start := r
	for unicode.IsDigit(start - 1) {
		start--
	}
	return int(r-start) % 10, true
}
