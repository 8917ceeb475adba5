package lex

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testPost is shaped like a generated record type, for testing the runtime
// without importing generated packages.
type testPost struct {
	Text  string
	Count *int64
	Embed Object
	Extra Extra
}

const testPostType = "test.lex.post"

func (*testPost) LexiconType() string { return testPostType }

func (x *testPost) EncodeLex(e *Encoder, _ bool) {
	if x == nil {
		e.Null()
		return
	}
	e.BeginObject()
	x.Extra.EncodeType(e, testPostType, true)
	e.Field("text")
	e.String(x.Text)
	if x.Count != nil {
		e.Field("count")
		e.Int(*x.Count)
	}
	if x.Embed != nil {
		e.Field("embed")
		EncodeObject(e, x.Embed)
	}
	x.Extra.Encode(e, "")
	e.EndObject()
}

func (x *testPost) DecodeLex(d *Decoder) {
	*x = testPost{}
	if !d.BeginObject() {
		return
	}
	for d.More() {
		k := d.Key()
		switch string(k) {
		case "$type":
			x.Extra.SetType(d.String())
		case "text":
			x.Text = d.String()
		case "count":
			x.Count = Ptr(d.Int())
		case "embed":
			x.Embed = DecodeAny(d)
		default:
			x.Extra.Capture(d, k)
		}
	}
}

func init() {
	Register(testPostType, func() Object { return new(testPost) })
}

// jsonEqual reports the difference between two JSON documents compared as
// values (member order and spacing ignored).
func jsonDiff(t *testing.T, want, got []byte) string {
	t.Helper()
	w, err := stdAny(want)
	if err != nil {
		t.Fatalf("want is not JSON: %v: %s", err, want)
	}
	g, err := stdAny(got)
	if err != nil {
		t.Fatalf("got is not JSON: %v: %s", err, got)
	}
	return cmp.Diff(w, g)
}

func TestExtra(t *testing.T) {
	var x Extra
	if x.Len() != 0 || x.Type() != "" {
		t.Fatal("zero Extra not empty")
	}
	if _, ok := x.Get("a"); ok {
		t.Error("Get on empty Extra found a member")
	}
	for _, bad := range []string{``, `{`, `1 2`, `{"a":}`, `nul`} {
		if err := x.Set("bad", json.RawMessage(bad)); err == nil {
			t.Errorf("Set(%q) accepted malformed JSON", bad)
		}
	}
	if x.Len() != 0 {
		t.Fatalf("a failed Set added a member: %d", x.Len())
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(x.Set("a", json.RawMessage(`1`)))
	must(x.Set("b", json.RawMessage(` {"k":[true]} `)))
	must(x.Set("c", json.RawMessage(`"three"`)))
	must(x.Set("a", json.RawMessage(`"one"`))) // replaces in place
	raw := json.RawMessage(`[1]`)
	must(x.Set("d", raw))
	raw[1] = '9' // Set keeps a copy
	if v, _ := x.Get("d"); string(v) != `[1]` {
		t.Errorf("Set did not copy: %s", v)
	}

	type member struct{ Name, Raw string }
	all := func() []member {
		var ms []member
		for k, v := range x.All() {
			ms = append(ms, member{k, string(v)})
		}
		return ms
	}
	want := []member{{"a", `"one"`}, {"b", ` {"k":[true]} `}, {"c", `"three"`}, {"d", `[1]`}}
	if diff := cmp.Diff(want, all()); diff != "" {
		t.Errorf("All (-want +got):\n%s", diff)
	}
	n := 0
	for range x.All() {
		n++
		break
	}
	if n != 1 {
		t.Errorf("All kept yielding after break: %d", n)
	}

	x.Delete("c")
	x.Delete("missing")
	if x.Len() != 3 {
		t.Errorf("Len after Delete = %d, want 3", x.Len())
	}
	if _, ok := x.Get("c"); ok {
		t.Error("deleted member still there")
	}

	// Encode writes the members into an object; EncodeType writes $type.
	for _, tt := range []struct {
		typ   string
		typed bool
		want  string
	}{
		{"", false, `{"a":"one","b":{"k":[true]},"d":[1]}`},
		{"", true, `{"$type":"canon","a":"one","b":{"k":[true]},"d":[1]}`},
		{"as.decoded#main", false, `{"$type":"as.decoded#main","a":"one","b":{"k":[true]},"d":[1]}`},
		{"as.decoded#main", true, `{"$type":"as.decoded#main","a":"one","b":{"k":[true]},"d":[1]}`},
	} {
		y := x
		y.SetType(tt.typ)
		var e Encoder
		e.BeginObject()
		y.EncodeType(&e, "canon", tt.typed)
		y.Encode(&e, "")
		e.EndObject()
		got, err := e.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if diff := jsonDiff(t, []byte(tt.want), got); diff != "" {
			t.Errorf("typ=%q typed=%v: (-want +got)\n%s", tt.typ, tt.typed, diff)
		}
		if y.Type() != tt.typ {
			t.Errorf("Type = %q, want %q", y.Type(), tt.typ)
		}
	}
}

func TestExtraEqual(t *testing.T) {
	mk := func(typ string, kv ...string) Extra {
		var x Extra
		x.SetType(typ)
		for i := 0; i < len(kv); i += 2 {
			if err := x.Set(kv[i], json.RawMessage(kv[i+1])); err != nil {
				t.Fatal(err)
			}
		}
		return x
	}
	base := mk("t", "a", "1", "b", "2")
	for _, tt := range []struct {
		name string
		y    Extra
		want bool
	}{
		{"same", mk("t", "a", "1", "b", "2"), true},
		{"other type", mk("u", "a", "1", "b", "2"), false},
		{"no type", mk("", "a", "1", "b", "2"), false},
		{"other order", mk("t", "b", "2", "a", "1"), false},
		{"other value", mk("t", "a", "1", "b", "3"), false},
		{"other name", mk("t", "a", "1", "c", "2"), false},
		{"fewer", mk("t", "a", "1"), false},
	} {
		if got := base.Equal(tt.y); got != tt.want {
			t.Errorf("%s: Equal = %v, want %v", tt.name, got, tt.want)
		}
		// go-cmp uses the Equal method (Extra has unexported fields, so
		// cmp would panic without it).
		type holder struct{ X Extra }
		if got := cmp.Equal(holder{base}, holder{tt.y}); got != tt.want {
			t.Errorf("%s: cmp.Equal = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !(Extra{}).Equal(Extra{}) {
		t.Error("zero Extras not equal")
	}
}

func TestRoundTripTestPost(t *testing.T) {
	in := `{"$type":"test.lex.post","future":{"x":[1,"2",null]},"text":"hi","count":3,` +
		`"embed":{"$type":"community.lexicon.location.geo","lat":"52.5","lon":"13.4"},"zzz":false}`
	var p testPost
	if err := Unmarshal([]byte(in), &p); err != nil {
		t.Fatal(err)
	}
	u, ok := p.Embed.(*Unknown)
	if !ok || u.Type != "community.lexicon.location.geo" || u.Err != nil {
		t.Fatalf("Embed = %#v, want *Unknown of the geo type", p.Embed)
	}
	if p.Extra.Len() != 2 || p.Extra.Type() != testPostType {
		t.Errorf("Extra: len %d type %q", p.Extra.Len(), p.Extra.Type())
	}
	out, err := Marshal(&p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := jsonDiff(t, []byte(in), out); diff != "" {
		t.Errorf("round trip (-in +out):\n%s", diff)
	}
	// Encoding a value built in Go sets $type without changing the value.
	q := &testPost{Text: "new"}
	out, err = Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	if diff := jsonDiff(t, []byte(`{"$type":"test.lex.post","text":"new"}`), out); diff != "" {
		t.Errorf("new value (-want +got):\n%s", diff)
	}
	if q.Extra.Type() != "" {
		t.Error("Marshal modified the value's Extra")
	}
}

func TestUnknown(t *testing.T) {
	in := `{ "$type" : "community.lexicon.location.geo", "lat":"52.52", "nested":{"$type":"x"},` +
		` "n":1.50e3, "s":"\u00e9\ud83d\ude00" }`
	var u Unknown
	if err := Unmarshal([]byte(" \n"+in+"\t"), &u); err != nil {
		t.Fatal(err)
	}
	if u.Type != "community.lexicon.location.geo" || u.Err != nil {
		t.Errorf("Type = %q, Err = %v", u.Type, u.Err)
	}
	if string(u.Raw) != in {
		t.Errorf("Raw = %s, want the exact bytes", u.Raw)
	}
	if u.LexiconType() != u.Type {
		t.Error("LexiconType != Type")
	}
	out, err := Marshal(&u)
	if err != nil || string(out) != in {
		t.Errorf("Marshal = %s, %v; want the input byte for byte", out, err)
	}
	out, err = json.Marshal(&u)
	if err != nil || !bytes.Equal(out, []byte(`{"$type":"community.lexicon.location.geo","lat":"52.52","nested":{"$type":"x"},"n":1.50e3,"s":"\u00e9\ud83d\ude00"}`)) {
		// encoding/json compacts a Marshaler's output but keeps its tokens.
		t.Errorf("json.Marshal = %s, %v", out, err)
	}
	var m map[string]any
	if err := u.Decode(&m); err != nil || m["lat"] != "52.52" {
		t.Errorf("Decode = %v, %v", m, err)
	}

	// Unknown values without $type, non-objects, inside arrays.
	var e Encoder
	e.BeginArray()
	for _, in := range []string{`{"a":1}`, `[1,2]`, `"s"`, `3`, `true`} {
		var u Unknown
		if err := Unmarshal([]byte(in), &u); err != nil {
			t.Fatal(err)
		}
		if u.Type != "" {
			t.Errorf("%s: Type = %q", in, u.Type)
		}
		u.EncodeLex(&e, true)
	}
	(*Unknown)(nil).EncodeLex(&e, true)
	(&Unknown{}).EncodeLex(&e, true)
	e.EndArray()
	got, _ := e.Bytes()
	if want := `[{"a":1},[1,2],"s",3,true,null,null]`; string(got) != want {
		t.Errorf("encoded = %s, want %s", got, want)
	}

	var v struct {
		U *Unknown `json:"u"`
	}
	if err := json.Unmarshal([]byte(`{"u":{"$type":"a.b","k":[]}}`), &v); err != nil || v.U.Type != "a.b" {
		t.Errorf("json.Unmarshal into *Unknown: %v %+v", err, v.U)
	}
	if err := Unmarshal([]byte(`{"a":}`), &u); err == nil {
		t.Error("Unknown accepted malformed JSON")
	}
}

func TestDecodeMember(t *testing.T) {
	in := `[{"$type":"test.lex.post","text":"ok","count":[1,{"x":2}]},` +
		`{"$type":"test.lex.post","text":"good","count":2},` +
		`{"$type":"test.lex.post","text":"float","count":2.5}]`
	d := NewDecoder([]byte(in))
	var got []Object
	d.BeginArray()
	for d.More() {
		got = append(got, DecodeMember(d, new(testPost)))
	}
	if err := d.Finish(); err != nil {
		t.Fatalf("one bad member failed the document: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d members", len(got))
	}
	for _, i := range []int{0, 2} {
		u, ok := got[i].(*Unknown)
		if !ok {
			t.Fatalf("member %d = %T, want *Unknown", i, got[i])
		}
		var se *SyntaxError
		if !errors.As(u.Err, &se) || !strings.Contains(se.Msg, "expected integer") {
			t.Errorf("member %d: Err = %v, want the integer error", i, u.Err)
		}
		if u.Type != testPostType {
			t.Errorf("member %d: Type = %q", i, u.Type)
		}
	}
	if u := got[0].(*Unknown); string(u.Raw) != `{"$type":"test.lex.post","text":"ok","count":[1,{"x":2}]}` {
		t.Errorf("Raw = %s", u.Raw)
	}
	if p, ok := got[1].(*testPost); !ok || p.Text != "good" || *p.Count != 2 {
		t.Errorf("member 1 = %#v", got[1])
	}
	var e Encoder
	e.BeginArray()
	for _, o := range got {
		EncodeObject(&e, o)
	}
	e.EndArray()
	out, _ := e.Bytes()
	if diff := jsonDiff(t, []byte(in), out); diff != "" {
		t.Errorf("re-encoded (-in +out):\n%s", diff)
	}

	// Malformed JSON is still an error.
	d = NewDecoder([]byte(`[{"$type":"test.lex.post","text":}]`))
	d.BeginArray()
	d.More()
	if v := DecodeMember(d, new(testPost)); v != nil || d.Err() == nil {
		t.Errorf("malformed member: %v, err %v", v, d.Err())
	}
	// After an earlier error, nothing is decoded.
	d = NewDecoder([]byte(`{"$type":"test.lex.post","text":"x"}`))
	d.Fail(errors.New("earlier"))
	if v := DecodeMember(d, new(testPost)); v != nil {
		t.Errorf("DecodeMember after error = %v", v)
	}
}

func TestRegistry(t *testing.T) {
	if _, ok := New(testPostType).(*testPost); !ok {
		t.Error("New(registered) is not *testPost")
	}
	if _, ok := New(testPostType + "#main").(*testPost); !ok {
		t.Error("New(NSID#main) is not *testPost")
	}
	for _, typ := range []string{"", testPostType + "#other", "test.lex", "#main", "test.lex.unregistered"} {
		if v := New(typ); v != nil {
			t.Errorf("New(%q) = %T, want nil", typ, v)
		}
	}
	Register(testPostType, func() Object { return new(Unknown) })
	if _, ok := New(testPostType).(*testPost); !ok {
		t.Error("a second Register replaced the first")
	}
	if a, b := New(testPostType), New(testPostType); a == b {
		t.Error("New returned the same value twice")
	}

	for _, tt := range []struct {
		in      string
		want    string // %T of the result
		wantErr bool   // Unknown.Err set
	}{
		{`{"$type":"test.lex.post","text":"a"}`, "*lex.testPost", false},
		{`{"text":"a","$type":"test.lex.post#main"}`, "*lex.testPost", false},
		{`{"$type":"test.lex.post","text":5}`, "*lex.Unknown", true},
		{`{"$type":"xyz.statusphere.status","status":"🦋"}`, "*lex.Unknown", false},
		{`{"no":"type"}`, "*lex.Unknown", false},
		{`[1]`, "*lex.Unknown", false},
		{`null`, "<nil>", false},
	} {
		d := NewDecoder([]byte(tt.in))
		v := DecodeAny(d)
		if err := d.Finish(); err != nil {
			t.Errorf("DecodeAny(%s): %v", tt.in, err)
			continue
		}
		if got := typeName(v); got != tt.want {
			t.Errorf("DecodeAny(%s) = %s, want %s", tt.in, got, tt.want)
		}
		if u, ok := v.(*Unknown); ok && (u.Err != nil) != tt.wantErr {
			t.Errorf("DecodeAny(%s): Err = %v", tt.in, u.Err)
		}
	}
	d := NewDecoder([]byte(`{"$type":"test.lex.post"`))
	if v := DecodeAny(d); v != nil || d.Err() == nil {
		t.Errorf("DecodeAny(truncated) = %v, %v", v, d.Err())
	}
	d = NewDecoder([]byte(`null`))
	if v := DecodeUnknown(d); v != nil || d.Finish() != nil {
		t.Errorf("DecodeUnknown(null) = %v", v)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "<nil>"
	case *testPost:
		return "*lex.testPost"
	case *Unknown:
		return "*lex.Unknown"
	}
	return "other"
}

func TestMarshalNil(t *testing.T) {
	out, err := Marshal(nil)
	if err != nil || string(out) != "null" {
		t.Errorf("Marshal(nil) = %s, %v", out, err)
	}
	out, err = Marshal((*testPost)(nil))
	if err != nil || string(out) != "null" {
		t.Errorf("Marshal(nil *testPost) = %s, %v", out, err)
	}
}

func TestBlob(t *testing.T) {
	const cid = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"
	for _, tt := range []struct {
		name string
		in   string
		want Blob
	}{
		{"current", `{"$type":"blob","ref":{"$link":"` + cid + `"},"mimeType":"image/jpeg","size":348914}`,
			Blob{Ref: cid, MimeType: "image/jpeg", Size: 348914}},
		{"current, other order", `{"size":1,"mimeType":"video/mp4","ref":{"$link":"` + cid + `"},"$type":"blob"}`,
			Blob{Ref: cid, MimeType: "video/mp4", Size: 1}},
		{"legacy", `{"cid":"` + cid + `","mimeType":"image/png"}`,
			Blob{Ref: cid, MimeType: "image/png", Legacy: true}},
	} {
		var b Blob
		if err := b.UnmarshalJSON([]byte(tt.in)); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, b); diff != "" {
			t.Errorf("%s: decoded (-want +got):\n%s", tt.name, diff)
		}
		out, err := b.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if diff := jsonDiff(t, []byte(tt.in), out); diff != "" {
			t.Errorf("%s: re-encoded (-in +out):\n%s", tt.name, diff)
		}
		// Through encoding/json, as a field.
		var s struct {
			B *Blob `json:"b"`
		}
		if err := json.Unmarshal([]byte(`{"b":`+tt.in+`}`), &s); err != nil || *s.B != tt.want {
			t.Errorf("%s: json.Unmarshal: %v %+v", tt.name, err, s.B)
		}
	}
	var e Encoder
	(*Blob)(nil).EncodeLex(&e)
	if out, _ := e.Bytes(); string(out) != "null" {
		t.Errorf("nil blob = %s", out)
	}
	for _, bad := range []string{`null`, `[]`, `{"ref":"notalink"}`, `{"size":"big"}`, `{"cid":1}`} {
		var b Blob
		if err := b.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("Blob accepted %s", bad)
		}
	}
}

func TestBytes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
	}{
		{`{"$bytes":"aGVsbG8"}`, "hello"},
		{`{"$bytes":"aGVsbG8="}`, "hello"},
		{`{"$bytes":"aGk"}`, "hi"},
		{`{"$bytes":"aGk="}`, "hi"},
		{`{"$bytes":"aGk=="}`, "hi"},
		{`{"$bytes":"AAEC/w"}`, "\x00\x01\x02\xff"},
		{`{"$bytes":""}`, ""},
	} {
		var b Bytes
		if err := b.UnmarshalJSON([]byte(tt.in)); err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if string(b) != tt.want {
			t.Errorf("%s = %q, want %q", tt.in, b, tt.want)
		}
	}
	for _, tt := range []struct {
		in   Bytes
		want string
	}{
		{Bytes("hello"), `{"$bytes":"aGVsbG8"}`},
		{Bytes{0, 1, 2, 0xff}, `{"$bytes":"AAEC/w"}`},
		{nil, `{"$bytes":""}`},
	} {
		out, err := tt.in.MarshalJSON()
		if err != nil || string(out) != tt.want {
			t.Errorf("Marshal(%q) = %s, %v; want %s (unpadded standard base64)", tt.in, out, err, tt.want)
		}
	}
	for _, bad := range []string{`{"$bytes":"!!!!"}`, `{"$bytes":"aGVsbG8-"}`, `{"$bytes":"a"}`, `{"$bytes":5}`,
		`{"$bytes":"aGk","x":1}`, `{"other":"aGk"}`, `"aGk"`, `null`} {
		var b Bytes
		if err := b.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("Bytes accepted %s", bad)
		}
	}
}

func TestCIDLink(t *testing.T) {
	const cid = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
	var c CIDLink
	if err := c.UnmarshalJSON([]byte(` { "$link" : "` + cid + `" } `)); err != nil || c != cid || c.String() != cid {
		t.Fatalf("decoded %q, %v", c, err)
	}
	out, err := c.MarshalJSON()
	if err != nil || string(out) != `{"$link":"`+cid+`"}` {
		t.Errorf("Marshal = %s, %v", out, err)
	}
	var s struct {
		L CIDLink `json:"l"`
	}
	if err := json.Unmarshal([]byte(`{"l":{"$link":"`+cid+`"}}`), &s); err != nil || s.L != cid {
		t.Errorf("json.Unmarshal: %v %q", err, s.L)
	}
	out, err = json.Marshal(s)
	if err != nil || string(out) != `{"l":{"$link":"`+cid+`"}}` {
		t.Errorf("json.Marshal = %s, %v", out, err)
	}
	for _, bad := range []string{`"` + cid + `"`, `{"$link":1}`, `{"$link":"x","other":1}`, `{"cid":"x"}`, `null`, `{"$link":"x"`} {
		c := CIDLink("prev")
		if err := c.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("CIDLink accepted %s", bad)
		}
	}
}

func TestNullable(t *testing.T) {
	var n Nullable[string]
	if n.Valid {
		t.Error("zero Nullable is not null")
	}
	if n = NullableOf("x"); !n.Valid || n.Value != "x" {
		t.Errorf("NullableOf = %+v", n)
	}
	if p := Ptr(int64(0)); p == nil || *p != 0 {
		t.Error("Ptr(0)")
	}
}
