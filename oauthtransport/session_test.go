package oauthtransport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atpgo/atp/store/memstore"
)

type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(_ context.Context, e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) last() Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == 0 {
		return Event{}
	}
	return l.events[len(l.events)-1]
}

func get(t *testing.T, s *Session, url string) *http.Response {
	t.Helper()
	resp, err := s.HTTPClient().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestRestore(t *testing.T) {
	ctx := context.Background()
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, sessions, _ := f.newClient()
	orig := f.login(c, "alice.test", aliceDID)
	s, err := c.Restore(ctx, aliceDID)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := s.TokenInfo(), orig.TokenInfo(); a.Subject != b.Subject || a.Issuer != b.Issuer || a.Audience != b.Audience ||
		a.Scope != b.Scope || !a.ExpiresAt.Equal(b.ExpiresAt) {
		t.Fatalf("restored %+v, want %+v", s.TokenInfo(), orig.TokenInfo())
	}
	if _, _, r, _ := f.counts(); r != 0 {
		t.Fatal("fresh session refreshed on restore")
	}
	if _, err := c.Restore(ctx, bobDID); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("unknown DID: %v", err)
	}
	if _, err := c.Restore(ctx, "alice.test"); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("handle: %v", err)
	}
	// §2.4 #48: a record stored under another DID's key.
	raw, _ := sessions.Get(ctx, sessionKeyPrefix+aliceDID)
	_ = sessions.Set(ctx, sessionKeyPrefix+bobDID, raw, 0)
	if _, err := c.Restore(ctx, bobDID); !errors.Is(err, ErrSubjectMismatch) {
		t.Fatalf("sub mismatch: %v", err)
	}
	if _, err := sessions.Get(ctx, sessionKeyPrefix+bobDID); err == nil {
		t.Fatal("mismatched record kept")
	}
}

func TestProactiveRefresh(t *testing.T) {
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	log := &eventLog{}
	c, _, sessions, clock := f.newClient(func(cfg *Config) { cfg.OnEvent = log.add })
	s := f.login(c, "alice.test", aliceDID)
	before := s.rec.AccessToken
	// 41 s before expiry: outside margin + maximum jitter, no refresh.
	clock.Add(3600*time.Second - 41*time.Second)
	get(t, s, f.pds.URL+"/xrpc/a").Body.Close()
	if _, _, r, _ := f.counts(); r != 0 {
		t.Fatal("refreshed too early")
	}
	// 9 s before expiry: inside the margin whatever the jitter.
	clock.Add(32 * time.Second)
	resp := get(t, s, f.pds.URL+"/xrpc/a")
	resp.Body.Close()
	if _, _, r, _ := f.counts(); r != 1 || resp.StatusCode != 200 || s.rec.AccessToken == before {
		t.Fatalf("refresh: %d calls, status %d", r, resp.StatusCode)
	}
	stored, err := c.loadRecord(context.Background(), aliceDID)
	if err != nil || stored.AccessToken != s.rec.AccessToken || !stored.ExpiresAt.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("stored %+v %v", stored, err)
	}
	if e := log.last(); e.Type != SessionUpdated || !e.Info.ExpiresAt.Equal(stored.ExpiresAt) {
		t.Fatalf("event %+v", e)
	}
	_ = sessions
}

func TestRefreshReverifiesIssuer(t *testing.T) {
	// §2.5 #49: the account moved to a PDS of another authorization
	// server: the refresh token is never sent, the session is deleted.
	ctx := context.Background()
	f := newFakeNet(t)
	other := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	log := &eventLog{}
	c, _, sessions, _ := f.newClient(func(cfg *Config) { cfg.OnEvent = log.add })
	s := f.login(c, "alice.test", aliceDID)
	f.setPDS(aliceDID, other.pds.URL)
	err := s.Refresh(ctx)
	var re *RefreshError
	if !errors.Is(err, ErrIssuerMismatch) || !errors.As(err, &re) || !re.Deleted {
		t.Fatalf("err = %v", err)
	}
	if _, _, r, _ := f.counts(); r != 0 || sessions.len() != 0 {
		t.Fatalf("refresh token sent (%d) or session kept (%d)", r, sessions.len())
	}
	if e := log.last(); e.Type != SessionDeleted || !errors.Is(e.Cause, ErrIssuerMismatch) {
		t.Fatalf("event %+v", e)
	}
}

func TestRefreshFailures(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		setup   func(f *fakeNet, c *Client, sessions *memStore)
		want    error
		deleted bool
	}{
		// §2.5 #52
		"invalid_grant": {func(f *fakeNet, c *Client, _ *memStore) { f.refreshErr = "invalid_grant" }, ErrRefreshRejected, true},
		// A server hiccup keeps the session.
		"server error": {func(f *fakeNet, c *Client, _ *memStore) { f.refreshErr = "server_error" }, &OAuthError{Code: "server_error"}, false},
		// §2.5 #50
		"sub changed": {func(f *fakeNet, c *Client, _ *memStore) {
			f.tokenResp = func(m map[string]any) { m["sub"] = bobDID }
		}, ErrSubjectMismatch, true},
		// The AS stopped supporting the session's method (§2.5 #53).
		"method dropped": {func(f *fakeNet, c *Client, _ *memStore) {
			f.asMeta = func(m map[string]any) { m["token_endpoint_auth_methods_supported"] = []string{"private_key_jwt"} }
		}, ErrAuthMethodUnsatisfiable, true},
		// Unreachable network: never delete.
		"network down": {func(f *fakeNet, c *Client, _ *memStore) { f.plc.Close() }, ErrUnresolved, false},
		"bad response": {func(f *fakeNet, c *Client, _ *memStore) {
			f.tokenResp = func(m map[string]any) { m["token_type"] = "Bearer" }
		}, ErrInvalidTokenResponse, false},
		"no refresh token": {func(f *fakeNet, c *Client, sessions *memStore) {
			rec, _ := c.loadRecord(ctx, aliceDID)
			rec.RefreshToken = ""
			_ = c.saveRecord(ctx, rec)
		}, ErrRefreshRejected, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeNet(t)
			f.addAccount(aliceDID, "alice.test")
			c, _, sessions, _ := f.newClient()
			s := f.login(c, "alice.test", aliceDID)
			tc.setup(f, c, sessions)
			err := s.Refresh(ctx)
			var re *RefreshError
			if !errors.Is(err, tc.want) || !errors.As(err, &re) || re.Deleted != tc.deleted {
				t.Fatalf("err = %v, want %v (deleted %v)", err, tc.want, tc.deleted)
			}
			if got := sessions.len() == 0; got != tc.deleted {
				t.Fatalf("session deleted = %v", got)
			}
		})
	}
}

func TestRefreshInvalidGrantAfterOtherInstance(t *testing.T) {
	// §2.5 #52: another instance (no shared lock) rotated the tokens; our
	// refresh gets invalid_grant, and the store has the new tokens.
	ctx := context.Background()
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, sessions, _ := f.newClient()
	s := f.login(c, "alice.test", aliceDID)
	f.refreshHook = func() {
		rec, _ := c.loadRecord(ctx, aliceDID)
		rec.AccessToken, rec.RefreshToken = "other-at", "other-rt"
		raw, _ := jsonMarshal(rec)
		_ = sessions.Set(ctx, sessionKeyPrefix+aliceDID, raw, 0)
	}
	f.refreshErr = "invalid_grant"
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if s.rec.AccessToken != "other-at" || sessions.len() != 1 {
		t.Fatalf("session %+v", s.rec)
	}
}

func TestRefreshKeepsRefreshTokenWhenNotRotated(t *testing.T) {
	ctx := context.Background()
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, _ := f.newClient()
	s := f.login(c, "alice.test", aliceDID)
	rt := s.rec.RefreshToken
	f.tokenResp = func(m map[string]any) { delete(m, "refresh_token"); delete(m, "expires_in") }
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if s.rec.RefreshToken != rt || !s.rec.ExpiresAt.IsZero() {
		t.Fatalf("refresh token %q (was %q), expiry %v", s.rec.RefreshToken, rt, s.rec.ExpiresAt)
	}
}

func TestKeyRotation(t *testing.T) {
	// A session bound to a key that left the keyset is deleted with
	// ErrAuthMethodUnsatisfiable (§2.5 #53); sessions of the kept key work.
	ctx := context.Background()
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	id := "https://app.example.com/client-metadata.json"
	oldKeys := newTestKeyset(t, "old")
	fakeClientKeys[id] = oldKeys
	t.Cleanup(func() { delete(fakeClientKeys, id) })
	md := ClientMetadata{ClientID: id, RedirectURIs: []string{"https://app.example.com/callback"}}
	c, states, sessions, _ := f.newClient(func(cfg *Config) { cfg.Metadata, cfg.Keys = md, oldKeys })
	f.login(c, "alice.test", aliceDID)

	newKey, _ := GenerateKey("new")
	oldKey, _ := oldKeys.Key("old")
	both, _ := NewKeyset(newKey, oldKey)
	fakeClientKeys[id] = both
	c2, err := NewClient(Config{Metadata: md, Keys: both, StateStore: states, SessionStore: sessions,
		AllowHTTP: true, AllowPrivateNetworks: true, PLCURL: f.plc.URL, HandleResolverURL: f.pds.URL})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c2.Restore(ctx, aliceDID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatalf("refresh with the kept key: %v", err)
	}
	onlyNew, _ := NewKeyset(newKey)
	c3, _ := NewClient(Config{Metadata: md, Keys: onlyNew, StateStore: states, SessionStore: sessions,
		AllowHTTP: true, AllowPrivateNetworks: true, PLCURL: f.plc.URL, HandleResolverURL: f.pds.URL})
	if _, err := c3.Restore(ctx, aliceDID); !errors.Is(err, ErrAuthMethodUnsatisfiable) {
		t.Fatalf("restore with the key gone: %v", err)
	}
	if sessions.len() != 0 {
		t.Fatal("session with a lost key kept")
	}
}

func TestRefreshSingleFlight(t *testing.T) {
	// §2.5 #54: many concurrent requests on an expired token, through two
	// Session values of the same account, make one refresh.
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, clock := f.newClient()
	s1 := f.login(c, "alice.test", aliceDID)
	s2, err := c.Restore(context.Background(), aliceDID)
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Hour)
	var wg sync.WaitGroup
	var fails atomic.Int32
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := s1
			if i%2 == 1 {
				s = s2
			}
			resp, err := s.HTTPClient().Get(f.pds.URL + "/xrpc/x")
			if err != nil || resp.StatusCode != 200 {
				fails.Add(1)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if _, _, r, _ := f.counts(); r != 1 || fails.Load() != 0 {
		t.Fatalf("%d refreshes, %d failures", r, fails.Load())
	}
}

func TestRefreshLockAcrossInstances(t *testing.T) {
	// Two instances share the session store and a Locker: one refresh.
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	lock := memstore.NewLocker()
	c1, states, sessions, clock := f.newClient(func(cfg *Config) { cfg.Lock = lock })
	s1 := f.login(c1, "alice.test", aliceDID)
	c2, err := NewClient(Config{Metadata: c1.md, StateStore: states, SessionStore: sessions, Lock: lock, Now: clock.Now,
		AllowHTTP: true, AllowPrivateNetworks: true, PLCURL: f.plc.URL, HandleResolverURL: f.pds.URL})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := c2.Restore(context.Background(), aliceDID)
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Hour)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*Session{s1, s2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.current(context.Background())
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if _, _, r, _ := f.counts(); r != 1 {
		t.Fatalf("%d refreshes across instances", r)
	}
	if s1.rec.AccessToken != s2.rec.AccessToken {
		t.Fatal("instances disagree on the token")
	}
}

func TestRefreshSurvivesCancellation(t *testing.T) {
	// §2.5 #55: the caller gives up mid-refresh; the rotated tokens are
	// stored anyway.
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, _ := f.newClient()
	s := f.login(c, "alice.test", aliceDID)
	old := s.rec.AccessToken
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	f.refreshHook = func() { cancel(); <-release }
	done := make(chan error)
	go func() { done <- s.Refresh(ctx) }()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	close(release)
	// Wait for the background refresh by joining it.
	for {
		c.flightMu.Lock()
		n := len(c.flights)
		c.flightMu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	rec, err := c.loadRecord(context.Background(), aliceDID)
	if err != nil || rec.AccessToken == old {
		t.Fatalf("rotated tokens lost: %v", err)
	}
}

func TestRefreshStoreFailure(t *testing.T) {
	// Saving refreshed tokens fails: typed error, and the new tokens stay
	// in use (the old refresh token is spent) until the store recovers.
	ctx := context.Background()
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, sessions, _ := f.newClient()
	s := f.login(c, "alice.test", aliceDID)
	sessions.failSet = errors.New("store down")
	err := s.Refresh(ctx)
	if !errors.Is(err, ErrSessionStore) {
		t.Fatalf("err = %v", err)
	}
	fresh := s.rec.AccessToken
	// Another Session of the account in this process uses the live tokens,
	// not the spent ones still in the store.
	s2, err := c.Restore(ctx, aliceDID)
	if err != nil || s2.rec.AccessToken != fresh {
		t.Fatalf("restore while unsaved: %v", err)
	}
	if err := s2.Refresh(ctx); !errors.Is(err, ErrSessionStore) {
		t.Fatalf("second refresh: %v", err)
	}
	fresh = s2.rec.AccessToken
	resp := get(t, s, f.pds.URL+"/xrpc/x")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d with unsaved tokens", resp.StatusCode)
	}
	sessions.mu.Lock()
	sessions.failSet = nil
	sessions.mu.Unlock()
	get(t, s, f.pds.URL+"/xrpc/x").Body.Close()
	rec, err := c.loadRecord(ctx, aliceDID)
	if err != nil || rec.AccessToken != fresh {
		t.Fatalf("tokens not saved once the store recovered: %v", err)
	}
}

func TestSignOut(t *testing.T) {
	ctx := context.Background()
	for _, down := range []bool{false, true} {
		f := newFakeNet(t)
		f.addAccount(aliceDID, "alice.test")
		log := &eventLog{}
		c, _, sessions, _ := f.newClient(func(cfg *Config) { cfg.OnEvent = log.add })
		s := f.login(c, "alice.test", aliceDID)
		f.revokeDown = down
		if down {
			f.as.Close()
		}
		if err := s.SignOut(ctx); err != nil {
			t.Fatal(err)
		}
		if sessions.len() != 0 {
			t.Fatal("session kept after sign-out")
		}
		if e := log.last(); e.Type != SessionDeleted || !errors.Is(e.Cause, ErrTokenRevoked) {
			t.Fatalf("event %+v", e)
		}
		if !down {
			f.mu.Lock()
			n := len(f.revoked)
			f.mu.Unlock()
			if n != 2 {
				t.Fatalf("%d tokens revoked", n)
			}
		}
		if _, err := c.Restore(ctx, aliceDID); !errors.Is(err, ErrSessionNotFound) {
			t.Fatalf("restore after sign-out: %v", err)
		}
	}
}

// trackedBody records whether it was closed.
type trackedBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackedBody) Close() error { b.closed.Store(true); return nil }

func TestTransportWrongOrigin(t *testing.T) {
	// §2.6 #61
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, _ := f.newClient()
	s := f.login(c, "alice.test", aliceDID)
	evil := newFakeNet(t)
	var seen atomic.Bool
	evil.xrpcHook = func(w http.ResponseWriter, r *http.Request) bool { seen.Store(true); return false }
	body := &trackedBody{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest("POST", evil.pds.URL+"/xrpc/x", body)
	_, err := s.Transport().RoundTrip(req)
	if !errors.Is(err, ErrWrongOrigin) || seen.Load() || !body.closed.Load() {
		t.Fatalf("err = %v, sent %v, closed %v", err, seen.Load(), body.closed.Load())
	}
	// Same host, other port or scheme: another origin.
	req, _ = http.NewRequest("GET", strings.Replace(f.pds.URL, "http://", "https://", 1)+"/xrpc/x", nil)
	if _, err := s.Transport().RoundTrip(req); !errors.Is(err, ErrWrongOrigin) {
		t.Fatalf("https variant: %v", err)
	}
}

func TestTransportNonceRotation(t *testing.T) {
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, _ := f.newClient()
	s := f.login(c, "alice.test", aliceDID)
	f.rotateNonce()
	resp := get(t, s, f.pds.URL+"/xrpc/x")
	resp.Body.Close()
	f.mu.Lock()
	calls := f.xrpcCalls
	f.mu.Unlock()
	if resp.StatusCode != 200 || calls != 2 {
		t.Fatalf("status %d after %d calls", resp.StatusCode, calls)
	}
	// The new nonce is cached: the next request goes through at once.
	get(t, s, f.pds.URL+"/xrpc/x").Body.Close()
	f.mu.Lock()
	calls = f.xrpcCalls
	f.mu.Unlock()
	if calls != 3 {
		t.Fatalf("%d calls", calls)
	}
	// A server that keeps asking for the same nonce is not retried forever.
	f.xrpcHook = func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
		w.Header().Set("DPoP-Nonce", "n-"+randomString(4))
		w.WriteHeader(401)
		return true
	}
	resp = get(t, s, f.pds.URL+"/xrpc/x")
	resp.Body.Close()
	f.mu.Lock()
	calls = f.xrpcCalls
	f.mu.Unlock()
	if resp.StatusCode != 401 || calls != 5 {
		t.Fatalf("nonce loop: status %d after %d calls", resp.StatusCode, calls-3)
	}
}

func TestTransportInvalidTokenRefreshesOnce(t *testing.T) {
	// §2.6 #60
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	log := &eventLog{}
	c, _, sessions, _ := f.newClient(func(cfg *Config) { cfg.OnEvent = log.add })
	s := f.login(c, "alice.test", aliceDID)
	// The server revokes the token early.
	f.mu.Lock()
	f.access[s.rec.AccessToken].invalid = true
	f.mu.Unlock()
	// A body without GetBody is buffered and sent again.
	req, _ := http.NewRequest("POST", f.pds.URL+"/xrpc/com.atproto.repo.createRecord", io.MultiReader(strings.NewReader(`{"a":`), strings.NewReader(`1}`)))
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(got, []byte(`{\"a\":1}`)) {
		t.Fatalf("status %d body %s", resp.StatusCode, got)
	}
	if _, _, r, _ := f.counts(); r != 1 {
		t.Fatalf("%d refreshes", r)
	}
	// A PDS that rejects every token: one refresh, one retry, then the
	// session is deleted and the 401 returned.
	f.xrpcHook = func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("WWW-Authenticate", `DPoP error="invalid_token"`)
		w.Header().Set("DPoP-Nonce", f.currentNonce())
		w.WriteHeader(401)
		return true
	}
	f.mu.Lock()
	f.xrpcCalls = 0
	f.mu.Unlock()
	resp = get(t, s, f.pds.URL+"/xrpc/x")
	resp.Body.Close()
	f.mu.Lock()
	calls := f.xrpcCalls
	f.mu.Unlock()
	if _, _, r, _ := f.counts(); resp.StatusCode != 401 || calls != 2 || r != 2 {
		t.Fatalf("401 loop: status %d, %d calls, %d refreshes", resp.StatusCode, calls, r)
	}
	if sessions.len() != 0 || !errors.Is(log.last().Cause, ErrTokenInvalid) {
		t.Fatalf("session kept or wrong cause: %+v", log.last())
	}
}

func TestTransportRefreshFailureReturns401(t *testing.T) {
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, _ := f.newClient()
	s := f.login(c, "alice.test", aliceDID)
	f.mu.Lock()
	f.access[s.rec.AccessToken].invalid = true
	f.refreshErr = "server_error"
	f.mu.Unlock()
	resp := get(t, s, f.pds.URL+"/xrpc/x")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !bytes.Contains(body, []byte("InvalidToken")) {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
}

func TestTransportBodies(t *testing.T) {
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, _ := f.newClient()
	s := f.login(c, "alice.test", aliceDID)

	// GetBody is used for the retry.
	f.rotateNonce()
	req, _ := http.NewRequest("POST", f.pds.URL+"/xrpc/x", bytes.NewReader([]byte("payload")))
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(got, []byte("payload")) {
		t.Fatalf("status %d body %s", resp.StatusCode, got)
	}
	// A body over the buffering limit without GetBody (a blob upload from a
	// file) is spooled to a temporary file and replayed after the nonce
	// retry, byte for byte; the caller's body is closed.
	f.rotateNonce()
	payload := append(bytes.Repeat([]byte("0123456789abcdef"), (maxBufferedBody+5000)/16), "tail payload"...)
	big := &trackedBody{Reader: bytes.NewReader(payload)}
	req, _ = http.NewRequest("POST", f.pds.URL+"/xrpc/x", big)
	req.GetBody = nil
	resp, err = s.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var echo struct{ Body string }
	if err := json.Unmarshal(got, &echo); err != nil || resp.StatusCode != 200 || !big.closed.Load() {
		t.Fatalf("status %d, closed %v, %v", resp.StatusCode, big.closed.Load(), err)
	}
	if echo.Body != string(payload) {
		t.Fatalf("the retried request carried %d bytes, want the %d sent", len(echo.Body), len(payload))
	}
	// The request is not modified.
	req, _ = http.NewRequest("GET", f.pds.URL+"/xrpc/x", nil)
	get(t, s, f.pds.URL+"/xrpc/warm").Body.Close()
	resp, err = s.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.Header.Get("Authorization") != "" || req.Header.Get("DPoP") != "" {
		t.Fatal("caller's request modified")
	}
}

func TestTransportProofPerRequest(t *testing.T) {
	// Each request has its own proof with ath and the query-free htu (the
	// fake PDS checks both and rejects a replayed jti).
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, _ := f.newClient()
	s := f.login(c, "alice.test", aliceDID)
	for range 3 {
		resp := get(t, s, f.pds.URL+"/xrpc/app.bsky.feed.getTimeline?limit=5&cursor=a%20b#frag")
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
}

func TestClientRevokeAndScopes(t *testing.T) {
	ctx := context.Background()
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, sessions, _ := f.newClient()
	s := f.login(c, "alice.test", aliceDID)
	if sc := s.Scopes(); !sc.AllowsRepo("app.bsky.feed.post", "create") || len(sc) != 2 {
		t.Fatalf("scopes %+v", sc)
	}
	if err := c.Revoke(ctx, aliceDID); err != nil {
		t.Fatal(err)
	}
	if sessions.len() != 0 {
		t.Fatal("session kept")
	}
	if _, _, _, rv := f.counts(); rv != 2 {
		t.Fatalf("%d revocations", rv)
	}
	if err := c.Revoke(ctx, aliceDID); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
}

func TestEarlyRefreshFailureUsesValidToken(t *testing.T) {
	// 9 s before expiry the refresh fails for a transient reason: the
	// still-valid token is used, and the session is kept.
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, sessions, clock := f.newClient()
	s := f.login(c, "alice.test", aliceDID)
	old := s.rec.AccessToken
	clock.Add(3600*time.Second - 9*time.Second)
	f.mu.Lock()
	f.refreshErr = "temporarily_unavailable"
	f.mu.Unlock()
	resp := get(t, s, f.pds.URL+"/xrpc/x")
	resp.Body.Close()
	if resp.StatusCode != 200 || s.rec.AccessToken != old || sessions.len() != 1 {
		t.Fatalf("status %d, token changed %v, sessions %d", resp.StatusCode, s.rec.AccessToken != old, sessions.len())
	}
	if _, err := c.Restore(context.Background(), aliceDID); err != nil {
		t.Fatalf("restore: %v", err)
	}
	// Once expired, the failure is reported.
	clock.Add(10 * time.Second)
	if _, err := s.HTTPClient().Get(f.pds.URL + "/xrpc/x"); !errors.Is(err, &OAuthError{Code: "temporarily_unavailable"}) {
		t.Fatalf("expired: %v", err)
	}
}

func TestSmallTypes(t *testing.T) {
	now := time.Unix(1000, 0)
	if (TokenInfo{}).Expired(now) || !(TokenInfo{ExpiresAt: now.Add(4 * time.Second)}).Expired(now) || (TokenInfo{ExpiresAt: now.Add(time.Minute)}).Expired(now) {
		t.Error("TokenInfo.Expired")
	}
	if SessionUpdated.String() != "updated" || SessionDeleted.String() != "deleted" || EventType(0).String() != "unknown" {
		t.Error("EventType.String")
	}
	for _, e := range []error{
		&OAuthError{StatusCode: 400, Code: "invalid_grant", Description: "gone"},
		&CallbackError{Code: "access_denied", Description: "no"}, &CallbackError{Err: ErrInvalidState}, &CallbackError{},
		&RefreshError{DID: aliceDID, Deleted: true, Err: ErrRefreshRejected}, &ResolverError{Input: "x", Err: ErrUnresolved},
	} {
		if !strings.HasPrefix(e.Error(), "oauthtransport: ") {
			t.Errorf("%q", e.Error())
		}
	}
	if errors.Is(&OAuthError{Code: "a"}, &OAuthError{}) || !errors.Is(&RefreshError{Err: ErrRefreshRejected}, ErrRefreshRejected) {
		t.Error("Is/Unwrap")
	}
}
