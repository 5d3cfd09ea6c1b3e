package pystr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FormatError is a template that str.format would reject with these
// keyword arguments (CPython raises ValueError, KeyError, IndexError,
// TypeError or AttributeError), or that this package does not reproduce.
type FormatError struct {
	// Type is the Python exception marathon-lb would see
	// ("KeyError", "ValueError", …), or "Unsupported".
	Type string
	Msg  string
}

func (e *FormatError) Error() string { return e.Type + ": " + e.Msg }

func errf(typ, format string, a ...any) error {
	return &FormatError{Type: typ, Msg: fmt.Sprintf(format, a...)}
}

// maxWidth bounds widths and precisions: CPython accepts any that fit
// in a Py_ssize_t and then allocates; a template asking for megabytes of
// padding is rejected here instead.
const maxWidth = 1 << 16

// Format is Python's tmpl.format(**args): {name} fields with optional
// [key] indexing, !s/!r/!a conversions and format specs (themselves
// possibly holding {fields}), {{ and }} for literal braces. It follows
// CPython's Objects/stringlib/unicode_format.h, so it fails where Python
// fails: an unknown name, a single brace, a positional field ({} or {0}:
// marathon-lb passes no positional arguments).
func Format(tmpl string, args Args) (string, error) {
	var b strings.Builder
	if err := build(&b, tmpl, args, 2); err != nil {
		return "", err
	}
	return b.String(), nil
}

// build renders s into b; depth is CPython's recursion_depth (2 at the
// top: a format spec may hold fields, whose own specs may not).
func build(b *strings.Builder, s string, args Args, depth int) error {
	if depth <= 0 {
		return errf("ValueError", "Max string recursion exceeded")
	}
	i := 0
	for i < len(s) {
		// Literal text up to the next brace.
		j := strings.IndexAny(s[i:], "{}")
		if j < 0 {
			b.WriteString(s[i:])
			return nil
		}
		b.WriteString(s[i : i+j])
		i += j
		c := s[i]
		i++
		atEnd := i >= len(s)
		if c == '}' {
			if atEnd || s[i] != '}' {
				return errf("ValueError", "Single '}' encountered in format string")
			}
			b.WriteByte('}')
			i++
			continue
		}
		if atEnd {
			return errf("ValueError", "Single '{' encountered in format string")
		}
		if s[i] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		f, next, err := parseField(s, i)
		if err != nil {
			return err
		}
		i = next
		if err := render(b, f, args, depth); err != nil {
			return err
		}
	}
	return nil
}

type field struct {
	name       string
	conversion byte // 0, 's', 'r', 'a' (others are rejected when rendering)
	hasConv    bool
	spec       string
	expand     bool // the spec holds fields
}

// parseField parses the field that starts at s[i] (just after its '{')
// and returns the index after its closing '}'. It is CPython's
// parse_field: the name ends at '}', ':' or '!', and inside [brackets]
// those characters are part of the name.
func parseField(s string, i int) (field, int, error) {
	var f field
	start := i
	var c byte
	for i < len(s) {
		c = s[i]
		i++
		if c == '{' {
			return f, 0, errf("ValueError", "unexpected '{' in field name")
		}
		if c == '[' {
			for i < len(s) && s[i] != ']' {
				i++
			}
			continue
		}
		if c == '}' || c == ':' || c == '!' {
			break
		}
	}
	if c != '!' && c != ':' {
		if c != '}' {
			return f, 0, errf("ValueError", "expected '}' before end of string")
		}
		f.name = s[start : i-1]
		return f, i, nil
	}
	f.name = s[start : i-1]
	if c == '!' {
		if i >= len(s) {
			return f, 0, errf("ValueError", "end of string while looking for conversion specifier")
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		f.hasConv = true
		if r < utf8.RuneSelf {
			f.conversion = byte(r)
		} else {
			f.conversion = 0xff // not a conversion character
		}
		if i < len(s) {
			c = s[i]
			i++
			if c == '}' {
				return f, i, nil
			}
			if c != ':' {
				return f, 0, errf("ValueError", "expected ':' after conversion specifier")
			}
		}
	}
	specStart := i
	count := 1
	for i < len(s) {
		c = s[i]
		i++
		switch c {
		case '{':
			f.expand = true
			count++
		case '}':
			count--
			if count == 0 {
				f.spec = s[specStart : i-1]
				return f, i, nil
			}
		}
	}
	return f, 0, errf("ValueError", "unmatched '{' in format spec")
}

func render(b *strings.Builder, f field, args Args, depth int) error {
	v, err := lookup(f.name, args)
	if err != nil {
		return err
	}
	if f.hasConv {
		var s string
		var ok bool
		switch f.conversion {
		case 's':
			s, ok = v.String()
		case 'r':
			s, ok = repr(v, false)
		case 'a':
			s, ok = repr(v, true)
		default:
			if f.conversion == 0xff {
				return errf("ValueError", "Unknown conversion specifier")
			}
			return errf("ValueError", "Unknown conversion specifier %c", f.conversion)
		}
		if !ok {
			return errf("Unsupported", "str() of a dict")
		}
		v = Str(s)
	}
	spec := f.spec
	if f.expand {
		var sb strings.Builder
		if err := build(&sb, spec, args, depth-1); err != nil {
			return err
		}
		spec = sb.String()
	}
	out, err := formatValue(v, spec)
	if err != nil {
		return err
	}
	b.WriteString(out)
	return nil
}

// lookup resolves a field name: the first part is a keyword argument
// (empty or all digits would be positional, and marathon-lb passes
// none), then [key] items and .attribute accesses.
func lookup(name string, args Args) (Value, error) {
	i := strings.IndexAny(name, ".[")
	if i < 0 {
		i = len(name)
	}
	first := name[:i]
	if first == "" || isDigits(first) {
		return Value{}, errf("IndexError", "Replacement index %s out of range for positional args tuple", first)
	}
	v, ok := args.Lookup(first)
	if !ok {
		q, _ := repr(Str(first), false)
		return Value{}, errf("KeyError", "%s", q)
	}
	rest := name[i:]
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			j := strings.IndexAny(rest, ".[")
			if j < 0 {
				j = len(rest)
			}
			attr := rest[:j]
			rest = rest[j:]
			if attr == "" {
				return Value{}, errf("ValueError", "Empty attribute in format string")
			}
			var err error
			if v, err = attribute(v, attr); err != nil {
				return Value{}, err
			}
		case '[':
			j := strings.IndexByte(rest, ']')
			if j < 0 {
				return Value{}, errf("ValueError", "Missing ']' in format string")
			}
			key := rest[1:j]
			rest = rest[j+1:]
			if key == "" {
				return Value{}, errf("ValueError", "Empty attribute in format string")
			}
			var err error
			if v, err = item(v, key); err != nil {
				return Value{}, err
			}
		default:
			return Value{}, errf("ValueError", "Only '.' or '[' may follow ']' in format field specifier")
		}
	}
	return v, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if _, ok := decimal(r); !ok {
			return false
		}
	}
	return s != ""
}

// attribute supports the data attributes of int (real, imag, numerator,
// denominator); everything else Python would answer with a bound method's
// repr (an address) or an AttributeError, neither worth reproducing.
func attribute(v Value, attr string) (Value, error) {
	if v.kind == IntKind || v.kind == BoolKind {
		switch attr {
		case "real", "numerator":
			return Int(v.i), nil
		case "imag":
			return Int(0), nil
		case "denominator":
			return Int(1), nil
		}
	}
	return Value{}, errf("Unsupported", "attribute %s", strconv.Quote(attr))
}

// item is v[key], where key is an int when it is all digits (as
// str.format decides) and a str otherwise.
func item(v Value, key string) (Value, error) {
	numeric := isDigits(key)
	switch v.kind {
	case DictKind:
		if numeric {
			return Value{}, errf("KeyError", "%s", key)
		}
		for _, it := range v.dict {
			if it.Key == key {
				return it.Value, nil
			}
		}
		q, _ := repr(Str(key), false)
		return Value{}, errf("KeyError", "%s", q)
	case StrKind:
		if !numeric {
			return Value{}, errf("TypeError", "string indices must be integers, not 'str'")
		}
		n, err := ParseInt(key)
		if err != nil {
			return Value{}, errf("IndexError", "string index out of range")
		}
		for _, r := range v.s {
			if n == 0 {
				return Str(string(r)), nil
			}
			n--
		}
		return Value{}, errf("IndexError", "string index out of range")
	}
	return Value{}, errf("TypeError", "object is not subscriptable")
}
