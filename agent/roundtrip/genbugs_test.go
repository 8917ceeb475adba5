// Tests for generator and runtime bugs these round-trip tests found; each
// failed when written. Fixed ones stay as regression tests.

package roundtrip

import (
	"errors"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
	"github.com/atpgo/atp/agent/standard"
)

// TestClosedUnionMalformedMember: a closed union member whose $type is
// allowed but whose body does not fit the type must fail to decode. It
// must not be kept as a *lex.Unknown: a closed union cannot hold one, so
// such a value would decode without error and then fail to encode. (Fixed
// in gen by 839ae64.)
func TestClosedUnionMalformedMember(t *testing.T) {
	for _, body := range []string{
		`{"repo":"did:plc:oky5czdrnfjpqslsw2a5iclo","writes":[{"$type":"com.atproto.repo.applyWrites#delete","collection":"app.bsky.feed.like","rkey":5}]}`,
		`{"repo":"did:plc:oky5czdrnfjpqslsw2a5iclo","writes":[{"$type":"com.atproto.repo.applyWrites#create","collection":["app.bsky.feed.post"]}]}`,
	} {
		in := new(atproto.RepoApplyWritesInput)
		err := lex.Unmarshal([]byte(body), in)
		if err == nil {
			_, encErr := encode(in)
			t.Errorf("closed union accepted a malformed member as %T; encoding it then fails: %v\ninput: %s", in.Writes[0], encErr, body)
			continue
		}
		var se *lex.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("err = %v, want the member's *lex.SyntaxError", err)
		}
	}
	out := new(atproto.RepoApplyWritesOutput)
	body := `{"results":[{"$type":"com.atproto.repo.applyWrites#createResult","uri":1,"cid":"bafy"}]}`
	if err := lex.Unmarshal([]byte(body), out); err == nil {
		_, encErr := encode(out)
		t.Errorf("closed union (output) accepted a malformed member as %T; encoding it then fails: %v", out.Results[0], encErr)
	}
}

// TestRefToRecordInventsType: where a lexicon embeds a record def by plain
// ref (site.standard.publication#main.basicTheme refs the record
// site.standard.theme.basic; com.atproto.lexicon.resolveLexicon's output
// schema refs the record com.atproto.lexicon.schema), a value decoded
// without "$type" must encode without one. The generated EncodeLex of
// record types ignored its typed argument and always wrote "$type". (Fixed
// in gen by 839ae64.)
func TestRefToRecordInventsType(t *testing.T) {
	for _, tt := range []struct {
		name string
		v    lex.Object
		in   string
	}{
		{"site.standard.publication basicTheme", new(standard.Publication),
			`{"$type":"site.standard.publication","name":"Notes","url":"https://notes.example.com",` +
				`"basicTheme":{"background":{"$type":"site.standard.theme.color#rgb","r":255,"g":255,"b":255},` +
				`"foreground":{"$type":"site.standard.theme.color#rgb","r":0,"g":0,"b":0},` +
				`"accent":{"$type":"site.standard.theme.color#rgb","r":0,"g":102,"b":204},` +
				`"accentForeground":{"$type":"site.standard.theme.color#rgb","r":255,"g":255,"b":255}}}`},
		{"com.atproto.lexicon.resolveLexicon schema", new(atproto.LexiconResolveLexiconOutput),
			`{"cid":"bafyreiujzdegxdncf32epf3dhodzdocis2jhtlgmxgedn73u55xtplpft7",` +
				`"uri":"at://did:plc:4v4y5r3lwsbtmsxhile2ljac/com.atproto.lexicon.schema/xyz.statusphere.status",` +
				`"schema":{"lexicon":1,"id":"xyz.statusphere.status","defs":{"main":{"type":"record"}}}}`},
	} {
		if err := lex.Unmarshal([]byte(tt.in), tt.v); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		out, err := encode(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(toAny(t, []byte(tt.in)), toAny(t, out)); diff != "" {
			t.Errorf("%s: (-in +out):\n%s", tt.name, diff)
		}
	}
}

// TestDuplicateTypeKey: an object with two "$type" members is dispatched on
// the first (Decoder.PeekType) but the generated decoder records the last
// (Extra.SetType on each), so it decodes as one type and encodes as
// another, which then fails to decode: here an app.bsky.feed.like comes
// back as an app.bsky.graph.follow whose subject is an object. Dispatch and
// the recorded $type must agree (or the duplicate be rejected, which the
// union fallback then keeps byte for byte as a *lex.Unknown).
func TestDuplicateTypeKey(t *testing.T) {
	in := `{"$type":"app.bsky.feed.post","text":"x","createdAt":"2025-01-01T00:00:00.000Z",` +
		`"embed":{"$type":"app.bsky.feed.like","$type":"app.bsky.graph.follow",` +
		`"subject":{"uri":"at://did:plc:oky5czdrnfjpqslsw2a5iclo/app.bsky.feed.post/3lbwyuzrzpk2a","cid":"bafyreiujzdegxdncf32epf3dhodzdocis2jhtlgmxgedn73u55xtplpft7"},` +
		`"createdAt":"2025-01-01T00:00:00.000Z"}}`
	p := new(bsky.FeedPost)
	if err := lex.Unmarshal([]byte(in), p); err != nil {
		return // rejecting the document is acceptable
	}
	out, err := encode(p)
	if err != nil {
		t.Fatal(err)
	}
	q := new(bsky.FeedPost)
	if err := lex.Unmarshal(out, q); err != nil {
		t.Fatal(err)
	}
	if reflect.TypeOf(p.Embed) != reflect.TypeOf(q.Embed) {
		t.Errorf("embed decoded as %T (LexiconType %q), re-encoded as %s, which decodes as %T",
			p.Embed, p.Embed.LexiconType(), out, q.Embed)
	}
}

// TestExtraSetDefinedMember: lex.Extra.Set documents that setting a member
// the lexicon defines has no effect on encoding ("the typed field wins"):
// the key must not be written twice with the Extra value last. $type is
// not settable through Set at all.
func TestExtraSetDefinedMember(t *testing.T) {
	p := &bsky.FeedPost{Text: "typed", CreatedAt: "2025-01-01T00:00:00.000Z"}
	if err := p.Extra.Set("text", []byte(`"from extra"`)); err != nil {
		t.Fatal(err)
	}
	if err := p.Extra.Set("$type", []byte(`"com.example.other"`)); err == nil {
		t.Error(`Extra.Set("$type") accepted; $type is set with SetType`)
	}
	out, err := lex.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got := toAny(t, out).(map[string]any)
	if got["text"] != "typed" || got["$type"] != "app.bsky.feed.post" {
		t.Errorf("Extra overrode defined members: %s", out)
	}
}
