// Package pystr reproduces the few Python string semantics marathon-lb's
// configuration depends on, so that Sextant's edge renders what
// marathon-lb renders for the same labels:
//
//   - str.format (Format): marathon-lb renders every template with it, and
//     template labels are user input, so braces, conversions (!r), format
//     specs ({servicePort:05d}) and indexing ({healthCheck[path]}) must
//     behave as in CPython 3, errors included;
//   - int() (ParseInt): HAPROXY_{n}_PORT, _BACKEND_WEIGHT and
//     _BACKEND_HEALTHCHECK_PORT_INDEX are read with it (" 42", "+4_2" are
//     numbers, "4.0" is not);
//   - str.split() and str.isspace() (Fields, IsSpace): the network
//     allow-list label is split on Python's whitespace.
//
// Values are the Python types marathon-lb passes to templates: str, int,
// None, bool and the health-check dict. What this package cannot
// reproduce byte for byte (attribute access such as {x.upper}, float
// format codes, a whole dict rendered with {healthCheck}) is an error, so
// the caller can reject the template instead of rendering something
// marathon-lb would not.
//
// Imports: the standard library only.
package pystr

import (
	"strconv"
	"strings"
)

// Kind is the Python type of a Value.
type Kind uint8

// Kinds of values.
const (
	NoneKind Kind = iota // None: the zero Value
	StrKind
	IntKind
	BoolKind
	DictKind
)

// Value is one Python value handed to a template.
type Value struct {
	kind Kind
	s    string
	i    int64
	dict []Item
}

// Item is one key of a dict value, in insertion order.
type Item struct {
	Key   string
	Value Value
}

// Str is a Python str.
func Str(s string) Value { return Value{kind: StrKind, s: s} }

// Int is a Python int.
func Int(i int64) Value { return Value{kind: IntKind, i: i} }

// Bool is a Python bool (an int subclass: True formats as 1 with a spec).
func Bool(b bool) Value {
	v := Value{kind: BoolKind}
	if b {
		v.i = 1
	}
	return v
}

// None is Python's None, rendered "None" (marathon-lb passes it for an
// absent vhost or health-check port).
func None() Value { return Value{} }

// Dict is a Python dict with string keys; only indexing it is supported.
func Dict(items ...Item) Value { return Value{kind: DictKind, dict: items} }

// Kind reports the value's Python type.
func (v Value) Kind() Kind { return v.kind }

// String is str(v); a dict has no reproducible str() here (key order and
// repr of nested values), so it reports false.
func (v Value) String() (string, bool) {
	switch v.kind {
	case StrKind:
		return v.s, true
	case IntKind:
		return strconv.FormatInt(v.i, 10), true
	case BoolKind:
		if v.i != 0 {
			return "True", true
		}
		return "False", true
	case NoneKind:
		return "None", true
	}
	return "", false
}

// Arg is one keyword argument of a format call.
type Arg struct {
	Name  string
	Value Value
}

// Args are the keyword arguments of one format call, in call order.
type Args []Arg

// Lookup returns the argument called name.
func (a Args) Lookup(name string) (Value, bool) {
	for _, x := range a {
		if x.Name == name {
			return x.Value, true
		}
	}
	return Value{}, false
}

// repr is Python's repr(v) (ascii(v) with ascii): strings are quoted
// with ' unless they contain ' and no ", and escaped as CPython does.
func repr(v Value, ascii bool) (string, bool) {
	if v.kind != StrKind {
		return v.String()
	}
	q := byte('\'')
	if strings.IndexByte(v.s, '\'') >= 0 && strings.IndexByte(v.s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range v.s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < ' ' || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(hex(uint32(r), 2))
		case r < 0x7f:
			b.WriteRune(r)
		case !ascii && isPrintable(r):
			b.WriteRune(r)
		case r <= 0xff:
			b.WriteString(`\x`)
			b.WriteString(hex(uint32(r), 2))
		case r <= 0xffff:
			b.WriteString(`\u`)
			b.WriteString(hex(uint32(r), 4))
		default:
			b.WriteString(`\U`)
			b.WriteString(hex(uint32(r), 8))
		}
	}
	b.WriteByte(q)
	return b.String(), true
}

func hex(n uint32, width int) string {
	s := strconv.FormatUint(uint64(n), 16)
	return strings.Repeat("0", max(0, width-len(s))) + s
}
