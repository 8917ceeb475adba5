package atp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
	"github.com/atpgo/atp/richtext"
)

// TestShortMethods sends each generated short method through an
// authenticated Agent and checks the exact request: HTTP method, NSID,
// parameters, routing header and body.
func TestShortMethods(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	a := f.agent()
	const post = "at://did:plc:bob/app.bsky.feed.post/1"
	tests := []struct {
		name   string
		do     func() error
		method string
		nsid   string
		query  url.Values
		body   string // JSON, or "" for none
	}{
		{"GetTimeline", func() error {
			_, err := a.GetTimeline(ctx, &bsky.FeedGetTimelineParams{Limit: lex.Ptr[int64](10), Cursor: "c"})
			return err
		}, "GET", "app.bsky.feed.getTimeline", url.Values{"limit": {"10"}, "cursor": {"c"}}, ""},
		{"GetAuthorFeed", func() error { _, err := a.GetAuthorFeed(ctx, "bob.test"); return err },
			"GET", "app.bsky.feed.getAuthorFeed", url.Values{"actor": {"bob.test"}}, ""},
		{"GetActorLikes", func() error { _, err := a.GetActorLikes(ctx, "did:plc:alice"); return err },
			"GET", "app.bsky.feed.getActorLikes", url.Values{"actor": {"did:plc:alice"}}, ""},
		{"GetPostThread", func() error {
			_, err := a.GetPostThread(ctx, post, &bsky.FeedGetPostThreadParams{Depth: lex.Ptr[int64](0)})
			return err
		}, "GET", "app.bsky.feed.getPostThread", url.Values{"uri": {post}, "depth": {"0"}}, ""},
		{"GetPosts", func() error { _, err := a.GetPosts(ctx, []string{post, post + "2"}); return err },
			"GET", "app.bsky.feed.getPosts", url.Values{"uris": {post, post + "2"}}, ""},
		{"GetLikes", func() error { _, err := a.GetLikes(ctx, post); return err },
			"GET", "app.bsky.feed.getLikes", url.Values{"uri": {post}}, ""},
		{"GetRepostedBy", func() error { _, err := a.GetRepostedBy(ctx, post); return err },
			"GET", "app.bsky.feed.getRepostedBy", url.Values{"uri": {post}}, ""},
		{"GetFollows", func() error { _, err := a.GetFollows(ctx, "bob.test"); return err },
			"GET", "app.bsky.graph.getFollows", url.Values{"actor": {"bob.test"}}, ""},
		{"GetFollowers", func() error { _, err := a.GetFollowers(ctx, "bob.test"); return err },
			"GET", "app.bsky.graph.getFollowers", url.Values{"actor": {"bob.test"}}, ""},
		{"GetProfile", func() error { _, err := a.GetProfile(ctx, "bob.test"); return err },
			"GET", "app.bsky.actor.getProfile", url.Values{"actor": {"bob.test"}}, ""},
		{"GetProfiles", func() error { _, err := a.GetProfiles(ctx, []string{"bob.test", "did:plc:carol"}); return err },
			"GET", "app.bsky.actor.getProfiles", url.Values{"actors": {"bob.test", "did:plc:carol"}}, ""},
		{"GetSuggestions", func() error { _, err := a.GetSuggestions(ctx); return err },
			"GET", "app.bsky.actor.getSuggestions", url.Values{}, ""},
		{"SearchActors", func() error { _, err := a.SearchActors(ctx, &bsky.ActorSearchActorsParams{Q: "gopher"}); return err },
			"GET", "app.bsky.actor.searchActors", url.Values{"q": {"gopher"}}, ""},
		{"SearchActorsTypeahead", func() error {
			_, err := a.SearchActorsTypeahead(ctx, &bsky.ActorSearchActorsTypeaheadParams{Q: "go", Limit: lex.Ptr[int64](5)})
			return err
		}, "GET", "app.bsky.actor.searchActorsTypeahead", url.Values{"q": {"go"}, "limit": {"5"}}, ""},
		{"ListNotifications", func() error { _, err := a.ListNotifications(ctx); return err },
			"GET", "app.bsky.notification.listNotifications", url.Values{}, ""},
		{"CountUnreadNotifications", func() error { _, err := a.CountUnreadNotifications(ctx); return err },
			"GET", "app.bsky.notification.getUnreadCount", url.Values{}, ""},
		{"GetLabelers", func() error {
			_, err := a.GetLabelers(ctx, []string{"did:plc:lab"}, &bsky.LabelerGetServicesParams{Detailed: lex.Ptr(true)})
			return err
		}, "GET", "app.bsky.labeler.getServices", url.Values{"dids": {"did:plc:lab"}, "detailed": {"true"}}, ""},
		{"ResolveHandle", func() error { _, err := a.ResolveHandle(ctx, "bob.test"); return err },
			"GET", "com.atproto.identity.resolveHandle", url.Values{"handle": {"bob.test"}}, ""},
		{"UpdateHandle", func() error {
			return a.UpdateHandle(ctx, &atproto.IdentityUpdateHandleInput{Handle: "alice.example.com"})
		},
			"POST", "com.atproto.identity.updateHandle", url.Values{}, `{"handle":"alice.example.com"}`},
		{"CreateModerationReport", func() error {
			_, err := a.CreateModerationReport(ctx, &atproto.ModerationCreateReportInput{
				ReasonType: atproto.ModerationDefsReasonTypeReasonSpam,
				Reason:     lex.Ptr("spam"),
				Subject:    &atproto.AdminDefsRepoRef{DID: "did:plc:spammer"},
			})
			return err
		}, "POST", "com.atproto.moderation.createReport", url.Values{},
			`{"reasonType":"com.atproto.moderation.defs#reasonSpam","reason":"spam","subject":{"$type":"com.atproto.admin.defs#repoRef","did":"did:plc:spammer"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.on(tt.nsid, ok(`{}`))
			if err := tt.do(); err != nil {
				t.Fatal(err)
			}
			c := f.takeOne()
			if c.Method != tt.method || c.NSID != tt.nsid {
				t.Errorf("call = %s %s, want %s %s", c.Method, c.NSID, tt.method, tt.nsid)
			}
			wantQuery(t, c, tt.query)
			if tt.body != "" {
				wantJSON(t, c.Body, tt.body)
			} else if c.Body != "" {
				t.Errorf("body = %q, want none", c.Body)
			}
			wantProxy := ""
			if strings.HasPrefix(tt.nsid, "app.bsky.") {
				wantProxy = BskyAppViewProxy
			}
			if got := c.Header.Get("Atproto-Proxy"); got != wantProxy {
				t.Errorf("atproto-proxy = %q, want %q", got, wantProxy)
			}
			if got := c.Header.Get("Atproto-Accept-Labelers"); got != BskyModerationLabeler+";redact" {
				t.Errorf("atproto-accept-labelers = %q", got)
			}
		})
	}
}

func TestUploadBlob(t *testing.T) {
	f := newFake(t)
	f.on("com.atproto.repo.uploadBlob", ok(`{"blob":`+imageJSON+`}`))
	out, err := f.agent().UploadBlob(context.Background(), strings.NewReader("\xff\xd8\xff jpeg bytes"), "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	if out.Blob == nil || out.Blob.Ref != image.Ref || out.Blob.Size != 1234 {
		t.Errorf("blob = %+v", out.Blob)
	}
	c := f.takeOne()
	if c.Method != http.MethodPost || c.Body != "\xff\xd8\xff jpeg bytes" || c.Header.Get("Content-Type") != "image/jpeg" || c.Header.Get("Atproto-Proxy") != "" {
		t.Errorf("call = %s %q, content type %q, proxy %q", c.Method, c.Body, c.Header.Get("Content-Type"), c.Header.Get("Atproto-Proxy"))
	}
}

func feedPage(cursor string, uris ...string) reply {
	var items []string
	for _, u := range uris {
		items = append(items, `{"post":{"uri":"`+u+`","cid":"bafyc","author":{"did":"did:plc:bob","handle":"bob.test"},"record":{},"indexedAt":"2024-01-01T00:00:00Z"}}`)
	}
	body := `{"feed":[` + strings.Join(items, ",") + `]`
	if cursor != "" {
		body += `,"cursor":"` + cursor + `"`
	}
	return ok(body + "}")
}

func TestTimelinePages(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	f.on("app.bsky.feed.getTimeline", feedPage("c1", "at://p/1", "at://p/2"), feedPage("c2", "at://p/3"), feedPage("", "at://p/4"))
	a := f.agent()
	var got []string
	for item, err := range a.Timeline(ctx, &bsky.FeedGetTimelineParams{Limit: lex.Ptr[int64](2)}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, item.Post.URI)
	}
	if strings.Join(got, " ") != "at://p/1 at://p/2 at://p/3 at://p/4" {
		t.Errorf("items = %q", got)
	}
	calls := f.wantCalls("GET app.bsky.feed.getTimeline", "GET app.bsky.feed.getTimeline", "GET app.bsky.feed.getTimeline")
	for i, cursor := range []string{"", "c1", "c2"} {
		want := url.Values{"limit": {"2"}}
		if cursor != "" {
			want.Set("cursor", cursor)
		}
		wantQuery(t, calls[i], want)
		if calls[i].Header.Get("Atproto-Proxy") != BskyAppViewProxy {
			t.Errorf("page %d not proxied", i)
		}
	}

	// Breaking out fetches no more pages.
	f.on("app.bsky.feed.getAuthorFeed", feedPage("c1", "at://p/1", "at://p/2"), feedPage("", "at://p/3"))
	for range a.AuthorFeed(ctx, "bob.test") {
		break
	}
	f.wantCalls("GET app.bsky.feed.getAuthorFeed")

	// An error ends the iteration, after the items before it.
	f.on("app.bsky.graph.getFollowers",
		ok(`{"subject":{"did":"did:plc:bob","handle":"bob.test"},"followers":[{"did":"did:plc:x","handle":"x.test"}],"cursor":"c1"}`),
		xrpcErr(http.StatusBadGateway, "UpstreamFailure", "appview down"))
	var n int
	var last error
	for _, err := range a.Followers(ctx, "bob.test") {
		if err != nil {
			last = err
			continue
		}
		n++
	}
	var xe *lex.Error
	if n != 1 || !errors.As(last, &xe) || xe.StatusCode != http.StatusBadGateway {
		t.Errorf("%d items, error %v", n, last)
	}
}

// TestAgentIsResolver checks that the Agent resolves mentions for
// richtext through com.atproto.identity.resolveHandle.
func TestAgentIsResolver(t *testing.T) {
	f := newFake(t)
	f.on("com.atproto.identity.resolveHandle", ok(`{"did":"did:plc:bob"}`))
	facets, err := richtext.DetectFacets(context.Background(), "hi @bob.test", f.agent())
	if err != nil {
		t.Fatal(err)
	}
	if len(facets) != 1 || facets[0].Features[0].(*bsky.RichtextFacetMention).DID != "did:plc:bob" {
		t.Errorf("facets = %v", facets)
	}
	wantQuery(t, f.takeOne(), url.Values{"handle": {"bob.test"}})
}
