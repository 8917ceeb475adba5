package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file builds, deterministically, the app.bsky.feed.getTimeline
// response the benchmarks decode, shaped like what the Bluesky AppView
// returns: members in the AppView's order, real CIDs, TIDs and byte
// offsets, and the mix of a home timeline. Every member is one that both
// this module's lexicons and indigo's api/bsky types know; no union member
// or record $type is outside indigo's types (indigo cannot decode those;
// see the README), so that the comparison measures the same work.
//
// Of the 100 feed items: 25 posts carry an images embed (1–4 images), 13
// an external link card, 12 a quote (record embed), 12 a quote with media
// (recordWithMedia: images or external); 33 are replies (feedViewPost.reply
// with a root and parent post view, a grandparentAuthor for deeper
// replies, one root not found); 20 are reposts (reasonRepost); posts carry
// mention, link and tag facets, moderation labels, self-labels, a
// threadgate, and viewer state. Authors come from 20 profiles with viewer
// state, associated (chat, activity subscription, lists, feeds), labels,
// verification and pronouns.

// item is what a test expects to read back from one feed item.
type item struct {
	URI, Handle, Text string
	// Embed is the post view's embed: "", "images", "external",
	// "record" or "recordWithMedia".
	Embed     string
	Images    int    // images in the embed (and its media)
	QuoteURI  string // the quoted post's URI
	Features  []string
	Root      string // reply root URI (or not-found URI)
	Parent    string // reply parent URI
	RepostBy  string // reason repost's DID
	Labels    []string
	LikeCount int64
	Following string // author.viewer.following
}

// timeline returns the JSON of a getTimeline response with n feed items
// and what each item holds.
func timeline(n int) ([]byte, []item) {
	b := &builder{base: time.Date(2025, 6, 1, 18, 30, 0, 0, time.UTC)}
	b.me = did("viewer")
	for i := range 20 {
		b.profiles = append(b.profiles, b.profile(i))
	}
	feed := make([]any, 0, n)
	items := make([]item, 0, n)
	for i := range n {
		fv, it := b.feedItem(i)
		feed = append(feed, fv)
		items = append(items, it)
	}
	doc := obj{{"feed", feed}, {"cursor", b.at(n).Format(time.RFC3339Nano) + "::" + b.cid(true, "cursor")}}
	var buf bytes.Buffer
	writeJSON(&buf, doc)
	return buf.Bytes(), items
}

type builder struct {
	base     time.Time
	me       string
	profiles []profile
	seq      int
}

type profile struct {
	did, handle string
	view        obj // profileViewBasic
}

// obj is a JSON object that keeps its members' order.
type obj []kv

type kv struct {
	k string
	v any
}

func (b *builder) at(i int) time.Time { return b.base.Add(-time.Duration(i) * 97 * time.Second) }

func stamp(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z") }

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// did returns a did:plc for seed.
func did(seed string) string {
	h := sha256.Sum256([]byte("did:" + seed))
	return "did:plc:" + strings.ToLower(b32.EncodeToString(h[:15]))[:24]
}

// cid returns a CIDv1 (sha2-256) for seed: dag-cbor for records
// ("bafyrei..."), raw for blobs ("bafkrei...").
func (b *builder) cid(record bool, seed string) string {
	b.seq++
	h := sha256.Sum256([]byte(seed + "/" + strconv.Itoa(b.seq)))
	codec := byte(0x55)
	if record {
		codec = 0x71
	}
	raw := append([]byte{0x01, codec, 0x12, 0x20}, h[:]...)
	return "b" + strings.ToLower(b32.EncodeToString(raw))
}

// tid returns the record key a record created at t gets.
func tid(t time.Time, clock int) string {
	const alphabet = "234567abcdefghijklmnopqrstuvwxyz"
	v := uint64(t.UnixMicro())<<10 | uint64(clock&1023)
	var out [13]byte
	for i := 12; i >= 0; i-- {
		out[i] = alphabet[v&31]
		v >>= 5
	}
	return string(out[:])
}

var names = []struct{ handle, display string }{
	{"alice.bsky.social", "Alice 🌿"}, {"bob.example.com", "Bob Martínez"}, {"carol.bsky.social", "Carol"},
	{"dave.bsky.social", "dave"}, {"erin.codes", "Erin \"the\" Engineer"}, {"frank.bsky.social", "Frank Ø."},
	{"grace.bsky.social", "Grace Hopper Fan Club"}, {"heidi.bsky.social", "ハイジ"}, {"ivan.bsky.social", "Ivan 🇺🇦"},
	{"judy.bsky.social", "Judy"}, {"mallory.bsky.social", ""}, {"niaj.bsky.social", "Niaj"},
	{"olivia.news", "Olivia — News"}, {"peggy.bsky.social", "Peggy"}, {"rupert.bsky.social", "Rupert"},
	{"sybil.art", "Sybil 🎨 commissions open"}, {"trent.bsky.social", "Trent"}, {"victor.bsky.social", "Victor"},
	{"walter.bsky.social", "Walter"}, {"zoe.bsky.social", "Zoë"},
}

func (b *builder) profile(i int) profile {
	d := did(names[i].handle)
	created := stamp(b.base.AddDate(-1, -i, -3*i))
	v := obj{{"did", d}, {"handle", names[i].handle}}
	if names[i].display != "" {
		v = append(v, kv{"displayName", names[i].display})
	}
	if i%7 == 3 {
		v = append(v, kv{"pronouns", "she/her"})
	}
	v = append(v, kv{"avatar", "https://cdn.bsky.app/img/avatar/plain/" + d + "/" + b.cid(false, d) + "@jpeg"})
	assoc := obj{}
	switch i % 4 {
	case 0:
		assoc = append(assoc, kv{"chat", obj{{"allowIncoming", "following"}}})
	case 1:
		assoc = append(assoc, kv{"chat", obj{{"allowIncoming", "all"}}}, kv{"lists", 2}, kv{"feedgens", 1})
	case 2:
		assoc = append(assoc, kv{"chat", obj{{"allowIncoming", "none"}}}, kv{"starterPacks", 1}, kv{"labeler", false})
	}
	assoc = append(assoc, kv{"activitySubscription", obj{{"allowSubscriptions", []string{"followers", "mutuals", "none"}[i%3]}}})
	v = append(v, kv{"associated", assoc})
	viewer := obj{{"muted", false}, {"blockedBy", false}}
	if i%5 != 4 {
		viewer = append(viewer, kv{"following", "at://" + b.me + "/app.bsky.graph.follow/" + tid(b.base.AddDate(0, -i, 0), i)})
	}
	if i%3 == 0 {
		viewer = append(viewer, kv{"followedBy", "at://" + d + "/app.bsky.graph.follow/" + tid(b.base.AddDate(0, -i, -1), i)})
	}
	v = append(v, kv{"viewer", viewer})
	labels := []any{}
	if i%9 == 4 {
		labels = append(labels, obj{
			{"src", d}, {"uri", "at://" + d + "/app.bsky.actor.profile/self"}, {"cid", b.cid(true, d)},
			{"val", "!no-unauthenticated"}, {"cts", created},
		})
	}
	v = append(v, kv{"labels", labels}, kv{"createdAt", created})
	if i%6 == 1 {
		issuer := did("bsky.app")
		v = append(v, kv{"verification", obj{
			{"verifications", []any{obj{
				{"issuer", issuer}, {"uri", "at://" + issuer + "/app.bsky.graph.verification/" + tid(b.base.AddDate(0, 0, -i), 1)},
				{"isValid", true}, {"createdAt", stamp(b.base.AddDate(0, 0, -i))},
			}}},
			{"verifiedStatus", "valid"}, {"trustedVerifierStatus", "none"},
		}})
	}
	return profile{did: d, handle: names[i].handle, view: v}
}

var texts = []string{
	"Shipping a new release today! Changelog below, thanks to everyone who sent patches.",
	"the light this morning over the harbour was unreal",
	"Hot take: most \"performance problems\" are allocation problems.\n\nProve me wrong.",
	"今日はいい天気ですね。散歩に行ってきます 🚶",
	"Reading list for the weekend: distributed systems, a novel, and a very long thread about fonts.",
	"Can't believe it's already June. Where did spring go? 🌸🌸🌸",
	"PSA: back up your keys. Then back up the backups.",
	"Café au lait, croissant, and a stack of code review. Perfect Sunday.",
	"new drawing ✏️ — still figuring out hands",
	"Thread 🧵 on why naming things is the hard part (1/7)",
	"",
	"Agreed — and the docs should say so up front.",
}

// facets appends facets over text and returns the new text, the facets and
// their feature kinds.
func (b *builder) facets(i int, text string) (string, []any, []string) {
	var facets []any
	var kinds []string
	add := func(s string, feature obj, kind string) {
		if text != "" {
			text += " "
		}
		start := len(text)
		text += s
		facets = append(facets, obj{
			{"$type", "app.bsky.richtext.facet"},
			{"index", obj{{"byteStart", start}, {"byteEnd", len(text)}}},
			{"features", []any{feature}},
		})
		kinds = append(kinds, kind)
	}
	if i%3 == 0 {
		p := b.profiles[(i+5)%len(b.profiles)]
		add("@"+p.handle, obj{{"$type", "app.bsky.richtext.facet#mention"}, {"did", p.did}}, "mention")
		u := fmt.Sprintf("https://example.com/articles/%d?utm_source=bsky&ref=timeline", 1000+i)
		add("example.com/articles/"+strconv.Itoa(1000+i)+"...", obj{{"$type", "app.bsky.richtext.facet#link"}, {"uri", u}}, "link")
	}
	if i%5 == 0 {
		tag := []string{"golang", "atproto", "photography", "art"}[i/5%4]
		add("#"+tag, obj{{"$type", "app.bsky.richtext.facet#tag"}, {"tag", tag}}, "tag")
	}
	return text, facets, kinds
}

func (b *builder) blob(mime string, size int) obj {
	return obj{{"$type", "blob"}, {"ref", obj{{"$link", b.cid(false, mime)}}}, {"mimeType", mime}, {"size", size}}
}

// images returns an images embed (record side) and its view.
func (b *builder) images(p profile, n int) (obj, obj) {
	var recs, views []any
	for k := range n {
		ratio := obj{{"width", 2000 - 100*k}, {"height", 1500 + 50*k}}
		alt := []string{"A harbour at sunrise, boats silhouetted against orange sky", "", "Screenshot of a benchmark table", "Sketch of two hands"}[k%4]
		blob := b.blob("image/jpeg", 300000+12345*k)
		link := blob[1].v.(obj)[0].v.(string)
		recs = append(recs, obj{{"alt", alt}, {"aspectRatio", ratio}, {"image", blob}})
		views = append(views, obj{
			{"thumb", "https://cdn.bsky.app/img/feed_thumbnail/plain/" + p.did + "/" + link + "@jpeg"},
			{"fullsize", "https://cdn.bsky.app/img/feed_fullsize/plain/" + p.did + "/" + link + "@jpeg"},
			{"alt", alt}, {"aspectRatio", ratio},
		})
	}
	return obj{{"$type", "app.bsky.embed.images"}, {"images", recs}},
		obj{{"$type", "app.bsky.embed.images#view"}, {"images", views}}
}

// external returns an external embed (record side) and its view.
func (b *builder) external(p profile, i int) (obj, obj) {
	u := fmt.Sprintf("https://news.example.org/2025/06/story-%d", i)
	title := "Long-read: how a small team rebuilt their data pipeline"
	desc := "A look at the trade-offs, the outages & the lessons — with charts."
	blob := b.blob("image/jpeg", 91234+i)
	link := blob[1].v.(obj)[0].v.(string)
	return obj{{"$type", "app.bsky.embed.external"}, {"external", obj{{"uri", u}, {"title", title}, {"description", desc}, {"thumb", blob}}}},
		obj{{"$type", "app.bsky.embed.external#view"}, {"external", obj{
			{"uri", u}, {"title", title}, {"description", desc},
			{"thumb", "https://cdn.bsky.app/img/feed_thumbnail/plain/" + p.did + "/" + link + "@jpeg"},
		}}}
}

// post returns a post record and its URI and CID.
type post struct {
	uri, cid string
	record   obj
	text     string
	kinds    []string
}

func (b *builder) post(i int, p profile, t time.Time, text string, extra ...kv) post {
	text, facets, kinds := b.facets(i, text)
	rec := obj{{"$type", "app.bsky.feed.post"}, {"createdAt", stamp(t.Add(-1500 * time.Millisecond))}}
	rec = append(rec, extra...)
	if facets != nil {
		rec = append(rec, kv{"facets", facets})
	}
	rec = append(rec, kv{"langs", []string{"en"}}, kv{"text", text})
	return post{
		uri:    "at://" + p.did + "/app.bsky.feed.post/" + tid(t, i),
		cid:    b.cid(true, p.did),
		record: rec, text: text, kinds: kinds,
	}
}

// postView returns the post view of a post.
func (b *builder) postView(i int, p profile, ps post, t time.Time, embed obj, typed bool) obj {
	v := obj{}
	if typed {
		v = append(v, kv{"$type", "app.bsky.feed.defs#postView"})
	}
	v = append(v, kv{"uri", ps.uri}, kv{"cid", ps.cid}, kv{"author", p.view}, kv{"record", ps.record})
	if embed != nil {
		v = append(v, kv{"embed", embed})
	}
	v = append(v,
		kv{"bookmarkCount", i % 4}, kv{"replyCount", i * 7 % 23}, kv{"repostCount", i * 13 % 41},
		kv{"likeCount", i * 37 % 511}, kv{"quoteCount", i % 3}, kv{"indexedAt", stamp(t)})
	viewer := obj{{"bookmarked", i%11 == 0}, {"threadMuted", false}, {"embeddingDisabled", false}}
	if i%4 == 0 {
		viewer = append(obj{{"like", "at://" + b.me + "/app.bsky.feed.like/" + tid(t.Add(time.Minute), i)}}, viewer...)
	}
	if i%9 == 0 {
		viewer = append(obj{{"repost", "at://" + b.me + "/app.bsky.feed.repost/" + tid(t.Add(2*time.Minute), i)}}, viewer...)
	}
	v = append(v, kv{"viewer", viewer})
	labels := []any{}
	if i%10 == 9 {
		labeler := did("moderation.bsky.app")
		sig := sha256.Sum256([]byte(ps.uri))
		labels = append(labels, obj{
			{"ver", 1}, {"src", labeler}, {"uri", ps.uri}, {"cid", ps.cid}, {"val", "graphic-media"},
			{"cts", stamp(t.Add(3 * time.Minute))},
			{"sig", obj{{"$bytes", base64.RawStdEncoding.EncodeToString(append(sig[:], sig[:]...))}}},
		})
	}
	v = append(v, kv{"labels", labels})
	if i%10 == 4 {
		v = append(v, kv{"threadgate", obj{
			{"uri", "at://" + p.did + "/app.bsky.feed.threadgate/" + tid(t, i)},
			{"cid", b.cid(true, "threadgate")},
			{"record", obj{
				{"$type", "app.bsky.feed.threadgate"},
				{"allow", []any{obj{{"$type", "app.bsky.feed.threadgate#mentionRule"}}, obj{{"$type", "app.bsky.feed.threadgate#followingRule"}}}},
				{"createdAt", stamp(t)}, {"hiddenReplies", []any{}}, {"post", ps.uri},
			}},
			{"lists", []any{}},
		}})
	}
	return v
}

func (b *builder) feedItem(i int) (obj, item) {
	t := b.at(i)
	p := b.profiles[i*7%len(b.profiles)]
	it := item{Handle: p.handle, LikeCount: int64(i * 37 % 511)}
	for _, m := range p.view {
		if m.k == "viewer" {
			for _, vm := range m.v.(obj) {
				if vm.k == "following" {
					it.Following = vm.v.(string)
				}
			}
		}
	}
	var extra []kv

	// The embed.
	var embedView obj
	switch i % 8 {
	case 0, 4:
		n := 1 + i/8%4
		rec, view := b.images(p, n)
		extra, embedView, it.Embed, it.Images = append(extra, kv{"embed", rec}), view, "images", n
	case 1:
		rec, view := b.external(p, i)
		extra, embedView, it.Embed = append(extra, kv{"embed", rec}), view, "external"
	case 2, 3:
		qp := b.profiles[(i+3)%len(b.profiles)]
		qt := t.Add(-36 * time.Hour)
		var qextra []kv
		var qembeds []any
		if i%16 == 2 {
			rec, view := b.images(qp, 1)
			qextra, qembeds = append(qextra, kv{"embed", rec}), []any{view}
		}
		q := b.post(i+1, qp, qt, texts[(i+4)%len(texts)], qextra...)
		vr := obj{
			{"$type", "app.bsky.embed.record#viewRecord"},
			{"uri", q.uri}, {"cid", q.cid}, {"author", qp.view}, {"value", q.record},
			{"labels", []any{}}, {"likeCount", 120 + i}, {"replyCount", 4}, {"repostCount", 9}, {"quoteCount", 2},
			{"indexedAt", stamp(qt)},
		}
		if qembeds != nil {
			vr = append(vr, kv{"embeds", qembeds})
		}
		strong := obj{{"cid", q.cid}, {"uri", q.uri}}
		it.QuoteURI = q.uri
		if i%8 == 2 {
			extra = append(extra, kv{"embed", obj{{"$type", "app.bsky.embed.record"}, {"record", strong}}})
			embedView, it.Embed = obj{{"$type", "app.bsky.embed.record#view"}, {"record", vr}}, "record"
		} else {
			var mrec, mview obj
			if i%16 == 3 {
				mrec, mview = b.images(p, 2)
				it.Images = 2
			} else {
				mrec, mview = b.external(p, i)
			}
			extra = append(extra, kv{"embed", obj{
				{"$type", "app.bsky.embed.recordWithMedia"},
				{"media", mrec},
				{"record", obj{{"$type", "app.bsky.embed.record"}, {"record", strong}}},
			}})
			embedView = obj{
				{"$type", "app.bsky.embed.recordWithMedia#view"},
				{"record", obj{{"record", vr}}},
				{"media", mview},
			}
			it.Embed = "recordWithMedia"
		}
	}

	// The reply, parent and root.
	var reply obj
	if i%3 == 1 {
		rp := b.profiles[(i+11)%len(b.profiles)]
		rt := t.Add(-3 * time.Hour)
		root := b.post(i+2, rp, rt, texts[(i+7)%len(texts)])
		parent, pp := root, rp
		if i%2 == 1 {
			pp = b.profiles[(i+13)%len(b.profiles)]
			parent = b.post(i+3, pp, t.Add(-time.Hour), texts[(i+2)%len(texts)],
				kv{"reply", obj{{"parent", obj{{"cid", root.cid}, {"uri", root.uri}}}, {"root", obj{{"cid", root.cid}, {"uri", root.uri}}}}})
		}
		extra = append(extra, kv{"reply", obj{
			{"parent", obj{{"cid", parent.cid}, {"uri", parent.uri}}},
			{"root", obj{{"cid", root.cid}, {"uri", root.uri}}},
		}})
		rootView := b.postView(i+2, rp, root, rt, nil, true)
		if i == 49 {
			rootView = obj{{"$type", "app.bsky.feed.defs#notFoundPost"}, {"uri", root.uri}, {"notFound", true}}
		}
		reply = obj{{"root", rootView}, {"parent", b.postView(i+3, pp, parent, t.Add(-time.Hour), nil, true)}}
		if parent.uri != root.uri {
			reply = append(reply, kv{"grandparentAuthor", rp.view})
		}
		it.Root, it.Parent = root.uri, parent.uri
	}

	if i%7 == 5 {
		extra = append(extra, kv{"labels", obj{{"$type", "com.atproto.label.defs#selfLabels"}, {"values", []any{obj{{"val", "graphic-media"}}}}}})
	}
	ps := b.post(i, p, t, texts[i%len(texts)], extra...)
	it.URI, it.Text, it.Features = ps.uri, ps.text, ps.kinds
	view := b.postView(i, p, ps, t, embedView, false)
	if i%10 == 9 {
		it.Labels = []string{"graphic-media"}
	}
	fv := obj{{"post", view}}
	if reply != nil {
		fv = append(fv, kv{"reply", reply})
	}
	if i%5 == 2 {
		by := b.profiles[(i*3+1)%len(b.profiles)]
		rt := t.Add(2 * time.Hour)
		fv = append(fv, kv{"reason", obj{
			{"$type", "app.bsky.feed.defs#reasonRepost"},
			{"by", by.view},
			{"uri", "at://" + by.did + "/app.bsky.feed.repost/" + tid(rt, i)},
			{"cid", b.cid(true, "repost")},
			{"indexedAt", stamp(rt)},
		}})
		it.RepostBy = by.did
	}
	return fv, it
}

// writeJSON writes v as compact JSON the way the AppView does (no HTML
// escaping).
func writeJSON(buf *bytes.Buffer, v any) {
	switch v := v.(type) {
	case obj:
		buf.WriteByte('{')
		for i, m := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, m.k)
			buf.WriteByte(':')
			writeJSON(buf, m.v)
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSON(buf, e)
		}
		buf.WriteByte(']')
	case []string:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, e)
		}
		buf.WriteByte(']')
	case string:
		writeString(buf, v)
	case int:
		buf.WriteString(strconv.Itoa(v))
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	default:
		panic(fmt.Sprintf("writeJSON: %T", v))
	}
}

func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
}
