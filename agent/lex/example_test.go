package lex_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
)

// A generated call sends its request through any lex.Client; HTTPClient
// talks to one service with an *http.Client (an OAuth session's, for one).
func ExampleHTTPClient() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/xrpc/app.bsky.actor.getProfile":
			fmt.Fprintf(w, `{"did":"did:plc:alice","handle":%q,"followersCount":3}`, r.URL.Query().Get("actor"))
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"RecordNotFound","message":"Could not locate record"}`)
		}
	}))
	defer srv.Close()
	c := &lex.HTTPClient{Host: srv.URL}
	ctx := context.Background()

	profile, err := bsky.ActorGetProfile(ctx, c, "alice.test", nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(profile.Handle, profile.DID, profile.GetFollowersCount(), profile.GetFollowsCount())

	_, err = atproto.RepoGetRecord(ctx, c, "alice.test", "app.bsky.feed.post", "3k", nil)
	var xe *lex.Error
	fmt.Println(errors.As(err, &xe), xe.StatusCode, errors.Is(err, atproto.ErrRepoGetRecordRecordNotFound))
	// Output:
	// alice.test did:plc:alice 3 0
	// true 400 true
}

// FeedGetTimelinePages follows cursors; each iteration is one page.
func Example_pages() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := map[string]string{"": "page2", "page2": ""}[r.URL.Query().Get("cursor")]
		fmt.Fprintf(w, `{"cursor":%q,"feed":[{"post":{"uri":"at://did:plc:alice/app.bsky.feed.post/%s","cid":"bafy","author":{"did":"did:plc:alice","handle":"alice.test"},"record":{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2026-12-03T00:00:00Z"},"indexedAt":"2026-12-03T00:00:00Z"}}]}`, next, r.URL.Query().Get("cursor"))
	}))
	defer srv.Close()
	c := &lex.HTTPClient{Host: srv.URL}

	for page, err := range bsky.FeedGetTimelinePages(context.Background(), c, &bsky.FeedGetTimelineParams{Limit: lex.Ptr[int64](1)}) {
		if err != nil {
			panic(err)
		}
		for _, item := range page.Feed {
			post := item.Post.Record.(*bsky.FeedPost) // known record types decode to their Go type
			fmt.Println(item.Post.URI, post.Text)
		}
	}
	// Output:
	// at://did:plc:alice/app.bsky.feed.post/ hi
	// at://did:plc:alice/app.bsky.feed.post/page2 hi
}
