package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atpgo/atp"
	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
	"github.com/atpgo/atp/oauthtransport"
	"github.com/atpgo/atp/store"
)

// checkServerClean fails the test if the authorization server saw a
// replayed refresh token (which kills the session) since before.
func checkServerClean(t *testing.T, n *network, before serverStats) {
	t.Helper()
	after, err := n.stats()
	step(t, "network stats", err)
	if d := after.RefreshReplays - before.RefreshReplays; d != 0 {
		t.Errorf("the authorization server saw %d replayed refresh token(s)", d)
	}
}

func statsNow(t *testing.T, n *network) serverStats {
	t.Helper()
	s, err := n.stats()
	step(t, "network stats", err)
	return s
}

// getSession calls com.atproto.server.getSession through the Agent and
// checks that it is alice's (or whoever's) session.
func getSession(t *testing.T, a *atp.Agent, want account) {
	t.Helper()
	out, err := atproto.ServerGetSession(ctx(t), a, nil)
	step(t, "getSession", err)
	if out.DID != want.DID || out.Handle != want.Handle {
		t.Fatalf("step %q: got did=%s handle=%s, want %s %s", "getSession", out.DID, out.Handle, want.DID, want.Handle)
	}
}

// Scenario 1: a native (loopback, public) client logs alice in, a new client
// instance restores the session from the SQLite store, and the Agent works
// with her repository.
func TestScenario1NativeClient(t *testing.T) {
	n := requireNetwork(t)
	before := statsNow(t, n)
	dbPath := filepath.Join(t.TempDir(), "atp.db")
	sessions, lock := newSQLite(t, dbPath)
	e := newClient(t, n, clientOpts{sessions: sessions, lock: lock})

	sess, state := e.login(t, n.Alice, oauthtransport.AuthorizeOptions{State: "app-state-1"})
	if state != "app-state-1" {
		t.Errorf("Callback app state = %q, want app-state-1", state)
	}
	ti := sess.TokenInfo()
	if sess.DID() != n.Alice.DID || ti.Subject != n.Alice.DID {
		t.Fatalf("step %q: session DID %s, sub %s, want alice %s", "Callback", sess.DID(), ti.Subject, n.Alice.DID)
	}
	if ti.Issuer != n.PDS || ti.Audience != n.PDS {
		t.Errorf("TokenInfo issuer %q audience %q, want %s for both", ti.Issuer, ti.Audience, n.PDS)
	}
	if !slices.Contains(strings.Fields(ti.Scope), "atproto") || ti.ExpiresAt.IsZero() {
		t.Errorf("TokenInfo scope %q expires %v: want atproto and an expiry", ti.Scope, ti.ExpiresAt)
	}

	// A NEW client instance, over another connection to the same SQLite
	// file, as another process of the app would have.
	sessions2, lock2 := newSQLite(t, dbPath)
	e2 := newClient(t, n, clientOpts{sessions: sessions2, lock: lock2})
	sess2, err := e2.client.Restore(ctx(t), n.Alice.DID)
	step(t, "Restore from a new client instance", err)
	if sess2.DID() != n.Alice.DID {
		t.Fatalf("restored session of %s", sess2.DID())
	}
	agent := atp.NewAgent(atp.OAuth(sess2))
	if agent.DID() != n.Alice.DID || agent.Service() != n.PDS {
		t.Fatalf("Agent DID %q service %q", agent.DID(), agent.Service())
	}
	c := ctx(t)

	getSession(t, agent, n.Alice)

	// Post, like it, follow bob.
	p1, err := post(c, agent, "hello from the atp e2e tests", nil)
	step(t, "Post (createRecord app.bsky.feed.post)", err)
	if !strings.HasPrefix(p1.URI, "at://"+n.Alice.DID+"/app.bsky.feed.post/") || p1.CID == "" {
		t.Fatalf("post ref %+v", p1)
	}
	l1, err := like(c, agent, p1)
	step(t, "Like", err)
	f1, err := agent.Follow(c, n.Bob.DID)
	step(t, "Follow bob", err)

	// An image: upload the blob, then a post that embeds it.
	img := testPNG(4, 3)
	up, err := agent.UploadBlob(c, bytes.NewReader(img), "image/png")
	step(t, "UploadBlob", err)
	if up.Blob == nil || up.Blob.MimeType != "image/png" || up.Blob.Size != int64(len(img)) {
		t.Fatalf("step %q: blob %+v, want image/png of %d bytes", "UploadBlob", up.Blob, len(img))
	}
	p2, err := post(c, agent, "a picture", &bsky.EmbedImages{Images: []*bsky.EmbedImagesImage{{
		Image: up.Blob, Alt: "a small gradient", AspectRatio: &bsky.EmbedDefsAspectRatio{Width: 4, Height: 3},
	}}})
	step(t, "Post with an image embed", err)

	// Read them back: getRecord through the generated call and through
	// the Agent's GetPost.
	got, err := atproto.RepoGetRecord(c, agent, n.Alice.DID, "app.bsky.feed.post", rkey(t, p2.URI), nil)
	step(t, "getRecord (image post)", err)
	fp, ok := got.Value.(*bsky.FeedPost)
	if !ok {
		t.Fatalf("step %q: value is %T, want *bsky.FeedPost", "getRecord", got.Value)
	}
	gp, err := agent.GetPost(c, n.Alice.DID, rkey(t, p2.URI))
	step(t, "GetPost", err)
	if gp.URI != p2.URI || gp.CID != p2.CID || gp.Value.Text != "a picture" {
		t.Errorf("GetPost = %+v, want %s %s", gp, p2.URI, p2.CID)
	}
	emb, ok := fp.Embed.(*bsky.EmbedImages)
	if fp.Text != "a picture" || !ok || len(emb.Images) != 1 || emb.Images[0].Image == nil ||
		emb.Images[0].Image.Ref != up.Blob.Ref || emb.Images[0].Alt != "a small gradient" {
		t.Fatalf("step %q: record read back = %+v (embed %T)", "getRecord", fp, fp.Embed)
	}
	if got.GetCID() != p2.CID {
		t.Errorf("getRecord cid %q, createRecord said %q", got.GetCID(), p2.CID)
	}
	list, err := atproto.RepoListRecords(c, agent, n.Alice.DID, "app.bsky.feed.post", nil)
	step(t, "listRecords", err)
	var uris []string
	for _, r := range list.Records {
		uris = append(uris, r.URI)
	}
	if !slices.Contains(uris, p1.URI) || !slices.Contains(uris, p2.URI) {
		t.Fatalf("step %q: %v lacks %s or %s", "listRecords", uris, p1.URI, p2.URI)
	}
	likes, err := atproto.RepoListRecords(c, agent, n.Alice.DID, "app.bsky.feed.like", nil)
	step(t, "listRecords (likes)", err)
	if len(likes.Records) == 0 || likes.Records[0].URI != l1.URI {
		t.Errorf("likes %v, want %s", likes.Records, l1.URI)
	} else if lk, ok := likes.Records[0].Value.(*bsky.FeedLike); !ok || lk.Subject.URI != p1.URI {
		t.Errorf("like value %#v, want a like of %s", likes.Records[0].Value, p1.URI)
	}
	fr, err := atproto.RepoGetRecord(c, agent, n.Alice.DID, "app.bsky.graph.follow", rkey(t, f1.URI), nil)
	step(t, "getRecord (follow)", err)
	if fo, ok := fr.Value.(*bsky.GraphFollow); !ok || fo.Subject != n.Bob.DID {
		t.Errorf("follow value %#v, want bob %s", fr.Value, n.Bob.DID)
	}

	// Preferences (served by the PDS itself, never proxied).
	prefs, err := bsky.ActorGetPreferences(c, agent, nil)
	step(t, "getPreferences", err)
	t.Logf("preferences before: %d items", len(prefs.Preferences))
	newPrefs := append(bsky.ActorDefsPreferences{}, prefs.Preferences...)
	newPrefs = slices.DeleteFunc(newPrefs, func(p bsky.ActorDefsPreferences_Item) bool {
		_, ok := p.(*bsky.ActorDefsAdultContentPref)
		return ok
	})
	newPrefs = append(newPrefs, &bsky.ActorDefsAdultContentPref{Enabled: true})
	step(t, "putPreferences", bsky.ActorPutPreferences(c, agent, &bsky.ActorPutPreferencesInput{Preferences: newPrefs}))
	prefs, err = bsky.ActorGetPreferences(c, agent, nil)
	step(t, "getPreferences after put", err)
	found := false
	for _, p := range prefs.Preferences {
		if ac, ok := p.(*bsky.ActorDefsAdultContentPref); ok && ac.Enabled {
			found = true
		}
	}
	if !found {
		t.Errorf("step %q: adultContentPref not read back: %#v", "getPreferences", prefs.Preferences)
	}

	// DeletePost: gone afterwards, with the lexicon's declared error.
	step(t, "DeletePost", agent.DeletePost(c, p1.URI))
	_, err = atproto.RepoGetRecord(c, agent, n.Alice.DID, "app.bsky.feed.post", rkey(t, p1.URI), nil)
	var xe *lex.Error
	if !errors.As(err, &xe) || !errors.Is(err, atproto.ErrRepoGetRecordRecordNotFound) {
		t.Errorf("step %q: getRecord of a deleted post: %v, want RecordNotFound", "DeletePost", err)
	}
	step(t, "delete the other records", errors.Join(
		agent.DeletePost(c, p2.URI),
		agent.DeleteLike(c, l1.URI),
		agent.DeleteFollow(c, f1.URI),
	))
	checkServerClean(t, n, before)
}

// Scenario 1, continued: more of the Agent's record methods against the
// real PDS: detected facets (a mention resolved through the PDS), a reply,
// a repost, and UpsertProfile creating then updating the profile with
// swapRecord.
func TestScenario1AgentRecords(t *testing.T) {
	n := requireNetwork(t)
	e := newClient(t, n, clientOpts{})
	sess, _ := e.login(t, n.Alice, oauthtransport.AuthorizeOptions{})
	agent := atp.NewAgent(atp.OAuth(sess))
	c := ctx(t)

	text := "héllo @bob.test, see https://example.com/x #atp"
	p, err := agent.Post(c, atp.PostInput{Text: text, DetectFacets: true})
	step(t, "Post with DetectFacets", err)
	got, err := agent.GetPost(c, n.Alice.DID, rkey(t, p.URI))
	step(t, "GetPost", err)
	var mention, link, tag string
	for _, f := range got.Value.Facets {
		seg := text[f.Index.ByteStart:f.Index.ByteEnd]
		for _, feat := range f.Features {
			switch x := feat.(type) {
			case *bsky.RichtextFacetMention:
				mention = seg + "=" + x.DID
			case *bsky.RichtextFacetLink:
				link = seg + "=" + x.URI
			case *bsky.RichtextFacetTag:
				tag = seg + "=" + x.Tag
			}
		}
	}
	if mention != "@bob.test="+n.Bob.DID || link != "https://example.com/x=https://example.com/x" || tag != "#atp=atp" {
		t.Errorf("step %q: facets read back: mention %q link %q tag %q", "DetectFacets", mention, link, tag)
	}

	reply, err := agent.Post(c, atp.PostInput{Text: "a reply", Reply: &bsky.FeedPostReplyRef{Root: p, Parent: p}})
	step(t, "Post a reply", err)
	rp, err := agent.GetPost(c, n.Alice.DID, rkey(t, reply.URI))
	step(t, "GetPost (reply)", err)
	if rp.Value.Reply == nil || rp.Value.Reply.Parent.URI != p.URI {
		t.Errorf("reply read back: %+v", rp.Value.Reply)
	}
	rep, err := agent.Repost(c, p.URI, p.CID)
	step(t, "Repost", err)
	step(t, "DeleteRepost", agent.DeleteRepost(c, rep.URI))

	// The profile: created (no record yet: swapRecord null), then updated
	// (swapRecord = the current CID).
	name, desc := "Alice (e2e)", "set by the atp e2e tests"
	step(t, "UpsertProfile (create)", agent.UpsertProfile(c, func(old *bsky.ActorProfile) (*bsky.ActorProfile, error) {
		if old == nil {
			old = &bsky.ActorProfile{}
		}
		old.DisplayName = &name
		return old, nil
	}))
	step(t, "UpsertProfile (update)", agent.UpsertProfile(c, func(old *bsky.ActorProfile) (*bsky.ActorProfile, error) {
		if old == nil || old.GetDisplayName() != name {
			return nil, errors.New("UpsertProfile did not pass the existing profile")
		}
		old.Description = &desc
		return old, nil
	}))
	pr, err := atproto.RepoGetRecord(c, agent, n.Alice.DID, "app.bsky.actor.profile", "self", nil)
	step(t, "getRecord profile/self", err)
	if prof, ok := pr.Value.(*bsky.ActorProfile); !ok || prof.GetDisplayName() != name || prof.GetDescription() != desc {
		t.Errorf("profile read back: %#v", pr.Value)
	}
	step(t, "DeletePost", errors.Join(agent.DeletePost(c, reply.URI), agent.DeletePost(c, p.URI)))
}

// Scenario 6: sign-out revokes the tokens at the server, Restore then fails
// with a typed error, and the session is gone from the store.
func TestScenario6SignOut(t *testing.T) {
	n := requireNetwork(t)
	before := statsNow(t, n)
	sessions, lock := newSQLite(t, filepath.Join(t.TempDir(), "a.db"))
	e := newClient(t, n, clientOpts{sessions: sessions, lock: lock})
	sess, _ := e.login(t, n.Alice, oauthtransport.AuthorizeOptions{})
	agent := atp.NewAgent(atp.OAuth(sess))
	getSession(t, agent, n.Alice)

	// A copy of the stored session (old access and refresh tokens, DPoP
	// key) in another app's store, to show the server rejects them later.
	raw, err := sessions.Get(ctx(t), "oauth-session:"+n.Alice.DID)
	step(t, "read the stored session", err)
	copyStore, copyLock := newSQLite(t, filepath.Join(t.TempDir(), "copy.db"))
	step(t, "copy the stored session", copyStore.Set(ctx(t), "oauth-session:"+n.Alice.DID, raw, 0))

	var events []oauthtransport.Event
	var evMu sync.Mutex
	m := e.wire.mark()
	step(t, "SignOut", sess.SignOut(ctx(t)))
	revokes := 0
	for _, ex := range e.wire.since(m) {
		if strings.HasSuffix(ex.URL.Path, "/oauth/revoke") {
			revokes++
			if ex.Status != http.StatusOK {
				t.Errorf("step %q: %s", "SignOut", ex)
			}
		}
	}
	if revokes == 0 {
		t.Errorf("step %q: no revocation request reached the server", "SignOut")
	}

	// The session is gone from the store, and Restore says so, typed.
	if _, err := sessions.Get(ctx(t), "oauth-session:"+n.Alice.DID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("step %q: store still answers %v for the session", "session gone", err)
	}
	_, err = e.client.Restore(ctx(t), n.Alice.DID)
	if !errors.Is(err, oauthtransport.ErrSessionNotFound) {
		t.Errorf("step %q: Restore after SignOut: %v, want ErrSessionNotFound", "Restore", err)
	}
	_, err = e.sibling(t).client.Restore(ctx(t), n.Alice.DID)
	if !errors.Is(err, oauthtransport.ErrSessionNotFound) {
		t.Errorf("step %q: Restore after SignOut (new instance): %v, want ErrSessionNotFound", "Restore", err)
	}

	// The old session object: its access token is refused, and no refresh
	// is attempted without a stored session.
	_, err = atproto.ServerGetSession(ctx(t), agent, nil)
	var xe *lex.Error
	if !errors.As(err, &xe) || xe.StatusCode != http.StatusUnauthorized {
		t.Errorf("step %q: getSession with the signed-out session: %v, want 401", "old access token", err)
	}

	// The copied session: the PDS refuses the old access token
	// (invalid_token), the authorization server the old refresh token
	// (invalid_grant); that client then deletes its copy.
	ce := newClient(t, n, clientOpts{sessions: copyStore, lock: copyLock})
	ce.cfg.OnEvent = func(_ context.Context, ev oauthtransport.Event) {
		evMu.Lock()
		events = append(events, ev)
		evMu.Unlock()
	}
	c2, err := oauthtransport.NewClient(ce.cfg)
	step(t, "NewClient (copy)", err)
	ce.client = c2
	csess, err := ce.client.Restore(ctx(t), n.Alice.DID)
	step(t, "Restore the copy", err)
	m = ce.wire.mark()
	_, err = atproto.ServerGetSession(ctx(t), atp.NewAgent(atp.OAuth(csess)), nil)
	if !errors.As(err, &xe) || xe.StatusCode != http.StatusUnauthorized {
		t.Errorf("step %q: getSession with the revoked tokens: %v, want 401", "old tokens", err)
	}
	var sawInvalidToken, sawRefreshRejected bool
	for _, ex := range ce.wire.since(m) {
		t.Logf("copy: %s", ex)
		if ex.Status == http.StatusUnauthorized && ex.Challenge == "invalid_token" {
			sawInvalidToken = true
		}
		if ex.Grant == "refresh_token" && ex.Status == http.StatusBadRequest {
			sawRefreshRejected = true
		}
	}
	if !sawInvalidToken || !sawRefreshRejected {
		t.Errorf("step %q: want the old access token refused (401 invalid_token: %v) and the old refresh token refused (400: %v)",
			"old tokens", sawInvalidToken, sawRefreshRejected)
	}
	evMu.Lock()
	var deleted *oauthtransport.Event
	for i := range events {
		if events[i].Type == oauthtransport.SessionDeleted {
			deleted = &events[i]
		}
	}
	evMu.Unlock()
	if deleted == nil || !errors.Is(deleted.Cause, oauthtransport.ErrRefreshRejected) {
		t.Errorf("step %q: events %+v, want a SessionDeleted caused by ErrRefreshRejected", "old tokens", events)
	}
	if _, err := ce.client.Restore(ctx(t), n.Alice.DID); !errors.Is(err, oauthtransport.ErrSessionNotFound) {
		t.Errorf("Restore of the rejected copy: %v, want ErrSessionNotFound", err)
	}

	// Client.Revoke: the same, by DID, from any instance.
	sess, _ = e.login(t, n.Alice, oauthtransport.AuthorizeOptions{})
	agent = atp.NewAgent(atp.OAuth(sess))
	getSession(t, agent, n.Alice)
	other := e.sibling(t)
	m = other.wire.mark()
	step(t, "Client.Revoke", other.client.Revoke(ctx(t), n.Alice.DID))
	revokes = 0
	for _, ex := range other.wire.since(m) {
		if strings.HasSuffix(ex.URL.Path, "/oauth/revoke") && ex.Status == http.StatusOK {
			revokes++
		}
	}
	if revokes == 0 {
		t.Errorf("step %q: no successful revocation request", "Client.Revoke")
	}
	if _, err = atproto.ServerGetSession(ctx(t), agent, nil); !errors.As(err, &xe) || xe.StatusCode != http.StatusUnauthorized {
		t.Errorf("step %q: getSession after Client.Revoke: %v, want 401", "Client.Revoke", err)
	}
	if _, err := e.client.Restore(ctx(t), n.Alice.DID); !errors.Is(err, oauthtransport.ErrSessionNotFound) {
		t.Errorf("Restore after Client.Revoke: %v, want ErrSessionNotFound", err)
	}
	step(t, "Client.Revoke of a missing session", other.client.Revoke(ctx(t), n.Alice.DID))
	checkServerClean(t, n, before)
}

// Scenario 6, continued: a second login of the same account replaces the
// stored session and revokes the previous one at the server; a Session
// object still holding the old tokens moves on to the new ones.
func TestScenario6ReloginRevokesPrevious(t *testing.T) {
	n := requireNetwork(t)
	sessions, lock := newSQLite(t, filepath.Join(t.TempDir(), "a.db"))
	e := newClient(t, n, clientOpts{sessions: sessions, lock: lock})
	first, _ := e.login(t, n.Alice, oauthtransport.AuthorizeOptions{})
	raw, err := sessions.Get(ctx(t), "oauth-session:"+n.Alice.DID)
	step(t, "read the stored session", err)
	copyStore, copyLock := newSQLite(t, filepath.Join(t.TempDir(), "copy.db"))
	step(t, "copy the stored session", copyStore.Set(ctx(t), "oauth-session:"+n.Alice.DID, raw, 0))

	m := e.wire.mark()
	second, _ := e.login(t, n.Alice, oauthtransport.AuthorizeOptions{})
	revoked := 0
	for _, ex := range e.wire.since(m) {
		if strings.HasSuffix(ex.URL.Path, "/oauth/revoke") && ex.Status == http.StatusOK {
			revoked++
		}
	}
	if revoked == 0 {
		t.Errorf("step %q: the previous session was not revoked", "second login")
	}
	// The previous tokens are dead at the server.
	ce := newClient(t, n, clientOpts{sessions: copyStore, lock: copyLock})
	cs, err := ce.client.Restore(ctx(t), n.Alice.DID)
	step(t, "Restore the copy of the first session", err)
	_, err = atproto.ServerGetSession(ctx(t), atp.NewAgent(atp.OAuth(cs)), nil)
	var xe *lex.Error
	if !errors.As(err, &xe) || xe.StatusCode != http.StatusUnauthorized {
		t.Errorf("step %q: the first session's tokens: %v, want 401", "old tokens", err)
	}
	// Both Session objects of this client work, on the new tokens.
	getSession(t, atp.NewAgent(atp.OAuth(first)), n.Alice)
	getSession(t, atp.NewAgent(atp.OAuth(second)), n.Alice)
}

// loginWithTTL logs alice in while the server issues access tokens of ttl
// seconds, then puts the default lifetime back (refreshed tokens get an hour).
func loginWithTTL(t *testing.T, e *env, ttl int) *oauthtransport.Session {
	t.Helper()
	step(t, "set the access-token lifetime", e.n.setTTL(ttl))
	t.Cleanup(func() { _ = e.n.setTTL(0) })
	sess, _ := e.login(t, e.n.Alice, oauthtransport.AuthorizeOptions{})
	step(t, "reset the access-token lifetime", e.n.setTTL(0))
	return sess
}

// Scenario 3: calls keep working across token expiry: a proactive refresh
// shortly before expiry, and, when the client does not see it coming, the
// 401 invalid_token → refresh → retry path. A refresh token is never sent
// twice.
func TestScenario3ExpiryAndRefresh(t *testing.T) {
	n := requireNetwork(t)
	before := statsNow(t, n)

	t.Run("proactive", func(t *testing.T) {
		e := newClient(t, n, clientOpts{})
		sess := loginWithTTL(t, e, 60)
		ti := sess.TokenInfo()
		if d := time.Until(ti.ExpiresAt); d > 61*time.Second || d < 30*time.Second {
			t.Fatalf("access token expires in %v, want about 60 s (the server's lifetime)", d)
		}
		agent := atp.NewAgent(atp.OAuth(sess))
		m := e.wire.mark()
		getSession(t, agent, n.Alice)
		if r := refreshes(e.wire.since(m)); len(r) != 0 {
			t.Fatalf("a fresh token was refreshed: %v", r)
		}
		// 55 s later by the client's clock: 5 s left, inside the refresh
		// margin. The next call refreshes first; the PDS never sees the
		// old token expire.
		e.clock.set(55 * time.Second)
		defer e.clock.set(0)
		s0 := statsNow(t, n)
		m = e.wire.mark()
		getSession(t, agent, n.Alice)
		exs := e.wire.since(m)
		r := refreshes(exs)
		if len(r) != 1 || r[0].Status != http.StatusOK {
			t.Fatalf("want one successful refresh, saw %v", exs)
		}
		for _, ex := range exs {
			if ex.Status == http.StatusUnauthorized && ex.Challenge == "invalid_token" {
				t.Errorf("a proactive refresh should not meet invalid_token: %v", exs)
			}
		}
		if s1 := statsNow(t, n); s1.RefreshGrants-s0.RefreshGrants != 1 {
			t.Errorf("the server saw %d refresh grants, want 1", s1.RefreshGrants-s0.RefreshGrants)
		}
		if !sess.TokenInfo().ExpiresAt.After(ti.ExpiresAt) {
			t.Errorf("expiry did not move: %v then %v", ti.ExpiresAt, sess.TokenInfo().ExpiresAt)
		}
		// The refreshed session is in the store: a new instance restores it
		// without refreshing again.
		e2 := e.sibling(t)
		e2.clock.set(55 * time.Second)
		s2, err := e2.client.Restore(ctx(t), n.Alice.DID)
		step(t, "Restore after the refresh", err)
		m2 := e2.wire.mark()
		getSession(t, atp.NewAgent(atp.OAuth(s2)), n.Alice)
		if r := refreshes(e2.wire.since(m2)); len(r) != 0 {
			t.Errorf("the restored, refreshed session was refreshed again: %v", r)
		}
		if rp := replayedRefreshTokens(append(e.wire.since(0), e2.wire.since(0)...)); len(rp) != 0 {
			t.Errorf("refresh tokens sent twice: %v", rp)
		}
	})

	t.Run("restore-refreshes", func(t *testing.T) {
		// Restore of a session about to expire refreshes it first.
		e := newClient(t, n, clientOpts{})
		loginWithTTL(t, e, 60)
		e2 := e.sibling(t)
		e2.clock.set(55 * time.Second)
		s, err := e2.client.Restore(ctx(t), n.Alice.DID)
		step(t, "Restore of a session about to expire", err)
		if r := refreshes(e2.wire.since(0)); len(r) != 1 || r[0].Status != http.StatusOK {
			t.Errorf("Restore: refreshes %v, want one", r)
		}
		m := e2.wire.mark()
		getSession(t, atp.NewAgent(atp.OAuth(s)), n.Alice)
		if r := refreshes(e2.wire.since(m)); len(r) != 0 {
			t.Errorf("refreshed again after Restore: %v", r)
		}
	})

	t.Run("on-401", func(t *testing.T) {
		e := newClient(t, n, clientOpts{})
		issued := time.Now()
		sess := loginWithTTL(t, e, 5)
		agent := atp.NewAgent(atp.OAuth(sess))
		// Refresh "disabled": the client's clock is a minute behind, so it
		// believes the 5-second token is good for another minute.
		e.clock.set(-time.Minute)
		defer e.clock.set(0)
		getSession(t, agent, n.Alice)
		// Wait (bounded) until the server has certainly expired the token.
		for time.Since(issued) < 7*time.Second {
			time.Sleep(250 * time.Millisecond)
		}
		s0 := statsNow(t, n)
		m := e.wire.mark()
		getSession(t, agent, n.Alice)
		exs := e.wire.since(m)
		var seq []string
		for _, ex := range exs {
			switch {
			case ex.Challenge == "use_dpop_nonce" || ex.OAuthErr == "use_dpop_nonce":
				// a nonce rotation may happen at any time; not the point
			case ex.Grant == "refresh_token":
				seq = append(seq, "refresh:"+http.StatusText(ex.Status))
			case strings.HasSuffix(ex.URL.Path, "com.atproto.server.getSession"):
				s := http.StatusText(ex.Status)
				if ex.Challenge != "" {
					s += ":" + ex.Challenge
				}
				seq = append(seq, "getSession:"+s)
			}
		}
		want := []string{"getSession:Unauthorized:invalid_token", "refresh:OK", "getSession:OK"}
		if !slices.Equal(seq, want) {
			t.Errorf("wire: %v, want %v (all: %v)", seq, want, exs)
		}
		if s1 := statsNow(t, n); s1.RefreshGrants-s0.RefreshGrants != 1 {
			t.Errorf("the server saw %d refresh grants, want 1", s1.RefreshGrants-s0.RefreshGrants)
		}
		// And it keeps working.
		getSession(t, agent, n.Alice)
		if rp := replayedRefreshTokens(e.wire.since(0)); len(rp) != 0 {
			t.Errorf("refresh tokens sent twice: %v", rp)
		}
	})
	checkServerClean(t, n, before)
}

// Scenario 4: 200 concurrent Agent calls across a token expiry all
// succeed, and exactly one refresh reaches the server; the same with the
// calls split between two client instances sharing the SQLite store and
// its lock.
func TestScenario4Concurrency(t *testing.T) {
	n := requireNetwork(t)
	before := statsNow(t, n)
	const calls = 200

	burst := func(t *testing.T, agents []*atp.Agent) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		start := make(chan struct{})
		for i := range calls {
			a := agents[i%len(agents)]
			wg.Go(func() {
				<-start
				out, err := atproto.ServerGetSession(ctx(t), a, nil)
				if err == nil && out.DID != n.Alice.DID {
					err = errors.New("getSession answered for " + out.DID)
				}
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		failed := 0
		for err := range errs {
			if err != nil {
				if failed < 5 {
					t.Errorf("call failed: %v", err)
				}
				failed++
			}
		}
		if failed > 0 {
			t.Fatalf("%d of %d concurrent calls failed", failed, calls)
		}
	}

	t.Run("one-instance", func(t *testing.T) {
		e := newClient(t, n, clientOpts{})
		sess := loginWithTTL(t, e, 60)
		agent := atp.NewAgent(atp.OAuth(sess))
		getSession(t, agent, n.Alice)
		e.clock.set(55 * time.Second) // the token is now about to expire
		defer e.clock.set(0)
		s0 := statsNow(t, n)
		m := e.wire.mark()
		burst(t, []*atp.Agent{agent})
		r := refreshes(e.wire.since(m))
		s1 := statsNow(t, n)
		if len(r) != 1 || s1.RefreshGrants-s0.RefreshGrants != 1 {
			t.Errorf("refreshes: client sent %d, server received %d; want exactly 1", len(r), s1.RefreshGrants-s0.RefreshGrants)
		}
	})

	t.Run("server-expiry", func(t *testing.T) {
		// The token really expires at the server, and the client does not
		// see it coming (its clock is a minute behind): all 200 calls meet
		// 401 invalid_token, and share one refresh.
		e := newClient(t, n, clientOpts{})
		issued := time.Now()
		sess := loginWithTTL(t, e, 5)
		agent := atp.NewAgent(atp.OAuth(sess))
		e.clock.set(-time.Minute)
		defer e.clock.set(0)
		getSession(t, agent, n.Alice)
		for time.Since(issued) < 7*time.Second {
			time.Sleep(250 * time.Millisecond)
		}
		s0 := statsNow(t, n)
		m := e.wire.mark()
		burst(t, []*atp.Agent{agent})
		exs := e.wire.since(m)
		r := refreshes(exs)
		s1 := statsNow(t, n)
		expired := 0
		for _, ex := range exs {
			if ex.Challenge == "invalid_token" {
				expired++
			}
		}
		if expired == 0 {
			t.Errorf("no call met the expired token (401 invalid_token)")
		}
		t.Logf("%d calls met 401 invalid_token", expired)
		if len(r) != 1 || s1.RefreshGrants-s0.RefreshGrants != 1 {
			t.Errorf("refreshes: client sent %d, server received %d; want exactly 1: %v", len(r), s1.RefreshGrants-s0.RefreshGrants, r)
		}
	})

	t.Run("two-instances", func(t *testing.T) {
		sessions, lock := newSQLite(t, filepath.Join(t.TempDir(), "shared.db"))
		e := newClient(t, n, clientOpts{sessions: sessions, lock: lock})
		sess := loginWithTTL(t, e, 60)
		e2 := e.sibling(t)
		sess2, err := e2.client.Restore(ctx(t), n.Alice.DID)
		step(t, "Restore in the second instance", err)
		agents := []*atp.Agent{atp.NewAgent(atp.OAuth(sess)), atp.NewAgent(atp.OAuth(sess2))}
		e.clock.set(55 * time.Second)
		e2.clock.set(55 * time.Second)
		s0 := statsNow(t, n)
		m1, m2 := e.wire.mark(), e2.wire.mark()
		burst(t, agents)
		r := append(refreshes(e.wire.since(m1)), refreshes(e2.wire.since(m2))...)
		s1 := statsNow(t, n)
		if len(r) != 1 || s1.RefreshGrants-s0.RefreshGrants != 1 {
			t.Errorf("refreshes: clients sent %d, server received %d; want exactly 1: %v", len(r), s1.RefreshGrants-s0.RefreshGrants, r)
		}
	})
	checkServerClean(t, n, before)
}

// Scenario 5: a denied sign-in and a silent one (prompt=none) without a
// prior grant come back as typed callback errors carrying the app state.
func TestScenario5DeniedAndSilent(t *testing.T) {
	n := requireNetwork(t)
	sessions, lock := newSQLite(t, filepath.Join(t.TempDir(), "a.db"))
	e := newClient(t, n, clientOpts{sessions: sessions, lock: lock})

	t.Run("denied", func(t *testing.T) {
		u := e.authorize(t, n.Alice.Handle, oauthtransport.AuthorizeOptions{State: "deny-state"})
		to, err := approve(ctx(t), u, approval{Deny: true})
		step(t, "deny on the consent screen", err)
		q := e.redirectParams(t, to)
		if q.Get("error") != "access_denied" || q.Get("code") != "" {
			t.Fatalf("redirect %s, want error=access_denied", to)
		}
		_, state, err := e.client.Callback(ctx(t), q)
		var ce *oauthtransport.CallbackError
		if !errors.As(err, &ce) {
			t.Fatalf("Callback: %v (%T), want a *CallbackError", err, err)
		}
		if ce.Code != "access_denied" || ce.AppState != "deny-state" {
			t.Errorf("CallbackError code %q app state %q, want access_denied and deny-state", ce.Code, ce.AppState)
		}
		var oe *oauthtransport.OAuthError
		if !errors.As(err, &oe) || oe.Code != "access_denied" {
			t.Errorf("CallbackError should unwrap to an *OAuthError access_denied: %v", err)
		}
		if state != "" {
			t.Logf("Callback also returned app state %q", state)
		}
		if _, err := sessions.Get(ctx(t), "oauth-session:"+n.Alice.DID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a denied login stored a session: %v", err)
		}
		// The state was consumed: the same callback cannot be replayed.
		if _, _, err := e.client.Callback(ctx(t), q); !errors.Is(err, oauthtransport.ErrInvalidState) {
			t.Errorf("replayed callback: %v, want ErrInvalidState", err)
		}
	})

	t.Run("silent", func(t *testing.T) {
		// The reference server refuses prompt=none from public clients
		// ("Public clients are not allowed to use silent-sign-on"), so
		// silent sign-in is a confidential web app's feature.
		w := newWebApp(t, n, "")
		u := w.authorize(t, n.Alice.Handle, oauthtransport.AuthorizeOptions{State: "silent-state", Prompt: "none"})
		// No one signs in: a browser without a session at the PDS loads the
		// URL and is sent straight back.
		to, err := approve(ctx(t), u, approval{})
		step(t, "load the authorization URL (prompt=none)", err)
		q := w.redirectParams(t, to)
		code := q.Get("error")
		if code != "login_required" && code != "consent_required" {
			t.Fatalf("redirect %s, want error=login_required or consent_required", to)
		}
		_, _, err = w.client.Callback(ctx(t), q)
		var ce *oauthtransport.CallbackError
		if !errors.As(err, &ce) || ce.Code != code || ce.AppState != "silent-state" {
			t.Fatalf("Callback: %v, want a *CallbackError %s with app state silent-state", err, code)
		}
		// What the package's silent sign-in example does next: ask again,
		// with the person this time.
		sess, state := w.login(t, n.Alice, oauthtransport.AuthorizeOptions{State: ce.AppState})
		if state != "silent-state" || sess.DID() != n.Alice.DID {
			t.Errorf("interactive retry: state %q did %s", state, sess.DID())
		}
	})

	t.Run("silent-after-remembered-login", func(t *testing.T) {
		// The same browser, after a login with "remember me": a silent
		// sign-in (prompt=none) comes straight back with a code.
		w := newWebApp(t, n, "")
		browser := &browserCookies{}
		u := w.authorize(t, n.Alice.Handle, oauthtransport.AuthorizeOptions{})
		to, err := approve(ctx(t), u, approval{Username: n.Alice.Handle, Password: n.Alice.Password, Remember: true, Browser: browser})
		step(t, "approve with remember me", err)
		_, _, err = w.client.Callback(ctx(t), w.redirectParams(t, to))
		step(t, "Callback", err)

		u = w.authorize(t, n.Alice.Handle, oauthtransport.AuthorizeOptions{State: "silent-ok", Prompt: "none"})
		to, err = approve(ctx(t), u, approval{Browser: browser})
		step(t, "load the authorization URL (prompt=none) in the same browser", err)
		q := w.redirectParams(t, to)
		if q.Get("code") == "" {
			t.Fatalf("silent sign-in redirect %s, want a code", to)
		}
		sess, state, err := w.client.Callback(ctx(t), q)
		step(t, "Callback (silent)", err)
		if state != "silent-ok" || sess.DID() != n.Alice.DID {
			t.Errorf("silent sign-in: state %q did %s", state, sess.DID())
		}
		getSession(t, atp.NewAgent(atp.OAuth(sess)), n.Alice)
	})

	t.Run("silent-public-client", func(t *testing.T) {
		// What a public (native) client gets for prompt=none: the server's
		// refusal, as a typed error from Authorize.
		_, err := e.client.Authorize(ctx(t), n.Alice.Handle, oauthtransport.AuthorizeOptions{Prompt: "none"})
		var oe *oauthtransport.OAuthError
		if !errors.As(err, &oe) || oe.Code != "invalid_request" {
			t.Errorf("Authorize prompt=none as a public client: %v, want an *OAuthError invalid_request", err)
		}
	})
}

// Scenario 2: a confidential web client (private_key_jwt, metadata and
// JWKS served over https by the test) logs alice in; the PDS really fetches
// the metadata and the JWKS; the Agent works; refresh and sign-out
// authenticate with client assertions.
func TestScenario2ConfidentialClient(t *testing.T) {
	n := requireNetwork(t)
	before := statsNow(t, n)
	w := newWebApp(t, n, "")
	m := w.wire.mark()
	sess, state := w.login(t, n.Alice, oauthtransport.AuthorizeOptions{State: "web-state"})
	if state != "web-state" || sess.DID() != n.Alice.DID || sess.TokenInfo().Subject != n.Alice.DID {
		t.Fatalf("login: state %q did %s sub %s", state, sess.DID(), sess.TokenInfo().Subject)
	}
	if w.served("/oauth-client-metadata.json") == 0 || w.served("/jwks.json") == 0 {
		t.Errorf("the PDS fetched the metadata %d times and the JWKS %d times; want both",
			w.served("/oauth-client-metadata.json"), w.served("/jwks.json"))
	}
	for _, ex := range w.wire.since(m) {
		if ex.Method == http.MethodPost && (strings.HasSuffix(ex.URL.Path, "/oauth/par") || ex.Grant != "") &&
			ex.Assertion != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			t.Errorf("%s sent without a private_key_jwt client assertion", ex)
		}
	}

	// A new instance (same keys and stores) restores the session.
	w2 := w.sibling(t)
	sess2, err := w2.client.Restore(ctx(t), n.Alice.DID)
	step(t, "Restore in a new instance", err)
	agent := atp.NewAgent(atp.OAuth(sess2))
	getSession(t, agent, n.Alice)
	c := ctx(t)
	p, err := post(c, agent, "from a confidential client", nil)
	step(t, "Post", err)
	got, err := atproto.RepoGetRecord(c, agent, n.Alice.DID, "app.bsky.feed.post", rkey(t, p.URI), nil)
	step(t, "getRecord", err)
	if fp, ok := got.Value.(*bsky.FeedPost); !ok || fp.Text != "from a confidential client" {
		t.Errorf("getRecord value %#v", got.Value)
	}

	// A refresh authenticates with a client assertion too.
	m = w2.wire.mark()
	step(t, "Refresh", sess2.Refresh(c))
	r := refreshes(w2.wire.since(m))
	if len(r) != 1 || r[0].Status != http.StatusOK || r[0].Assertion == "" {
		t.Errorf("refresh exchanges %v, want one 200 with a client assertion", r)
	}
	getSession(t, agent, n.Alice)
	step(t, "DeletePost", agent.DeletePost(c, p.URI))

	// Sign-out: revoked at the server.
	m = w2.wire.mark()
	step(t, "SignOut", sess2.SignOut(c))
	revoked := 0
	for _, ex := range w2.wire.since(m) {
		if strings.HasSuffix(ex.URL.Path, "/oauth/revoke") && ex.Status == http.StatusOK {
			revoked++
		}
	}
	if revoked == 0 {
		t.Errorf("no successful revocation request")
	}
	_, err = atproto.ServerGetSession(c, agent, nil)
	var xe *lex.Error
	if !errors.As(err, &xe) || xe.StatusCode != http.StatusUnauthorized {
		t.Errorf("getSession after sign-out: %v, want 401", err)
	}
	if _, err := w.client.Restore(c, n.Alice.DID); !errors.Is(err, oauthtransport.ErrSessionNotFound) {
		t.Errorf("Restore after sign-out: %v, want ErrSessionNotFound", err)
	}
	checkServerClean(t, n, before)
}

// Scenario 7: a login with granular scopes can do what they grant and
// nothing else; the server's refusal is a typed XRPC error, and
// Session.Scopes predicted each answer.
func TestScenario7Scopes(t *testing.T) {
	n := requireNetwork(t)
	const scope = "atproto repo:app.bsky.feed.post rpc:app.bsky.actor.getPreferences?aud=*"
	e := newClient(t, n, clientOpts{scope: scope})
	sess, _ := e.login(t, n.Alice, oauthtransport.AuthorizeOptions{})
	granted := strings.Fields(sess.TokenInfo().Scope)
	slices.Sort(granted)
	want := strings.Fields(scope)
	slices.Sort(want)
	if !slices.Equal(granted, want) {
		t.Errorf("granted scope %q, want %q", sess.TokenInfo().Scope, scope)
	}
	sc := sess.Scopes()
	agent := atp.NewAgent(atp.OAuth(sess))
	c := ctx(t)

	// Granted: create (and delete) a post, read preferences.
	if !sc.AllowsRepo("app.bsky.feed.post", "create") || !sc.AllowsRepo("app.bsky.feed.post", "delete") {
		t.Errorf("Scopes %v should allow creating and deleting posts", sc)
	}
	p, err := post(c, agent, "posted with a granular scope", nil)
	step(t, "Post with repo:app.bsky.feed.post", err)
	if !sc.AllowsRPC("app.bsky.actor.getPreferences", "did:web:api.bsky.app#bsky_appview") {
		t.Errorf("Scopes %v should allow getPreferences", sc)
	}
	_, err = bsky.ActorGetPreferences(c, agent, nil)
	step(t, "getPreferences with rpc:app.bsky.actor.getPreferences", err)

	// Not granted: a like. The helper says no, and so does the server.
	if sc.AllowsRepo("app.bsky.feed.like", "create") {
		t.Errorf("Scopes %v should not allow likes", sc)
	}
	_, err = like(c, agent, p)
	var xe *lex.Error
	if !errors.As(err, &xe) || xe.StatusCode != http.StatusForbidden || xe.Name != "ScopeMissingError" {
		t.Fatalf("step %q: %v, want a 403 ScopeMissingError *lex.Error", "Like without its scope", err)
	}
	if !strings.Contains(xe.Message, "repo:app.bsky.feed.like") {
		t.Errorf("scope error message %q does not name the missing scope", xe.Message)
	}
	t.Logf("like refused: %s: %s", xe.Name, xe.Message)

	// Nor a blob upload, nor putPreferences.
	if sc.AllowsBlob("image/png") {
		t.Errorf("Scopes %v should not allow blobs", sc)
	}
	_, err = agent.UploadBlob(c, bytes.NewReader(testPNG(2, 2)), "image/png")
	if !errors.As(err, &xe) || xe.StatusCode != http.StatusForbidden {
		t.Errorf("UploadBlob without a blob scope: %v, want 403", err)
	}
	if sc.AllowsRPC("app.bsky.actor.putPreferences", "did:web:api.bsky.app#bsky_appview") {
		t.Errorf("Scopes %v should not allow putPreferences", sc)
	}

	step(t, "DeletePost", agent.DeletePost(c, p.URI))
	// The scope error did not cost the session: it still works.
	getSession(t, agent, n.Alice)
}

// Scenario 2, continued: client key rotation. A session is bound to the
// key that signed its login: after the app puts a new key first and keeps
// the old one, the session still refreshes with the old key; once the old
// key is gone, Restore fails with ErrAuthMethodUnsatisfiable and the
// session is deleted. New logins sign with the new key.
func TestScenario2KeyRotation(t *testing.T) {
	n := requireNetwork(t)
	w := newWebApp(t, n, "")
	keyA, _ := w.cfg.Keys.Key("e2e-key-A")
	w.login(t, n.Alice, oauthtransport.AuthorizeOptions{})

	keyB, err := oauthtransport.GenerateKey("e2e-key-B")
	step(t, "GenerateKey B", err)
	rotated := w.withKeys(t, keyB, keyA)
	w.serve(rotated.client) // the JWKS now holds B and A

	s, err := rotated.client.Restore(ctx(t), n.Alice.DID)
	step(t, "Restore after the rotation", err)
	m := rotated.wire.mark()
	step(t, "Refresh with the old key", s.Refresh(ctx(t)))
	r := refreshes(rotated.wire.since(m))
	if len(r) != 1 || r[0].Status != http.StatusOK || r[0].KID != "e2e-key-A" {
		t.Errorf("refresh after rotation: %v (kid %q), want one 200 signed with e2e-key-A", r, func() string {
			if len(r) > 0 {
				return r[0].KID
			}
			return ""
		}())
	}
	getSession(t, atp.NewAgent(atp.OAuth(s)), n.Alice)

	// A new login signs with the new key. The PDS caches a client's JWKS
	// for 10 minutes and does not fetch it again for a kid it has not seen
	// ("no applicable key found in the JSON Web Key Set"), so this is only
	// reported: an app must publish a new key well before it signs with it.
	m = rotated.wire.mark()
	u, err := rotated.client.Authorize(ctx(t), n.Alice.Handle, oauthtransport.AuthorizeOptions{})
	for _, ex := range rotated.wire.since(m) {
		if strings.HasSuffix(ex.URL.Path, "/oauth/par") && ex.Status/100 == 2 && ex.KID != "e2e-key-B" {
			t.Errorf("PAR after the rotation signed with %q, want e2e-key-B", ex.KID)
		}
	}
	if err != nil {
		t.Logf("new login with the new key before the PDS's JWKS cache expired: %v", err)
	} else {
		to, err := approve(ctx(t), u, approval{Username: n.Alice.Handle, Password: n.Alice.Password})
		step(t, "approve (new key)", err)
		_, _, err = rotated.client.Callback(ctx(t), rotated.redirectParams(t, to))
		t.Logf("new login with the new key: Callback error %v", err)
	}

	// The old key retired: sessions bound to it end.
	retired := w.withKeys(t, keyB)
	w.serve(retired.client)
	if _, err := retired.client.Restore(ctx(t), n.Alice.DID); !errors.Is(err, oauthtransport.ErrAuthMethodUnsatisfiable) {
		t.Errorf("Restore after the old key left the keyset: %v, want ErrAuthMethodUnsatisfiable", err)
	}
	if _, err := retired.client.Restore(ctx(t), n.Alice.DID); !errors.Is(err, oauthtransport.ErrSessionNotFound) {
		t.Errorf("Restore again: %v, want ErrSessionNotFound (the session is deleted)", err)
	}
}

// Scenario 8: AppView reads (getProfile, getTimeline, getAuthorFeed)
// through the OAuth session: the Agent sends them to the PDS with an
// atproto-proxy header naming the AppView, and the PDS proxies them.
func TestScenario8AppView(t *testing.T) {
	n := requireAppView(t)
	proxy := n.AppViewDID + "#bsky_appview"
	opts := []atp.Option{atp.WithAppViewProxy(proxy), atp.WithAppLabelers()}

	// Bob posts; alice follows him and posts too.
	eb := newClient(t, n, clientOpts{})
	bsess, _ := eb.login(t, n.Bob, oauthtransport.AuthorizeOptions{})
	bob := atp.NewAgent(atp.OAuth(bsess), opts...)
	c := ctx(t)
	up, err := bob.UploadBlob(c, bytes.NewReader(testPNG(8, 6)), "image/png")
	step(t, "bob: UploadBlob", err)
	bp, err := post(c, bob, "bob's post, for alice's timeline", &bsky.EmbedImages{Images: []*bsky.EmbedImagesImage{{
		Image: up.Blob, Alt: "bob's picture", AspectRatio: &bsky.EmbedDefsAspectRatio{Width: 8, Height: 6},
	}}})
	step(t, "bob: Post with an image", err)

	e := newClient(t, n, clientOpts{})
	sess, _ := e.login(t, n.Alice, oauthtransport.AuthorizeOptions{})
	agent := atp.NewAgent(atp.OAuth(sess), opts...)
	_, err = agent.Follow(c, n.Bob.DID)
	step(t, "alice: Follow bob", err)
	ap, err := post(c, agent, "alice's post, for her author feed", nil)
	step(t, "alice: Post", err)

	m := e.wire.mark()
	prof, err := agent.GetProfile(c, n.Alice.DID)
	step(t, "GetProfile", err)
	if prof.DID != n.Alice.DID || prof.Handle != n.Alice.Handle {
		t.Errorf("GetProfile: did %s handle %s, want alice", prof.DID, prof.Handle)
	}

	// Indexing is asynchronous: poll (bounded) until the posts show up.
	has := func(feed []*bsky.FeedDefsFeedViewPost, uri string) bool {
		return slices.ContainsFunc(feed, func(f *bsky.FeedDefsFeedViewPost) bool { return f.Post != nil && f.Post.URI == uri })
	}
	var inAuthorFeed, inTimeline bool
	for i := 0; i < 150 && !(inAuthorFeed && inTimeline); i++ {
		if i > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		af, err := agent.GetAuthorFeed(c, n.Alice.DID)
		step(t, "GetAuthorFeed", err)
		inAuthorFeed = has(af.Feed, ap.URI)
		tl, err := agent.GetTimeline(c)
		step(t, "GetTimeline", err)
		inTimeline = has(tl.Feed, bp.URI)
	}
	if !inAuthorFeed {
		t.Errorf("alice's post %s never showed in her author feed", ap.URI)
	}
	if !inTimeline {
		t.Errorf("bob's post %s never showed in alice's timeline", bp.URI)
	} else {
		// The AppView's view of the post decodes into the generated types:
		// the record, and the image embed's view (CDN URLs, alt, ratio).
		tl, err := agent.GetTimeline(c)
		step(t, "GetTimeline", err)
		for _, f := range tl.Feed {
			if f.Post == nil || f.Post.URI != bp.URI {
				continue
			}
			if rec, ok := f.Post.Record.(*bsky.FeedPost); !ok || rec.Text != "bob's post, for alice's timeline" {
				t.Errorf("timeline post record: %#v", f.Post.Record)
			}
			iv, ok := f.Post.Embed.(*bsky.EmbedImagesView)
			if !ok || len(iv.Images) != 1 || iv.Images[0].Alt != "bob's picture" || iv.Images[0].Thumb == "" ||
				iv.Images[0].AspectRatio == nil || iv.Images[0].AspectRatio.Width != 8 {
				t.Errorf("timeline post embed: %#v", f.Post.Embed)
			}
			if f.Post.Author == nil || f.Post.Author.DID != n.Bob.DID {
				t.Errorf("timeline post author: %#v", f.Post.Author)
			}
		}
	}
	// Notifications: bob follows alice; alice sees it, then marks it seen.
	_, err = bob.Follow(c, n.Alice.DID)
	step(t, "bob: Follow alice", err)
	var followed bool
	for i := 0; i < 150 && !followed; i++ {
		if i > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		nl, err := agent.ListNotifications(c)
		step(t, "ListNotifications", err)
		followed = slices.ContainsFunc(nl.Notifications, func(x *bsky.NotificationListNotificationsNotification) bool {
			return x.Reason == "follow" && x.Author != nil && x.Author.DID == n.Bob.DID
		})
	}
	if !followed {
		t.Errorf("alice never got bob's follow notification")
	}
	unread, err := agent.CountUnreadNotifications(c)
	step(t, "CountUnreadNotifications", err)
	if unread.Count < 1 {
		t.Errorf("unread notifications: %d, want at least 1", unread.Count)
	}
	step(t, "UpdateSeenNotifications", agent.UpdateSeenNotifications(c))
	for i := 0; i < 150; i++ {
		if unread, err = agent.CountUnreadNotifications(c); err != nil || unread.Count == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	step(t, "CountUnreadNotifications after UpdateSeen", err)
	if unread.Count != 0 {
		t.Errorf("unread notifications after UpdateSeenNotifications: %d", unread.Count)
	}

	// Mute and unmute bob: the viewer state says so.
	muted := func() bool {
		p, err := agent.GetProfile(c, n.Bob.DID)
		step(t, "GetProfile bob", err)
		return p.Viewer != nil && p.Viewer.GetMuted()
	}
	step(t, "Mute bob", agent.Mute(c, n.Bob.DID))
	if !muted() {
		t.Errorf("bob not muted after Mute")
	}
	step(t, "Unmute bob", agent.Unmute(c, n.Bob.DID))
	if muted() {
		t.Errorf("bob still muted after Unmute")
	}

	// The Agent's default labelers header (Bluesky's moderation service,
	// unknown here) does not get in the way.
	if _, err := atp.NewAgent(atp.OAuth(sess), atp.WithAppViewProxy(proxy)).GetProfile(c, n.Bob.DID); err != nil {
		t.Errorf("GetProfile with the default atproto-accept-labelers: %v", err)
	}

	// Paging: three more posts, read back one per page with the Agent's
	// iterator over getAuthorFeed.
	var uris []string
	for i := range 3 {
		p, err := post(c, agent, fmt.Sprintf("page test %d", i), nil)
		step(t, "Post (paging)", err)
		uris = append(uris, p.URI)
	}
	one := int64(1)
	var seen []string
	for i := 0; i < 150 && len(seen) < 4; i++ {
		if i > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		seen = seen[:0]
		for fv, err := range agent.AuthorFeed(c, n.Alice.DID, &bsky.FeedGetAuthorFeedParams{Limit: &one}) {
			step(t, "AuthorFeed iterator", err)
			seen = append(seen, fv.Post.URI)
			if len(seen) > 20 {
				t.Fatalf("AuthorFeed iterator does not end: %v", seen)
			}
		}
	}
	for _, u := range append(uris, ap.URI) {
		if !slices.Contains(seen, u) {
			t.Errorf("AuthorFeed (one post per page) gave %v, missing %s", seen, u)
		}
	}

	for _, ex := range e.wire.since(m) {
		if strings.Contains(ex.URL.Path, "/xrpc/app.bsky.") && ex.Proxy != proxy {
			t.Errorf("%s sent with atproto-proxy %q, want %q", ex, ex.Proxy, proxy)
		}
		if ex.URL.Host != strings.TrimPrefix(n.PDS, "http://") {
			t.Errorf("%s went to %s, not the PDS", ex, ex.URL.Host)
		}
	}
}

// Scenario 9: one login through the real sign-in UI, in headless Chromium.
func TestScenario9Browser(t *testing.T) {
	n := requireNetwork(t)
	if chromiumPath() == "" {
		if os.Getenv("CI") == "" {
			t.Skip("Chromium not installed (apt-get install chromium, or set CHROMIUM_PATH)")
		}
		t.Fatal(errors.New("CI: Chromium not installed (.ci/run installs Debian's chromium)"))
	}
	e := newClient(t, n, clientOpts{})
	u := e.authorize(t, n.Alice.Handle, oauthtransport.AuthorizeOptions{State: "browser-state"})
	to := approveInBrowser(t, u, n.Alice.Handle, n.Alice.Password)
	q := e.redirectParams(t, to)
	if q.Get("code") == "" {
		t.Fatalf("redirect %s has no code", to)
	}
	sess, state, err := e.client.Callback(ctx(t), q)
	step(t, "Callback", err)
	if state != "browser-state" || sess.DID() != n.Alice.DID {
		t.Fatalf("Callback: state %q did %s", state, sess.DID())
	}
	getSession(t, atp.NewAgent(atp.OAuth(sess)), n.Alice)
}
