package oauthtransport

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func (f *fakeNet) onlyPAR() *parRecord {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pars) != 1 {
		f.t.Fatalf("%d pending PARs", len(f.pars))
	}
	for _, p := range f.pars {
		return p
	}
	return nil
}

func (f *fakeNet) counts() (par, token, refresh, revoke int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.parCalls, f.tokenCalls, f.refreshCalls, f.revokeCalls
}

// login runs a complete login of handle (signing in as sub) and returns
// the session.
func (f *fakeNet) login(c *Client, input, sub string) *Session {
	f.t.Helper()
	authURL, err := c.Authorize(context.Background(), input, AuthorizeOptions{State: "app-state"})
	if err != nil {
		f.t.Fatal(err)
	}
	sess, st, err := c.Callback(context.Background(), f.approve(authURL, sub))
	if err != nil {
		f.t.Fatal(err)
	}
	if st != "app-state" {
		f.t.Fatalf("app state %q", st)
	}
	return sess
}

func TestAuthorizeCallback(t *testing.T) {
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	var events []Event
	c, states, sessions, _ := f.newClient(func(cfg *Config) {
		cfg.OnEvent = func(_ context.Context, e Event) { events = append(events, e) }
	})
	ctx := context.Background()
	authURL, err := c.Authorize(ctx, "alice.test", AuthorizeOptions{State: "434321", UILocales: "fr-CA fr en", Prompt: "login", Display: "page"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	if !strings.HasPrefix(authURL, f.as.URL+"/oauth/authorize?") || u.Query().Get("client_id") != c.md.ClientID || len(u.Query()) != 2 {
		t.Fatalf("authorization URL %s", authURL)
	}
	par := f.onlyPAR()
	form := par.form
	// §2.3 #33: a fresh random state; the app's state is never sent.
	if strings.Contains(form.Encode(), "434321") || len(form.Get("state")) != 22 {
		t.Fatalf("PAR form %v", form)
	}
	for k, want := range map[string]string{"login_hint": "alice.test", "ui_locales": "fr-CA fr en", "prompt": "login", "display": "page",
		"scope": "atproto transition:generic", "redirect_uri": testRedirect(), "code_challenge_method": "S256"} {
		if form.Get(k) != want {
			t.Errorf("PAR %s = %q, want %q", k, form.Get(k), want)
		}
	}
	// The first PAR had no nonce and was retried once with it.
	if p, _, _, _ := f.counts(); p != 2 {
		t.Fatalf("%d PAR calls, want 2 (use_dpop_nonce retry)", p)
	}
	if states.len() != 1 {
		t.Fatal("state not stored")
	}

	sess, appState, err := c.Callback(ctx, f.approve(authURL, aliceDID))
	if err != nil {
		t.Fatal(err)
	}
	if appState != "434321" || sess.DID() != aliceDID {
		t.Fatalf("callback: %q %q", appState, sess.DID())
	}
	info := sess.TokenInfo()
	if info.Subject != aliceDID || info.Issuer != f.as.URL || info.Audience != f.pds.URL || info.Scope != "atproto transition:generic" ||
		!info.ExpiresAt.Equal(c.now().Add(3600e9)) {
		t.Fatalf("token info %+v", info)
	}
	if states.len() != 0 || sessions.len() != 1 {
		t.Fatalf("stores: %d states, %d sessions", states.len(), sessions.len())
	}
	if len(events) != 1 || events[0].Type != SessionUpdated || events[0].DID != aliceDID {
		t.Fatalf("events %+v", events)
	}
	// The session's DPoP key is the one the code was bound to, and the
	// token works at the PDS.
	resp, err := sess.HTTPClient().Get(f.pds.URL + "/xrpc/com.atproto.server.getSession")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("resource request: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestAuthorizeFromDIDAndURL(t *testing.T) {
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, _ := f.newClient()
	ctx := context.Background()
	if _, err := c.Authorize(ctx, aliceDID, AuthorizeOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := f.onlyPAR().form.Get("login_hint"); got != aliceDID {
		t.Fatalf("login_hint %q", got)
	}
	f.pars = map[string]*parRecord{}
	// A PDS URL: no expected DID, no login hint; the sub's DID document is
	// then checked to point to this server.
	authURL, err := c.Authorize(ctx, f.pds.URL, AuthorizeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.onlyPAR().form.Has("login_hint") {
		t.Fatal("login_hint for a URL login")
	}
	if _, _, err := c.Callback(ctx, f.approve(authURL, aliceDID)); err != nil {
		t.Fatal(err)
	}
	// An authorization server (entryway) URL works too.
	if _, err := c.Authorize(ctx, f.as.URL, AuthorizeOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestAuthorizeChecksBeforeNetwork(t *testing.T) {
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, _ := f.newClient()
	ctx := context.Background()
	// §2.1 #10
	if _, err := c.Authorize(ctx, "alice.test", AuthorizeOptions{RedirectURI: "http://127.0.0.1:9999/evil"}); !errors.Is(err, ErrRedirectURINotRegistered) {
		t.Fatalf("unregistered redirect: %v", err)
	}
	if _, err := c.Authorize(ctx, "alice.test", AuthorizeOptions{Scope: "atproto transition:email"}); !errors.Is(err, ErrScopeNotDeclared) {
		t.Fatalf("undeclared scope: %v", err)
	}
	for _, o := range []AuthorizeOptions{{Scope: "transition:generic"}, {Scope: "atproto bogus:thing"}, {Prompt: "always"}, {Display: "tv"}} {
		if _, err := c.Authorize(ctx, "alice.test", o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.prCalls != 0 || f.parCalls != 0 {
		t.Fatalf("network used: %d PR, %d PAR", f.prCalls, f.parCalls)
	}
}

func TestAuthorizeServerChecks(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		setup func(f *fakeNet)
		want  error
	}{
		// §2.3 #29
		"method none unsupported": {func(f *fakeNet) {
			f.asMeta = func(m map[string]any) { m["token_endpoint_auth_methods_supported"] = []string{"private_key_jwt"} }
		}, ErrAuthMethodUnsatisfiable},
		// §2.3 #36
		"no request_uri":   {func(f *fakeNet) { f.parResp = func(m map[string]any) { delete(m, "request_uri") } }, ErrInvalidServerMetadata},
		"expires_in 0":     {func(f *fakeNet) { f.parResp = func(m map[string]any) { m["expires_in"] = 0 } }, ErrInvalidServerMetadata},
		"expires_in float": {func(f *fakeNet) { f.parResp = func(m map[string]any) { m["expires_in"] = 1.5 } }, ErrInvalidServerMetadata},
		// §2.7: an AS answer without DPoP-Nonce.
		"no DPoP-Nonce": {func(f *fakeNet) { f.noNonceHdr = true }, ErrMissingDPoPNonce},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeNet(t)
			f.addAccount(aliceDID, "alice.test")
			tc.setup(f)
			c, states, _, _ := f.newClient()
			if _, err := c.Authorize(ctx, "alice.test", AuthorizeOptions{}); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if states.len() != 0 {
				t.Fatal("state of a failed authorization kept")
			}
		})
	}
}

func TestAuthorizeFreshKeysAndState(t *testing.T) {
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, _ := f.newClient()
	ctx := context.Background()
	if _, err := c.Authorize(ctx, "alice.test", AuthorizeOptions{}); err != nil {
		t.Fatal(err)
	}
	a := f.onlyPAR()
	f.pars = map[string]*parRecord{}
	if _, err := c.Authorize(ctx, "alice.test", AuthorizeOptions{}); err != nil {
		t.Fatal(err)
	}
	b := f.onlyPAR()
	// §2.3 #33, #34, #35
	if a.jkt == b.jkt || a.form.Get("state") == b.form.Get("state") || a.form.Get("code_challenge") == b.form.Get("code_challenge") {
		t.Fatal("DPoP key, state or PKCE reused across logins")
	}
}

func TestCallbackChecks(t *testing.T) {
	ctx := context.Background()
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	f.addAccount(bobDID, "bob.test")
	c, _, sessions, _ := f.newClient()

	start := func(state string) (string, url.Values) {
		t.Helper()
		authURL, err := c.Authorize(ctx, "alice.test", AuthorizeOptions{State: state})
		if err != nil {
			t.Fatal(err)
		}
		return authURL, f.approve(authURL, aliceDID)
	}

	// §2.4 #37: missing and unknown state.
	if _, _, err := c.Callback(ctx, url.Values{"code": {"x"}}); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("no state: %v", err)
	}
	if _, _, err := c.Callback(ctx, url.Values{"state": {"nope"}, "code": {"x"}, "iss": {f.as.URL}}); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("unknown state: %v", err)
	}

	// §2.4 #42 and #38: a wrong iss fails, and the state is then spent.
	_, params := start("s1")
	good := params.Get("iss")
	params.Set("iss", "https://evil.example.com")
	_, st, err := c.Callback(ctx, params)
	var ce *CallbackError
	if !errors.Is(err, ErrIssuerMismatch) || !errors.As(err, &ce) || ce.AppState != "s1" || st != "s1" {
		t.Fatalf("wrong iss: %v (%q)", err, st)
	}
	params.Set("iss", good)
	if _, _, err := c.Callback(ctx, params); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("replay after failure: %v", err)
	}
	_, params = start("s1b")
	params.Del("iss")
	if _, _, err := c.Callback(ctx, params); !errors.Is(err, ErrIssuerMismatch) {
		t.Fatalf("missing iss: %v", err)
	}

	// Replay of a successful callback.
	_, params = start("s2")
	if _, _, err := c.Callback(ctx, params); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Callback(ctx, params); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("replayed callback: %v", err)
	}

	// §2.4 #40: an error response carries the code and the app state.
	_, params = start("silent")
	errParams := url.Values{"state": params["state"], "iss": params["iss"], "error": {"login_required"}, "error_description": {"sign in"}}
	_, st, err = c.Callback(ctx, errParams)
	if !errors.As(err, &ce) || ce.Code != "login_required" || ce.AppState != "silent" || st != "silent" || !errors.Is(err, &OAuthError{Code: "login_required"}) {
		t.Fatalf("error response: %v", err)
	}

	// §2.4 #39, #41
	_, params = start("jarm")
	params.Set("response", "eyJ...")
	if _, _, err := c.Callback(ctx, params); err == nil {
		t.Fatal("JARM response accepted")
	}
	_, params = start("nocode")
	params.Del("code")
	if _, _, err := c.Callback(ctx, params); err == nil {
		t.Fatal("callback without code accepted")
	}
	_ = sessions
}

func TestCallbackSubjectMismatch(t *testing.T) {
	ctx := context.Background()
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	f.addAccount(bobDID, "bob.test")
	c, _, sessions, _ := f.newClient()
	authURL, err := c.Authorize(ctx, "alice.test", AuthorizeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Bob signs in on a login started for Alice.
	_, _, err = c.Callback(ctx, f.approve(authURL, bobDID))
	if !errors.Is(err, ErrSubjectMismatch) {
		t.Fatalf("err = %v", err)
	}
	f.mu.Lock()
	revoked := len(f.revoked)
	f.mu.Unlock()
	if revoked != 2 || sessions.len() != 0 {
		t.Fatalf("%d tokens revoked, %d sessions", revoked, sessions.len())
	}
}

func TestCallbackIssuerMismatch(t *testing.T) {
	// §2.4 #44: a login started from a PDS URL; the account that signs in
	// has its PDS on another authorization server.
	ctx := context.Background()
	f := newFakeNet(t)
	other := newFakeNet(t)
	f.addAccount(bobDID, "bob.test")
	f.setPDS(bobDID, other.pds.URL)
	c, _, sessions, _ := f.newClient()
	authURL, err := c.Authorize(ctx, f.pds.URL, AuthorizeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Callback(ctx, f.approve(authURL, bobDID))
	if !errors.Is(err, ErrIssuerMismatch) {
		t.Fatalf("err = %v", err)
	}
	f.mu.Lock()
	revoked := len(f.revoked)
	f.mu.Unlock()
	if revoked != 2 || sessions.len() != 0 {
		t.Fatalf("%d tokens revoked, %d sessions", revoked, sessions.len())
	}
}

func TestCallbackTokenResponseChecks(t *testing.T) {
	ctx := context.Background()
	// §2.4 #43
	cases := map[string]func(m map[string]any){
		"Bearer":        func(m map[string]any) { m["token_type"] = "Bearer" },
		"sub not DID":   func(m map[string]any) { m["sub"] = "alice.test" },
		"sub did:key":   func(m map[string]any) { m["sub"] = "did:key:z6Mk" },
		"no atproto":    func(m map[string]any) { m["scope"] = "transition:generic" },
		"no scope":      func(m map[string]any) { delete(m, "scope") },
		"id_token":      func(m map[string]any) { m["id_token"] = "x.y.z" },
		"no token":      func(m map[string]any) { delete(m, "access_token") },
		"neg expiry":    func(m map[string]any) { m["expires_in"] = -5 },
		"string expiry": func(m map[string]any) { m["expires_in"] = "3600" },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeNet(t)
			f.addAccount(aliceDID, "alice.test")
			f.tokenResp = edit
			c, _, sessions, _ := f.newClient()
			authURL, err := c.Authorize(ctx, "alice.test", AuthorizeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Callback(ctx, f.approve(authURL, aliceDID)); !errors.Is(err, ErrInvalidTokenResponse) {
				t.Fatalf("err = %v", err)
			}
			if sessions.len() != 0 {
				t.Fatal("session saved")
			}
		})
	}
}

func TestCallbackStoreFailure(t *testing.T) {
	// §2.4 #47: the session store refuses the new session: the tokens are
	// revoked and the error says so.
	ctx := context.Background()
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, sessions, _ := f.newClient()
	sessions.failSet = errors.New("disk full")
	authURL, err := c.Authorize(ctx, "alice.test", AuthorizeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Callback(ctx, f.approve(authURL, aliceDID)); !errors.Is(err, ErrSessionStore) {
		t.Fatalf("err = %v", err)
	}
	if _, _, _, rv := f.counts(); rv != 2 {
		t.Fatalf("%d revocations, want 2", rv)
	}
}

func TestCallbackReplacesPreviousSession(t *testing.T) {
	// §2.4 #46
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, _ := f.newClient()
	first := f.login(c, "alice.test", aliceDID)
	f.login(c, "alice.test", aliceDID)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !strings.Contains(strings.Join(f.revoked, " "), first.rec.AccessToken) {
		t.Fatal("previous session's tokens not revoked")
	}
}

func TestConfidentialClient(t *testing.T) {
	ctx := context.Background()
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	ks := newTestKeyset(t, "new", "old")
	id := "https://app.example.com/client-metadata.json"
	fakeClientKeys[id] = ks
	t.Cleanup(func() { delete(fakeClientKeys, id) })
	md := ClientMetadata{ClientID: id, RedirectURIs: []string{"https://app.example.com/callback"}}
	c, _, _, _ := f.newClient(func(cfg *Config) { cfg.Metadata, cfg.Keys = md, ks })
	sess := f.login(c, "alice.test", aliceDID)
	if sess.rec.Auth != (clientAuth{Method: AuthMethodPrivateKeyJWT, KID: "new"}) {
		t.Fatalf("auth %+v", sess.rec.Auth)
	}
	// §2.3 #30: an AS that takes no ES256 assertion.
	f.asMeta = func(m map[string]any) { m["token_endpoint_auth_signing_alg_values_supported"] = []string{"RS256"} }
	if _, err := c.Authorize(ctx, "alice.test", AuthorizeOptions{}); !errors.Is(err, ErrAuthMethodUnsatisfiable) {
		t.Fatalf("no ES256: %v", err)
	}
}

func FuzzTokenResponse(f *testing.F) {
	f.Add([]byte(`{"access_token":"a","token_type":"DPoP","sub":"did:plc:abc","scope":"atproto","expires_in":3600}`))
	f.Add([]byte(`{"access_token":"a","token_type":"dpop","sub":"did:web:x.com","scope":"atproto x","expires_in":1e3}`))
	f.Add([]byte(`{"id_token":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := parseTokenResponse(data)
		if err != nil {
			return
		}
		if tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "DPoP") || !hasScope(tok.Scope, "atproto") || !isAtprotoDID(tok.Sub) || tok.expiresIn < 0 {
			t.Fatalf("accepted %+v", tok)
		}
	})
}

func TestRedirectAllowed(t *testing.T) {
	reg := []string{"http://127.0.0.1/callback", "http://[::1]:8765/cb", "https://app.example.com/cb"}
	cases := map[string]bool{
		"http://127.0.0.1/callback":       true,
		"http://127.0.0.1:54321/callback": true, // any port for a port-less loopback registration
		"http://127.0.0.1:54321/other":    false,
		"http://[::1]:8765/cb":            true,
		"http://[::1]:9999/cb":            false, // registered with a port: exact
		"https://app.example.com/cb":      true,
		"https://app.example.com:444/cb":  false,
		"http://127.0.0.1:1/callback?x=1": false,
	}
	for uri, want := range cases {
		if got := redirectAllowed(reg, uri); got != want {
			t.Errorf("%s: %v, want %v", uri, got, want)
		}
	}
}

func TestResponseSizeCaps(t *testing.T) {
	ctx := context.Background()
	huge := strings.Repeat("x", maxMetadataSize)
	// A token response over the cap.
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	f.tokenResp = func(m map[string]any) { m["padding"] = huge }
	c, _, _, _ := f.newClient()
	authURL, err := c.Authorize(ctx, "alice.test", AuthorizeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Callback(ctx, f.approve(authURL, aliceDID)); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("token response: %v", err)
	}
	// A PAR response over the cap.
	f.parResp = func(m map[string]any) { m["padding"] = huge }
	if _, err := c.Authorize(ctx, "alice.test", AuthorizeOptions{}); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("PAR response: %v", err)
	}
	// A DID document over the cap; the error is a *ResolverError.
	f.parResp = nil
	f.mu.Lock()
	f.docs[aliceDID]["padding"] = huge
	f.mu.Unlock()
	_, err = c.Authorize(ctx, "alice.test", AuthorizeOptions{})
	var re *ResolverError
	if !errors.Is(err, ErrResponseTooLarge) || !errors.As(err, &re) || re.Input != "alice.test" {
		t.Fatalf("DID document: %v", err)
	}
}

func TestAuthorizeNonceRetriedOnce(t *testing.T) {
	// §2.6 #59: an AS that asks for a new nonce every time gets one retry.
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	f.nonceChurn = true
	c, _, _, _ := f.newClient()
	_, err := c.Authorize(context.Background(), "alice.test", AuthorizeOptions{})
	if !errors.Is(err, &OAuthError{Code: "use_dpop_nonce"}) {
		t.Fatalf("err = %v", err)
	}
	if p, _, _, _ := f.counts(); p != 2 {
		t.Fatalf("%d PAR calls, want 2", p)
	}
}
