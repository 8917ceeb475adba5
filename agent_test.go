package atp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/chat"
	"github.com/atpgo/atp/agent/lex"
)

const profileJSON = `{"did":"did:plc:bob","handle":"bob.test"}`

func TestRouting(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	f.on("app.bsky.actor.getProfile", ok(profileJSON))
	f.on("chat.bsky.convo.listConvos", ok(`{"convos":[]}`))
	f.on("com.atproto.repo.getRecord", ok(`{"uri":"at://did:plc:bob/app.bsky.feed.post/1","value":{"$type":"app.bsky.feed.post","text":"","createdAt":"2024-01-01T00:00:00Z"}}`))
	f.on("app.bsky.actor.getPreferences", ok(`{"preferences":[]}`))
	const defaultLabelers = "did:plc:ar7c4by46qjdydhdevvrndac;redact"

	type want struct{ proxy, labelers string }
	check := func(t *testing.T, a *Agent, call func(*Agent) error, w want) {
		t.Helper()
		if err := call(a); err != nil {
			t.Fatal(err)
		}
		c := f.takeOne()
		if got := c.Header.Get("Atproto-Proxy"); got != w.proxy || len(c.Header.Values("Atproto-Proxy")) > 1 {
			t.Errorf("%s: atproto-proxy = %q, want %q", c.NSID, c.Header.Values("Atproto-Proxy"), w.proxy)
		}
		if got := c.Header.Values("Atproto-Accept-Labelers"); (len(got) == 0 && w.labelers != "") || (len(got) > 0 && (len(got) != 1 || got[0] != w.labelers)) {
			t.Errorf("%s: atproto-accept-labelers = %q, want %q", c.NSID, got, w.labelers)
		}
	}
	getProfile := func(a *Agent) error { _, err := bsky.ActorGetProfile(ctx, a, "bob.test", nil); return err }
	listConvos := func(a *Agent) error { _, err := chat.ConvoListConvos(ctx, a, nil); return err }
	getRecord := func(a *Agent) error {
		_, err := atproto.RepoGetRecord(ctx, a, "did:plc:bob", "app.bsky.feed.post", "1", nil)
		return err
	}
	getPrefs := func(a *Agent) error { _, err := bsky.ActorGetPreferences(ctx, a, nil); return err }
	withHeader := func(h http.Header) func(a *Agent) error {
		return func(a *Agent) error {
			resp, err := a.Do(ctx, &lex.Request{Method: http.MethodGet, NSID: "app.bsky.actor.getProfile", Params: url.Values{"actor": {"bob.test"}}, Header: h})
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
	}

	auth := f.agent()
	t.Run("authenticated app.bsky goes to the AppView", func(t *testing.T) {
		check(t, auth, getProfile, want{BskyAppViewProxy, defaultLabelers})
	})
	t.Run("authenticated chat.bsky goes to the chat service", func(t *testing.T) {
		check(t, auth, listConvos, want{BskyChatProxy, defaultLabelers})
	})
	t.Run("com.atproto stays on the PDS", func(t *testing.T) {
		check(t, auth, getRecord, want{"", defaultLabelers})
	})
	t.Run("preferences stay on the PDS", func(t *testing.T) {
		check(t, auth, getPrefs, want{"", defaultLabelers})
	})
	t.Run("a header on the request wins", func(t *testing.T) {
		check(t, auth, withHeader(http.Header{"Atproto-Proxy": {"did:web:other#svc"}}), want{"did:web:other#svc", defaultLabelers})
	})
	t.Run("labelers on the request are kept", func(t *testing.T) {
		check(t, auth, withHeader(http.Header{"Atproto-Accept-Labelers": {"did:plc:extra"}}), want{BskyAppViewProxy, defaultLabelers + ", did:plc:extra"})
	})
	t.Run("WithProxy applies to every call of the copy only", func(t *testing.T) {
		mod := auth.WithProxy("did:plc:mod", "atproto_labeler")
		check(t, mod, getRecord, want{"did:plc:mod#atproto_labeler", defaultLabelers})
		check(t, mod, getProfile, want{"did:plc:mod#atproto_labeler", defaultLabelers})
		check(t, auth, getProfile, want{BskyAppViewProxy, defaultLabelers})
	})
	t.Run("configured proxies and labelers", func(t *testing.T) {
		a := f.agent(WithAppViewProxy("did:web:appview.test#bsky_appview"), WithChatProxy("did:web:chat.test#bsky_chat"), WithLabelers("did:plc:l1", "did:plc:l2"))
		check(t, a, getProfile, want{"did:web:appview.test#bsky_appview", defaultLabelers + ", did:plc:l1, did:plc:l2"})
		check(t, a, listConvos, want{"did:web:chat.test#bsky_chat", defaultLabelers + ", did:plc:l1, did:plc:l2"})
		b := a.With(WithAppLabelers("did:plc:app"), WithLabelers())
		check(t, b, getProfile, want{"did:web:appview.test#bsky_appview", "did:plc:app;redact"})
		check(t, a, getProfile, want{"did:web:appview.test#bsky_appview", defaultLabelers + ", did:plc:l1, did:plc:l2"})
		check(t, f.agent(WithAppLabelers(), WithAppViewProxy("")), getProfile, want{"", ""})
	})
	t.Run("without an account nothing is proxied", func(t *testing.T) {
		pub := f.public()
		check(t, pub, getProfile, want{"", defaultLabelers})
		check(t, pub.WithProxy("did:plc:mod", "atproto_labeler"), getProfile, want{"", defaultLabelers})
	})
}

func TestAgentAccessors(t *testing.T) {
	f := newFake(t)
	a := f.agent(WithLabelers("did:plc:l1"))
	if a.DID() != testDID || a.Service() != f.srv.URL {
		t.Errorf("DID, Service = %q, %q", a.DID(), a.Service())
	}
	if got := a.Labelers(); len(got) != 2 || got[0] != BskyModerationLabeler || got[1] != "did:plc:l1" {
		t.Errorf("Labelers = %q", got)
	}
	p := NewAgent(Public())
	if p.DID() != "" || p.Service() != PublicAppView {
		t.Errorf("Public: DID, Service = %q, %q", p.DID(), p.Service())
	}
}

func TestDoErrors(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	f.on("app.bsky.actor.getProfile", reply{
		status: http.StatusTooManyRequests,
		body:   `{"error":"RateLimitExceeded","message":"slow down"}`,
		header: http.Header{"Ratelimit-Remaining": {"0"}, "Ratelimit-Reset": {"1700000000"}},
	})
	f.on("com.atproto.repo.putRecord", xrpcErr(http.StatusBadRequest, "InvalidSwap", "record was at bafyother"))
	a := f.agent()
	_, err := bsky.ActorGetProfile(ctx, a, "bob.test", nil)
	var xe *lex.Error
	if !errors.As(err, &xe) {
		t.Fatalf("err = %v, want *lex.Error", err)
	}
	if xe.StatusCode != 429 || xe.Name != "RateLimitExceeded" || xe.Message != "slow down" || xe.Header.Get("RateLimit-Remaining") != "0" {
		t.Errorf("error = %+v", xe)
	}
	_, err = atproto.RepoPutRecord(ctx, a, &atproto.RepoPutRecordInput{Repo: testDID, Collection: "app.bsky.actor.profile", Rkey: "self", Record: &bsky.ActorProfile{}})
	if !errors.Is(err, atproto.ErrRepoPutRecordInvalidSwap) {
		t.Errorf("err = %v, want InvalidSwap", err)
	}
	f.take()

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := bsky.ActorGetProfile(canceled, a, "bob.test", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: err = %v", err)
	}
}

func TestFirstParams(t *testing.T) {
	p := &bsky.FeedGetTimelineParams{Cursor: "c"}
	if firstParams[bsky.FeedGetTimelineParams](nil) != nil || firstParams([]*bsky.FeedGetTimelineParams{p}) != p {
		t.Error("firstParams")
	}
}
