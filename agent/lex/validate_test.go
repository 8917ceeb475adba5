package lex_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
)

func validPost() *bsky.FeedPost {
	return &bsky.FeedPost{
		Text:      "hello 👋🏽 world",
		CreatedAt: "2026-12-03T10:00:00.000Z",
		Langs:     []string{"en"},
	}
}

func image(alt, mime string, size int64) *bsky.EmbedImagesImage {
	return &bsky.EmbedImagesImage{Alt: alt, Image: &lex.Blob{Ref: "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy", MimeType: mime, Size: size}}
}

func TestValidate(t *testing.T) {
	tooManyImages := validPost()
	tooManyImages.Embed = &bsky.EmbedImages{Images: []*bsky.EmbedImagesImage{
		image("a", "image/png", 10), image("b", "image/png", 10), image("c", "image/png", 10),
		image("d", "image/png", 10), image("e", "image/png", 10),
	}}
	longText := validPost()
	longText.Text = strings.Repeat("é", 301) // 301 graphemes, 602 bytes
	emoji := validPost()
	emoji.Text = strings.Repeat("👨‍👩‍👧‍👦", 300) // 300 graphemes, 7500 bytes: over the byte limit only
	badReply := validPost()
	badReply.Reply = &bsky.FeedPostReplyRef{Root: &atproto.RepoStrongRef{URI: "not an at-uri", CID: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}}
	missingParent := validPost()
	missingParent.Reply = &bsky.FeedPostReplyRef{Root: &atproto.RepoStrongRef{URI: "at://did:plc:abc/app.bsky.feed.post/3k", CID: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}}
	badLang := validPost()
	badLang.Langs = []string{"en", "not a language!"}
	avatar := &bsky.ActorProfile{Avatar: &lex.Blob{Ref: "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy", MimeType: "image/gif", Size: 2_000_000}}

	cases := []struct {
		name string
		v    any
		want []string // substrings of the joined error; nil means valid
	}{
		{"valid post", validPost(), nil},
		{"valid images", func() *bsky.FeedPost {
			p := validPost()
			p.Embed = &bsky.EmbedImages{Images: []*bsky.EmbedImagesImage{image("a cat", "image/jpeg", 900_000)}}
			return p
		}(), nil},
		{"five images", tooManyImages, []string{"embed.images", "5 items, at most 4"}},
		{"301 graphemes", longText, []string{"text", "301 graphemes, at most 300"}},
		{"bytes over limit", emoji, []string{"text", "bytes, at most 3000"}},
		{"nested format", badReply, []string{"reply.root.uri", "at-uri"}},
		{"missing required", missingParent, []string{"reply.parent", "required"}},
		{"array element format", badLang, []string{"langs[1]", "language"}},
		{"blob type and size", avatar, []string{"avatar", "image/gif", "at most 1000000"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := lex.Validate(tc.v)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("valid value rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid value accepted")
			}
			var ve *lex.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%v is not a *lex.ValidationError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// A family emoji is one grapheme: 300 of them are within the grapheme
	// limit, only over the byte limit.
	if err := lex.Validate(emoji); err == nil || strings.Contains(err.Error(), "graphemes") {
		t.Errorf("300 family emoji: %v", err)
	}
	if n := lex.GraphemeLen("👨‍👩‍👧‍👦🇫🇷👋🏽é"); n != 4 {
		t.Errorf("GraphemeLen = %d, want 4", n)
	}
	if lex.Validate(struct{}{}) != nil {
		t.Error("a value without constraints is invalid")
	}
}
