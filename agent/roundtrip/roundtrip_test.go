package roundtrip

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// toAny decodes JSON into the generic form (numbers kept as json.Number,
// so 1 and 1.0 differ and large integers stay exact).
func toAny(t testing.TB, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	if d.More() {
		t.Fatalf("trailing data after JSON value:\n%s", b)
	}
	return v
}

// encode writes v the way a request body is written: records carry $type,
// other objects only if they were decoded with one.
func encode(v lex.Object) ([]byte, error) {
	var e lex.Encoder
	v.EncodeLex(&e, false)
	return e.Bytes()
}

// roundTrip decodes the fixture into v, encodes it, and checks that the JSON
// value is unchanged, both with the lex API and through encoding/json.
func roundTrip(t *testing.T, name string, v lex.Object) {
	t.Helper()
	in := readFixture(t, name)
	if err := lex.Unmarshal(in, v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	out, err := encode(v)
	if err != nil {
		t.Fatalf("encode %s: %v", name, err)
	}
	if diff := cmp.Diff(toAny(t, in), toAny(t, out)); diff != "" {
		t.Errorf("%s changed in a round trip (-in +out):\n%s", name, diff)
	}
	// encoding/json uses the generated MarshalJSON/UnmarshalJSON.
	out2, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal %s: %v", name, err)
	}
	if diff := cmp.Diff(toAny(t, in), toAny(t, out2)); diff != "" {
		t.Errorf("%s changed in json.Marshal (-in +out):\n%s", name, diff)
	}
}

func mustType[T any](t *testing.T, v any) T {
	t.Helper()
	x, ok := v.(T)
	if !ok {
		var zero T
		t.Fatalf("got %T, want %T", v, zero)
	}
	return x
}

func TestPostEmbeds(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, p *bsky.FeedPost)
	}{
		{"post_images.json", func(t *testing.T, p *bsky.FeedPost) {
			e := mustType[*bsky.EmbedImages](t, p.Embed)
			if len(e.Images) != 2 {
				t.Fatalf("%d images", len(e.Images))
			}
			img := e.Images[0]
			if img.Alt != "Wet sand reflecting a pink sky, a lone surfer walking toward the water" {
				t.Errorf("alt = %q", img.Alt)
			}
			if img.AspectRatio.Width != 2048 || img.AspectRatio.Height != 1536 {
				t.Errorf("aspect ratio %+v", img.AspectRatio)
			}
			want := lex.Blob{Ref: "bafkrei2xzmasen7mtmo5oqsg7lo72djzdnbj2ddlz4uhfkvml5ctyxv4kg", MimeType: "image/jpeg", Size: 871244}
			if *img.Image != want {
				t.Errorf("blob %+v", *img.Image)
			}
			if e.Images[1].Alt != "" {
				t.Errorf("empty alt = %q", e.Images[1].Alt)
			}
		}},
		{"post_video.json", func(t *testing.T, p *bsky.FeedPost) {
			e := mustType[*bsky.EmbedVideo](t, p.Embed)
			if e.Video.MimeType != "video/mp4" || e.Video.Size != 14339572 || len(e.Captions) != 1 || e.Captions[0].Lang != "en" {
				t.Errorf("video %+v captions %+v", e.Video, e.Captions)
			}
			if e.Alt == nil || *e.Alt != "A cat knocking a glass of water off a table in slow motion" {
				t.Errorf("alt %v", e.Alt)
			}
			if e.Presentation == nil || *e.Presentation != "default" {
				t.Errorf("presentation %v", e.Presentation)
			}
		}},
		{"post_external.json", func(t *testing.T, p *bsky.FeedPost) {
			e := mustType[*bsky.EmbedExternal](t, p.Embed)
			if e.External.URI != "https://atproto.com/" || e.External.Thumb.Size != 61440 {
				t.Errorf("external %+v", e.External)
			}
			link := mustType[*bsky.RichtextFacetLink](t, p.Facets[0].Features[0])
			if link.URI != "https://atproto.com/" || p.Facets[0].Index.ByteStart != 26 {
				t.Errorf("facet %+v", p.Facets[0])
			}
		}},
		{"post_record.json", func(t *testing.T, p *bsky.FeedPost) {
			e := mustType[*bsky.EmbedRecord](t, p.Embed)
			if e.Record.URI != "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3lfbjl6apg22o" {
				t.Errorf("record %+v", e.Record)
			}
		}},
		{"post_recordwithmedia.json", func(t *testing.T, p *bsky.FeedPost) {
			e := mustType[*bsky.EmbedRecordWithMedia](t, p.Embed)
			m := mustType[*bsky.EmbedImages](t, e.Media)
			if m.Images[0].Image.MimeType != "image/png" || e.Record.Record.CID != "bafyreiv4seh2kvj72ceuvw75efr6edt4sywb5wkh7dnsipzz7fk4zri3r2" {
				t.Errorf("media %+v record %+v", m, e.Record)
			}
			if p.Reply == nil || p.Reply.Root.URI != e.Record.Record.URI {
				t.Errorf("reply %+v", p.Reply)
			}
		}},
		{"post_gallery.json", func(t *testing.T, p *bsky.FeedPost) {
			e := mustType[*bsky.EmbedGallery](t, p.Embed)
			if len(e.Items) != 3 {
				t.Fatalf("%d items", len(e.Items))
			}
			img := mustType[*bsky.EmbedGalleryImage](t, e.Items[1])
			if img.Alt != "A narrow street at dusk, strings of lights overhead" || img.AspectRatio.Height != 4000 {
				t.Errorf("item %+v", img)
			}
			u := mustType[*lex.Unknown](t, e.Items[2])
			if u.Type != "com.example.gallery#panorama" || u.Err != nil {
				t.Errorf("unknown item %q %v", u.Type, u.Err)
			}
		}},
		{"post_thirdparty_embed.json", func(t *testing.T, p *bsky.FeedPost) {
			u := mustType[*lex.Unknown](t, p.Embed)
			if u.Type != "community.lexicon.location.geo" || u.Err != nil {
				t.Errorf("embed %q %v", u.Type, u.Err)
			}
			var geo struct{ Latitude, Longitude string }
			if err := u.Decode(&geo); err != nil || geo.Latitude != "52.520008" {
				t.Errorf("geo %+v %v", geo, err)
			}
		}},
		{"post_facets_labels.json", func(t *testing.T, p *bsky.FeedPost) {
			if len(p.Facets) != 4 {
				t.Fatalf("%d facets", len(p.Facets))
			}
			m := mustType[*bsky.RichtextFacetMention](t, p.Facets[0].Features[0])
			if m.DID != "did:plc:vpkhqolt662uhesyj6nxm7ys" || p.Facets[0].Index.ByteEnd != 21 {
				t.Errorf("mention %+v", m)
			}
			if p.Facets[0].Extra.Type() != "app.bsky.richtext.facet" || p.Facets[1].Extra.Type() != "" {
				t.Errorf("facet $type kept as %q and %q", p.Facets[0].Extra.Type(), p.Facets[1].Extra.Type())
			}
			mustType[*bsky.RichtextFacetLink](t, p.Facets[1].Features[0])
			tag := mustType[*bsky.RichtextFacetTag](t, p.Facets[2].Features[0])
			if tag.Tag != "atproto" {
				t.Errorf("tag %q", tag.Tag)
			}
			if u := mustType[*lex.Unknown](t, p.Facets[3].Features[1]); u.Type != "blue.poll.facet#highlight" {
				t.Errorf("unknown feature %q", u.Type)
			}
			l := mustType[*atproto.LabelDefsSelfLabels](t, p.Labels)
			if len(l.Values) != 2 || l.Values[0].Val != "graphic-media" || l.Values[1].Val != "!no-unauthenticated" {
				t.Errorf("labels %+v", l.Values)
			}
			if raw, ok := p.Extra.Get("via"); !ok || string(raw) != `"Skeetdeck"` {
				t.Errorf("extra via = %s", raw)
			}
			if _, ok := p.Extra.Get("fyi.unravel.frontpage.title"); !ok {
				t.Error("extra namespaced field lost")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := new(bsky.FeedPost)
			roundTrip(t, tt.file, p)
			tt.check(t, p)
		})
	}
}

func TestPostThread(t *testing.T) {
	out := new(bsky.FeedGetPostThreadOutput)
	roundTrip(t, "getPostThread.json", out)

	th := mustType[*bsky.FeedDefsThreadViewPost](t, out.Thread)
	if th.Post.Author.Handle != "jcsalterego.bsky.social" {
		t.Errorf("author %q", th.Post.Author.Handle)
	}
	// Fields the lexicon does not know, kept in Extra.
	if raw, ok := th.Post.Author.Viewer.Extra.Get("futureField"); !ok || !bytes.Contains(raw, []byte(`"quiet"`)) {
		t.Errorf("viewer.futureField = %s, %v", raw, ok)
	}
	if th.Post.Labels == nil || len(th.Post.Labels) != 0 {
		t.Errorf("labels: [] decoded as %#v", th.Post.Labels)
	}
	// The quoted record is a known record type: it decodes to FeedPost.
	ev := mustType[*bsky.EmbedRecordView](t, th.Post.Embed)
	vr := mustType[*bsky.EmbedRecordViewRecord](t, ev.Record)
	if q := mustType[*bsky.FeedPost](t, vr.Value); q.Text != "Unknown fields are not an error. Preserve them." {
		t.Errorf("quoted text %q", q.Text)
	}
	if vr.Embeds == nil || len(vr.Embeds) != 0 {
		t.Errorf("embeds: [] decoded as %#v", vr.Embeds)
	}
	if mustType[*bsky.FeedPost](t, th.Post.Record).Reply.Parent.CID != "bafyreiwyojfljooa7lqsaj2xuid5zzzzg6zdmen4khvdgajgxbenyjqwx6" {
		t.Error("reply parent")
	}
	mustType[*lex.Unknown](t, th.Post.Debug)

	// Parents, three levels.
	p1 := mustType[*bsky.FeedDefsThreadViewPost](t, th.Parent)
	root := mustType[*bsky.FeedDefsThreadViewPost](t, p1.Parent)
	if root.Parent != nil || root.Post.Threadgate == nil {
		t.Errorf("root parent %v threadgate %v", root.Parent, root.Post.Threadgate)
	}
	tg := mustType[*bsky.FeedThreadgate](t, root.Post.Threadgate.Record)
	mustType[*bsky.FeedThreadgateFollowingRule](t, tg.Allow[0])
	if lr := mustType[*bsky.FeedThreadgateListRule](t, tg.Allow[1]); lr.List == "" {
		t.Error("list rule")
	}
	if tg.HiddenReplies == nil {
		t.Error("hiddenReplies: [] lost")
	}

	// Replies: nested thread posts, a notFoundPost, a blockedPost, and a
	// member type this lexicon does not list.
	if len(th.Replies) != 4 {
		t.Fatalf("%d replies", len(th.Replies))
	}
	r1 := mustType[*bsky.FeedDefsThreadViewPost](t, th.Replies[0])
	if r1.ThreadContext == nil || r1.ThreadContext.RootAuthorLike == nil {
		t.Error("threadContext lost")
	}
	ext := mustType[*bsky.EmbedExternal](t, mustType[*bsky.FeedPost](t, r1.Post.Record).Embed)
	if !ext.External.Thumb.Legacy {
		t.Error("legacy thumb blob not marked Legacy")
	}
	r3 := mustType[*bsky.FeedDefsThreadViewPost](t, r1.Replies[0])
	rwm := mustType[*bsky.EmbedRecordWithMediaView](t, r3.Post.Embed)
	mustType[*bsky.EmbedRecordViewNotFound](t, rwm.Record.Record)
	mustType[*bsky.EmbedVideoView](t, rwm.Media)
	if nf := mustType[*bsky.FeedDefsNotFoundPost](t, r3.Replies[0]); !nf.NotFound {
		t.Error("notFound false")
	}
	if bp := mustType[*bsky.FeedDefsBlockedPost](t, r1.Replies[1]); !bp.Blocked || !bp.Author.Viewer.GetBlockedBy() {
		t.Errorf("blocked %+v", bp)
	}
	r2 := mustType[*bsky.FeedDefsThreadViewPost](t, th.Replies[1])
	if r2.Replies == nil {
		t.Error("replies: [] lost")
	}
	if u := mustType[*lex.Unknown](t, r2.Post.Embed); u.Type != "community.lexicon.location.geo#view" {
		t.Errorf("view embed %q", u.Type)
	}
	if len(r2.Post.Labels) != 1 || len(r2.Post.Labels[0].Sig) != 64 {
		t.Errorf("label sig: %+v", r2.Post.Labels)
	}
	mustType[*bsky.FeedDefsNotFoundPost](t, th.Replies[2])
	if u := mustType[*lex.Unknown](t, th.Replies[3]); u.Type != "app.bsky.unspecced.defs#threadItemHiddenPlaceholder" {
		t.Errorf("unknown reply %q", u.Type)
	}

	// The thread's threadgate: allow is present and empty.
	gate := mustType[*bsky.FeedThreadgate](t, out.Threadgate.Record)
	if gate.Allow == nil || len(gate.Allow) != 0 {
		t.Errorf("allow: [] decoded as %#v", gate.Allow)
	}
}

func TestTimeline(t *testing.T) {
	out := new(bsky.FeedGetTimelineOutput)
	roundTrip(t, timelineFile, out)
	if len(out.Feed) != 100 {
		t.Fatalf("%d posts", len(out.Feed))
	}
	// Every kind of embed view, and a third-party one, appear.
	kinds := map[string]int{}
	for _, item := range out.Feed {
		if item.Post.Embed != nil {
			kinds[item.Post.Embed.LexiconType()]++
			if u, ok := item.Post.Embed.(*lex.Unknown); ok && u.Err != nil {
				t.Errorf("%s: known embed failed to decode: %v", item.Post.URI, u.Err)
			}
		}
		if _, ok := item.Post.Record.(*bsky.FeedPost); !ok {
			t.Errorf("%s: record is %T", item.Post.URI, item.Post.Record)
		}
	}
	for _, k := range []string{"app.bsky.embed.images#view", "app.bsky.embed.video#view", "app.bsky.embed.external#view",
		"app.bsky.embed.record#view", "app.bsky.embed.recordWithMedia#view", "app.bsky.embed.gallery#view",
		"community.lexicon.location.geo#view"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in the timeline", k)
		}
	}
	mustType[*bsky.FeedDefsReasonPin](t, out.Feed[0].Reason)
	mustType[*bsky.FeedDefsReasonRepost](t, out.Feed[3].Reason)
	if u := mustType[*lex.Unknown](t, out.Feed[50].Reason); u.Type != "app.bsky.feed.defs#reasonBoost" {
		t.Errorf("unknown reason %q", u.Type)
	}
	reply := out.Feed[2].Reply
	mustType[*bsky.FeedDefsPostView](t, reply.Root)
	if reply.GrandparentAuthor == nil {
		t.Error("grandparentAuthor lost")
	}
	// feedViewPost.post is not in a union: no $type appears on it.
	enc, err := encode(out.Feed[0])
	if err != nil {
		t.Fatal(err)
	}
	if post := toAny(t, enc).(map[string]any)["post"].(map[string]any); post["$type"] != nil {
		t.Errorf("post gained $type %v", post["$type"])
	}
}

func TestPreferences(t *testing.T) {
	out := new(bsky.ActorGetPreferencesOutput)
	roundTrip(t, "getPreferences.json", out)
	p := out.Preferences
	if len(p) != 19 {
		t.Fatalf("%d preferences", len(p))
	}
	if a := mustType[*bsky.ActorDefsAdultContentPref](t, p[0]); a.Enabled {
		t.Error("adult content enabled")
	}
	v2 := mustType[*bsky.ActorDefsSavedFeedsPrefV2](t, p[4])
	if len(v2.Items) != 3 || v2.Items[0].Type != "timeline" || !v2.Items[0].Pinned || v2.Items[2].Pinned {
		t.Errorf("saved feeds %+v", v2.Items)
	}
	fv := mustType[*bsky.ActorDefsFeedViewPref](t, p[7])
	if fv.HideRepliesByLikeCount == nil || *fv.HideRepliesByLikeCount != 0 || fv.HideReplies == nil || *fv.HideReplies {
		t.Error("explicit 0 / false in feedViewPref not kept")
	}
	tv := mustType[*bsky.ActorDefsThreadViewPref](t, p[8])
	if _, ok := tv.Extra.Get("prioritizeFollowedUsers"); !ok {
		t.Error("removed lexicon field prioritizeFollowedUsers lost")
	}
	if h := mustType[*bsky.ActorDefsHiddenPostsPref](t, p[11]); h.Items == nil {
		t.Error("hiddenPostsPref items: [] lost")
	}
	for i, typ := range map[int]string{17: "app.graysky.actor.defs#translationPref", 18: "app.bsky.actor.defs#somePreferenceFromTheFuture"} {
		if u := mustType[*lex.Unknown](t, p[i]); u.Type != typ || u.Err != nil {
			t.Errorf("preference %d: %q %v", i, u.Type, u.Err)
		}
	}

	// Read-modify-write: change a known preference and the unknown ones
	// survive.
	mustType[*bsky.ActorDefsAdultContentPref](t, p[0]).Enabled = true
	in := bsky.ActorPutPreferencesInput{Preferences: p}
	b, err := encode(&in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"app.graysky.actor.defs#translationPref"`)) || !bytes.Contains(b, []byte(`"enabled":true`)) {
		t.Errorf("putPreferences body lost something: %s", b)
	}
}

func TestGetRecord(t *testing.T) {
	t.Run("custom collection", func(t *testing.T) {
		out := new(atproto.RepoGetRecordOutput)
		roundTrip(t, "getRecord_custom.json", out)
		u := mustType[*lex.Unknown](t, out.Value)
		if u.Type != "xyz.statusphere.status" || u.Err != nil {
			t.Errorf("value %q %v", u.Type, u.Err)
		}
		// Byte for byte, not just the same value.
		in := readFixture(t, "getRecord_custom.json")
		if !bytes.Contains(in, u.Raw) {
			t.Errorf("raw value is not the input's bytes: %s", u.Raw)
		}
	})
	t.Run("known record", func(t *testing.T) {
		out := new(atproto.RepoGetRecordOutput)
		roundTrip(t, "getRecord_post.json", out)
		p := mustType[*bsky.FeedPost](t, out.Value)
		if p.Text != "Unknown fields are not an error. Preserve them." {
			t.Errorf("text %q", p.Text)
		}
		if mustType[*bsky.EmbedImages](t, p.Embed).Images[0].Alt != "The Bluesky butterfly over a sunrise" {
			t.Error("alt")
		}
	})
}

func TestProfileBlobs(t *testing.T) {
	legacy := new(bsky.ActorProfile)
	roundTrip(t, "profile_legacy.json", legacy)
	if !legacy.Avatar.Legacy || legacy.Avatar.Ref != "bafkreiq37i7latjpuu5xfmzkp2ec6uk3geqfng274loi25phssrrxqqm4p" ||
		legacy.Banner.MimeType != "image/png" || legacy.Avatar.Size != 0 {
		t.Errorf("legacy avatar %+v banner %+v", legacy.Avatar, legacy.Banner)
	}
	if legacy.CreatedAt != nil || legacy.Labels != nil {
		t.Error("absent fields came back present")
	}

	current := new(bsky.ActorProfile)
	roundTrip(t, "profile_current.json", current)
	if current.Avatar.Legacy || current.Avatar.Size != 153208 || current.Banner.Ref != "bafkreienc76e2gzjfkzr2st2dtw22bxmzzna3k3hfzx5kiadjzfxkjwskk" {
		t.Errorf("current avatar %+v banner %+v", current.Avatar, current.Banner)
	}
	if l := mustType[*atproto.LabelDefsSelfLabels](t, current.Labels); l.Values == nil {
		t.Error("values: [] lost")
	}
}

func TestThreadgateEmptyAllow(t *testing.T) {
	tg := new(bsky.FeedThreadgate)
	roundTrip(t, "threadgate_nobody.json", tg)
	if tg.Allow == nil || len(tg.Allow) != 0 {
		t.Fatalf("allow: [] decoded as %#v", tg.Allow)
	}
	b, err := lex.Marshal(tg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"allow":[]`)) {
		t.Errorf("allow: [] (nobody may reply) not written: %s", b)
	}
	// nil means absent (anyone may reply).
	tg.Allow = nil
	b, _ = lex.Marshal(tg)
	if bytes.Contains(b, []byte(`"allow"`)) {
		t.Errorf("nil allow written: %s", b)
	}

	rules := new(bsky.FeedThreadgate)
	roundTrip(t, "threadgate_rules.json", rules)
	mustType[*bsky.FeedThreadgateMentionRule](t, rules.Allow[0])
	if u := mustType[*lex.Unknown](t, rules.Allow[2]); u.Type != "app.bsky.feed.threadgate#verifiedRule" {
		t.Errorf("future rule %q", u.Type)
	}
}

func TestPutRecordSwapRecord(t *testing.T) {
	for _, tt := range []struct {
		file string
		want *lex.Nullable[string]
	}{
		{"putRecord_swap_null.json", &lex.Nullable[string]{}},
		{"putRecord_swap_absent.json", nil},
		{"putRecord_swap_value.json", &lex.Nullable[string]{Valid: true, Value: "bafyrei4lajlj6hdu6gdpmrcg4be4umr46pqm4i2hz4uep3enthjxjqi5og"}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			in := new(atproto.RepoPutRecordInput)
			roundTrip(t, tt.file, in)
			if diff := cmp.Diff(tt.want, in.SwapRecord); diff != "" {
				t.Errorf("swapRecord (-want +got):\n%s", diff)
			}
			if in.Validate == nil || *in.Validate {
				t.Error("validate: false not kept")
			}
			if p := mustType[*bsky.ActorProfile](t, in.Record); p.Description == nil || *p.Description != "" {
				t.Error(`description: "" not kept`)
			}
		})
	}
	// Built in Go: the three states encode as absent, null and a string.
	for _, tt := range []struct {
		swap *lex.Nullable[string]
		want string
	}{
		{nil, `{"repo":"r","collection":"c","rkey":"k","record":{"$type":"app.bsky.actor.profile"}}`},
		{&lex.Nullable[string]{}, `{"repo":"r","collection":"c","rkey":"k","record":{"$type":"app.bsky.actor.profile"},"swapRecord":null}`},
		{lex.Ptr(lex.NullableOf("bafyx")), `{"repo":"r","collection":"c","rkey":"k","record":{"$type":"app.bsky.actor.profile"},"swapRecord":"bafyx"}`},
	} {
		in := &atproto.RepoPutRecordInput{Repo: "r", Collection: "c", Rkey: "k", Record: &bsky.ActorProfile{}, SwapRecord: tt.swap}
		b, err := encode(in)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(toAny(t, []byte(tt.want)), toAny(t, b)); diff != "" {
			t.Errorf("swap %v (-want +got):\n%s", tt.swap, diff)
		}
	}
}

func TestRecordTypeSetWithoutMutation(t *testing.T) {
	p := &bsky.FeedPost{Text: "hi", CreatedAt: "2025-01-01T00:00:00.000Z"}
	b, err := lex.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(toAny(t, []byte(`{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2025-01-01T00:00:00.000Z"}`)), toAny(t, b)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	b2, _ := json.Marshal(p)
	if !bytes.Equal(b, b2) {
		t.Errorf("json.Marshal = %s, lex.Marshal = %s", b2, b)
	}
	if p.Extra.Type() != "" {
		t.Error("encoding set $type on the caller's value")
	}
}

func TestApplyWritesClosedUnion(t *testing.T) {
	in := new(atproto.RepoApplyWritesInput)
	roundTrip(t, "applyWrites.json", in)
	c := mustType[*atproto.RepoApplyWritesCreate](t, in.Writes[0])
	mustType[*bsky.FeedPost](t, c.Value)
	u := mustType[*atproto.RepoApplyWritesUpdate](t, in.Writes[1])
	mustType[*lex.Unknown](t, u.Value)
	mustType[*atproto.RepoApplyWritesDelete](t, in.Writes[2])

	// Decoding an unknown $type fails with a UnionError.
	for _, member := range []string{
		`{"$type":"com.atproto.repo.applyWrites#upsert","collection":"a.b.c","rkey":"x"}`,
		`{"collection":"a.b.c","rkey":"x"}`,
	} {
		body := `{"repo":"did:plc:oky5czdrnfjpqslsw2a5iclo","writes":[` + member + `]}`
		err := lex.Unmarshal([]byte(body), new(atproto.RepoApplyWritesInput))
		var ue *lex.UnionError
		if !errors.As(err, &ue) {
			t.Errorf("decode %s: err = %v, want *lex.UnionError", member, err)
			continue
		}
		if ue.Union != "com.atproto.repo.applyWrites#input.schema.properties.writes.items" {
			t.Errorf("Union = %q", ue.Union)
		}
	}
	// Encoding a member of another type fails with a UnionError.
	bad := &atproto.RepoApplyWritesInput{Repo: "did:plc:x", Writes: []atproto.RepoApplyWritesInput_Writes{
		&atproto.RepoApplyWritesDelete{Collection: "a.b.c", Rkey: "x"},
		&lex.Unknown{Type: "com.atproto.repo.applyWrites#upsert", Raw: json.RawMessage(`{"$type":"com.atproto.repo.applyWrites#upsert"}`)},
	}}
	_, err := encode(bad)
	var ue *lex.UnionError
	if !errors.As(err, &ue) || ue.Type != "com.atproto.repo.applyWrites#upsert" {
		t.Errorf("encode: err = %v, want *lex.UnionError for the upsert", err)
	}
	if _, err := json.Marshal(bad); !errors.As(err, &ue) {
		t.Errorf("json.Marshal: err = %v, want *lex.UnionError", err)
	}
}
