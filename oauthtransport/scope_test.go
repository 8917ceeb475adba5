package oauthtransport

import (
	"strings"
	"testing"
)

func TestParseScope(t *testing.T) {
	good := []string{
		"atproto", "atproto transition:generic transition:email transition:chat.bsky",
		"repo:app.bsky.feed.post", "repo:*", "repo:app.bsky.feed.post?action=create&action=delete",
		"repo?collection=app.bsky.feed.post&collection=app.bsky.feed.like",
		"rpc:app.bsky.feed.getTimeline?aud=did:web:api.bsky.app%23bsky_appview", "rpc:*?aud=did:web:api.bsky.app%23bsky_appview",
		"rpc?lxm=app.bsky.actor.getProfile&aud=*",
		"blob:image/*", "blob:*/*", "blob?accept=video/mp4&accept=image/png",
		"account:email", "account:repo?action=manage", "identity:handle", "identity:*",
		"include:app.bsky.authFull", "include:com.example.perms?aud=did:web:example.com%23svc",
	}
	for _, s := range good {
		if _, err := ParseScope(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	bad := []string{
		"openid", "transition:other", "repo", "repo:not an nsid", "repo:app.bsky.feed.post?action=read",
		"repo:app.bsky.feed.post?bogus=1", "rpc:app.bsky.feed.getTimeline", "rpc:*?aud=*",
		"rpc:app.bsky.x?aud=did:web:api.bsky.app", "blob:image", "blob:*/png", "account:password",
		"account:email?action=delete", "identity:email", "include:*", "repo:app.bsky.feed.post?collection=x.y.z",
		"repo:%zz",
	}
	for _, s := range bad {
		if _, err := ParseScope("atproto " + s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestScopesAllow(t *testing.T) {
	s, err := ParseScope("atproto repo:app.bsky.feed.post?action=create repo:app.bsky.feed.like " +
		"rpc:app.bsky.feed.getTimeline?aud=did:web:api.bsky.app%23bsky_appview rpc:app.bsky.actor.getProfile?aud=* blob:image/*")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		got, want bool
		what      string
	}{
		{s.AllowsRepo("app.bsky.feed.post", "create"), true, "post create"},
		{s.AllowsRepo("app.bsky.feed.post", "delete"), false, "post delete"},
		{s.AllowsRepo("app.bsky.feed.like", "delete"), true, "like, any action"},
		{s.AllowsRepo("app.bsky.graph.follow", "create"), false, "follow"},
		{s.AllowsRPC("app.bsky.feed.getTimeline", "did:web:api.bsky.app#bsky_appview"), true, "timeline"},
		{s.AllowsRPC("app.bsky.feed.getTimeline", "did:web:evil.example#svc"), false, "timeline elsewhere"},
		{s.AllowsRPC("app.bsky.actor.getProfile", "did:web:any.example#svc"), true, "profile, any aud"},
		{s.AllowsRPC("chat.bsky.convo.listConvos", "did:web:api.bsky.chat#bsky_chat"), false, "chat"},
		{s.AllowsBlob("image/png"), true, "png"},
		{s.AllowsBlob("video/mp4"), false, "mp4"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	g, _ := ParseScope("atproto transition:generic")
	if !g.AllowsRepo("x.y.z", "delete") || !g.AllowsRPC("app.bsky.x", "did:web:a#b") || g.AllowsRPC("chat.bsky.convo.x", "did:web:a#b") || !g.AllowsBlob("video/mp4") {
		t.Error("transition:generic")
	}
	chat, _ := ParseScope("atproto transition:chat.bsky")
	if !chat.AllowsRPC("chat.bsky.convo.x", "did:web:a#b") || chat.AllowsRPC("app.bsky.x", "did:web:a#b") {
		t.Error("transition:chat.bsky")
	}
	if a, _ := ParseScope("atproto"); a.AllowsRepo("app.bsky.feed.post", "create") || a.AllowsRPC("x.y.z", "*") {
		t.Error("bare atproto grants nothing")
	}
}

func FuzzParseScope(f *testing.F) {
	f.Add("atproto repo:app.bsky.feed.post?action=create rpc:*?aud=did:web:x.com%23y blob:image/*")
	f.Add("include:a.b.c?aud=did:plc:x#y")
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseScope(s)
		if err != nil {
			return
		}
		if len(sc) != len(strings.Fields(s)) {
			t.Fatalf("%q: %d permissions", s, len(sc))
		}
	})
}
