package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atpgo/atp/oauthtransport"
	"github.com/atpgo/atp/store/memstore"
)

// testApp is an App with in-memory stores and a loopback client whose
// handles resolve through resolver (an httptest server), if given.
type testApp struct {
	*App
	handler  http.Handler
	sessions *memstore.Store
}

func newTestApp(t *testing.T, resolver string, keys *oauthtransport.Keyset) *testApp {
	t.Helper()
	cfg := &config{Scope: defaultScope}
	pub, _ := url.Parse("http://127.0.0.1:8080")
	if keys != nil {
		cfg.ClientID = "https://app.example.com/client-metadata.json"
		pub, _ = url.Parse("https://app.example.com")
	}
	sessions := memstore.New()
	client, err := oauthtransport.NewClient(oauthtransport.Config{
		Metadata:             cfg.clientMetadata(pub, keys != nil),
		Keys:                 keys,
		StateStore:           memstore.New(),
		SessionStore:         sessions,
		HandleResolverURL:    resolver,
		AllowHTTP:            resolver != "",
		AllowPrivateNetworks: resolver != "",
	})
	if err != nil {
		t.Fatal(err)
	}
	app := newApp(appConfig{
		Client:    client,
		CookieKey: []byte("0123456789abcdef0123456789abcdef"),
		PublicURL: pub,
		Loopback:  keys == nil,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return &testApp{App: app, handler: app.Handler(), sessions: sessions}
}

func (ta *testApp) do(t *testing.T, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	if req.Host == "example.com" { // httptest.NewRequest's default
		req.Host = ta.public.Host
	}
	rec := httptest.NewRecorder()
	ta.handler.ServeHTTP(rec, req)
	return rec
}

// signedInCookie returns a valid session cookie for did, and its session.
func (ta *testApp) signedInCookie(t *testing.T, did string) (*http.Cookie, webSession) {
	t.Helper()
	rec := httptest.NewRecorder()
	ta.cookie.setSession(rec, did)
	ck := rec.Result().Cookies()[0]
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(ck)
	ws, ok := ta.cookie.session(req)
	if !ok {
		t.Fatal("fresh session cookie not accepted")
	}
	return ck, ws
}

func TestClientMetadata(t *testing.T) {
	ta := newTestApp(t, "", nil)
	rec := ta.do(t, httptest.NewRequest("GET", "/client-metadata.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	var m oauthtransport.ClientMetadata
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	want := "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fatproto-oauth-callback&scope=atproto+transition%3Ageneric"
	if m.ClientID != want {
		t.Errorf("client_id = %q, want %q", m.ClientID, want)
	}
	if len(m.RedirectURIs) != 1 || m.RedirectURIs[0] != "http://127.0.0.1:8080/atproto-oauth-callback" {
		t.Errorf("redirect_uris = %q", m.RedirectURIs)
	}
}

func TestConfidentialMetadataAndJWKS(t *testing.T) {
	key, err := oauthtransport.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := oauthtransport.NewKeyset(key)
	ta := newTestApp(t, "", keys)

	rec := ta.do(t, httptest.NewRequest("GET", "/client-metadata.json", nil))
	var m oauthtransport.ClientMetadata
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(rec.Code, err)
	}
	if m.ClientID != "https://app.example.com/client-metadata.json" || m.TokenEndpointAuthMethod != "private_key_jwt" ||
		m.JWKSURI != "https://app.example.com/jwks.json" || m.RedirectURIs[0] != "https://app.example.com/atproto-oauth-callback" {
		t.Errorf("metadata = %+v", m)
	}

	rec = ta.do(t, httptest.NewRequest("GET", "/jwks.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("jwks status %d", rec.Code)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 || set.Keys[0]["kid"] != "k1" {
		t.Fatalf("jwks = %s", rec.Body)
	}
	if _, ok := set.Keys[0]["d"]; ok {
		t.Fatal("JWKS leaks the private key")
	}
	// Over https, cookies are Secure with the __Host- prefix.
	ck, _ := ta.signedInCookie(t, "did:plc:abc")
	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Name != "__Host-atp_session" || ck.Path != "/" {
		t.Errorf("cookie = %+v", ck)
	}
}

func TestAPIMeSignedOut(t *testing.T) {
	ta := newTestApp(t, "", nil)
	rec := ta.do(t, httptest.NewRequest("GET", "/api/me", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
}

func TestAPIMeSessionGone(t *testing.T) {
	// A valid cookie whose OAuth session is not in the store (signed out
	// elsewhere): 401, and the cookie is cleared.
	ta := newTestApp(t, "", nil)
	ck, _ := ta.signedInCookie(t, "did:plc:ewvi7nxzyoun6zhxrhs64oiz")
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.AddCookie(ck)
	rec := ta.do(t, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	cleared := false
	for _, c := range rec.Result().Cookies() {
		cleared = cleared || (c.Name == sessionCookie && c.MaxAge < 0)
	}
	if !cleared {
		t.Error("session cookie not cleared")
	}
}

func TestCookieTamperingRejected(t *testing.T) {
	ta := newTestApp(t, "", nil)
	ck, _ := ta.signedInCookie(t, "did:plc:alice")
	payload, sig, _ := strings.Cut(ck.Value, ".")
	raw, _ := decodeB64(payload)
	forged := strings.Replace(string(raw), "did:plc:alice", "did:plc:mallory", 1)

	for name, value := range map[string]string{
		"changed payload": encodeB64([]byte(forged)) + "." + sig,
		"changed mac":     payload + "." + encodeB64([]byte("not the mac")),
		"no mac":          payload,
		"empty":           "",
		"other purpose":   ta.cookie.sign("handle", raw), // a MAC made for another cookie
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/me", nil)
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: value})
			if rec := ta.do(t, req); rec.Code != http.StatusUnauthorized {
				t.Errorf("/api/me status %d", rec.Code)
			}
			req = httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: value})
			rec := ta.do(t, req)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="signin"`) {
				t.Errorf("home: status %d, not the sign-in page", rec.Code)
			}
		})
	}
}

func TestSessionCookieExpires(t *testing.T) {
	ta := newTestApp(t, "", nil)
	ck, _ := ta.signedInCookie(t, "did:plc:alice")
	ta.cookie.now = func() time.Time { return time.Now().Add(sessionLifetime + time.Minute) }
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(ck)
	if _, ok := ta.cookie.session(req); ok {
		t.Fatal("expired session cookie accepted")
	}
}

func TestCSRFRejected(t *testing.T) {
	ta := newTestApp(t, "", nil)
	ck, ws := ta.signedInCookie(t, "did:plc:alice")
	other, _ := ta.signedInCookie(t, "did:plc:alice") // another sign-in: another token
	otherReq := httptest.NewRequest("GET", "/", nil)
	otherReq.AddCookie(other)
	ows, _ := ta.cookie.session(otherReq)

	for _, path := range []string{"/post", "/logout"} {
		for name, token := range map[string]string{
			"missing":             "",
			"wrong":               "AAAA",
			"other session's":     ta.cookie.csrfToken(ows),
			"valid with a suffix": ta.cookie.csrfToken(ws) + "x",
		} {
			t.Run(path+" "+name, func(t *testing.T) {
				form := url.Values{"text": {"hello"}}
				if token != "" {
					form.Set("csrf", token)
				}
				req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.AddCookie(ck)
				rec := ta.do(t, req)
				if rec.Code != http.StatusForbidden {
					t.Errorf("status %d, want 403", rec.Code)
				}
				for _, c := range rec.Result().Cookies() {
					if c.Name == sessionCookie {
						t.Errorf("a rejected %s touched the session cookie", path)
					}
				}
			})
		}
	}
	// A valid token for a session whose OAuth session is gone gets past the
	// CSRF check (and is then told the session ended): the check accepts
	// the right token.
	form := url.Values{"text": {"hello"}, "csrf": {ta.cookie.csrfToken(ws)}}
	req := httptest.NewRequest("POST", "/post", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(ck)
	if rec := ta.do(t, req); rec.Code != http.StatusUnauthorized {
		t.Errorf("valid token: status %d, want 401 (session gone)", rec.Code)
	}
	// Signed out, a form post is refused too.
	req = httptest.NewRequest("POST", "/logout", strings.NewReader("csrf=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if rec := ta.do(t, req); rec.Code != http.StatusForbidden {
		t.Errorf("signed out: status %d, want 403", rec.Code)
	}
}

func TestLoginBadHandle(t *testing.T) {
	// A resolver that knows no handle, as the reference PDS answers.
	resolver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/xrpc/com.atproto.identity.resolveHandle" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"HandleNotFound","message":"Unable to resolve handle"}`)
	}))
	defer resolver.Close()
	ta := newTestApp(t, resolver.URL, nil)

	for _, handle := range []string{"nobody.test", "not a handle", "<script>alert(1)</script>"} {
		t.Run(handle, func(t *testing.T) {
			rec := ta.do(t, httptest.NewRequest("GET", "/login?handle="+url.QueryEscape(handle), nil))
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			body := rec.Body.String()
			if !strings.Contains(body, "We could not find the account") {
				t.Errorf("no error message in %s", body)
			}
			if strings.Contains(body, "<script>alert") {
				t.Error("handle not escaped")
			}
			if rec.Header().Get("Location") != "" {
				t.Error("redirected")
			}
			for _, c := range rec.Result().Cookies() {
				if c.Name == loginCookie {
					t.Error("login cookie set for a failed sign-in")
				}
			}
		})
	}
	rec := ta.do(t, httptest.NewRequest("GET", "/login?handle=", nil))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("empty handle: status %d", rec.Code)
	}
}

func TestCallbackUnknownState(t *testing.T) {
	ta := newTestApp(t, "", nil)
	rec := ta.do(t, httptest.NewRequest("GET", callbackPath+"?state=nope&code=x&iss=https%3A%2F%2Fbsky.social", nil))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "expired or was already used") {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie && c.MaxAge >= 0 {
			t.Error("signed in by a bad callback")
		}
	}
}

func TestLoopbackCanonicalHost(t *testing.T) {
	ta := newTestApp(t, "", nil)
	req := httptest.NewRequest("GET", "http://localhost:8080/api/me?x=1", nil)
	rec := ta.do(t, req)
	if rec.Code != http.StatusTemporaryRedirect || rec.Header().Get("Location") != "http://127.0.0.1:8080/api/me?x=1" {
		t.Fatalf("status %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
}

func TestSecurityHeaders(t *testing.T) {
	ta := newTestApp(t, "", nil)
	rec := ta.do(t, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
		if rec.Header().Get(h) == "" {
			t.Errorf("no %s", h)
		}
	}
}

func TestParseConfig(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	cfg, err := parseConfig(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:8080" || cfg.ClientID != "" || cfg.Scope != defaultScope || cfg.DataDir != "data" {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = parseConfig([]string{"-addr", "127.0.0.1:18080", "-dev", "-plc-url", "http://localhost:2582", "-handle-resolver", "http://localhost:2583"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Dev || cfg.PLCURL != "http://localhost:2582" || cfg.HandleResolver != "http://localhost:2583" {
		t.Errorf("dev flags: %+v", cfg)
	}

	if _, err := parseConfig([]string{"-tls-cert", "c.pem"}, getenv, io.Discard); err == nil {
		t.Error("-tls-cert without -tls-key accepted")
	}
	if _, err := parseConfig([]string{"-tls-cert", "c.pem", "-tls-key", "k.pem"}, getenv, io.Discard); err == nil {
		t.Error("TLS for a loopback client accepted")
	}
	env["PRIVATE_KEY_1"] = "x"
	if _, err := parseConfig(nil, getenv, io.Discard); err == nil {
		t.Error("keys without a client_id accepted")
	}
	delete(env, "PRIVATE_KEY_1")
	if _, err := parseConfig([]string{"-redis-url", "redis://localhost:6379"}, getenv, io.Discard); err == nil {
		t.Error("redis without COOKIE_SECRET accepted")
	}
	env["COOKIE_SECRET"] = strings.Repeat("ab", 32)
	env["SESSION_STORE_KEY"] = strings.Repeat("cd", 32)
	cfg, err = parseConfig([]string{"-redis-url", "redis://localhost:6379"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.CookieSecret) != 32 || len(cfg.StoreKey) != 32 {
		t.Errorf("secrets: %d %d", len(cfg.CookieSecret), len(cfg.StoreKey))
	}
	env["SESSION_STORE_KEY"] = "abcd"
	if _, err := parseConfig(nil, getenv, io.Discard); err == nil {
		t.Error("short SESSION_STORE_KEY accepted")
	}
}

func TestPublicURL(t *testing.T) {
	for _, tc := range []struct {
		cfg  config
		addr string
		want string
	}{
		{config{}, "127.0.0.1:8080", "http://127.0.0.1:8080"},
		{config{}, "0.0.0.0:8080", "http://127.0.0.1:8080"},
		{config{}, "[::1]:9000", "http://[::1]:9000"},
		{config{}, "192.0.2.1:80", ""},
		{config{ClientID: "https://app.example.com/client-metadata.json"}, "0.0.0.0:8080", "https://app.example.com"},
		{config{ClientID: "http://app.example.com/client-metadata.json"}, "0.0.0.0:8080", ""},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		u, err := tc.cfg.publicURL(addr)
		got := ""
		if err == nil {
			got = u.String()
		}
		if got != tc.want {
			t.Errorf("%+v on %s: %q (%v), want %q", tc.cfg, tc.addr, got, err, tc.want)
		}
	}
}

func TestLoadCookieKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := loadCookieKey(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := loadCookieKey(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != 32 || string(k1) != string(k2) {
		t.Fatal("key not persisted")
	}
	fi, err := os.Stat(filepath.Join(dir, "cookie.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cookie.key mode %v", fi.Mode().Perm())
	}
	secret := []byte("from the environment, 32 bytes..")
	if k, _ := loadCookieKey(secret, dir); string(k) != string(secret) {
		t.Error("COOKIE_SECRET not used")
	}
}

func TestNeedsUser(t *testing.T) {
	for code, want := range map[string]bool{"login_required": true, "consent_required": true, "access_denied": false, "": false} {
		if needsUser(code) != want {
			t.Errorf("needsUser(%q) = %v", code, !want)
		}
	}
}

func encodeB64(b []byte) string          { return base64.RawURLEncoding.EncodeToString(b) }
func decodeB64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
