package lex

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// depth returns the deepest nesting of objects and arrays in data, counting
// brackets outside strings (good enough for inputs json.Valid accepts).
func depth(data []byte) int {
	n, maxN, inStr, esc := 0, 0, false, false
	for _, c := range data {
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
		case inStr:
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			n++
			maxN = max(maxN, n)
		case c == '}' || c == ']':
			n--
		}
	}
	return maxN
}

// FuzzDecoder checks the Decoder against encoding/json: any input Raw
// accepts as one value is json.Valid, any json.Valid input (not nested
// deeper than MaxDepth) Raw accepts, and the token API agrees with both and
// reads the same value encoding/json does.
func FuzzDecoder(f *testing.F) {
	for _, s := range syntaxCases {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{"$type":"app.bsky.feed.post","text":"hé\ud83d\ude00","createdAt":"2024-11-02T10:00:00.000Z","langs":["en"]}`,
		`[{"a":[1,-2.5e10,{"b":null}]},"\u2028",true,false]`,
		`{"a":"\ud83d\u0041","b":"\udc00"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		valid := json.Valid(data)

		d := NewDecoder(data)
		raw := d.Raw()
		rawErr := d.Finish()
		if rawErr == nil && !valid {
			t.Fatalf("Raw accepted invalid JSON %q", data)
		}
		if rawErr == nil && !json.Valid(raw) {
			t.Fatalf("Raw returned invalid JSON %q", raw)
		}
		if valid && rawErr != nil && depth(data) <= MaxDepth {
			t.Fatalf("Raw rejected valid JSON %q: %v", data, rawErr)
		}

		d = NewDecoder(data)
		got := walk(d)
		walkErr := d.Finish()
		if (walkErr == nil) != (rawErr == nil) {
			t.Fatalf("token API err = %v, Raw err = %v, for %q", walkErr, rawErr, data)
		}
		if walkErr == nil {
			want, err := stdAny(data)
			if err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("token API differs from encoding/json on %q (-std +ours):\n%s", data, diff)
			}
		}

		// PeekType never consumes or fails.
		d = NewDecoder(data)
		typ := d.PeekType()
		if d.Err() != nil {
			t.Fatalf("PeekType recorded %v", d.Err())
		}
		if raw2 := d.Raw(); (d.Finish() == nil) != (rawErr == nil) || string(raw2) != string(raw) {
			t.Fatalf("Raw after PeekType differs")
		}
		if typ != "" && rawErr == nil {
			m, ok := got.(map[string]any)
			if _, has := m["$type"]; !ok || !has {
				// duplicate keys: PeekType takes the first, encoding/json
				// the last; either way a $type member must exist.
				t.Fatalf("PeekType = %q but the value has no $type", typ)
			}
		}
	})
}

// FuzzString checks that Encoder.String writes valid JSON that decodes
// back to the same string when it is valid UTF-8.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\x7f", "\u2028\u2029", "é😀", "a\xffb", "\xed\xa0\x80", "</script>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var e Encoder
		e.String(s)
		out, err := e.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("String(%q) wrote %s: %v", s, out, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("String(%q) decodes back to %q", s, back)
		}
		if !utf8.ValidString(s) && back != validUTF8(s) {
			t.Fatalf("String(%q) decodes back to %q, want %q", s, back, validUTF8(s))
		}
		// And our own Decoder reads it back the same.
		d := NewDecoder(out)
		if got := d.String(); d.Finish() != nil || got != back {
			t.Fatalf("Decoder reads %s as %q, %v", out, got, d.Err())
		}
	})
}
