package atp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
)

var (
	t0    = time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)
	t0s   = "2024-05-06T07:08:09.123Z"
	image = &lex.Blob{Ref: "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", MimeType: "image/jpeg", Size: 1234}
)

const imageJSON = `{"$type":"blob","ref":{"$link":"bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},"mimeType":"image/jpeg","size":1234}`

const createdJSON = `{"uri":"at://did:plc:alice/app.bsky.feed.post/3k","cid":"bafycreated"}`

func TestPost(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	f.on("com.atproto.repo.createRecord", ok(createdJSON))
	a := f.agent()

	root := &atproto.RepoStrongRef{URI: "at://did:plc:bob/app.bsky.feed.post/1", CID: "bafyroot"}
	parent := &atproto.RepoStrongRef{URI: "at://did:plc:bob/app.bsky.feed.post/2", CID: "bafyparent"}
	ref, err := a.Post(ctx, PostInput{
		Text: "héllo #go",
		Facets: []*bsky.RichtextFacet{{
			Index:    &bsky.RichtextFacetByteSlice{ByteStart: 7, ByteEnd: 10},
			Features: []bsky.RichtextFacet_Features{&bsky.RichtextFacetTag{Tag: "go"}},
		}},
		Reply: &bsky.FeedPostReplyRef{Root: root, Parent: parent},
		Embed: &bsky.EmbedImages{Images: []*bsky.EmbedImagesImage{{
			Image:       image,
			Alt:         "a cat",
			AspectRatio: &bsky.EmbedDefsAspectRatio{Width: 4, Height: 3},
		}}},
		Langs:     []string{"fr", "en"},
		Labels:    &atproto.LabelDefsSelfLabels{Values: []*atproto.LabelDefsSelfLabel{{Val: "nudity"}}},
		Tags:      []string{"extra"},
		CreatedAt: t0,
	})
	if err != nil {
		t.Fatal(err)
	}
	if ref.URI != "at://did:plc:alice/app.bsky.feed.post/3k" || ref.CID != "bafycreated" {
		t.Errorf("ref = %+v", ref)
	}
	c := f.takeOne()
	if c.Method != http.MethodPost || c.NSID != "com.atproto.repo.createRecord" || c.Header.Get("Content-Type") != "application/json" {
		t.Errorf("call = %s %s %q", c.Method, c.NSID, c.Header.Get("Content-Type"))
	}
	if c.Header.Get("Atproto-Proxy") != "" {
		t.Errorf("createRecord proxied to %q", c.Header.Get("Atproto-Proxy"))
	}
	wantJSON(t, c.Body, `{
		"repo": "did:plc:alice",
		"collection": "app.bsky.feed.post",
		"record": {
			"$type": "app.bsky.feed.post",
			"text": "héllo #go",
			"facets": [{"index": {"byteStart": 7, "byteEnd": 10}, "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "go"}]}],
			"reply": {
				"root": {"uri": "at://did:plc:bob/app.bsky.feed.post/1", "cid": "bafyroot"},
				"parent": {"uri": "at://did:plc:bob/app.bsky.feed.post/2", "cid": "bafyparent"}
			},
			"embed": {"$type": "app.bsky.embed.images", "images": [{"image": `+imageJSON+`, "alt": "a cat", "aspectRatio": {"width": 4, "height": 3}}]},
			"langs": ["fr", "en"],
			"labels": {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "nudity"}]},
			"tags": ["extra"],
			"createdAt": "`+t0s+`"
		}
	}`)
}

func TestPostEmbeds(t *testing.T) {
	ctx := context.Background()
	quoted := &atproto.RepoStrongRef{URI: "at://did:plc:bob/app.bsky.feed.post/1", CID: "bafyquoted"}
	const quotedJSON = `{"uri":"at://did:plc:bob/app.bsky.feed.post/1","cid":"bafyquoted"}`
	video := &lex.Blob{Ref: "bafkreivideo", MimeType: "video/mp4", Size: 99}
	tests := []struct {
		name  string
		embed bsky.FeedPost_Embed
		want  string
	}{
		{"external", &bsky.EmbedExternal{External: &bsky.EmbedExternalExternal{URI: "https://go.dev", Title: "Go", Description: "The Go language", Thumb: image}},
			`{"$type":"app.bsky.embed.external","external":{"uri":"https://go.dev","title":"Go","description":"The Go language","thumb":` + imageJSON + `}}`},
		{"record", &bsky.EmbedRecord{Record: quoted},
			`{"$type":"app.bsky.embed.record","record":` + quotedJSON + `}`},
		{"recordWithMedia", &bsky.EmbedRecordWithMedia{Record: &bsky.EmbedRecord{Record: quoted}, Media: &bsky.EmbedImages{Images: []*bsky.EmbedImagesImage{{Image: image, Alt: ""}}}},
			`{"$type":"app.bsky.embed.recordWithMedia","record":{"record":` + quotedJSON + `},"media":{"$type":"app.bsky.embed.images","images":[{"image":` + imageJSON + `,"alt":""}]}}`},
		{"video", &bsky.EmbedVideo{Video: video, Alt: lex.Ptr("a clip"), AspectRatio: &bsky.EmbedDefsAspectRatio{Width: 16, Height: 9}},
			`{"$type":"app.bsky.embed.video","video":{"$type":"blob","ref":{"$link":"bafkreivideo"},"mimeType":"video/mp4","size":99},"alt":"a clip","aspectRatio":{"width":16,"height":9}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.on("com.atproto.repo.createRecord", ok(createdJSON))
			if _, err := f.agent().Post(ctx, PostInput{Embed: tt.embed, CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			wantJSON(t, f.takeOne().Body, `{"repo":"did:plc:alice","collection":"app.bsky.feed.post","record":{"$type":"app.bsky.feed.post","text":"","embed":`+tt.want+`,"createdAt":"`+t0s+`"}}`)
		})
	}
}

func TestPostDetectFacets(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	f.on("com.atproto.identity.resolveHandle", ok(`{"did":"did:plc:bob"}`))
	f.on("com.atproto.repo.createRecord", ok(createdJSON))
	text := "✨ hi @bob.test #go https://go.dev"
	if _, err := f.agent().Post(ctx, PostInput{Text: text, DetectFacets: true, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	calls := f.wantCalls("GET com.atproto.identity.resolveHandle", "POST com.atproto.repo.createRecord")
	wantQuery(t, calls[0], url.Values{"handle": {"bob.test"}})
	wantJSON(t, calls[1].Body, `{"repo":"did:plc:alice","collection":"app.bsky.feed.post","record":{
		"$type":"app.bsky.feed.post","text":"`+text+`","createdAt":"`+t0s+`",
		"facets":[
			{"index":{"byteStart":7,"byteEnd":16},"features":[{"$type":"app.bsky.richtext.facet#mention","did":"did:plc:bob"}]},
			{"index":{"byteStart":17,"byteEnd":20},"features":[{"$type":"app.bsky.richtext.facet#tag","tag":"go"}]},
			{"index":{"byteStart":21,"byteEnd":35},"features":[{"$type":"app.bsky.richtext.facet#link","uri":"https://go.dev"}]}
		]}}`)

	// Without DetectFacets, the text is sent as it is.
	if _, err := f.agent().Post(ctx, PostInput{Text: text, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	wantJSON(t, f.takeOne().Body, `{"repo":"did:plc:alice","collection":"app.bsky.feed.post","record":{"$type":"app.bsky.feed.post","text":"`+text+`","createdAt":"`+t0s+`"}}`)
}

func TestPostDefaultCreatedAt(t *testing.T) {
	f := newFake(t)
	f.on("com.atproto.repo.createRecord", ok(createdJSON))
	if _, err := f.agent().Post(context.Background(), PostInput{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	var in atproto.RepoCreateRecordInput
	if err := lex.Unmarshal([]byte(f.takeOne().Body), &in); err != nil {
		t.Fatal(err)
	}
	post, isPost := in.Record.(*bsky.FeedPost)
	if !isPost {
		t.Fatalf("record = %T", in.Record)
	}
	if _, err := time.Parse(time.RFC3339Nano, post.CreatedAt); err != nil || !strings.HasSuffix(post.CreatedAt, "Z") {
		t.Errorf("createdAt = %q (%v), want an RFC 3339 UTC datetime", post.CreatedAt, err)
	}
}

func TestPostValidation(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	a := f.agent()
	five := make([]*bsky.EmbedImagesImage, 5)
	for i := range five {
		five[i] = &bsky.EmbedImagesImage{Image: image, Alt: "x"}
	}
	tests := []struct {
		name string
		in   PostInput
		path string
	}{
		{"301 graphemes", PostInput{Text: strings.Repeat("é", 301), DetectFacets: true}, "text"},
		{"5 images", PostInput{Embed: &bsky.EmbedImages{Images: five}}, "embed.images"},
		{"4 langs", PostInput{Text: "hi", Langs: []string{"en", "fr", "de", "es"}}, "langs"},
		{"missing reply parent", PostInput{Text: "hi", Reply: &bsky.FeedPostReplyRef{Root: &atproto.RepoStrongRef{URI: "at://did:plc:bob/app.bsky.feed.post/1", CID: "bafyrootcid"}}}, "reply.parent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Post(ctx, tt.in)
			var ve *lex.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *lex.ValidationError", err)
			}
			if ve.Path != tt.path {
				t.Errorf("path = %q, want %q (%v)", ve.Path, tt.path, err)
			}
			if c := f.take(); len(c) != 0 {
				t.Errorf("sent %v", nsids(c))
			}
		})
	}
	// 300 graphemes of 2 bytes each are fine.
	f.on("com.atproto.repo.createRecord", ok(createdJSON))
	if _, err := a.Post(ctx, PostInput{Text: strings.Repeat("é", 300)}); err != nil {
		t.Errorf("300 graphemes: %v", err)
	}
}

func TestRecordMethods(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	f.on("com.atproto.repo.createRecord", ok(createdJSON))
	f.on("com.atproto.repo.deleteRecord", ok(`{}`))
	a := f.agent()
	via := &atproto.RepoStrongRef{URI: "at://did:plc:carol/app.bsky.feed.repost/9", CID: "bafyviacid"}
	const post, postCID = "at://did:plc:bob/app.bsky.feed.post/1", "bafypost"
	created := func(ref *atproto.RepoStrongRef, err error) error {
		if err == nil && (ref.URI != "at://did:plc:alice/app.bsky.feed.post/3k" || ref.CID != "bafycreated") {
			t.Errorf("ref = %+v", ref)
		}
		return err
	}
	tests := []struct {
		name string
		do   func() error
		nsid string
		body string
	}{
		{"Like", func() error { return created(a.Like(ctx, post, postCID, &RecordOptions{CreatedAt: t0})) },
			"com.atproto.repo.createRecord", `{"repo":"did:plc:alice","collection":"app.bsky.feed.like","record":{"$type":"app.bsky.feed.like","subject":{"uri":"` + post + `","cid":"bafypost"},"createdAt":"` + t0s + `"}}`},
		{"Like via", func() error { return created(a.Like(ctx, post, postCID, &RecordOptions{Via: via, CreatedAt: t0})) },
			"com.atproto.repo.createRecord", `{"repo":"did:plc:alice","collection":"app.bsky.feed.like","record":{"$type":"app.bsky.feed.like","subject":{"uri":"` + post + `","cid":"bafypost"},"via":{"uri":"at://did:plc:carol/app.bsky.feed.repost/9","cid":"bafyviacid"},"createdAt":"` + t0s + `"}}`},
		{"Repost", func() error { return created(a.Repost(ctx, post, postCID, &RecordOptions{Via: via, CreatedAt: t0})) },
			"com.atproto.repo.createRecord", `{"repo":"did:plc:alice","collection":"app.bsky.feed.repost","record":{"$type":"app.bsky.feed.repost","subject":{"uri":"` + post + `","cid":"bafypost"},"via":{"uri":"at://did:plc:carol/app.bsky.feed.repost/9","cid":"bafyviacid"},"createdAt":"` + t0s + `"}}`},
		{"Follow", func() error { return created(a.Follow(ctx, "did:plc:bob", &RecordOptions{CreatedAt: t0})) },
			"com.atproto.repo.createRecord", `{"repo":"did:plc:alice","collection":"app.bsky.graph.follow","record":{"$type":"app.bsky.graph.follow","subject":"did:plc:bob","createdAt":"` + t0s + `"}}`},
		{"DeletePost", func() error { return a.DeletePost(ctx, "at://did:plc:alice/app.bsky.feed.post/3kpost") },
			"com.atproto.repo.deleteRecord", `{"repo":"did:plc:alice","collection":"app.bsky.feed.post","rkey":"3kpost"}`},
		{"DeleteLike", func() error { return a.DeleteLike(ctx, "at://did:plc:alice/app.bsky.feed.like/3klike") },
			"com.atproto.repo.deleteRecord", `{"repo":"did:plc:alice","collection":"app.bsky.feed.like","rkey":"3klike"}`},
		{"DeleteRepost", func() error { return a.DeleteRepost(ctx, "at://alice.test/app.bsky.feed.repost/3krp") },
			"com.atproto.repo.deleteRecord", `{"repo":"did:plc:alice","collection":"app.bsky.feed.repost","rkey":"3krp"}`},
		{"DeleteFollow", func() error { return a.DeleteFollow(ctx, "at://did:plc:alice/app.bsky.graph.follow/3kf") },
			"com.atproto.repo.deleteRecord", `{"repo":"did:plc:alice","collection":"app.bsky.graph.follow","rkey":"3kf"}`},
		{"Mute", func() error { return a.Mute(ctx, "bob.test") },
			"app.bsky.graph.muteActor", `{"actor":"bob.test"}`},
		{"Unmute", func() error { return a.Unmute(ctx, "did:plc:bob") },
			"app.bsky.graph.unmuteActor", `{"actor":"did:plc:bob"}`},
		{"MuteModList", func() error { return a.MuteModList(ctx, "at://did:plc:mod/app.bsky.graph.list/1") },
			"app.bsky.graph.muteActorList", `{"list":"at://did:plc:mod/app.bsky.graph.list/1"}`},
		{"UnmuteModList", func() error { return a.UnmuteModList(ctx, "at://did:plc:mod/app.bsky.graph.list/1") },
			"app.bsky.graph.unmuteActorList", `{"list":"at://did:plc:mod/app.bsky.graph.list/1"}`},
		{"UpdateSeenNotifications", func() error { return a.UpdateSeenNotifications(ctx, t0) },
			"app.bsky.notification.updateSeen", `{"seenAt":"` + t0s + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.on("app.bsky.graph.muteActor", ok(""))
			f.on("app.bsky.graph.unmuteActor", ok(""))
			f.on("app.bsky.graph.muteActorList", ok(""))
			f.on("app.bsky.graph.unmuteActorList", ok(""))
			f.on("app.bsky.notification.updateSeen", ok(""))
			if err := tt.do(); err != nil {
				t.Fatal(err)
			}
			c := f.takeOne()
			if c.Method != http.MethodPost || c.NSID != tt.nsid {
				t.Errorf("call = %s %s, want POST %s", c.Method, c.NSID, tt.nsid)
			}
			wantJSON(t, c.Body, tt.body)
			wantProxy := ""
			if strings.HasPrefix(tt.nsid, "app.bsky.") {
				wantProxy = BskyAppViewProxy
			}
			if got := c.Header.Get("Atproto-Proxy"); got != wantProxy {
				t.Errorf("atproto-proxy = %q, want %q", got, wantProxy)
			}
		})
	}
}

func TestRecordMethodErrors(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	a := f.agent()
	if err := a.DeleteLike(ctx, "at://did:plc:alice/app.bsky.feed.post/3k"); err == nil || !strings.Contains(err.Error(), "not app.bsky.feed.like") {
		t.Errorf("DeleteLike of a post: %v", err)
	}
	if err := a.DeletePost(ctx, "https://bsky.app/profile/alice"); err == nil {
		t.Error("DeletePost of a web URL: no error")
	}
	if err := a.DeletePost(ctx, "at://did:plc:alice/app.bsky.feed.post"); err == nil {
		t.Error("DeletePost without a record key: no error")
	}
	pub := f.public()
	for name, err := range map[string]error{
		"Post":          func() error { _, err := pub.Post(ctx, PostInput{Text: "hi"}); return err }(),
		"Like":          func() error { _, err := pub.Like(ctx, "at://x/app.bsky.feed.post/1", "bafy"); return err }(),
		"DeleteFollow":  pub.DeleteFollow(ctx, "at://did:plc:alice/app.bsky.graph.follow/1"),
		"UpsertProfile": pub.UpsertProfile(ctx, func(p *bsky.ActorProfile) (*bsky.ActorProfile, error) { return p, nil }),
		"BlockModList":  func() error { _, err := pub.BlockModList(ctx, "at://did:plc:mod/app.bsky.graph.list/1"); return err }(),
	} {
		if !errors.Is(err, ErrNoAccount) {
			t.Errorf("%s without an account: %v, want ErrNoAccount", name, err)
		}
	}
	if c := f.take(); len(c) != 0 {
		t.Errorf("sent %v", nsids(c))
	}
}

func TestUpdateSeenNotificationsDefault(t *testing.T) {
	f := newFake(t)
	f.on("app.bsky.notification.updateSeen", ok(""))
	if err := f.agent().UpdateSeenNotifications(context.Background()); err != nil {
		t.Fatal(err)
	}
	var body struct{ SeenAt string }
	c := f.takeOne()
	if err := jsonUnmarshal(c.Body, &body); err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339Nano, body.SeenAt); err != nil {
		t.Errorf("seenAt = %q: %v", body.SeenAt, err)
	}
}

func TestGetPost(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	f.on("com.atproto.repo.getRecord",
		ok(`{"uri":"at://did:plc:bob/app.bsky.feed.post/3k","cid":"bafyv1","value":{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2024-01-01T00:00:00Z"}}`),
		ok(`{"uri":"at://did:plc:bob/app.bsky.feed.like/3k","cid":"bafyv1","value":{"$type":"app.bsky.feed.like","subject":{"uri":"at://x/y/z","cid":"b"},"createdAt":"2024-01-01T00:00:00Z"}}`))
	a := f.agent()
	p, err := a.GetPost(ctx, "bob.test", "3k", &atproto.RepoGetRecordParams{CID: "bafyv1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.URI != "at://did:plc:bob/app.bsky.feed.post/3k" || p.CID != "bafyv1" || p.Value.Text != "hi" {
		t.Errorf("post = %+v", p)
	}
	c := f.takeOne()
	wantQuery(t, c, url.Values{"repo": {"bob.test"}, "collection": {"app.bsky.feed.post"}, "rkey": {"3k"}, "cid": {"bafyv1"}})
	if c.Method != http.MethodGet || c.Header.Get("Atproto-Proxy") != "" {
		t.Errorf("%s, proxy %q", c.Method, c.Header.Get("Atproto-Proxy"))
	}
	var re *lex.ResponseError
	if _, err := a.GetPost(ctx, "bob.test", "3k"); !errors.As(err, &re) || !strings.Contains(err.Error(), "app.bsky.feed.like") {
		t.Errorf("a like where a post was asked for: %v", err)
	}
}

func TestUpsertProfile(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	f.on("com.atproto.repo.getRecord",
		ok(`{"uri":"at://did:plc:alice/app.bsky.actor.profile/self","cid":"bafyv1","value":{"$type":"app.bsky.actor.profile","displayName":"Alice","description":"old"}}`),
		ok(`{"uri":"at://did:plc:alice/app.bsky.actor.profile/self","cid":"bafyv2","value":{"$type":"app.bsky.actor.profile","displayName":"Alice B.","description":"old"}}`))
	f.on("com.atproto.repo.putRecord",
		xrpcErr(http.StatusBadRequest, "InvalidSwap", "Record was at bafyv2"),
		ok(`{"uri":"at://did:plc:alice/app.bsky.actor.profile/self","cid":"bafyv3"}`))
	var seen []string
	err := f.agent().UpsertProfile(ctx, func(p *bsky.ActorProfile) (*bsky.ActorProfile, error) {
		seen = append(seen, p.GetDisplayName())
		p.Description = lex.Ptr("new")
		return p, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != "Alice" || seen[1] != "Alice B." {
		t.Errorf("update saw %q, want the record before and after the conflict", seen)
	}
	calls := f.wantCalls("GET com.atproto.repo.getRecord", "POST com.atproto.repo.putRecord", "GET com.atproto.repo.getRecord", "POST com.atproto.repo.putRecord")
	wantQuery(t, calls[0], url.Values{"repo": {testDID}, "collection": {"app.bsky.actor.profile"}, "rkey": {"self"}})
	wantJSON(t, calls[1].Body, `{"repo":"did:plc:alice","collection":"app.bsky.actor.profile","rkey":"self","swapRecord":"bafyv1",
		"record":{"$type":"app.bsky.actor.profile","displayName":"Alice","description":"new"}}`)
	wantJSON(t, calls[3].Body, `{"repo":"did:plc:alice","collection":"app.bsky.actor.profile","rkey":"self","swapRecord":"bafyv2",
		"record":{"$type":"app.bsky.actor.profile","displayName":"Alice B.","description":"new"}}`)
}

func TestUpsertProfileNew(t *testing.T) {
	f := newFake(t)
	f.on("com.atproto.repo.getRecord", xrpcErr(http.StatusBadRequest, "RecordNotFound", "Could not locate record"))
	f.on("com.atproto.repo.putRecord", ok(`{"uri":"at://did:plc:alice/app.bsky.actor.profile/self","cid":"bafyv1"}`))
	err := f.agent().UpsertProfile(context.Background(), func(p *bsky.ActorProfile) (*bsky.ActorProfile, error) {
		if p != nil {
			t.Errorf("existing = %+v, want nil", p)
		}
		return &bsky.ActorProfile{DisplayName: lex.Ptr("Alice")}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	calls := f.wantCalls("GET com.atproto.repo.getRecord", "POST com.atproto.repo.putRecord")
	wantJSON(t, calls[1].Body, `{"repo":"did:plc:alice","collection":"app.bsky.actor.profile","rkey":"self","swapRecord":null,
		"record":{"$type":"app.bsky.actor.profile","displayName":"Alice"}}`)
}

func TestUpsertProfileFailures(t *testing.T) {
	ctx := context.Background()
	keep := func(p *bsky.ActorProfile) (*bsky.ActorProfile, error) { return p, nil }
	profile := ok(`{"uri":"at://did:plc:alice/app.bsky.actor.profile/self","cid":"bafyv1","value":{"$type":"app.bsky.actor.profile"}}`)

	t.Run("gives up after 5 retries", func(t *testing.T) {
		f := newFake(t)
		f.on("com.atproto.repo.getRecord", profile)
		f.on("com.atproto.repo.putRecord", xrpcErr(http.StatusBadRequest, "InvalidSwap", "conflict"))
		if err := f.agent().UpsertProfile(ctx, keep); !errors.Is(err, atproto.ErrRepoPutRecordInvalidSwap) {
			t.Fatalf("err = %v, want InvalidSwap", err)
		}
		if n := len(f.take()); n != 12 {
			t.Errorf("%d calls, want 6 gets and 6 puts", n)
		}
	})
	t.Run("other errors are not retried", func(t *testing.T) {
		f := newFake(t)
		f.on("com.atproto.repo.getRecord", profile)
		f.on("com.atproto.repo.putRecord", xrpcErr(http.StatusBadRequest, "InvalidRequest", "no"))
		if err := f.agent().UpsertProfile(ctx, keep); err == nil {
			t.Fatal("no error")
		}
		f.wantCalls("GET com.atproto.repo.getRecord", "POST com.atproto.repo.putRecord")
	})
	t.Run("a failed read writes nothing", func(t *testing.T) {
		f := newFake(t)
		f.on("com.atproto.repo.getRecord", xrpcErr(http.StatusInternalServerError, "InternalServerError", "oops"))
		if err := f.agent().UpsertProfile(ctx, keep); err == nil {
			t.Fatal("no error")
		}
		f.wantCalls("GET com.atproto.repo.getRecord")
	})
	t.Run("update errors and nil results write nothing", func(t *testing.T) {
		f := newFake(t)
		f.on("com.atproto.repo.getRecord", profile)
		boom := errors.New("boom")
		if err := f.agent().UpsertProfile(ctx, func(*bsky.ActorProfile) (*bsky.ActorProfile, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Errorf("err = %v", err)
		}
		if err := f.agent().UpsertProfile(ctx, func(*bsky.ActorProfile) (*bsky.ActorProfile, error) { return nil, nil }); err != nil {
			t.Errorf("err = %v", err)
		}
		f.wantCalls("GET com.atproto.repo.getRecord", "GET com.atproto.repo.getRecord")
	})
	t.Run("an invalid profile is not sent", func(t *testing.T) {
		f := newFake(t)
		f.on("com.atproto.repo.getRecord", profile)
		err := f.agent().UpsertProfile(ctx, func(p *bsky.ActorProfile) (*bsky.ActorProfile, error) {
			p.DisplayName = lex.Ptr(strings.Repeat("x", 65))
			return p, nil
		})
		var ve *lex.ValidationError
		if !errors.As(err, &ve) || ve.Path != "displayName" {
			t.Errorf("err = %v, want a validation error on displayName", err)
		}
		f.wantCalls("GET com.atproto.repo.getRecord")
	})
}

func TestModListBlocks(t *testing.T) {
	ctx := context.Background()
	const list = "at://did:plc:mod/app.bsky.graph.list/3kl"
	f := newFake(t)
	f.on("com.atproto.repo.createRecord", ok(`{"uri":"at://did:plc:alice/app.bsky.graph.listblock/3kb","cid":"bafyb"}`))
	f.on("com.atproto.repo.deleteRecord", ok(`{}`))
	a := f.agent()
	ref, err := a.BlockModList(ctx, list)
	if err != nil {
		t.Fatal(err)
	}
	if ref.URI != "at://did:plc:alice/app.bsky.graph.listblock/3kb" {
		t.Errorf("ref = %+v", ref)
	}
	var in atproto.RepoCreateRecordInput
	if err := lex.Unmarshal([]byte(f.takeOne().Body), &in); err != nil {
		t.Fatal(err)
	}
	if lb, isLB := in.Record.(*bsky.GraphListblock); in.Collection != "app.bsky.graph.listblock" || !isLB || lb.Subject != list || lb.CreatedAt == "" {
		t.Errorf("createRecord input = %+v, record %+v", in, in.Record)
	}

	listView := func(viewer string) reply {
		return ok(`{"list":{"uri":"` + list + `","cid":"bafyl","creator":{"did":"did:plc:mod","handle":"mod.test"},"name":"spam","purpose":"app.bsky.graph.defs#modlist","indexedAt":"2024-01-01T00:00:00Z"` + viewer + `},"items":[]}`)
	}
	f.on("app.bsky.graph.getList", listView(`,"viewer":{"blocked":"at://did:plc:alice/app.bsky.graph.listblock/3kb"}`), listView(""))
	if err := a.UnblockModList(ctx, list); err != nil {
		t.Fatal(err)
	}
	calls := f.wantCalls("GET app.bsky.graph.getList", "POST com.atproto.repo.deleteRecord")
	wantQuery(t, calls[0], url.Values{"list": {list}, "limit": {"1"}})
	if calls[0].Header.Get("Atproto-Proxy") != BskyAppViewProxy {
		t.Errorf("getList proxy = %q", calls[0].Header.Get("Atproto-Proxy"))
	}
	wantJSON(t, calls[1].Body, `{"repo":"did:plc:alice","collection":"app.bsky.graph.listblock","rkey":"3kb"}`)

	// Not blocked: nothing to delete.
	if err := a.UnblockModList(ctx, list); err != nil {
		t.Fatal(err)
	}
	f.wantCalls("GET app.bsky.graph.getList")
}

func TestReplyTo(t *testing.T) {
	top := &bsky.FeedPost{Text: "top"}
	r := ReplyTo("at://did:plc:bob/app.bsky.feed.post/1", "bafyone", top)
	if r.Root.URI != "at://did:plc:bob/app.bsky.feed.post/1" || r.Parent.CID != "bafyone" {
		t.Errorf("reply to a root post = %+v %+v", r.Root, r.Parent)
	}
	reply := &bsky.FeedPost{Text: "reply", Reply: r}
	r2 := ReplyTo("at://did:plc:carol/app.bsky.feed.post/2", "bafytwo", reply)
	if r2.Root.URI != "at://did:plc:bob/app.bsky.feed.post/1" || r2.Root.CID != "bafyone" ||
		r2.Parent.URI != "at://did:plc:carol/app.bsky.feed.post/2" || r2.Parent.CID != "bafytwo" {
		t.Errorf("reply to a reply = root %+v, parent %+v", r2.Root, r2.Parent)
	}
	if r3 := ReplyTo("at://x/app.bsky.feed.post/3", "bafythree", nil); r3.Root.URI != "at://x/app.bsky.feed.post/3" {
		t.Errorf("nil parent record: %+v", r3.Root)
	}
}
