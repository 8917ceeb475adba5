package lex

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays a [Decoder] accepts.
// Deeper input fails with a [*SyntaxError] instead of exhausting the stack.
const MaxDepth = 2048

// SyntaxError reports malformed JSON or a JSON value of the wrong kind for
// the Go type it is decoded into.
type SyntaxError struct {
	Offset int    // byte offset in the input where the problem was found
	Msg    string // what was wrong
	// Path locates the offending value ("feed[3].post.author.handle"),
	// when known: Unmarshal and Call fill it in.
	Path string
}

func (e *SyntaxError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("lex: invalid JSON at %s (offset %d): %s", e.Path, e.Offset, e.Msg)
	}
	return fmt.Sprintf("lex: invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// withPath fills in the Path of a *SyntaxError found decoding data.
func withPath(err error, data []byte) error {
	var se *SyntaxError
	if errors.As(err, &se) && se.Path == "" {
		se.Path = PathAt(data, se.Offset)
	}
	return err
}

// Decoder reads JSON values from a byte slice, one token at a time.
//
// Generated code drives it; most users never call it directly. Errors are
// sticky: after the first failure every method returns a zero value and
// [Decoder.Err] reports the failure, so decoding code can read a whole object
// and check once.
type Decoder struct {
	data  []byte
	pos   int
	err   error
	stack []byte // closing bracket expected for each open container
	first bool   // positioned just after an opening bracket
}

// NewDecoder returns a Decoder reading data. The Decoder never modifies
// data; values it returns from [Decoder.Raw] alias it.
func NewDecoder(data []byte) *Decoder {
	return &Decoder{data: data}
}

// Err returns the first error the Decoder met, or nil.
func (d *Decoder) Err() error { return d.err }

// Fail records err as the Decoder's error unless one is already recorded.
func (d *Decoder) Fail(err error) {
	if d.err == nil && err != nil {
		d.err = err
	}
}

func (d *Decoder) syntax(msg string) {
	d.Fail(&SyntaxError{Offset: d.pos, Msg: msg})
}

// Finish checks that only white space follows the last value read and
// returns the Decoder's error.
func (d *Decoder) Finish() error {
	if d.err == nil {
		d.skipWS()
		if d.pos != len(d.data) {
			d.syntax("unexpected data after top-level value")
		}
	}
	return d.err
}

func (d *Decoder) skipWS() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// Peek returns the first byte of the next value ('{', '[', '"', 't', 'f',
// 'n', '-' or a digit) without consuming it, or 0 at the end of input or
// after an error.
func (d *Decoder) Peek() byte {
	if d.err != nil {
		return 0
	}
	d.skipWS()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

// Null consumes a JSON null and reports true if the next value is one;
// otherwise it consumes nothing and reports false.
func (d *Decoder) Null() bool {
	if d.Peek() != 'n' {
		return false
	}
	if !d.literal("null") {
		return false
	}
	d.first = false
	return true
}

func (d *Decoder) literal(lit string) bool {
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		d.syntax("invalid literal")
		return false
	}
	d.pos += len(lit)
	return true
}

func (d *Decoder) open(c, closer byte, what string) bool {
	p := d.Peek()
	if p != c {
		if d.err == nil {
			if p == 0 {
				d.syntax("unexpected end of input, expected " + what)
			} else {
				d.syntax("expected " + what)
			}
		}
		return false
	}
	if len(d.stack) >= MaxDepth {
		d.syntax("nesting too deep")
		return false
	}
	d.pos++
	d.stack = append(d.stack, closer)
	d.first = true
	return true
}

// BeginObject consumes the '{' that starts an object. It reports false
// (and records an error) if the next value is not an object.
func (d *Decoder) BeginObject() bool { return d.open('{', '}', "object") }

// BeginArray consumes the '[' that starts an array. It reports false (and
// records an error) if the next value is not an array.
func (d *Decoder) BeginArray() bool { return d.open('[', ']', "array") }

// More reports whether the innermost open object or array has another
// member. It consumes the separating comma, or the closing bracket when it
// reports false. In an object, read the member with [Decoder.Key] then its
// value.
func (d *Decoder) More() bool {
	if d.err != nil || len(d.stack) == 0 {
		return false
	}
	d.skipWS()
	if d.pos >= len(d.data) {
		d.syntax("unexpected end of input")
		return false
	}
	closer := d.stack[len(d.stack)-1]
	c := d.data[d.pos]
	if c == closer && d.first {
		d.pos++
		d.stack = d.stack[:len(d.stack)-1]
		d.first = false
		return false
	}
	if !d.first {
		if c == closer {
			d.pos++
			d.stack = d.stack[:len(d.stack)-1]
			return false
		}
		if c != ',' {
			d.syntax("expected ',' or '" + string(closer) + "'")
			return false
		}
		d.pos++
		d.skipWS()
		if d.pos >= len(d.data) {
			d.syntax("unexpected end of input")
			return false
		}
	}
	d.first = false
	if closer == '}' && d.data[d.pos] != '"' {
		d.syntax("expected object key")
		return false
	}
	return true
}

// Key reads an object member's name and the colon after it. The returned
// slice may alias the input and is valid until the next call.
func (d *Decoder) Key() []byte {
	k := d.str()
	if d.err != nil {
		return nil
	}
	d.skipWS()
	if d.pos >= len(d.data) || d.data[d.pos] != ':' {
		d.syntax("expected ':' after object key")
		return nil
	}
	d.pos++
	return k
}

// String reads a JSON string.
func (d *Decoder) String() string {
	b := d.str()
	d.first = false
	return string(b)
}

// str reads a string token; the result aliases the input when it has no
// escapes.
func (d *Decoder) str() []byte {
	if d.Peek() != '"' {
		if d.err == nil {
			d.syntax("expected string")
		}
		return nil
	}
	d.pos++
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			s := d.data[start:d.pos]
			d.pos++
			return s
		case c == '\\':
			return d.strSlow(start)
		case c < 0x20:
			d.syntax("control character in string")
			return nil
		}
		d.pos++
	}
	d.syntax("unterminated string")
	return nil
}

func (d *Decoder) strSlow(start int) []byte {
	out := make([]byte, 0, d.pos-start+16)
	out = append(out, d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return out
		case c < 0x20:
			d.syntax("control character in string")
			return nil
		case c != '\\':
			out = append(out, c)
			d.pos++
			continue
		}
		d.pos++
		if d.pos >= len(d.data) {
			break
		}
		e := d.data[d.pos]
		d.pos++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return nil
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
					save := d.pos
					d.pos += 2
					if r2, ok = d.hex4(); !ok {
						return nil
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
					} else {
						d.pos = save
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			d.pos--
			d.syntax("invalid escape in string")
			return nil
		}
	}
	d.syntax("unterminated string")
	return nil
}

func (d *Decoder) hex4() (rune, bool) {
	if len(d.data)-d.pos < 4 {
		d.syntax("short \\u escape")
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			d.syntax("invalid \\u escape")
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.pos += 4
	return r, true
}

// number scans a JSON number and returns its text and whether it is an
// integer (no fraction or exponent).
func (d *Decoder) number() ([]byte, bool) {
	d.skipWS()
	start := d.pos
	isInt := true
	if d.pos < len(d.data) && d.data[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.pos < len(d.data) && d.data[d.pos] == '0':
		d.pos++
	case d.pos < len(d.data) && '1' <= d.data[d.pos] && d.data[d.pos] <= '9':
		for d.pos < len(d.data) && '0' <= d.data[d.pos] && d.data[d.pos] <= '9' {
			d.pos++
		}
	default:
		d.syntax("invalid number")
		return nil, false
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		isInt = false
		d.pos++
		if !d.digits() {
			return nil, false
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		isInt = false
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if !d.digits() {
			return nil, false
		}
	}
	return d.data[start:d.pos], isInt
}

func (d *Decoder) digits() bool {
	start := d.pos
	for d.pos < len(d.data) && '0' <= d.data[d.pos] && d.data[d.pos] <= '9' {
		d.pos++
	}
	if d.pos == start {
		d.syntax("invalid number")
		return false
	}
	return true
}

// StringIntern reads a JSON string and returns canonical, without
// allocating, when the string equals it. Generated decoders read "$type"
// with it.
func (d *Decoder) StringIntern(canonical string) string {
	b := d.str()
	d.first = false
	if string(b) == canonical {
		return canonical
	}
	return string(b)
}

// Int reads a JSON number that must be an integer within int64.
func (d *Decoder) Int() int64 {
	c := d.Peek()
	if c != '-' && (c < '0' || c > '9') {
		if d.err == nil {
			d.syntax("expected integer")
		}
		return 0
	}
	start := d.pos
	text, isInt := d.number()
	if d.err != nil {
		return 0
	}
	d.first = false
	if !isInt {
		d.pos = start
		d.syntax("expected integer, found " + string(text))
		return 0
	}
	n, err := strconv.ParseInt(string(text), 10, 64)
	if err != nil {
		d.pos = start
		d.syntax("integer out of range: " + string(text))
		return 0
	}
	return n
}

// Bool reads a JSON true or false.
func (d *Decoder) Bool() bool {
	switch d.Peek() {
	case 't':
		if d.literal("true") {
			d.first = false
			return true
		}
	case 'f':
		if d.literal("false") {
			d.first = false
		}
	default:
		if d.err == nil {
			d.syntax("expected boolean")
		}
	}
	return false
}

// Raw reads the next value, checking that it is well-formed JSON, and
// returns its bytes. The result aliases the Decoder's input.
func (d *Decoder) Raw() []byte {
	if d.Peek() == 0 {
		if d.err == nil {
			d.syntax("unexpected end of input, expected value")
		}
		return nil
	}
	start := d.pos
	d.skip(len(d.stack))
	if d.err != nil {
		return nil
	}
	d.first = false
	return d.data[start:d.pos]
}

// Skip reads and discards the next value, checking that it is well-formed.
func (d *Decoder) Skip() { d.Raw() }

// skip consumes one value. depth is the nesting level of the value.
func (d *Decoder) skip(depth int) {
	d.skipWS()
	if d.pos >= len(d.data) {
		d.syntax("unexpected end of input, expected value")
		return
	}
	switch c := d.data[d.pos]; c {
	case '{', '[':
		// Like open: at most MaxDepth containers deep; scalars inside
		// the deepest container are fine.
		if depth >= MaxDepth {
			d.syntax("nesting too deep")
			return
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		d.pos++
		d.skipWS()
		if d.pos < len(d.data) && d.data[d.pos] == closer {
			d.pos++
			return
		}
		for d.err == nil {
			if c == '{' {
				d.str()
				d.skipWS()
				if d.err != nil {
					return
				}
				if d.pos >= len(d.data) || d.data[d.pos] != ':' {
					d.syntax("expected ':' after object key")
					return
				}
				d.pos++
			}
			d.skip(depth + 1)
			d.skipWS()
			if d.err != nil {
				return
			}
			if d.pos >= len(d.data) {
				d.syntax("unexpected end of input")
				return
			}
			switch d.data[d.pos] {
			case ',':
				d.pos++
			case closer:
				d.pos++
				return
			default:
				d.syntax("expected ',' or '" + string(closer) + "'")
				return
			}
		}
	case '"':
		d.str()
	case 't':
		d.literal("true")
	case 'f':
		d.literal("false")
	case 'n':
		d.literal("null")
	default:
		d.number()
	}
}

// PeekType returns the value of the "$type" member of the object that is
// the next value, without consuming anything. It returns "" when the next
// value is not an object, has no string "$type" member, or is malformed (the
// error then surfaces when the value is read).
//
// "$type" is almost always the first member, which makes this cheap; when
// it is not, the object's members are scanned once.
func (d *Decoder) PeekType() string { return string(d.PeekTypeBytes()) }

// PeekTypeBytes is [Decoder.PeekType] without the allocation: the result
// aliases the input (or is a fresh copy when the value has escapes) and is
// valid until the input changes.
func (d *Decoder) PeekTypeBytes() []byte {
	if d.Peek() != '{' {
		return nil
	}
	save, saveFirst := d.pos, d.first
	defer func() {
		d.pos, d.first, d.err = save, saveFirst, nil
	}()
	d.pos++
	d.skipWS()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		return nil
	}
	for d.err == nil {
		k := d.str()
		d.skipWS()
		if d.err != nil || d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil
		}
		d.pos++
		if string(k) == "$type" {
			if d.Peek() != '"' {
				return nil
			}
			return d.str()
		}
		d.skip(len(d.stack) + 1)
		d.skipWS()
		if d.err != nil || d.pos >= len(d.data) || d.data[d.pos] != ',' {
			return nil
		}
		d.pos++
		d.skipWS()
	}
	return nil
}

// decoderState is a position a Decoder can return to.
type decoderState struct {
	pos   int
	depth int
	first bool
}

func (d *Decoder) save() decoderState {
	return decoderState{pos: d.pos, depth: len(d.stack), first: d.first}
}

func (d *Decoder) restore(s decoderState) {
	d.pos, d.stack, d.first, d.err = s.pos, d.stack[:s.depth], s.first, nil
}

// DecodeMember reads a union member or "unknown" value into v. If the value
// does not fit v's type (a field of the wrong kind, say) but is well-formed
// JSON, it is kept as an [*Unknown] whose Err says why, instead of failing
// the whole document: one odd member must not make a timeline unreadable.
func DecodeMember(d *Decoder, v Object) Object {
	if d.Err() != nil {
		return nil
	}
	s := d.save()
	v.DecodeLex(d)
	if d.err == nil {
		return v
	}
	err := d.err
	d.restore(s)
	u := new(Unknown)
	u.DecodeLex(d)
	if d.err != nil {
		return nil
	}
	u.Err = err
	return u
}

// DecodeFunc adapts a function to the [Decodable] interface.
type DecodeFunc func(d *Decoder)

// DecodeLex calls f(d).
func (f DecodeFunc) DecodeLex(d *Decoder) { f(d) }

// PathAt returns the location, in JSON path form ("feed[3].post.author"),
// of the value containing byte offset in data, or "" at the top level. It
// is used to say which field a decoding error is in, and costs nothing
// unless an error happened.
func PathAt(data []byte, offset int) string {
	d := NewDecoder(data)
	var b []byte
	for {
		d.skipWS()
		if d.err != nil || d.pos >= len(d.data) {
			break
		}
		switch d.data[d.pos] {
		case '{':
			d.BeginObject()
			found := false
			for d.More() {
				k := d.Key()
				d.skipWS()
				start := d.pos
				d.skip(len(d.stack))
				if d.err != nil || d.pos > offset {
					if start <= offset {
						if len(b) > 0 {
							b = append(b, '.')
						}
						b = append(b, k...)
						d.pos, d.err = start, nil
						found = true
					}
					break
				}
			}
			if !found {
				return string(b)
			}
		case '[':
			d.BeginArray()
			found := false
			for i := 0; d.More(); i++ {
				d.skipWS()
				start := d.pos
				d.skip(len(d.stack))
				if d.err != nil || d.pos > offset {
					if start <= offset {
						b = append(b, '[')
						b = strconv.AppendInt(b, int64(i), 10)
						b = append(b, ']')
						d.pos, d.err = start, nil
						found = true
					}
					break
				}
			}
			if !found {
				return string(b)
			}
		default:
			return string(b)
		}
		d.stack = d.stack[:0]
	}
	return string(b)
}
