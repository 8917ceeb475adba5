// Package richtext finds the mentions, links and hashtags in post text and
// turns them into app.bsky.richtext.facet annotations, with the UTF-8 byte
// offsets the lexicon requires (not the UTF-16 offsets of JavaScript
// strings, nor rune or grapheme indexes). It also counts graphemes, the
// unit of the 300-character post limit, and splits annotated text into
// segments for display.
//
// Detection follows the TypeScript RichText of @atproto/api: a mention is
// "@" and a handle after the start of the text, a space or "("; a link is an
// http(s) URL or a bare domain with a path, without trailing punctuation; a
// hashtag is "#" or "＃" and up to 64 graphemes that are not all digits,
// without trailing punctuation. Mentions become facets only once their
// handle resolves to a DID, which needs the network: [DetectFacets] takes a
// [Resolver] (an *atp.Agent is one), and [Detect] reports the spans without
// resolving anything.
//
// As there, a bare domain becomes a link only under a top-level domain of
// the ICANN list ("go.dev/blog" does, "notes.txt" does not); this package
// reads the list from golang.org/x/net/publicsuffix.
package richtext

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/rivo/uniseg"
	"golang.org/x/net/publicsuffix"
)

// Kind is the kind of a detected [Span].
type Kind int

// The kinds of spans.
const (
	Mention Kind = iota + 1 // "@handle"; Value is the handle
	Link                    // a URL; Value is the URL, with a scheme
	Tag                     // "#tag"; Value is the tag, without "#"
)

// String returns "mention", "link" or "tag".
func (k Kind) String() string {
	switch k {
	case Mention:
		return "mention"
	case Link:
		return "link"
	case Tag:
		return "tag"
	}
	return "unknown"
}

// Span is a mention, link or hashtag found in a text.
type Span struct {
	// Start and End are the UTF-8 byte offsets of the span: text[Start:End]
	// is "@alice.test", "https://go.dev" or "#golang".
	Start, End int
	Kind       Kind
	// Value is the handle (for a mention), the URL (for a link) or the tag
	// without its "#".
	Value string
}

var (
	// mentionRE follows @atproto/api's MENTION_REGEX; \s is widened to
	// Unicode spaces, which JavaScript's \s matches.
	mentionRE = regexp.MustCompile(`(?:^|[\s\p{Z}(])(@)([a-zA-Z0-9.-]+)\b`)
	// urlRE follows @atproto/api's URL_REGEX.
	urlRE = regexp.MustCompile(`(?i)(?:^|[\s\p{Z}(])((?:https?://\S+)|(?:([a-z][a-z0-9]*(?:\.[a-z0-9]+)+)\S*))`)
)

// Detect returns the mentions, links and hashtags in text, in the order
// of the text. It does no network access: mentions carry handles.
func Detect(text string) []Span {
	var spans []Span
	for _, m := range mentionRE.FindAllStringSubmatchIndex(text, -1) {
		handle := text[m[4]:m[5]]
		if !validDomain(handle, true) {
			continue
		}
		spans = append(spans, Span{Start: m[2], End: m[5], Kind: Mention, Value: handle})
	}
	for _, m := range urlRE.FindAllStringSubmatchIndex(text, -1) {
		start, end := m[2], m[3]
		uri := text[start:end]
		if !hasHTTPScheme(uri) {
			if m[4] < 0 || !validDomain(text[m[4]:m[5]], false) {
				continue
			}
			uri = "https://" + uri
		}
		if strings.ContainsAny(uri[len(uri)-1:], ".,;:!?") {
			uri, end = uri[:len(uri)-1], end-1
		}
		if strings.HasSuffix(uri, ")") && !strings.Contains(uri, "(") {
			uri, end = uri[:len(uri)-1], end-1
		}
		spans = append(spans, Span{Start: start, End: end, Kind: Link, Value: uri})
	}
	spans = append(spans, detectTags(text)...)
	slices.SortStableFunc(spans, func(a, b Span) int { return a.Start - b.Start })
	return spans
}

func hasHTTPScheme(s string) bool {
	return len(s) >= 7 && strings.EqualFold(s[:4], "http")
}

// validDomain reports whether s is a syntactically valid domain under a
// top-level domain of the ICANN list (what @atproto/api's isValidDomain
// checks), or, when allowTest is set, under .test as @atproto/api allows
// for mentions.
func validDomain(s string, allowTest bool) bool {
	h, err := syntax.ParseHandle(s)
	if err != nil || !h.AllowedTLD() {
		return false
	}
	tld := h.TLD()
	if allowTest && tld == "test" {
		return true
	}
	suffix, icann := publicsuffix.PublicSuffix(tld)
	return icann && suffix == tld
}

// tagExcluded are the invisible characters a hashtag stops at.
func tagExcluded(r rune) bool {
	switch r {
	case '\u00AD', '\u2060', '\u200A', '\u200B', '\u200C', '\u200D', '\u20e2':
		return true
	}
	return false
}

// The lexicon's limits on app.bsky.richtext.facet#tag.
const (
	maxTagGraphemes = 64
	maxTagBytes     = 640
)

// detectTags follows @atproto/api's TAG_REGEX, which Go's regexp cannot
// express (it has a lookahead): "#" or "＃" after the start or a space,
// then characters up to a space or an invisible separator, at least one of
// them not a digit or punctuation, the first not U+FE0F (a keycap "#️⃣");
// trailing punctuation is not part of the tag.
func detectTags(text string) []Span {
	var spans []Span
	prev := ' ' // the start of the text counts as a space
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		if (r == '#' || r == '＃') && isSpace(prev) {
			start := i
			j := i + n
			end := j
			significant := false
			for j < len(text) {
				c, m := utf8.DecodeRuneInString(text[j:])
				if isSpace(c) || tagExcluded(c) || (j == i+n && c == '\uFE0F') {
					break
				}
				if !unicode.IsDigit(c) && !unicode.IsPunct(c) {
					significant = true
				}
				j += m
				end = j
			}
			// Trailing punctuation does not count.
			for end > i+n {
				c, m := utf8.DecodeLastRuneInString(text[:end])
				if !unicode.IsPunct(c) {
					break
				}
				end -= m
			}
			tag := text[i+n : end]
			if significant && tag != "" && len(tag) <= maxTagBytes && uniseg.GraphemeClusterCount(tag) <= maxTagGraphemes {
				spans = append(spans, Span{Start: start, End: end, Kind: Tag, Value: tag})
			}
			prev, _ = utf8.DecodeLastRuneInString(text[:j])
			i = j
			continue
		}
		prev = r
		i += n
	}
	return spans
}

func isSpace(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Zs, r) }

// Resolver resolves handles to DIDs. An *atp.Agent is one (its ResolveHandle
// method calls com.atproto.identity.resolveHandle).
type Resolver interface {
	ResolveHandle(ctx context.Context, handle string, params ...*atproto.IdentityResolveHandleParams) (*atproto.IdentityResolveHandleOutput, error)
}

// ResolverFunc adapts a function returning a handle's DID to a [Resolver].
type ResolverFunc func(ctx context.Context, handle string) (did string, err error)

// ResolveHandle implements [Resolver].
func (f ResolverFunc) ResolveHandle(ctx context.Context, handle string, _ ...*atproto.IdentityResolveHandleParams) (*atproto.IdentityResolveHandleOutput, error) {
	did, err := f(ctx, handle)
	if err != nil {
		return nil, err
	}
	return &atproto.IdentityResolveHandleOutput{DID: did}, nil
}

// DetectFacets returns the facets of text: links and hashtags, and the
// mentions whose handles r resolves. A mention the service cannot resolve
// (it answers with an XRPC error) is left as plain text, as @atproto/api
// does; any other error (the network, ctx) is returned. r may be nil to
// leave every mention out.
func DetectFacets(ctx context.Context, text string, r Resolver) ([]*bsky.RichtextFacet, error) {
	spans := Detect(text)
	facets := make([]*bsky.RichtextFacet, 0, len(spans))
	dids := map[string]string{}
	for _, s := range spans {
		var feature bsky.RichtextFacet_Features
		switch s.Kind {
		case Mention:
			if r == nil {
				continue
			}
			handle := strings.ToLower(s.Value)
			did, ok := dids[handle]
			if !ok {
				out, err := r.ResolveHandle(ctx, handle)
				var xe *lex.Error
				switch {
				case errors.As(err, &xe):
					did = ""
				case err != nil:
					return nil, err
				default:
					did = out.DID
				}
				dids[handle] = did
			}
			if did == "" {
				continue
			}
			feature = &bsky.RichtextFacetMention{DID: did}
		case Link:
			feature = &bsky.RichtextFacetLink{URI: s.Value}
		case Tag:
			feature = &bsky.RichtextFacetTag{Tag: s.Value}
		}
		facets = append(facets, &bsky.RichtextFacet{
			Index:    &bsky.RichtextFacetByteSlice{ByteStart: int64(s.Start), ByteEnd: int64(s.End)},
			Features: []bsky.RichtextFacet_Features{feature},
		})
	}
	return facets, nil
}

// GraphemeLen returns the number of graphemes (user-perceived characters)
// in s: the unit of post length limits, where an emoji such as "👩‍👩‍👧" is
// one although it is 18 bytes and 5 runes.
func GraphemeLen(s string) int { return uniseg.GraphemeClusterCount(s) }

// Segment is a run of text with the facet that annotates it, if any.
type Segment struct {
	Text  string
	Facet *bsky.RichtextFacet // nil for plain text
}

// Mention returns the segment's mention feature, or nil.
func (s Segment) Mention() *bsky.RichtextFacetMention { return feature[*bsky.RichtextFacetMention](s) }

// Link returns the segment's link feature, or nil.
func (s Segment) Link() *bsky.RichtextFacetLink { return feature[*bsky.RichtextFacetLink](s) }

// Tag returns the segment's tag feature, or nil.
func (s Segment) Tag() *bsky.RichtextFacetTag { return feature[*bsky.RichtextFacetTag](s) }

func feature[T bsky.RichtextFacet_Features](s Segment) T {
	var zero T
	if s.Facet == nil {
		return zero
	}
	for _, f := range s.Facet.Features {
		if t, ok := f.(T); ok {
			return t
		}
	}
	return zero
}

// Segments splits text into plain and annotated runs, in order, covering
// all of it. Facets are taken in order of their start; one that overlaps
// the previous, falls outside the text, or does not cut it at UTF-8
// character boundaries is ignored, its text staying plain (facets come from
// other people's posts and cannot be trusted).
func Segments(text string, facets []*bsky.RichtextFacet) []Segment {
	sorted := slices.Clone(facets)
	slices.SortStableFunc(sorted, func(a, b *bsky.RichtextFacet) int {
		return int(a.GetIndex().GetByteStart() - b.GetIndex().GetByteStart())
	})
	var segs []Segment
	pos := 0
	for _, f := range sorted {
		if f == nil || f.Index == nil {
			continue
		}
		start, end := int(f.Index.ByteStart), int(f.Index.ByteEnd)
		if start < pos || end <= start || end > len(text) ||
			!utf8.RuneStart(text[start]) || (end < len(text) && !utf8.RuneStart(text[end])) {
			continue
		}
		if start > pos {
			segs = append(segs, Segment{Text: text[pos:start]})
		}
		segs = append(segs, Segment{Text: text[start:end], Facet: f})
		pos = end
	}
	if pos < len(text) || len(segs) == 0 {
		segs = append(segs, Segment{Text: text[pos:]})
	}
	return segs
}
