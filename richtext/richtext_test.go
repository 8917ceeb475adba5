package richtext

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
	"github.com/google/go-cmp/cmp"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Span
	}{
		{"ascii", "hello @alice.test #go https://go.dev", []Span{
			{6, 17, Mention, "alice.test"},
			{18, 21, Tag, "go"},
			{22, 36, Link, "https://go.dev"},
		}},
		// é is 2 bytes, 👋🏽 is 8 bytes (two 4-byte runes), ✨ is 3 bytes;
		// UTF-16 offsets would differ from all of these.
		{"multibyte", "héllo 👋🏽 @bob.test ✨ #日本語 go.dev/doc.", []Span{
			{16, 25, Mention, "bob.test"},
			{30, 40, Tag, "日本語"},
			{41, 51, Link, "https://go.dev/doc"},
		}},
		{"emoji zwj sequence before", "👩‍👩‍👧 #family", []Span{{19, 26, Tag, "family"}}},
		{"fullwidth hash", "＃タグ", []Span{{0, 9, Tag, "タグ"}}},
		{"trailing punctuation", "see https://example.com/a). and #tag!, (@carol.test)", []Span{
			{4, 25, Link, "https://example.com/a"},
			{32, 36, Tag, "tag"},
			{40, 51, Mention, "carol.test"},
		}},
		{"paren link keeps balanced parens", "https://en.wikipedia.org/wiki/Go_(language)", []Span{
			{0, 43, Link, "https://en.wikipedia.org/wiki/Go_(language)"},
		}},
		{"not mentions", "mail bob@alice.test, @nodot, @x.local, @-bad.test", nil},
		{"not tags", "#123 #️⃣ a#b # #!!", nil},
		{"digits with letters", "#1st", []Span{{0, 4, Tag, "1st"}}},
		{"tag stops at zero-width space", "#go\u200bmore", []Span{{0, 3, Tag, "go"}}},
		{"bare domain needs letters tld", "v1.2 and 10.0.0.1 but go.dev", []Span{{22, 28, Link, "https://go.dev"}}},
		{"bare domains need an ICANN tld", "notes.txt main.go user.github.io/x GO.DEV", []Span{
			{18, 34, Link, "https://user.github.io/x"},
			{35, 41, Link, "https://GO.DEV"},
		}},
		{"mentions under .test but not reserved tlds", "@a.test @b.example @c.dev", []Span{
			{0, 7, Mention, "a.test"},
			{19, 25, Mention, "c.dev"},
		}},
		{"uppercase scheme", "HTTPS://GO.DEV", []Span{{0, 14, Link, "HTTPS://GO.DEV"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Detect(tt.text)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Detect(%q) (-want +got):\n%s", tt.text, diff)
			}
			for _, s := range got {
				if s.Kind != Link && tt.text[s.Start:s.End][1:] != s.Value && tt.text[s.Start:s.End] != "＃"+s.Value {
					t.Errorf("text[%d:%d] = %q does not hold %q", s.Start, s.End, tt.text[s.Start:s.End], s.Value)
				}
			}
		})
	}
}

func TestTagLimit(t *testing.T) {
	long := "#"
	for range 64 {
		long += "a"
	}
	if got := Detect(long); len(got) != 1 {
		t.Errorf("64-grapheme tag: got %v", got)
	}
	if got := Detect(long + "a"); len(got) != 0 {
		t.Errorf("65-grapheme tag: got %v, want none", got)
	}
	// An "e" with five combining accents is one grapheme of 11 bytes: 60
	// of them are within the grapheme limit but over the 640-byte one.
	heavy := "e\u0301\u0302\u0303\u0304\u0308"
	if got := Detect("#" + strings.Repeat(heavy, 60)); len(got) != 0 {
		t.Errorf("660-byte tag: got %v, want none", got)
	}
	if got := Detect("#" + strings.Repeat(heavy, 58)); len(got) != 1 || GraphemeLen(got[0].Value) != 58 {
		t.Errorf("638-byte tag: got %v, want one", got)
	}
	// A zero-width joiner ends a tag, as in @atproto/api.
	if got := Detect("#👩‍👩‍👧"); len(got) != 1 || got[0].Value != "👩" {
		t.Errorf("tag with a ZWJ sequence: got %v", got)
	}
}

func TestDetectFacets(t *testing.T) {
	calls := map[string]int{}
	r := ResolverFunc(func(ctx context.Context, handle string) (string, error) {
		calls[handle]++
		switch handle {
		case "alice.test":
			return "did:plc:alice", nil
		case "gone.test":
			return "", &lex.Error{StatusCode: http.StatusBadRequest, Name: "InvalidRequest", Message: "Unable to resolve handle"}
		}
		return "", errors.New("network down")
	})
	text := "✨ @Alice.test and @gone.test, @alice.test #go"
	got, err := DetectFacets(context.Background(), text, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []*bsky.RichtextFacet{
		{Index: &bsky.RichtextFacetByteSlice{ByteStart: 4, ByteEnd: 15}, Features: []bsky.RichtextFacet_Features{&bsky.RichtextFacetMention{DID: "did:plc:alice"}}},
		{Index: &bsky.RichtextFacetByteSlice{ByteStart: 32, ByteEnd: 43}, Features: []bsky.RichtextFacet_Features{&bsky.RichtextFacetMention{DID: "did:plc:alice"}}},
		{Index: &bsky.RichtextFacetByteSlice{ByteStart: 44, ByteEnd: 47}, Features: []bsky.RichtextFacet_Features{&bsky.RichtextFacetTag{Tag: "go"}}},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(lex.Extra.Equal)); diff != "" {
		t.Errorf("facets (-want +got):\n%s", diff)
	}
	if calls["alice.test"] != 1 || calls["gone.test"] != 1 {
		t.Errorf("resolver calls = %v, want one per handle", calls)
	}

	if _, err := DetectFacets(context.Background(), "@down.test", r); err == nil || err.Error() != "network down" {
		t.Errorf("network error: got %v", err)
	}
	got, err = DetectFacets(context.Background(), "@alice.test go.dev", nil)
	if err != nil || len(got) != 1 || got[0].Index.ByteStart != 12 {
		t.Errorf("nil resolver: got %v, %v; want only the link", got, err)
	}
}

func TestGraphemeLen(t *testing.T) {
	for s, want := range map[string]int{
		"":           0,
		"abc":        3,
		"héllo":      5,
		"e\u0301":    1, // e + combining acute
		"👩‍👩‍👧":      1,
		"👋🏽👋🏽":       2,
		"🇫🇷🇯🇵":       2,
		"日本語":        3,
		"ok\r\n":     3,
		"#️⃣ keycap": 8,
	} {
		if got := GraphemeLen(s); got != want {
			t.Errorf("GraphemeLen(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestSegments(t *testing.T) {
	text := "héllo @bob.test ✨ end"
	mention := &bsky.RichtextFacet{
		Index:    &bsky.RichtextFacetByteSlice{ByteStart: 7, ByteEnd: 16},
		Features: []bsky.RichtextFacet_Features{&bsky.RichtextFacetMention{DID: "did:plc:bob"}},
	}
	bad := []*bsky.RichtextFacet{
		{Index: &bsky.RichtextFacetByteSlice{ByteStart: 8, ByteEnd: 12}},   // overlaps the mention
		{Index: &bsky.RichtextFacetByteSlice{ByteStart: 17, ByteEnd: 18}},  // cuts ✨ in the middle
		{Index: &bsky.RichtextFacetByteSlice{ByteStart: 20, ByteEnd: 200}}, // past the end
		{Index: nil},
		nil,
	}
	segs := Segments(text, append(bad, mention))
	var texts []string
	for _, s := range segs {
		texts = append(texts, s.Text)
	}
	if diff := cmp.Diff([]string{"héllo ", "@bob.test", " ✨ end"}, texts); diff != "" {
		t.Fatalf("segments (-want +got):\n%s", diff)
	}
	if m := segs[1].Mention(); m == nil || m.DID != "did:plc:bob" {
		t.Errorf("segment 1 mention = %v", m)
	}
	if segs[0].Mention() != nil || segs[1].Link() != nil || segs[1].Tag() != nil {
		t.Error("features reported on the wrong segments")
	}
	if got := Segments("", nil); len(got) != 1 || got[0].Text != "" {
		t.Errorf("Segments of empty text = %v", got)
	}
}
