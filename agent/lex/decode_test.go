package lex

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// walk reads one JSON value with the token API (BeginObject, More, Key,
// String, Bool, Null, Raw for numbers) and returns it in the form
// encoding/json produces with UseNumber, strings made valid UTF-8 the way
// encoding/json does (one U+FFFD per invalid byte).
func walk(d *Decoder) any {
	switch d.Peek() {
	case '{':
		m := map[string]any{}
		if d.BeginObject() {
			for d.More() {
				k := validUTF8(string(d.Key()))
				m[k] = walk(d)
			}
		}
		return m
	case '[':
		s := []any{}
		if d.BeginArray() {
			for d.More() {
				s = append(s, walk(d))
			}
		}
		return s
	case '"':
		return validUTF8(d.String())
	case 't', 'f':
		return d.Bool()
	case 'n':
		if !d.Null() {
			d.Fail(errors.New("bad null"))
		}
		return nil
	default:
		return json.Number(d.Raw())
	}
}

func validUTF8(s string) string { return string([]rune(s)) }

// stdAny decodes data with encoding/json (UseNumber), or reports an error.
func stdAny(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

func TestDecoderStrings(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: `"abc"`, want: "abc"},
		{in: `""`, want: ""},
		{in: `"a\"b\\c\/d\b\f\n\r\t"`, want: "a\"b\\c/d\b\f\n\r\t"},
		{in: `"\u00e9t\u00C9"`, want: "étÉ"},
		{in: `"\u0000"`, want: "\x00"},
		{in: `"\ud83d\ude00"`, want: "😀"},
		{in: `"\uD83D\uDE00!"`, want: "😀!"},
		{in: `"x\ud83d"`, want: "x\ufffd"},            // lone high surrogate at end
		{in: `"\ud83dx"`, want: "\ufffdx"},            // high surrogate, then a plain char
		{in: `"\ude00"`, want: "\ufffd"},              // lone low surrogate
		{in: `"\ud83d\u0041"`, want: "\ufffdA"},       // high surrogate, then a non-surrogate escape
		{in: `"\ud83d\ud83d\ude00"`, want: "\ufffd😀"}, // two highs, then a low
		{in: `"\ud83d\n"`, want: "\ufffd\n"},
		{in: "\"caf\xc3\xa9\"", want: "café"},
		{in: "\"\x7f\"", want: "\x7f"},
		{in: `"\u12"`, wantErr: "short \\u escape"},
		{in: `"\u12zz"`, wantErr: "invalid \\u escape"},
		{in: `"\ud83d\u12"`, wantErr: "short \\u escape"},
		{in: `"\ud83d\uzzzz"`, wantErr: "invalid \\u escape"},
		{in: `"\x41"`, wantErr: "invalid escape"},
		{in: `"\'"`, wantErr: "invalid escape"},
		{in: `"abc`, wantErr: "unterminated string"},
		{in: `"abc\`, wantErr: "unterminated string"},
		{in: `"a\nb`, wantErr: "unterminated string"},
		{in: "\"a\x01b\"", wantErr: "control character"},
		{in: "\"a\\n\x1fb\"", wantErr: "control character"}, // after an escape (slow path)
		{in: "\"a\nb\"", wantErr: "control character"},
		{in: "\"a\tb\"", wantErr: "control character"},
		{in: `abc`, wantErr: "expected string"},
		{in: ``, wantErr: "expected string"},
	}
	for _, tt := range tests {
		d := NewDecoder([]byte(tt.in))
		got := d.String()
		err := d.Finish()
		var stdGot string
		stdErr := json.Unmarshal([]byte(tt.in), &stdGot)
		if tt.wantErr != "" {
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.Contains(se.Msg, tt.wantErr) {
				t.Errorf("String(%q): err = %v, want a SyntaxError containing %q", tt.in, err, tt.wantErr)
			}
			if stdErr == nil {
				t.Errorf("String(%q): encoding/json accepts what we reject", tt.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("String(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if stdErr != nil || stdGot != got {
			t.Errorf("String(%q) = %q; encoding/json gives %q, %v", tt.in, got, stdGot, stdErr)
		}
	}
}

func TestDecoderKeyEscapes(t *testing.T) {
	d := NewDecoder([]byte(`{"t\u0065xt" : "v", "\u0024type":"x"}`))
	if !d.BeginObject() {
		t.Fatal(d.Err())
	}
	var keys []string
	for d.More() {
		keys = append(keys, string(d.Key()))
		d.Skip()
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"text", "$type"}, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}

func TestDecoderInt(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "-0", want: 0},
		{in: " 42 ", want: 42},
		{in: "-17", want: -17},
		{in: "9223372036854775807", want: 1<<63 - 1},
		{in: "-9223372036854775808", want: -1 << 63},
		{in: "9223372036854775808", wantErr: "out of range"},
		{in: "-9223372036854775809", wantErr: "out of range"},
		{in: "100000000000000000000000", wantErr: "out of range"},
		{in: "1.0", wantErr: "expected integer, found 1.0"},
		{in: "1.5", wantErr: "expected integer"},
		{in: "1e3", wantErr: "expected integer"},
		{in: "1E3", wantErr: "expected integer"},
		{in: "-2e-1", wantErr: "expected integer"},
		{in: "01", wantErr: "after top-level value"},
		{in: "1.", wantErr: "invalid number"},
		{in: "1e", wantErr: "invalid number"},
		{in: "1e+", wantErr: "invalid number"},
		{in: "-", wantErr: "invalid number"},
		{in: "-a", wantErr: "invalid number"},
		{in: "+1", wantErr: "expected integer"},
		{in: ".5", wantErr: "expected integer"},
		{in: `"1"`, wantErr: "expected integer"},
		{in: "true", wantErr: "expected integer"},
		{in: "null", wantErr: "expected integer"},
		{in: "", wantErr: "expected integer"},
	}
	for _, tt := range tests {
		d := NewDecoder([]byte(tt.in))
		got := d.Int()
		err := d.Finish()
		if tt.wantErr != "" {
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.Contains(se.Msg, tt.wantErr) {
				t.Errorf("Int(%q): err = %v, want a SyntaxError containing %q", tt.in, err, tt.wantErr)
			}
			if got != 0 {
				t.Errorf("Int(%q) = %d after an error, want 0", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Int(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestDecoderIntErrorOffset(t *testing.T) {
	d := NewDecoder([]byte(`[1, 2.5]`))
	d.BeginArray()
	for d.More() {
		d.Int()
	}
	var se *SyntaxError
	if !errors.As(d.Err(), &se) || se.Offset != 4 {
		t.Fatalf("err = %v, want a SyntaxError at offset 4 (the float)", d.Err())
	}
	if !strings.Contains(se.Error(), "offset 4") {
		t.Errorf("Error() = %q, want the offset in it", se.Error())
	}
}

func TestDecoderBoolNull(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
		ok   bool
	}{
		{"true", true, true}, {"false", false, true}, {" true", true, true},
		{"tru", false, false}, {"fals", false, false}, {"True", false, false},
		{"1", false, false}, {`"true"`, false, false}, {"null", false, false},
	} {
		d := NewDecoder([]byte(tt.in))
		got := d.Bool()
		err := d.Finish()
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Bool(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}

	d := NewDecoder([]byte(`null`))
	if !d.Null() || d.Finish() != nil {
		t.Errorf("Null(null) = false or error %v", d.Err())
	}
	// Null on a non-null consumes nothing.
	d = NewDecoder([]byte(`12`))
	if d.Null() {
		t.Error("Null(12) = true")
	}
	if n := d.Int(); n != 12 || d.Finish() != nil {
		t.Errorf("after Null: Int = %d, %v", n, d.Err())
	}
	d = NewDecoder([]byte(`nul`))
	if d.Null() || d.Err() == nil {
		t.Errorf("Null(nul): want false and an error, got err %v", d.Err())
	}
}

// syntaxCases are documents checked against encoding/json: each must be
// accepted by Raw, by the token API, and by json.Valid alike.
var syntaxCases = []string{
	`{}`, `[]`, `[ ]`, `{ }`, ` {"a" : [1, 2.5e-3, -0, true, false, null, "x"]} `,
	`{"a":{"b":{"c":[[],[{}]]}}}`, `"\u0000"`, `0`, `-0.0e-0`, `1E+5`, `"\ud800"`,
	"\t\r\n1\t\r\n",
	// malformed
	``, ` `, `[1,]`, `{"a":1,}`, `[1}`, `{"a":1]`, `{"a" 1}`, `{a:1}`, `{"a":1 "b":2}`,
	`[1 2]`, `[`, `{`, `]`, `}`, `[1,,2]`, `[,1]`, `{,}`, `{"a":}`, `{"a"}`, `{"a":1`, `[1`,
	`1 2`, `{} {}`, `{}x`, `nulls`, `truefalse`, `-01`, `01`, `1.e5`, `1e+`, `.1`, `+1`,
	"\ufeff{}", `{"a":1}}`, `[[]]]`, `"abc`, `'a'`, `[1,2`, `{"a":[}`, `NaN`, `Infinity`,
	"\x00", `{"":1}`, `{"\u00":1}`, "[\v]", "\u00a0{}",
}

func TestDecoderSyntaxAgainstEncodingJSON(t *testing.T) {
	for _, in := range syntaxCases {
		valid := json.Valid([]byte(in))

		d := NewDecoder([]byte(in))
		raw := d.Raw()
		rawErr := d.Finish()
		if (rawErr == nil) != valid {
			t.Errorf("Raw(%q): err = %v, json.Valid = %v", in, rawErr, valid)
		}
		if rawErr == nil && string(raw) != strings.Trim(in, " \t\r\n") {
			t.Errorf("Raw(%q) = %q, want the value without surrounding space", in, raw)
		}

		d = NewDecoder([]byte(in))
		got := walk(d)
		walkErr := d.Finish()
		if (walkErr == nil) != valid {
			t.Errorf("walk(%q): err = %v, json.Valid = %v", in, walkErr, valid)
		}
		if walkErr == nil {
			want, err := stdAny([]byte(in))
			if err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("walk(%q) differs from encoding/json (-std +ours):\n%s", in, diff)
			}
		}
	}
}

func TestDecoderErrorsAreSticky(t *testing.T) {
	d := NewDecoder([]byte(`{"a": x, "b": "y"}`))
	d.BeginObject()
	d.More()
	d.Key()
	d.Skip()
	first := d.Err()
	if first == nil {
		t.Fatal("no error for x")
	}
	if d.More() || d.Key() != nil || d.String() != "" || d.Int() != 0 || d.Bool() || d.Raw() != nil ||
		d.Peek() != 0 || d.PeekType() != "" || d.BeginObject() || d.BeginArray() || d.Null() {
		t.Error("a method returned a non-zero value after an error")
	}
	d.Fail(errors.New("second"))
	if d.Err() != first || d.Finish() != first {
		t.Errorf("Err = %v, want the first error %v", d.Err(), first)
	}
}

func TestDecoderMismatchedTypes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		read func(*Decoder)
		msg  string
	}{
		{`[]`, func(d *Decoder) { d.BeginObject() }, "expected object"},
		{`{}`, func(d *Decoder) { d.BeginArray() }, "expected array"},
		{``, func(d *Decoder) { d.BeginObject() }, "unexpected end of input, expected object"},
		{`1`, func(d *Decoder) { _ = d.String() }, "expected string"},
		{`"x"`, func(d *Decoder) { d.Bool() }, "expected boolean"},
		{``, func(d *Decoder) { d.Raw() }, "unexpected end of input"},
		{`{"a" 1}`, func(d *Decoder) { d.BeginObject(); d.More(); d.Key() }, "expected ':'"},
		{`{1:2}`, func(d *Decoder) { d.BeginObject(); d.More() }, "expected object key"},
		{`[1`, func(d *Decoder) { d.BeginArray(); d.More(); d.Int(); d.More() }, "unexpected end of input"},
		{`[1,`, func(d *Decoder) { d.BeginArray(); d.More(); d.Int(); d.More() }, "unexpected end of input"},
		{`[1;2]`, func(d *Decoder) { d.BeginArray(); d.More(); d.Int(); d.More() }, "expected ',' or ']'"},
	} {
		d := NewDecoder([]byte(tt.in))
		tt.read(d)
		var se *SyntaxError
		if !errors.As(d.Err(), &se) || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("%q: err = %v, want %q", tt.in, d.Err(), tt.msg)
		}
	}
}

func TestDecoderTrailingData(t *testing.T) {
	for _, in := range []string{`{} {}`, `{}x`, `{}]`, `{},`, `"a""b"`} {
		var u Unknown
		if err := Unmarshal([]byte(in), &u); err == nil {
			t.Errorf("Unmarshal(%q): no error for trailing data", in)
		}
	}
	for _, in := range []string{"{} ", "{}\n\t\r "} {
		var u Unknown
		if err := Unmarshal([]byte(in), &u); err != nil {
			t.Errorf("Unmarshal(%q): %v", in, err)
		}
	}
}

func TestDecoderMaxDepth(t *testing.T) {
	nest := func(n int, inner string) []byte {
		return []byte(strings.Repeat("[", n) + inner + strings.Repeat("]", n))
	}
	nestObj := func(n int) []byte {
		return []byte(strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n))
	}
	for _, tt := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"MaxDepth empty arrays", nest(MaxDepth, ""), true},
		{"MaxDepth arrays around a number", nest(MaxDepth, "1"), true},
		{"MaxDepth arrays around a string", nest(MaxDepth, `"s"`), true},
		{"MaxDepth objects", nestObj(MaxDepth), true},
		{"MaxDepth+1 arrays", nest(MaxDepth+1, ""), false},
		{"MaxDepth+1 objects", nestObj(MaxDepth + 1), false},
		{"far too deep", nest(100000, ""), false},
	} {
		// Raw and the token API must agree: a value the one accepts, the
		// other accepts (DecodeMember falls back from one to the other).
		d := NewDecoder(tt.in)
		d.Raw()
		rawErr := d.Finish()
		d = NewDecoder(tt.in)
		walk(d)
		walkErr := d.Finish()
		for name, err := range map[string]error{"Raw": rawErr, "walk": walkErr} {
			if (err == nil) != tt.ok {
				t.Errorf("%s: %s: err = %v, want ok=%v", tt.name, name, err, tt.ok)
			}
			var se *SyntaxError
			if err != nil && (!errors.As(err, &se) || se.Msg != "nesting too deep") {
				t.Errorf("%s: %s: err = %v, want nesting too deep", tt.name, name, err)
			}
		}
	}

	// Depth counts from the outermost value, also when Raw starts inside
	// containers already opened with BeginArray.
	in := nest(MaxDepth, "1")
	d := NewDecoder(in)
	for range 10 {
		d.BeginArray()
		d.More()
	}
	d.Raw()
	for range 10 {
		d.More()
	}
	if err := d.Finish(); err != nil {
		t.Errorf("Raw inside 10 open arrays: %v", err)
	}
	in = nest(MaxDepth+1, "")
	d = NewDecoder(in)
	for range 10 {
		d.BeginArray()
		d.More()
	}
	d.Raw()
	if d.Err() == nil {
		t.Error("Raw inside 10 open arrays accepted MaxDepth+1 nesting")
	}
}

func TestPeekType(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{`{"$type":"app.bsky.embed.images","images":[]}`, "app.bsky.embed.images"},
		{` { "$type" : "a.b.c" } `, "a.b.c"},
		{`{"x":{"$type":"inner"},"y":[1,{"$type":"arr"}],"z":"$type","$type":"outer"}`, "outer"},
		{`{"x":1}`, ""},
		{`{}`, ""},
		{`{"$type":5}`, ""},
		{`{"$type":null}`, ""},
		{`{"$type":{"$type":"nested"}}`, ""},
		{`{"\u0024type":"escaped.key"}`, "escaped.key"},
		{`{"$type":"a\u0062c"}`, "abc"},
		{`{"$type":"first","$type":"second"}`, "first"},
		{`[{"$type":"a"}]`, ""},
		{`"$type"`, ""},
		{`null`, ""},
		{``, ""},
		{`{"x":1 "$type":"a"}`, ""},
		{`{"x":[1,}, "$type":"a"}`, ""},
		{`{"x":1,"$type":"a"`, "a"}, // malformation after $type surfaces when read
	} {
		d := NewDecoder([]byte(tt.in))
		if got := d.PeekType(); got != tt.want {
			t.Errorf("PeekType(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// PeekType consumes nothing and records no error.
		if d.Err() != nil {
			t.Errorf("PeekType(%q) left error %v", tt.in, d.Err())
		}
		raw := d.Raw()
		valid := json.Valid([]byte(tt.in))
		if (d.Finish() == nil) != valid {
			t.Errorf("after PeekType(%q): Raw err = %v, json.Valid = %v", tt.in, d.Err(), valid)
		}
		if valid && string(raw) != strings.TrimSpace(tt.in) {
			t.Errorf("after PeekType(%q): Raw = %q", tt.in, raw)
		}
	}

	// Inside an object, after Key, and as the first array element.
	d := NewDecoder([]byte(`{"embed":{"a":[1],"$type":"t"},"list":[{"$type":"u"},{"$type":"v"}]}`))
	d.BeginObject()
	var got []string
	for d.More() {
		switch string(d.Key()) {
		case "embed":
			got = append(got, d.PeekType())
			d.Skip()
		case "list":
			d.BeginArray()
			for d.More() {
				got = append(got, d.PeekType(), d.PeekType())
				d.Skip()
			}
		}
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"t", "u", "u", "v", "v"}, got); diff != "" {
		t.Errorf("PeekType in context (-want +got):\n%s", diff)
	}

	// After an error, PeekType returns "" and keeps the error.
	d = NewDecoder([]byte(`{"$type":"a"}`))
	d.Fail(errors.New("earlier"))
	if d.PeekType() != "" || d.Err() == nil || d.Err().Error() != "earlier" {
		t.Errorf("PeekType after error: err = %v", d.Err())
	}
}

func TestRawAliasesInput(t *testing.T) {
	data := []byte(`{"a":[1,2],"b":"c"}`)
	d := NewDecoder(data)
	d.BeginObject()
	d.More()
	d.Key()
	raw := d.Raw()
	if string(raw) != `[1,2]` {
		t.Fatalf("Raw = %q", raw)
	}
	if &raw[0] != &data[5] {
		t.Error("Raw does not alias the input")
	}

	// Unknown and Extra keep copies: changing the input afterwards does not
	// change them.
	data = []byte(`{"$type":"x.y","v":"abc"}`)
	var u Unknown
	if err := Unmarshal(data, &u); err != nil {
		t.Fatal(err)
	}
	copy(data, bytes.Repeat([]byte{' '}, len(data)))
	if string(u.Raw) != `{"$type":"x.y","v":"abc"}` || u.Type != "x.y" {
		t.Errorf("Unknown changed with its input: %q %q", u.Type, u.Raw)
	}

	data = []byte(`{"future":{"k":"v"}}`)
	d = NewDecoder(data)
	var x Extra
	d.BeginObject()
	for d.More() {
		x.Capture(d, d.Key())
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	copy(data, bytes.Repeat([]byte{'X'}, len(data)))
	if v, ok := x.Get("future"); !ok || string(v) != `{"k":"v"}` {
		t.Errorf("Extra changed with its input: %q %v", v, ok)
	}
}

func TestPeekTypeBytesAndStringIntern(t *testing.T) {
	data := []byte(`{"$type":"app.bsky.feed.post","text":"x"}`)
	d := NewDecoder(data)
	b := d.PeekTypeBytes()
	if string(b) != "app.bsky.feed.post" || &b[0] != &data[10] {
		t.Errorf("PeekTypeBytes = %q, want an alias of the input", b)
	}
	for _, in := range []string{`{"text":"x"}`, `{}`, `[]`, `{"$type":1}`, ``} {
		if b := NewDecoder([]byte(in)).PeekTypeBytes(); b != nil {
			t.Errorf("PeekTypeBytes(%s) = %q, want nil", in, b)
		}
	}
	if b := NewDecoder([]byte(`{"$type":"a\u002eb"}`)).PeekTypeBytes(); string(b) != "a.b" {
		t.Errorf("escaped: %q", b)
	}

	const canon = "app.bsky.feed.post"
	for _, tt := range []struct{ in, want string }{
		{`"app.bsky.feed.post"`, canon},
		{`"app.bsky.feed.p\u006fst"`, canon},
		{`"app.bsky.feed.like"`, "app.bsky.feed.like"},
		{`""`, ""},
	} {
		d := NewDecoder([]byte(tt.in))
		if got := d.StringIntern(canon); got != tt.want || d.Finish() != nil {
			t.Errorf("StringIntern(%s) = %q, %v", tt.in, got, d.Err())
		}
	}
	d = NewDecoder([]byte(`5`))
	if got := d.StringIntern(canon); got != "" || d.Err() == nil {
		t.Errorf("StringIntern(5) = %q, %v", got, d.Err())
	}

	// Neither allocates when the type is the canonical one (allocation
	// counts, not timing).
	in := []byte(`{"$type":"app.bsky.feed.post"}`)
	d = NewDecoder(in)
	allocs := testing.AllocsPerRun(100, func() {
		d.pos, d.stack, d.first, d.err = 0, d.stack[:0], false, nil
		if string(d.PeekTypeBytes()) != canon {
			t.Fatal("PeekTypeBytes")
		}
		d.BeginObject()
		d.More()
		d.Key()
		if d.StringIntern(canon) != canon {
			t.Fatal("StringIntern")
		}
	})
	if allocs != 0 {
		t.Errorf("PeekTypeBytes + StringIntern allocate %v times per value", allocs)
	}
}
