package lex

import (
	"strconv"
	"unicode/utf8"
)

// Encoder writes JSON into a growing byte slice.
//
// Generated code drives it; most users never call it directly. Separators
// are written automatically: call [Encoder.Field] before each member value
// of an object, and write array elements one after another. Errors are
// sticky and reported by [Encoder.Bytes].
type Encoder struct {
	buf   []byte
	comma bool
	err   error
}

// Reset empties the Encoder, keeping its buffer for reuse.
func (e *Encoder) Reset() {
	e.buf, e.comma, e.err = e.buf[:0], false, nil
}

// Bytes returns the JSON written so far, or the first error recorded.
func (e *Encoder) Bytes() ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	return e.buf, nil
}

// Fail records err as the Encoder's error unless one is already recorded.
func (e *Encoder) Fail(err error) {
	if e.err == nil && err != nil {
		e.err = err
	}
}

// Err returns the first error recorded, or nil.
func (e *Encoder) Err() error { return e.err }

func (e *Encoder) sep() {
	if e.comma {
		e.buf = append(e.buf, ',')
	}
}

// BeginObject writes '{'.
func (e *Encoder) BeginObject() {
	e.sep()
	e.buf = append(e.buf, '{')
	e.comma = false
}

// EndObject writes '}'.
func (e *Encoder) EndObject() {
	e.buf = append(e.buf, '}')
	e.comma = true
}

// BeginArray writes '['.
func (e *Encoder) BeginArray() {
	e.sep()
	e.buf = append(e.buf, '[')
	e.comma = false
}

// EndArray writes ']'.
func (e *Encoder) EndArray() {
	e.buf = append(e.buf, ']')
	e.comma = true
}

// Field writes an object member's name and colon; the member's value is
// written next.
func (e *Encoder) Field(name string) {
	e.sep()
	e.buf = appendString(e.buf, name)
	e.buf = append(e.buf, ':')
	e.comma = false
}

// String writes a JSON string. Invalid UTF-8 is replaced by U+FFFD.
func (e *Encoder) String(s string) {
	e.sep()
	e.buf = appendString(e.buf, s)
	e.comma = true
}

// Int writes an integer.
func (e *Encoder) Int(n int64) {
	e.sep()
	e.buf = strconv.AppendInt(e.buf, n, 10)
	e.comma = true
}

// Bool writes true or false.
func (e *Encoder) Bool(b bool) {
	e.sep()
	e.buf = strconv.AppendBool(e.buf, b)
	e.comma = true
}

// Null writes null.
func (e *Encoder) Null() {
	e.sep()
	e.buf = append(e.buf, "null"...)
	e.comma = true
}

// Raw writes raw, which must be one well-formed JSON value (as returned by
// [Decoder.Raw]). An empty raw is written as null.
func (e *Encoder) Raw(raw []byte) {
	if len(raw) == 0 {
		e.Null()
		return
	}
	e.sep()
	e.buf = append(e.buf, raw...)
	e.comma = true
}

const hexDigits = "0123456789abcdef"

func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
