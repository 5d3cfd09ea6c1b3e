package pystr

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// spec is a parsed standard format specifier
// ([[fill]align][sign][z][#][0][width][,|_][.precision][type]),
// following CPython's parse_internal_render_format_spec.
type spec struct {
	fill      rune
	align     byte
	sign      byte
	noNeg0    bool
	alternate bool
	width     int // -1: none
	sep       byte
	sepEvery  int
	precision int // -1: none
	typ       rune
}

func isAlign(r rune) bool { return r == '<' || r == '>' || r == '=' || r == '^' }

func parseSpec(s string, defaultAlign byte, defaultType rune, typeName string) (spec, error) {
	sp := spec{fill: ' ', align: defaultAlign, width: -1, precision: -1, typ: defaultType}
	rs := []rune(s)
	pos := 0
	fillSet, alignSet := false, false
	if len(rs) >= 2 && isAlign(rs[1]) {
		sp.fill, sp.align = rs[0], byte(rs[1])
		fillSet, alignSet = true, true
		pos = 2
	} else if len(rs) >= 1 && isAlign(rs[0]) {
		sp.align = byte(rs[0])
		alignSet = true
		pos = 1
	}
	if pos < len(rs) && (rs[pos] == '+' || rs[pos] == '-' || rs[pos] == ' ') {
		sp.sign = byte(rs[pos])
		pos++
	}
	if pos < len(rs) && rs[pos] == 'z' {
		sp.noNeg0 = true
		pos++
	}
	if pos < len(rs) && rs[pos] == '#' {
		sp.alternate = true
		pos++
	}
	if !fillSet && pos < len(rs) && rs[pos] == '0' {
		sp.fill = '0'
		if !alignSet && defaultAlign == '>' {
			sp.align = '='
		}
		pos++
	}
	var err error
	var n int
	if n, pos, err = integer(rs, pos); err != nil {
		return sp, err
	} else if n >= 0 {
		sp.width = n
	}
	if pos < len(rs) && rs[pos] == ',' {
		sp.sep = ','
		pos++
	}
	if pos < len(rs) && rs[pos] == '_' {
		if sp.sep != 0 {
			return sp, errf("ValueError", "Cannot specify both ',' and '_'.")
		}
		sp.sep = '_'
		pos++
	}
	if pos < len(rs) && rs[pos] == ',' && sp.sep == '_' {
		return sp, errf("ValueError", "Cannot specify both ',' and '_'.")
	}
	if pos < len(rs) && rs[pos] == '.' {
		pos++
		if n, pos, err = integer(rs, pos); err != nil {
			return sp, err
		} else if n < 0 {
			return sp, errf("ValueError", "Format specifier missing precision")
		}
		sp.precision = n
	}
	if len(rs)-pos > 1 {
		return sp, errf("ValueError", "Invalid format specifier '%s' for object of type '%s'", s, typeName)
	}
	if len(rs)-pos == 1 {
		sp.typ = rs[pos]
	}
	if sp.sep != 0 {
		switch sp.typ {
		case 'd', 'e', 'f', 'g', 'E', 'G', '%', 'F', 0:
			sp.sepEvery = 3
		case 'b', 'o', 'x', 'X':
			if sp.sep == '_' {
				sp.sepEvery = 4
				break
			}
			fallthrough
		default:
			return sp, errf("ValueError", "Cannot specify '%c' with '%c'.", sp.sep, sp.typ)
		}
	}
	return sp, nil
}

// integer reads decimal digits at rs[pos:]; -1 when there are none.
func integer(rs []rune, pos int) (int, int, error) {
	n, digits := 0, 0
	for pos < len(rs) {
		d, ok := decimal(rs[pos])
		if !ok {
			break
		}
		n = n*10 + d
		if n > maxWidth {
			return 0, pos, errf("Unsupported", "width or precision above %d", maxWidth)
		}
		digits++
		pos++
	}
	if digits == 0 {
		return -1, pos, nil
	}
	return n, pos, nil
}

// formatValue is format(v, specText): v.__format__ for str, int, bool,
// None and dict.
func formatValue(v Value, s string) (string, error) {
	switch v.kind {
	case StrKind:
		if s == "" {
			return v.s, nil
		}
		return formatStr(v.s, s)
	case IntKind, BoolKind:
		if s == "" {
			str, _ := v.String() // bool: "True", as int.__format__ with no spec is str()
			return str, nil
		}
		return formatInt(v, s)
	case NoneKind:
		if s != "" {
			return "", errf("TypeError", "unsupported format string passed to NoneType.__format__")
		}
		return "None", nil
	}
	if s != "" {
		return "", errf("TypeError", "unsupported format string passed to dict.__format__")
	}
	return "", errf("Unsupported", "str() of a dict")
}

func formatStr(str, s string) (string, error) {
	sp, err := parseSpec(s, '<', 's', "str")
	if err != nil {
		return "", err
	}
	if sp.typ != 's' {
		return "", errf("ValueError", "Unknown format code '%c' for object of type 'str'", sp.typ)
	}
	switch {
	case sp.sign != 0:
		return "", errf("ValueError", "Sign not allowed in string format specifier")
	case sp.noNeg0:
		return "", errf("ValueError", "Negative zero coercion (z) not allowed in format specifier")
	case sp.alternate:
		return "", errf("ValueError", "Alternate form (#) not allowed in string format specifier")
	case sp.align == '=':
		return "", errf("ValueError", "'=' alignment not allowed in string format specifier")
	}
	n := utf8.RuneCountInString(str)
	if sp.precision >= 0 && n > sp.precision {
		i := 0
		for k := range str {
			if i == sp.precision {
				str = str[:k]
				break
			}
			i++
		}
		n = sp.precision
	}
	return pad(str, n, sp.width, sp.align, sp.fill), nil
}

// pad aligns text of n characters in width (Python's calc_padding).
func pad(text string, n, width int, align byte, fill rune) string {
	if width <= n {
		return text
	}
	total := width - n
	left := 0
	switch align {
	case '>':
		left = total
	case '^':
		left = total / 2
	}
	f := string(fill)
	return strings.Repeat(f, left) + text + strings.Repeat(f, total-left)
}

func formatInt(v Value, s string) (string, error) {
	typeName := "int"
	if v.kind == BoolKind {
		typeName = "bool"
	}
	sp, err := parseSpec(s, '>', 'd', typeName)
	if err != nil {
		return "", err
	}
	base := 10
	switch sp.typ {
	case 'd', 'n':
	case 'b':
		base = 2
	case 'o':
		base = 8
	case 'x', 'X':
		base = 16
	case 'c':
	case 'e', 'E', 'f', 'F', 'g', 'G', '%':
		return "", errf("Unsupported", "float format code '%c'", sp.typ)
	default:
		return "", errf("ValueError", "Unknown format code '%c' for object of type '%s'", sp.typ, typeName)
	}
	if sp.precision >= 0 {
		return "", errf("ValueError", "Precision not allowed in integer format specifier")
	}
	if sp.noNeg0 {
		return "", errf("ValueError", "Negative zero coercion (z) not allowed in integer format specifier")
	}
	if sp.typ == 'c' {
		switch {
		case sp.sign != 0:
			return "", errf("ValueError", "Sign not allowed with integer format specifier 'c'")
		case sp.alternate:
			return "", errf("ValueError", "Alternate form (#) not allowed with integer format specifier 'c'")
		case v.i < 0 || v.i > 0x10ffff:
			return "", errf("OverflowError", "%%c arg not in range(0x110000)")
		case v.i >= 0xd800 && v.i <= 0xdfff:
			return "", errf("Unsupported", "%%c of a surrogate")
		}
		return pad(string(rune(v.i)), 1, sp.width, sp.align, sp.fill), nil
	}
	neg := v.i < 0
	var mag uint64
	if neg {
		mag = uint64(-(v.i + 1)) + 1
	} else {
		mag = uint64(v.i)
	}
	digits := strconv.FormatUint(mag, base)
	if sp.typ == 'X' {
		digits = strings.ToUpper(digits)
	}
	signStr := ""
	switch {
	case neg:
		signStr = "-"
	case sp.sign == '+':
		signStr = "+"
	case sp.sign == ' ':
		signStr = " "
	}
	prefix := ""
	if sp.alternate {
		switch sp.typ {
		case 'b':
			prefix = "0b"
		case 'o':
			prefix = "0o"
		case 'x':
			prefix = "0x"
		case 'X':
			prefix = "0X"
		}
	}
	lead := len(signStr) + len(prefix)
	if sp.sep != 0 {
		// With '0' fill and '=' alignment Python pads the digits with zeros
		// before grouping, so the separators run through the padding.
		minWidth := 0
		if sp.fill == '0' && sp.align == '=' && sp.width > lead {
			minWidth = sp.width - lead
		}
		digits = group(digits, sp.sep, sp.sepEvery, minWidth)
	}
	n := lead + len(digits)
	if sp.width <= n {
		return signStr + prefix + digits, nil
	}
	if sp.align == '=' {
		return signStr + prefix + strings.Repeat(string(sp.fill), sp.width-n) + digits, nil
	}
	return pad(signStr+prefix+digits, n, sp.width, sp.align, sp.fill), nil
}

// group inserts sep every `every` digits from the right, first padding
// with zeros so that the result is at least minWidth long (CPython's
// _PyUnicode_InsertThousandsGrouping with a zero fill).
func group(digits string, sep byte, every, minWidth int) string {
	var parts []string
	for len(digits) > every {
		parts = append(parts, digits[len(digits)-every:])
		digits = digits[:len(digits)-every]
	}
	parts = append(parts, digits)
	length := func() int {
		n := len(parts) - 1
		for _, p := range parts {
			n += len(p)
		}
		return n
	}
	for length() < minWidth {
		last := &parts[len(parts)-1]
		if len(*last) < every {
			*last = "0" + *last
			continue
		}
		// A new group starts with a separator and at least one digit, so
		// the result may overshoot minWidth by one (Python: 1234 with
		// "08," is "0,001,234").
		parts = append(parts, "0")
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
		if i > 0 {
			b.WriteByte(sep)
		}
	}
	return b.String()
}
