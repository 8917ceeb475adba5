package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/atpgo/atp"
	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/oauthtransport"
)

func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"-did", "did:plc:abc"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.every != time.Hour || o.count != 0 || o.dataDir != "data" {
		t.Errorf("defaults: %+v", o)
	}
	if _, err := parseOptions([]string{"-login", "alice.test"}, io.Discard); err != nil {
		t.Errorf("-login: %v", err)
	}
	if o, err := parseOptions([]string{"-did", "did:plc:abc", "-dev", "-every", "2s"}, io.Discard); err != nil || o.every != 2*time.Second {
		t.Errorf("-dev -every 2s: %v", err)
	}
	for _, args := range [][]string{
		{},
		{"-did", "alice.test"},
		{"-did", "did:plc:abc", "-every", "10s"},
		{"-did", "did:plc:abc", "-dev", "-every", "0s"},
		{"-did", "did:plc:abc", "-count", "-1"},
		{"-did", "did:plc:abc", "extra"},
	} {
		t.Setenv("BOT_DID", "")
		if _, err := parseOptions(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestRenderText(t *testing.T) {
	tmpl, err := parseText(`Post {{.N}} at {{.Time.Format "15:04"}}`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := renderText(tmpl, 3, time.Date(2026, 12, 3, 9, 5, 0, 0, time.UTC))
	if err != nil || got != "Post 3 at 09:05" {
		t.Fatalf("%q, %v", got, err)
	}
	for _, bad := range []string{"{{.Nope}}", "{{", "   ", "{{if false}}x{{end}}"} {
		if _, err := parseText(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParsePostURI(t *testing.T) {
	repo, rkey, err := parsePostURI("at://did:plc:abc/app.bsky.feed.post/3k2yihcrp6f2c")
	if err != nil || repo != "did:plc:abc" || rkey != "3k2yihcrp6f2c" {
		t.Fatalf("%q %q %v", repo, rkey, err)
	}
	for _, bad := range []string{"", "https://bsky.app/profile/x/post/y", "at://did:plc:abc/app.bsky.feed.like/3k2y", "at://did:plc:abc"} {
		if _, _, err := parsePostURI(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestReplyRefTo(t *testing.T) {
	root := &atproto.RepoStrongRef{URI: "at://did:plc:a/app.bsky.feed.post/root", CID: "bafyroot"}
	top := &atp.PostRecord{URI: "at://did:plc:a/app.bsky.feed.post/top", CID: "bafytop", Value: &bsky.FeedPost{Text: "hi"}}
	ref, err := replyRefTo(top)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Root.URI != top.URI || ref.Parent.URI != top.URI || ref.Parent.CID != "bafytop" {
		t.Errorf("reply to a top-level post: %+v %+v", ref.Root, ref.Parent)
	}
	inThread := &atp.PostRecord{URI: "at://did:plc:b/app.bsky.feed.post/mid", CID: "bafymid",
		Value: &bsky.FeedPost{Text: "re", Reply: &bsky.FeedPostReplyRef{Root: root, Parent: root}}}
	ref, err = replyRefTo(inThread)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Root != root || ref.Parent.URI != inThread.URI {
		t.Errorf("reply in a thread: %+v %+v", ref.Root, ref.Parent)
	}
	if _, err := replyRefTo(&atp.PostRecord{URI: top.URI}); err == nil {
		t.Error("post without CID accepted")
	}
}

func TestSessionDeleted(t *testing.T) {
	// A DID that never signed in: the bot stops with the "sign in again"
	// message (exit status 2 in main), without any network.
	err := run(context.Background(), []string{"-data", t.TempDir(), "-did", "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "-count", "1"}, io.Discard, io.Discard)
	var de *sessionDeletedError
	if !errors.As(err, &de) || !errors.Is(err, oauthtransport.ErrSessionNotFound) {
		t.Fatalf("err = %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "-login") || !strings.Contains(msg, "did:plc:ewvi7nxzyoun6zhxrhs64oiz") {
		t.Errorf("message: %s", msg)
	}
	for _, e := range []error{
		&oauthtransport.RefreshError{DID: "d", Deleted: true, Err: errors.New("invalid_grant")},
		oauthtransport.ErrTokenRevoked,
	} {
		if !sessionGone(e) {
			t.Errorf("sessionGone(%v) = false", e)
		}
	}
	if sessionGone(&oauthtransport.RefreshError{DID: "d", Err: context.DeadlineExceeded}) {
		t.Error("a transient refresh failure ends the bot")
	}
}
