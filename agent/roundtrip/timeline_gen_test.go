package roundtrip

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

var updateTimeline = flag.Bool("update-timeline", false, "rewrite testdata/getTimeline.json from genTimeline")

const timelineFile = "getTimeline.json"

// TestTimelineFixture checks that testdata/getTimeline.json is what
// genTimeline produces (run with -update-timeline to rewrite it), and that it
// stays small.
func TestTimelineFixture(t *testing.T) {
	want := genTimeline()
	path := filepath.Join("testdata", timelineFile)
	if *updateTimeline {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not genTimeline's output; run go test -run TestTimelineFixture -update-timeline", path)
	}
	if len(got) >= 300<<10 {
		t.Errorf("%s is %d bytes, want < 300 KB", path, len(got))
	}
}

type obj = map[string]any

// genTimeline builds a 100-post app.bsky.feed.getTimeline output shaped like
// an AppView's: every embed view kind, replies with root and parent (some not
// found or blocked), reposts and a pin, labels, viewer state, threadgates, a
// third-party embed and fields newer than the lexicons.
func genTimeline() []byte {
	r := rand.New(rand.NewPCG(2024, 11))
	const b32 = "abcdefghijklmnopqrstuvwxyz234567"
	rnd := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = b32[r.IntN(len(b32))]
		}
		return string(b)
	}
	cid := func() string { return "bafyrei" + rnd(52) }
	blobCID := func() string { return "bafkrei" + rnd(52) }
	tid := func() string { return "3l" + rnd(11) }
	at := func(i int) string {
		// Newest first, a few minutes apart.
		m := 59 - (i*7)%60
		h := 23 - i/9
		return fmt.Sprintf("2025-03-%02dT%02d:%02d:%02d.%03dZ", 21, h, m, (i*13)%60, (i*37)%1000)
	}
	type actor struct{ did, handle, name string }
	actors := []actor{
		{"did:plc:z72i7hdynmk6r22z27h6tvur", "bsky.app", "Bluesky"},
		{"did:plc:ewvi7nxzyoun6zhxrhs64oiz", "atproto.com", "AT Protocol Developers"},
		{"did:plc:44ybard66vv44zksje25o7dz", "bnewbold.net", "bryan newbold"},
		{"did:plc:oky5czdrnfjpqslsw2a5iclo", "jay.bsky.team", "Jay 🦋"},
		{"did:plc:vc7f4oafdgxsihk4cry2xpze", "jcsalterego.bsky.social", "Jerry Chen"},
		{"did:plc:q6gjnaw2blty4crticxkmujt", "cat.example.net", ""},
		{"did:plc:hx53snho72xoj7zqt5uice4u", "gardening.bsky.social", "Garden Notes"},
		{"did:plc:vpkhqolt662uhesyj6nxm7ys", "why.bsky.team", "Why"},
	}
	const viewerDID = "did:plc:oky5czdrnfjpqslsw2a5iclo"
	profile := func(a actor, i int) obj {
		p := obj{
			"did":    a.did,
			"handle": a.handle,
			"avatar": "https://cdn.bsky.app/img/avatar/plain/" + a.did + "/" + blobCID() + "@jpeg",
			"viewer": obj{"muted": false, "blockedBy": false},
			"labels": []any{},
		}
		if a.name != "" {
			p["displayName"] = a.name
		}
		switch i % 5 {
		case 0:
			p["associated"] = obj{"chat": obj{"allowIncoming": "following"}}
			p["createdAt"] = "2023-04-12T04:53:57.057Z"
		case 1:
			p["viewer"] = obj{"muted": false, "blockedBy": false,
				"following":  "at://" + viewerDID + "/app.bsky.graph.follow/" + tid(),
				"followedBy": "at://" + a.did + "/app.bsky.graph.follow/" + tid()}
			p["verification"] = obj{"verifications": []any{}, "verifiedStatus": "none", "trustedVerifierStatus": "none"}
		case 2:
			p["labels"] = []any{obj{"src": a.did, "uri": "at://" + a.did + "/app.bsky.actor.profile/self",
				"cid": cid(), "val": "!no-unauthenticated", "cts": "2024-01-01T00:00:00.000Z"}}
		case 3:
			// A field newer than our lexicons, inside a known object.
			p["viewer"] = obj{"muted": false, "blockedBy": false, "mutedOnlyReposts": true,
				"futureField": obj{"level": 2, "tags": []any{"a", "b"}}}
			p["pronouns"] = "she/her"
		case 4:
			p["status"] = obj{"status": "app.bsky.actor.status#live",
				"record": obj{"$type": "app.bsky.actor.status", "status": "app.bsky.actor.status#live",
					"durationMinutes": 120, "createdAt": "2025-03-21T18:00:00.000Z"},
				"embed": obj{"$type": "app.bsky.embed.external#view", "external": obj{
					"uri": "https://stream.example.com/live", "title": "Live now", "description": "coding the lexicon generator"}},
				"expiresAt": "2025-03-21T20:00:00.000Z", "isActive": true}
		}
		return p
	}
	postURI := func(a actor, rkey string) string { return "at://" + a.did + "/app.bsky.feed.post/" + rkey }
	imageBlob := func(mime string, size int) obj {
		return obj{"$type": "blob", "ref": obj{"$link": blobCID()}, "mimeType": mime, "size": size}
	}
	cdn := func(kind string, a actor, c string) string {
		return "https://cdn.bsky.app/img/" + kind + "/plain/" + a.did + "/" + c + "@jpeg"
	}
	texts := []string{
		"shipping the new lexicon generator today",
		"does anyone have a good sourdough starter recipe? 🍞",
		"reminder: alt text is for everyone",
		"the firehose is a lot of water",
		"Wir sehen uns morgen!",
		"new blog post about CBOR and why it is fine, actually",
		"#gardening update: tomatoes are winning",
		"hot take: pagination cursors should be opaque",
		"👀",
		"",
	}
	// embed returns the record embed and the matching view for kind.
	embed := func(kind int, a actor) (rec, view obj) {
		switch kind {
		case 1: // images
			var imgs, views []any
			for j := range 1 + r.IntN(4) {
				c := blobCID()
				ar := obj{"width": 1000 + 100*j, "height": 750}
				imgs = append(imgs, obj{"alt": fmt.Sprintf("photo %d of the garden", j+1), "aspectRatio": ar,
					"image": obj{"$type": "blob", "ref": obj{"$link": c}, "mimeType": "image/jpeg", "size": 200000 + r.IntN(800000)}})
				views = append(views, obj{"thumb": cdn("feed_thumbnail", a, c), "fullsize": cdn("feed_fullsize", a, c),
					"alt": fmt.Sprintf("photo %d of the garden", j+1), "aspectRatio": ar})
			}
			return obj{"$type": "app.bsky.embed.images", "images": imgs},
				obj{"$type": "app.bsky.embed.images#view", "images": views}
		case 2: // video
			c := blobCID()
			ar := obj{"width": 1080, "height": 1920}
			base := "https://video.bsky.app/watch/" + a.did + "/" + c
			return obj{"$type": "app.bsky.embed.video", "video": obj{"$type": "blob", "ref": obj{"$link": c}, "mimeType": "video/mp4", "size": 5000000 + r.IntN(9000000)},
					"aspectRatio": ar, "alt": "short clip"},
				obj{"$type": "app.bsky.embed.video#view", "cid": c, "playlist": base + "/playlist.m3u8",
					"thumbnail": base + "/thumbnail.jpg", "alt": "short clip", "aspectRatio": ar}
		case 3: // external
			c := blobCID()
			ext := obj{"uri": "https://example.com/posts/" + rnd(6), "title": "A post about protocols",
				"description": "Some thoughts on open social networks."}
			rec := obj{"$type": "app.bsky.embed.external", "external": obj{"uri": ext["uri"], "title": ext["title"],
				"description": ext["description"], "thumb": imageBlob("image/jpeg", 50000+r.IntN(9000))}}
			ext["thumb"] = cdn("feed_thumbnail", a, c)
			return rec, obj{"$type": "app.bsky.embed.external#view", "external": ext}
		case 4, 5: // record (a quoted post, or a feed generator)
			q := actors[r.IntN(len(actors))]
			rkey, qc := tid(), cid()
			rec := obj{"$type": "app.bsky.embed.record", "record": obj{"uri": postURI(q, rkey), "cid": qc}}
			var inner obj
			if kind == 4 {
				inner = obj{"$type": "app.bsky.embed.record#viewRecord", "uri": postURI(q, rkey), "cid": qc,
					"author": profile(q, r.IntN(5)),
					"value":  obj{"$type": "app.bsky.feed.post", "text": "the quoted post", "createdAt": "2025-03-20T12:00:00.000Z", "langs": []any{"en"}},
					"labels": []any{}, "likeCount": r.IntN(500), "replyCount": r.IntN(50), "repostCount": r.IntN(90), "quoteCount": r.IntN(9),
					"embeds": []any{}, "indexedAt": "2025-03-20T12:00:00.512Z"}
			} else {
				uri := "at://" + q.did + "/app.bsky.feed.generator/whats-hot"
				rec["record"] = obj{"uri": uri, "cid": qc}
				inner = obj{"$type": "app.bsky.feed.defs#generatorView", "uri": uri, "cid": qc, "did": "did:web:feeds.example.com",
					"creator":     obj{"did": q.did, "handle": q.handle, "labels": []any{}, "viewer": obj{"muted": false}},
					"displayName": "What's Hot", "description": "Top posts", "likeCount": 12000,
					"acceptsInteractions": false, "labels": []any{}, "viewer": obj{}, "contentMode": "app.bsky.feed.defs#contentModeUnspecified",
					"indexedAt": "2024-01-01T00:00:00.000Z"}
			}
			return rec, obj{"$type": "app.bsky.embed.record#view", "record": inner}
		case 6: // recordWithMedia: a blocked quote and images
			q := actors[r.IntN(len(actors))]
			rkey, qc := tid(), cid()
			c := blobCID()
			mrec := obj{"$type": "app.bsky.embed.images", "images": []any{obj{"alt": "", "image": obj{"$type": "blob", "ref": obj{"$link": c}, "mimeType": "image/png", "size": 91231}}}}
			mview := obj{"$type": "app.bsky.embed.images#view", "images": []any{obj{"alt": "", "thumb": cdn("feed_thumbnail", a, c), "fullsize": cdn("feed_fullsize", a, c)}}}
			return obj{"$type": "app.bsky.embed.recordWithMedia", "media": mrec,
					"record": obj{"$type": "app.bsky.embed.record", "record": obj{"uri": postURI(q, rkey), "cid": qc}}},
				obj{"$type": "app.bsky.embed.recordWithMedia#view", "media": mview,
					"record": obj{"record": obj{"$type": "app.bsky.embed.record#viewBlocked", "uri": postURI(q, rkey), "blocked": true,
						"author": obj{"did": q.did, "viewer": obj{"blocking": "at://" + viewerDID + "/app.bsky.graph.block/" + tid()}}}}}
		case 7: // gallery
			var items, views []any
			for j := range 2 {
				c := blobCID()
				ar := obj{"width": 4000, "height": 3000 - j}
				items = append(items, obj{"$type": "app.bsky.embed.gallery#image", "alt": "gallery image", "aspectRatio": ar,
					"image": obj{"$type": "blob", "ref": obj{"$link": c}, "mimeType": "image/jpeg", "size": 1500000}})
				views = append(views, obj{"$type": "app.bsky.embed.gallery#viewImage", "alt": "gallery image", "aspectRatio": ar,
					"thumbnail": cdn("feed_thumbnail", a, c), "fullsize": cdn("feed_fullsize", a, c)})
			}
			return obj{"$type": "app.bsky.embed.gallery", "items": items},
				obj{"$type": "app.bsky.embed.gallery#view", "items": views}
		case 8: // a third-party embed the AppView passes through
			return obj{"$type": "community.lexicon.location.geo", "latitude": "48.8566", "longitude": "2.3522", "name": "Paris"},
				obj{"$type": "community.lexicon.location.geo#view", "name": "Paris", "mapUrl": "https://maps.example.com/48.8566,2.3522.png"}
		case 9: // a quote of a detached post
			q := actors[r.IntN(len(actors))]
			rkey := tid()
			return obj{"$type": "app.bsky.embed.record", "record": obj{"uri": postURI(q, rkey), "cid": cid()}},
				obj{"$type": "app.bsky.embed.record#view", "record": obj{"$type": "app.bsky.embed.record#viewDetached",
					"uri": postURI(q, rkey), "detached": true}}
		}
		return nil, nil
	}
	postView := func(i int, a actor, reply obj) obj {
		rkey := tid()
		text := texts[i%len(texts)]
		rec := obj{"$type": "app.bsky.feed.post", "text": text, "createdAt": at(i), "langs": []any{"en"}}
		if i%4 == 0 && len(text) > 8 {
			rec["facets"] = []any{obj{"index": obj{"byteStart": 0, "byteEnd": 8},
				"features": []any{obj{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/" + rnd(4)}}}}
		}
		if reply != nil {
			rec["reply"] = reply
		}
		p := obj{"uri": postURI(a, rkey), "cid": cid(), "author": profile(a, i), "record": rec}
		if er, ev := embed(i%10, a); er != nil {
			rec["embed"] = er
			p["embed"] = ev
		}
		p["bookmarkCount"] = r.IntN(5)
		p["replyCount"] = r.IntN(40)
		p["repostCount"] = r.IntN(100)
		p["likeCount"] = r.IntN(1000)
		p["quoteCount"] = r.IntN(10)
		p["indexedAt"] = at(i)
		viewer := obj{"bookmarked": false, "threadMuted": false, "embeddingDisabled": false}
		if i%6 == 1 {
			viewer["like"] = "at://" + viewerDID + "/app.bsky.feed.like/" + tid()
		}
		if i%11 == 2 {
			viewer["pinned"] = true
			viewer["replyDisabled"] = true
		}
		p["viewer"] = viewer
		p["labels"] = []any{}
		if i%13 == 5 {
			p["labels"] = []any{obj{"ver": 1, "src": "did:plc:ar7c4by46qjdydhdevvrndac", "uri": p["uri"], "cid": p["cid"],
				"val": "sexual", "cts": "2025-03-21T00:00:00.000Z"}}
		}
		if i%17 == 3 {
			p["threadgate"] = obj{"uri": "at://" + a.did + "/app.bsky.feed.threadgate/" + rkey, "cid": cid(),
				"record": obj{"$type": "app.bsky.feed.threadgate", "allow": []any{}, "createdAt": at(i), "post": p["uri"]},
				"lists":  []any{}}
		}
		return p
	}
	var feed []any
	for i := range 100 {
		a := actors[(i*3)%len(actors)]
		item := obj{}
		var reply obj
		if i%5 == 2 {
			ra, pa := actors[(i+1)%len(actors)], actors[(i+2)%len(actors)]
			root := postView(i+100, ra, nil)
			var parent obj
			switch i % 3 {
			case 0:
				parent = obj{"$type": "app.bsky.feed.defs#notFoundPost", "uri": postURI(pa, tid()), "notFound": true}
			case 1:
				parent = obj{"$type": "app.bsky.feed.defs#blockedPost", "uri": postURI(pa, tid()), "blocked": true,
					"author": obj{"did": pa.did, "viewer": obj{"blockedBy": true}}}
			default:
				parent = postView(i+200, pa, obj{"root": obj{"uri": root["uri"], "cid": root["cid"]}, "parent": obj{"uri": root["uri"], "cid": root["cid"]}})
				parent["$type"] = "app.bsky.feed.defs#postView"
			}
			root["$type"] = "app.bsky.feed.defs#postView"
			item["reply"] = obj{"root": root, "parent": parent, "grandparentAuthor": profile(ra, 1)}
			reply = obj{"root": obj{"uri": root["uri"], "cid": root["cid"]}, "parent": obj{"uri": postURI(pa, tid()), "cid": cid()}}
		}
		item["post"] = postView(i, a, reply)
		switch {
		case i == 0:
			item["reason"] = obj{"$type": "app.bsky.feed.defs#reasonPin"}
		case i%7 == 3:
			by := actors[(i+5)%len(actors)]
			item["reason"] = obj{"$type": "app.bsky.feed.defs#reasonRepost", "by": profile(by, i+1),
				"uri": "at://" + by.did + "/app.bsky.feed.repost/" + tid(), "cid": cid(), "indexedAt": at(i)}
		case i == 50:
			item["reason"] = obj{"$type": "app.bsky.feed.defs#reasonBoost", "by": "did:plc:hx53snho72xoj7zqt5uice4u"}
		}
		if i%9 == 4 {
			item["feedContext"] = "t-following|" + rnd(8)
			item["reqId"] = rnd(16)
		}
		feed = append(feed, item)
	}
	out := obj{"cursor": "1742580000000::" + cid(), "feed": feed}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
