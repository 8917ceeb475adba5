package lex

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

func TestEncoderString(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"", `""`},
		{"plain", `"plain"`},
		{"q\"b\\s/", `"q\"b\\s/"`},
		{"\n\r\t", `"\n\r\t"`},
		{"\x00\x01\x1f\b\f", `"\u0000\u0001\u001f\u0008\u000c"`},
		{"\x7f", "\"\x7f\""},
		{"<a&b>", `"<a&b>"`},
		{"é😀", `"é😀"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"a\xffb", `"a\ufffdb"`},                 // invalid byte
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // UTF-8-encoded surrogate
		{"\xc3", `"\ufffd"`},                     // truncated sequence
	} {
		var e Encoder
		e.String(tt.in)
		got, err := e.Bytes()
		if err != nil || string(got) != tt.want {
			t.Errorf("String(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("String(%q) wrote invalid JSON %s: %v", tt.in, got, err)
		} else if utf8.ValidString(tt.in) && back != tt.in {
			t.Errorf("String(%q) decodes back to %q", tt.in, back)
		}
	}
}

func TestEncoderStructure(t *testing.T) {
	var e Encoder
	e.BeginObject()
	e.Field("a")
	e.Int(-1 << 63)
	e.Field("b")
	e.BeginArray()
	e.Bool(true)
	e.Bool(false)
	e.Null()
	e.BeginObject()
	e.EndObject()
	e.BeginArray()
	e.EndArray()
	e.Raw([]byte(`{"x":1}`))
	e.Raw(nil)
	e.String("s")
	e.EndArray()
	e.Field("k\"ey")
	e.Int(9223372036854775807)
	e.EndObject()
	got, err := e.Bytes()
	want := `{"a":-9223372036854775808,"b":[true,false,null,{},[],{"x":1},null,"s"],"k\"ey":9223372036854775807}`
	if err != nil || string(got) != want {
		t.Errorf("got %s, %v\nwant %s", got, err, want)
	}

	e.Reset()
	e.Int(1)
	if got, _ := e.Bytes(); string(got) != "1" {
		t.Errorf("after Reset: %s", got)
	}

	boom := errors.New("boom")
	e.Fail(boom)
	e.Fail(errors.New("second"))
	if got, err := e.Bytes(); got != nil || err != boom || e.Err() != boom {
		t.Errorf("Bytes after Fail = %s, %v", got, err)
	}
	e.Reset()
	if e.Err() != nil {
		t.Error("Reset kept the error")
	}
}
