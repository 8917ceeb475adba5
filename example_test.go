package atp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/atpgo/atp"
	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
)

// examplePDS is a stand-in for a PDS: it prints what it receives and
// answers a few calls.
func examplePDS() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		nsid := strings.TrimPrefix(r.URL.Path, "/xrpc/")
		fmt.Printf("%s %s %s proxy=%q\n", r.Method, nsid, r.URL.RawQuery, r.Header.Get("Atproto-Proxy"))
		if len(body) > 0 {
			var v any
			json.Unmarshal(body, &v)
			pretty, _ := json.Marshal(v)
			fmt.Printf("  %s\n", pretty)
		}
		w.Header().Set("Content-Type", "application/json")
		switch nsid {
		case "com.atproto.server.createSession":
			fmt.Fprint(w, `{"did":"did:plc:alice","handle":"alice.test","accessJwt":"a","refreshJwt":"r"}`)
		case "app.bsky.actor.getProfile":
			fmt.Fprint(w, `{"did":"did:plc:bob","handle":"bob.test","displayName":"Bob","followersCount":42}`)
		case "com.atproto.identity.resolveHandle":
			fmt.Fprint(w, `{"did":"did:plc:bob"}`)
		case "com.atproto.repo.getRecord":
			fmt.Fprint(w, `{"uri":"at://did:plc:alice/app.bsky.actor.profile/self","cid":"bafyreiprofilev1","value":{"$type":"app.bsky.actor.profile","displayName":"Alice"}}`)
		case "com.atproto.repo.putRecord":
			fmt.Fprint(w, `{"uri":"at://did:plc:alice/app.bsky.actor.profile/self","cid":"bafyreiprofilev2"}`)
		case "app.bsky.feed.getTimeline":
			if r.URL.Query().Get("cursor") == "" {
				fmt.Fprint(w, `{"feed":[{"post":{"uri":"at://did:plc:bob/app.bsky.feed.post/1","cid":"c","author":{"did":"did:plc:bob","handle":"bob.test"},"record":{},"indexedAt":"2024-01-01T00:00:00Z"}}],"cursor":"page2"}`)
			} else {
				fmt.Fprint(w, `{"feed":[{"post":{"uri":"at://did:plc:bob/app.bsky.feed.post/2","cid":"c","author":{"did":"did:plc:bob","handle":"bob.test"},"record":{},"indexedAt":"2024-01-01T00:00:00Z"}}]}`)
			}
		case "com.atproto.repo.createRecord":
			fmt.Fprint(w, `{"uri":"at://did:plc:alice/app.bsky.feed.post/3kabc","cid":"bafyreib2rxk3rh6kzwq"}`)
		default:
			w.WriteHeader(http.StatusNotImplemented)
			fmt.Fprint(w, `{"error":"MethodNotImplemented"}`)
		}
	}))
}

// Read without an account: NewAgent(atp.Public()) talks to the public
// AppView; here an HTTPTransport points at a stand-in.
func ExampleNewAgent() {
	srv := examplePDS()
	defer srv.Close()
	agent := atp.NewAgent(&atp.HTTPTransport{URL: srv.URL})

	profile, err := agent.GetProfile(context.Background(), "bob.test")
	if err != nil {
		panic(err)
	}
	fmt.Println(profile.GetDisplayName(), profile.GetFollowersCount())
	// Output:
	// GET app.bsky.actor.getProfile actor=bob.test proxy=""
	// Bob 42
}

// A bot signs in with an app password; the Agent then routes app.bsky
// calls through the PDS to the AppView.
func ExamplePasswordSession() {
	srv := examplePDS()
	defer srv.Close()
	ctx := context.Background()

	sess, err := atp.PasswordSession(ctx, srv.URL, "alice.test", "xxxx-xxxx-xxxx-xxxx")
	if err != nil {
		panic(err)
	}
	agent := atp.NewAgent(sess)
	if _, err := agent.GetProfile(ctx, "bob.test"); err != nil {
		panic(err)
	}
	fmt.Println(agent.DID())
	// Output:
	// POST com.atproto.server.createSession  proxy=""
	//   {"identifier":"alice.test","password":"xxxx-xxxx-xxxx-xxxx"}
	// GET app.bsky.actor.getProfile actor=bob.test proxy="did:web:api.bsky.app#bsky_appview"
	// did:plc:alice
}

// Post detects the mention, hashtag and link in the text, resolving the
// handle to a DID, and sends the post with their byte offsets.
func ExampleAgent_Post() {
	srv := examplePDS()
	defer srv.Close()
	agent := atp.NewAgent(&atp.HTTPTransport{URL: srv.URL, AccountDID: "did:plc:alice"})

	ref, err := agent.Post(context.Background(), atp.PostInput{
		Text:         "héllo @bob.test #go https://go.dev",
		DetectFacets: true,
		Langs:        []string{"en"},
		CreatedAt:    mustTime("2024-05-06T07:08:09Z"),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(ref.URI)
	// Output:
	// GET com.atproto.identity.resolveHandle handle=bob.test proxy=""
	// POST com.atproto.repo.createRecord  proxy=""
	//   {"collection":"app.bsky.feed.post","record":{"$type":"app.bsky.feed.post","createdAt":"2024-05-06T07:08:09.000Z","facets":[{"features":[{"$type":"app.bsky.richtext.facet#mention","did":"did:plc:bob"}],"index":{"byteEnd":16,"byteStart":7}},{"features":[{"$type":"app.bsky.richtext.facet#tag","tag":"go"}],"index":{"byteEnd":20,"byteStart":17}},{"features":[{"$type":"app.bsky.richtext.facet#link","uri":"https://go.dev"}],"index":{"byteEnd":35,"byteStart":21}}],"langs":["en"],"text":"héllo @bob.test #go https://go.dev"},"repo":"did:plc:alice"}
	// at://did:plc:alice/app.bsky.feed.post/3kabc
}

// A post that breaks its lexicon's limits is refused before anything is
// sent.
func ExampleAgent_Post_validation() {
	srv := examplePDS()
	defer srv.Close()
	agent := atp.NewAgent(&atp.HTTPTransport{URL: srv.URL, AccountDID: "did:plc:alice"})

	_, err := agent.Post(context.Background(), atp.PostInput{Text: strings.Repeat("🦫", 301)})
	var ve *lex.ValidationError
	fmt.Println(errors.As(err, &ve), ve.Path)
	// Output:
	// true text
}

// Any endpoint is a generated call with the Agent as its client; with
// WithProxy, calls go to another service through the PDS.
func ExampleAgent_WithProxy() {
	srv := examplePDS()
	defer srv.Close()
	agent := atp.NewAgent(&atp.HTTPTransport{URL: srv.URL, AccountDID: "did:plc:alice"})

	_, err := bsky.ActorGetProfile(context.Background(), agent.WithProxy("did:web:appview.example.com", "bsky_appview"), "bob.test", nil)
	fmt.Println(err)
	_, err = atproto.RepoDescribeRepo(context.Background(), agent, "did:plc:alice", nil)
	var xe *lex.Error
	fmt.Println(errors.As(err, &xe), xe.StatusCode, xe.Name)
	// Output:
	// GET app.bsky.actor.getProfile actor=bob.test proxy="did:web:appview.example.com#bsky_appview"
	// <nil>
	// GET com.atproto.repo.describeRepo repo=did%3Aplc%3Aalice proxy=""
	// true 501 MethodNotImplemented
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// UpsertProfile reads the profile, lets the function change it, and writes
// it back only if nobody changed it in between (swapRecord).
func ExampleAgent_UpsertProfile() {
	srv := examplePDS()
	defer srv.Close()
	agent := atp.NewAgent(&atp.HTTPTransport{URL: srv.URL, AccountDID: "did:plc:alice"})

	err := agent.UpsertProfile(context.Background(), func(p *bsky.ActorProfile) (*bsky.ActorProfile, error) {
		if p == nil {
			p = new(bsky.ActorProfile)
		}
		p.Description = lex.Ptr("Gopher.")
		return p, nil
	})
	fmt.Println(err)
	// Output:
	// GET com.atproto.repo.getRecord collection=app.bsky.actor.profile&repo=did%3Aplc%3Aalice&rkey=self proxy=""
	// POST com.atproto.repo.putRecord  proxy=""
	//   {"collection":"app.bsky.actor.profile","record":{"$type":"app.bsky.actor.profile","description":"Gopher.","displayName":"Alice"},"repo":"did:plc:alice","rkey":"self","swapRecord":"bafyreiprofilev1"}
	// <nil>
}

// Timeline follows the cursors from page to page.
func ExampleAgent_Timeline() {
	srv := examplePDS()
	defer srv.Close()
	agent := atp.NewAgent(&atp.HTTPTransport{URL: srv.URL, AccountDID: "did:plc:alice"})

	for item, err := range agent.Timeline(context.Background()) {
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(item.Post.URI)
	}
	// Output:
	// GET app.bsky.feed.getTimeline  proxy="did:web:api.bsky.app#bsky_appview"
	// at://did:plc:bob/app.bsky.feed.post/1
	// GET app.bsky.feed.getTimeline cursor=page2 proxy="did:web:api.bsky.app#bsky_appview"
	// at://did:plc:bob/app.bsky.feed.post/2
}
