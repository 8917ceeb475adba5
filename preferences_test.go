package atp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
	"github.com/google/go-cmp/cmp"
)

// prefsPDS stores preferences as a PDS does: getPreferences returns them,
// putPreferences replaces them. Each request takes a moment, so that
// unserialized read-modify-writes would interleave and lose updates.
type prefsPDS struct {
	srv *httptest.Server

	mu    sync.Mutex
	prefs json.RawMessage
	gets  int
	puts  int
	proxy []string
}

func newPrefsPDS(t *testing.T, initial string) *prefsPDS {
	p := &prefsPDS{prefs: json.RawMessage(initial)}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
		p.mu.Lock()
		defer p.mu.Unlock()
		p.proxy = append(p.proxy, r.Header.Get("Atproto-Proxy"))
		switch r.URL.Path {
		case "/xrpc/app.bsky.actor.getPreferences":
			p.gets++
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"preferences":`+string(p.prefs)+`}`)
		case "/xrpc/app.bsky.actor.putPreferences":
			p.puts++
			var in struct{ Preferences json.RawMessage }
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Preferences == nil {
				w.WriteHeader(400)
				return
			}
			p.prefs = in.Preferences
		default:
			w.WriteHeader(501)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *prefsPDS) agent() *Agent {
	return NewAgent(&HTTPTransport{URL: p.srv.URL, Client: p.srv.Client(), AccountDID: testDID})
}

func (p *prefsPDS) stored(t *testing.T) []map[string]any {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var v []map[string]any
	if err := json.Unmarshal(p.prefs, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

const unknownPref = `{"$type":"app.bsky.actor.defs#futurePref","x":1}`

func TestGetPreferences(t *testing.T) {
	p := newPrefsPDS(t, `[
		{"$type":"app.bsky.actor.defs#adultContentPref","enabled":true},
		{"$type":"app.bsky.actor.defs#contentLabelPref","label":"gore","visibility":"warn"},
		{"$type":"app.bsky.actor.defs#contentLabelPref","labelerDid":"did:plc:lab","label":"spam","visibility":"hide"},
		{"$type":"app.bsky.actor.defs#savedFeedsPrefV2","items":[{"id":"3k1","type":"timeline","value":"following","pinned":true}]},
		{"$type":"app.bsky.actor.defs#mutedWordsPref","items":[{"value":"spoiler","targets":["content","tag"]}]},
		{"$type":"app.bsky.actor.defs#hiddenPostsPref","items":["at://did:plc:bob/app.bsky.feed.post/1"]},
		{"$type":"app.bsky.actor.defs#labelersPref","labelers":[{"did":"did:plc:lab"}]},
		`+unknownPref+`
	]`)
	prefs, err := p.agent().GetPreferences(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !prefs.AdultContentEnabled || len(prefs.ContentLabels) != 2 || prefs.ContentLabels[1].GetLabelerDID() != "did:plc:lab" ||
		len(prefs.SavedFeeds) != 1 || prefs.SavedFeeds[0].Value != "following" || !prefs.SavedFeeds[0].Pinned ||
		len(prefs.MutedWords) != 1 || prefs.MutedWords[0].Value != "spoiler" ||
		len(prefs.HiddenPosts) != 1 || len(prefs.Labelers) != 1 || prefs.Labelers[0] != "did:plc:lab" || len(prefs.Raw) != 8 {
		t.Errorf("preferences = %+v", prefs)
	}
	if u, ok := prefs.Raw[7].(*lex.Unknown); !ok || u.Type != "app.bsky.actor.defs#futurePref" {
		t.Errorf("unknown preference = %#v", prefs.Raw[7])
	}
	if diff := cmp.Diff([]string{""}, p.proxy); diff != "" {
		t.Errorf("getPreferences must not be proxied (-want +got):\n%s", diff)
	}
}

func TestPreferenceUpdates(t *testing.T) {
	ctx := context.Background()
	p := newPrefsPDS(t, `[`+unknownPref+`,{"$type":"app.bsky.actor.defs#adultContentPref","enabled":false},{"$type":"app.bsky.actor.defs#adultContentPref","enabled":false}]`)
	a := p.agent()
	steps := []struct {
		name string
		do   func() error
	}{
		{"adult content", func() error { return a.SetAdultContentEnabled(ctx, true) }},
		{"label pref", func() error { return a.SetContentLabelPref(ctx, "gore", "hide", "") }},
		{"label pref again", func() error { return a.SetContentLabelPref(ctx, "gore", "show", "") }},
		{"labeler label pref", func() error { return a.SetContentLabelPref(ctx, "gore", "warn", "did:plc:lab") }},
		{"add labeler", func() error { return a.AddLabeler(ctx, "did:plc:lab") }},
		{"add labeler twice", func() error { return a.AddLabeler(ctx, "did:plc:lab") }},
		{"add labeler 2", func() error { return a.AddLabeler(ctx, "did:plc:lab2") }},
		{"remove labeler", func() error { return a.RemoveLabeler(ctx, "did:plc:lab") }},
		{"hide", func() error { return a.HidePost(ctx, "at://did:plc:bob/app.bsky.feed.post/1") }},
		{"hide 2", func() error { return a.HidePost(ctx, "at://did:plc:bob/app.bsky.feed.post/2") }},
		{"unhide", func() error { return a.UnhidePost(ctx, "at://did:plc:bob/app.bsky.feed.post/1") }},
		{"save feeds", func() error {
			return a.AddSavedFeeds(ctx,
				&bsky.ActorDefsSavedFeed{ID: "tl", Type: "timeline", Value: "following", Pinned: true},
				&bsky.ActorDefsSavedFeed{ID: "f1", Type: "feed", Value: "at://did:plc:f/app.bsky.feed.generator/a"},
				&bsky.ActorDefsSavedFeed{Type: "feed", Value: "at://did:plc:f/app.bsky.feed.generator/b"},
				&bsky.ActorDefsSavedFeed{ID: "dup", Type: "feed", Value: "at://did:plc:f/app.bsky.feed.generator/a"})
		}},
		{"pin", func() error { return a.SetFeedPinned(ctx, "f1", true) }},
		{"remove feed", func() error { return a.RemoveSavedFeeds(ctx, "tl") }},
		{"mute words", func() error {
			return a.AddMutedWords(ctx,
				&bsky.ActorDefsMutedWord{Value: "  #Spoilers ", Targets: []bsky.ActorDefsMutedWordTarget{"tag"}},
				&bsky.ActorDefsMutedWord{Value: "   ", Targets: []bsky.ActorDefsMutedWordTarget{"content"}},
				&bsky.ActorDefsMutedWord{Value: "election", Targets: []bsky.ActorDefsMutedWordTarget{"content"}})
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	got := p.stored(t)
	// Saved feed and muted word IDs are generated: check, then drop them.
	var feedB, spoilersID, electionID string
	for _, pref := range got {
		switch pref["$type"] {
		case "app.bsky.actor.defs#savedFeedsPrefV2":
			items := pref["items"].([]any)
			feedB = items[1].(map[string]any)["id"].(string)
			items[1].(map[string]any)["id"] = "<generated>"
		case "app.bsky.actor.defs#mutedWordsPref":
			for _, it := range pref["items"].([]any) {
				m := it.(map[string]any)
				if m["value"] == "Spoilers" {
					spoilersID = m["id"].(string)
				} else {
					electionID = m["id"].(string)
				}
				m["id"] = "<generated>"
			}
		}
	}
	if len(feedB) != 13 || len(spoilersID) != 13 || len(electionID) != 13 || spoilersID == electionID {
		t.Errorf("generated IDs %q, %q, %q: want distinct TIDs", feedB, spoilersID, electionID)
	}
	var want []map[string]any
	json.Unmarshal([]byte(`[
		`+unknownPref+`,
		{"$type":"app.bsky.actor.defs#adultContentPref","enabled":true},
		{"$type":"app.bsky.actor.defs#contentLabelPref","label":"gore","visibility":"show"},
		{"$type":"app.bsky.actor.defs#contentLabelPref","labelerDid":"did:plc:lab","label":"gore","visibility":"warn"},
		{"$type":"app.bsky.actor.defs#labelersPref","labelers":[{"did":"did:plc:lab2"}]},
		{"$type":"app.bsky.actor.defs#hiddenPostsPref","items":["at://did:plc:bob/app.bsky.feed.post/2"]},
		{"$type":"app.bsky.actor.defs#savedFeedsPrefV2","items":[
			{"id":"f1","type":"feed","value":"at://did:plc:f/app.bsky.feed.generator/a","pinned":true},
			{"id":"<generated>","type":"feed","value":"at://did:plc:f/app.bsky.feed.generator/b","pinned":false}]},
		{"$type":"app.bsky.actor.defs#mutedWordsPref","items":[
			{"id":"<generated>","value":"Spoilers","targets":["tag"]},
			{"id":"<generated>","value":"election","targets":["content"]}]}
	]`), &want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored preferences (-want +got):\n%s", diff)
	}

	// Remove and update muted words by ID.
	if err := a.UpdateMutedWord(ctx, &bsky.ActorDefsMutedWord{ID: lex.Ptr(spoilersID), Value: "#spoiler", Targets: []bsky.ActorDefsMutedWordTarget{"tag", "content"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.RemoveMutedWords(ctx, &bsky.ActorDefsMutedWord{ID: lex.Ptr(electionID)}); err != nil {
		t.Fatal(err)
	}
	prefs, err := a.GetPreferences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(prefs.MutedWords) != 1 || prefs.MutedWords[0].Value != "spoiler" || len(prefs.MutedWords[0].Targets) != 2 || prefs.MutedWords[0].GetID() != spoilersID {
		t.Errorf("muted words = %+v", prefs.MutedWords)
	}
	for i, proxy := range p.proxy {
		if proxy != "" {
			t.Errorf("request %d proxied to %q", i, proxy)
		}
	}
}

// TestPreferenceUpdatesSerialized runs concurrent read-modify-writes of
// one account through an Agent, its copies and separate Agents: none may
// be lost.
func TestPreferenceUpdatesSerialized(t *testing.T) {
	ctx := context.Background()
	p := newPrefsPDS(t, `[]`)
	a := p.agent()
	agents := []*Agent{a, a.With(WithLabelers("did:plc:l")), a.WithProxy("did:plc:x", "svc"), p.agent()}
	uris := []string{}
	for i := range 12 {
		uris = append(uris, "at://did:plc:bob/app.bsky.feed.post/"+string(rune('a'+i)))
	}
	var wg sync.WaitGroup
	for i, uri := range uris {
		wg.Go(func() {
			if err := agents[i%len(agents)].HidePost(ctx, uri); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	prefs, err := a.GetPreferences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(prefs.HiddenPosts) != len(uris) {
		t.Errorf("%d hidden posts, want %d: updates were lost", len(prefs.HiddenPosts), len(uris))
	}
}

func TestPreferencesNeedAccount(t *testing.T) {
	p := newPrefsPDS(t, `[]`)
	a := NewAgent(&HTTPTransport{URL: p.srv.URL})
	if err := a.HidePost(context.Background(), "at://x/app.bsky.feed.post/1"); !errors.Is(err, ErrNoAccount) {
		t.Errorf("err = %v", err)
	}
	if p.gets+p.puts != 0 {
		t.Error("sent requests")
	}
}

func TestPreferenceSetters(t *testing.T) {
	ctx := context.Background()
	p := newPrefsPDS(t, `[
		{"$type":"app.bsky.actor.defs#feedViewPref","feed":"home","hideReplies":true},
		{"$type":"app.bsky.actor.defs#feedViewPref","feed":"at://did:plc:f/app.bsky.feed.generator/a","hideReposts":true},
		{"$type":"app.bsky.actor.defs#threadViewPref","sort":"oldest"},
		{"$type":"app.bsky.actor.defs#interestsPref","tags":["art"]}
	]`)
	a := p.agent()
	for name, err := range map[string]error{
		"feed view":    a.SetFeedViewPref(ctx, &bsky.ActorDefsFeedViewPref{Feed: "home", HideReposts: lex.Ptr(true)}),
		"thread view":  a.SetThreadViewPref(ctx, &bsky.ActorDefsThreadViewPref{Sort: lex.Ptr(bsky.ActorDefsThreadViewPref_Sort("newest"))}),
		"interests":    a.SetInterests(ctx, []string{"tech", "science"}),
		"birth date":   a.SetPersonalDetails(ctx, time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC)),
		"verification": a.SetVerificationPrefs(ctx, &bsky.ActorDefsVerificationPrefs{HideBadges: lex.Ptr(true)}),
		"interactions": a.SetPostInteractionSettings(ctx, &bsky.ActorDefsPostInteractionSettingsPref{
			ThreadgateAllowRules:   []bsky.ActorDefsPostInteractionSettingsPref_ThreadgateAllowRules{&bsky.FeedThreadgateMentionRule{}},
			PostgateEmbeddingRules: []bsky.ActorDefsPostInteractionSettingsPref_PostgateEmbeddingRules{&bsky.FeedPostgateDisableRule{}},
		}),
		"overwrite feeds": a.OverwriteSavedFeeds(ctx, []*bsky.ActorDefsSavedFeed{{ID: "tl", Type: "timeline", Value: "following", Pinned: true}}),
	} {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	got := p.stored(t)
	byType := map[string][]map[string]any{}
	for _, pref := range got {
		typ := pref["$type"].(string)
		delete(pref, "$type")
		byType[typ] = append(byType[typ], pref)
	}
	var want map[string][]map[string]any
	json.Unmarshal([]byte(`{
		"app.bsky.actor.defs#feedViewPref":[{"feed":"at://did:plc:f/app.bsky.feed.generator/a","hideReposts":true},{"feed":"home","hideReposts":true}],
		"app.bsky.actor.defs#threadViewPref":[{"sort":"newest"}],
		"app.bsky.actor.defs#interestsPref":[{"tags":["tech","science"]}],
		"app.bsky.actor.defs#personalDetailsPref":[{"birthDate":"1990-01-02T00:00:00.000Z"}],
		"app.bsky.actor.defs#verificationPrefs":[{"hideBadges":true}],
		"app.bsky.actor.defs#postInteractionSettingsPref":[{
			"threadgateAllowRules":[{"$type":"app.bsky.feed.threadgate#mentionRule"}],
			"postgateEmbeddingRules":[{"$type":"app.bsky.feed.postgate#disableRule"}]}],
		"app.bsky.actor.defs#savedFeedsPrefV2":[{"items":[{"id":"tl","type":"timeline","value":"following","pinned":true}]}]
	}`), &want)
	if diff := cmp.Diff(want, byType); diff != "" {
		t.Errorf("stored preferences (-want +got):\n%s", diff)
	}
}
