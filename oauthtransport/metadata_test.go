package oauthtransport

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func newTestKeyset(t *testing.T, kids ...string) *Keyset {
	t.Helper()
	var keys []*Key
	for _, kid := range kids {
		k, err := GenerateKey(kid)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	ks, err := NewKeyset(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func webMetadata() ClientMetadata {
	return ClientMetadata{
		ClientID:     "https://app.example.com/client-metadata.json",
		ClientName:   "Test",
		RedirectURIs: []string{"https://app.example.com/callback"},
		Scope:        "atproto transition:generic",
	}
}

func TestNewClientConfidentialDefaults(t *testing.T) {
	ks := newTestKeyset(t, "k1", "k2")
	c, err := NewClient(Config{Metadata: webMetadata(), Keys: ks, StateStore: newMemStore(), SessionStore: newMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Metadata()
	if m.TokenEndpointAuthMethod != AuthMethodPrivateKeyJWT || m.TokenEndpointAuthSigningAlg != "ES256" ||
		!m.DPoPBoundAccessTokens || m.ApplicationType != "web" || m.JWKS == nil || len(m.JWKS.Keys) != 2 {
		t.Fatalf("metadata %+v", m)
	}

	rec := httptest.NewRecorder()
	c.MetadataHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/client-metadata.json", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("metadata handler: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var served ClientMetadata
	if err := json.Unmarshal(rec.Body.Bytes(), &served); err != nil || served.ClientID != m.ClientID {
		t.Fatalf("served %s: %v", rec.Body, err)
	}
	if strings.Contains(rec.Body.String(), `"d"`) {
		t.Fatal("private key material in metadata")
	}
	rec = httptest.NewRecorder()
	c.JWKSHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/jwks.json", nil))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil || len(set.Keys) != 2 || !set.Keys[0].IsPublic() || strings.Contains(rec.Body.String(), `"d"`) {
		t.Fatalf("jwks %s: %v", rec.Body, err)
	}
	rec = httptest.NewRecorder()
	c.JWKSHandler().ServeHTTP(rec, httptest.NewRequest("POST", "/jwks.json", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}
}

func TestNewClientLoopback(t *testing.T) {
	id := LoopbackClientID("atproto transition:generic", "http://127.0.0.1:8765/callback")
	c, err := NewClient(Config{Metadata: ClientMetadata{ClientID: id}, StateStore: newMemStore(), SessionStore: newMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Metadata()
	if m.ApplicationType != "native" || m.TokenEndpointAuthMethod != "none" || m.Scope != "atproto transition:generic" ||
		len(m.RedirectURIs) != 1 || m.RedirectURIs[0] != "http://127.0.0.1:8765/callback" {
		t.Fatalf("loopback metadata %+v", m)
	}
	c, err = NewClient(Config{Metadata: ClientMetadata{ClientID: "http://localhost"}, StateStore: newMemStore(), SessionStore: newMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Metadata(); m.Scope != "atproto" || len(m.RedirectURIs) != 2 {
		t.Fatalf("bare loopback %+v", m)
	}
	// Keys make no sense for a loopback client.
	if _, err := NewClient(Config{Metadata: ClientMetadata{ClientID: "http://localhost"}, Keys: newTestKeyset(t, "k"), StateStore: newMemStore(), SessionStore: newMemStore()}); !errors.Is(err, ErrInvalidClientMetadata) {
		t.Fatalf("loopback with keys: %v", err)
	}
	if _, err := NewClient(Config{Metadata: ClientMetadata{ClientID: "http://localhost"}}); err == nil {
		t.Fatal("no stores accepted")
	}
	for _, u := range []string{"plc.directory", "ftp://plc.directory", "https://plc.directory?x=1"} {
		if _, err := NewClient(Config{Metadata: ClientMetadata{ClientID: "http://localhost"}, PLCURL: u, StateStore: newMemStore(), SessionStore: newMemStore()}); err == nil {
			t.Errorf("PLCURL %q accepted", u)
		}
	}
}

func TestClientIDRules(t *testing.T) {
	bad := []string{
		// §2.1 #1: loopback form
		"http://localhost/path", "http://localhost#frag", "http://localhost?foo=bar",
		"http://localhost?scope=atproto&scope=atproto", "http://localhost:8080", "http://127.0.0.1",
		"http://user@localhost", "http://app.example.com/client.json",
		// §2.1 #2: discoverable form
		"https://u:p@app.example.com/c.json", "https://app.example.com/c.json#x", "https://app.example.com",
		"https://app.example.com/", "https://app.example.com/dir/", "https://1.2.3.4/c.json", "https://[::1]/c.json",
		"https://app.example.com/a/../b.json", "https://localhost/c.json", "https://app.test/c.json",
		"https://app.local/c.json", "https://single/c.json", "ftp://app.example.com/c.json",
	}
	for _, id := range bad {
		m := ClientMetadata{ClientID: id, RedirectURIs: []string{"https://app.example.com/cb"}}
		if _, err := NewClient(Config{Metadata: m, StateStore: newMemStore(), SessionStore: newMemStore()}); !errors.Is(err, ErrInvalidClientMetadata) {
			t.Errorf("client_id %q accepted: %v", id, err)
		}
	}
	good := []string{"http://localhost", "http://localhost/", "http://localhost/?scope=atproto",
		"https://app.example.com/client-metadata.json", "https://app.example.com:8443/oauth/client.json", "https://client.interop.internal/c.json"}
	for _, id := range good {
		m := ClientMetadata{ClientID: id}
		if !isLoopbackClientID(id) {
			m.RedirectURIs = []string{"https://app.example.com/cb"}
		}
		if _, err := NewClient(Config{Metadata: m, StateStore: newMemStore(), SessionStore: newMemStore()}); err != nil {
			t.Errorf("client_id %q rejected: %v", id, err)
		}
	}
}

func TestMetadataValidation(t *testing.T) {
	ks := newTestKeyset(t, "k1")
	other := newTestKeyset(t, "k1")
	otherJWKS := other.PublicJWKS()
	cases := map[string]func(*ClientMetadata){
		"no atproto scope":      func(m *ClientMetadata) { m.Scope = "transition:generic" },
		"no code response type": func(m *ClientMetadata) { m.ResponseTypes = []string{"token"} },
		"no authorization_code": func(m *ClientMetadata) { m.GrantTypes = []string{"refresh_token"} },
		"client_secret_basic":   func(m *ClientMetadata) { m.TokenEndpointAuthMethod = "client_secret_basic" },
		"RS256":                 func(m *ClientMetadata) { m.TokenEndpointAuthSigningAlg = "RS256" },
		"key not in jwks":       func(m *ClientMetadata) { m.JWKS = &otherJWKS },
		"jwks and jwks_uri": func(m *ClientMetadata) {
			m.JWKSURI = "https://app.example.com/jwks.json"
			j := ks.PublicJWKS()
			m.JWKS = &j
		},
		"http jwks_uri":         func(m *ClientMetadata) { m.JWKSURI = "http://app.example.com/jwks.json" },
		"foreign client_uri":    func(m *ClientMetadata) { m.ClientURI = "https://evil.example.com/" },
		"no redirect":           func(m *ClientMetadata) { m.RedirectURIs = nil },
		"web loopback redirect": func(m *ClientMetadata) { m.RedirectURIs = []string{"http://127.0.0.1/cb"} },
		"bad app type":          func(m *ClientMetadata) { m.ApplicationType = "desktop" },
		"redirect localhost": func(m *ClientMetadata) {
			m.ApplicationType = "native"
			m.RedirectURIs = []string{"http://localhost:8080/cb"}
		},
		"redirect http public":    func(m *ClientMetadata) { m.RedirectURIs = []string{"http://app.example.com/cb"} },
		"redirect https loopback": func(m *ClientMetadata) { m.RedirectURIs = []string{"https://127.0.0.1/cb"} },
		"redirect single label":   func(m *ClientMetadata) { m.RedirectURIs = []string{"https://intranet/cb"} },
		"redirect .local":         func(m *ClientMetadata) { m.RedirectURIs = []string{"https://printer.local/cb"} },
		"redirect fragment":       func(m *ClientMetadata) { m.RedirectURIs = []string{"https://app.example.com/cb#x"} },
		"scheme without dot":      func(m *ClientMetadata) { m.ApplicationType = "native"; m.RedirectURIs = []string{"myapp:/cb"} },
		"scheme with //": func(m *ClientMetadata) {
			m.ApplicationType = "native"
			m.RedirectURIs = []string{"com.example.app://cb"}
		},
		"scheme local":   func(m *ClientMetadata) { m.ApplicationType = "native"; m.RedirectURIs = []string{"test.app:/cb"} },
		"scheme for web": func(m *ClientMetadata) { m.RedirectURIs = []string{"com.example.app:/cb"} },
	}
	for name, mutate := range cases {
		m := webMetadata()
		mutate(&m)
		_, err := NewClient(Config{Metadata: m, Keys: ks, StateStore: newMemStore(), SessionStore: newMemStore()})
		if !errors.Is(err, ErrInvalidClientMetadata) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
	// Method none with a signing alg, and private_key_jwt without keys.
	m := webMetadata()
	m.TokenEndpointAuthMethod, m.TokenEndpointAuthSigningAlg = "none", "ES256"
	if _, err := NewClient(Config{Metadata: m, StateStore: newMemStore(), SessionStore: newMemStore()}); !errors.Is(err, ErrInvalidClientMetadata) {
		t.Errorf("none+alg: %v", err)
	}
	m = webMetadata()
	m.TokenEndpointAuthMethod = AuthMethodPrivateKeyJWT
	if _, err := NewClient(Config{Metadata: m, StateStore: newMemStore(), SessionStore: newMemStore()}); !errors.Is(err, ErrInvalidClientMetadata) {
		t.Errorf("private_key_jwt without keys: %v", err)
	}
	// dpop_bound_access_tokens false is rejected in a fetched document.
	m = webMetadata()
	m.TokenEndpointAuthMethod = AuthMethodNone
	m.ApplicationType, m.GrantTypes, m.ResponseTypes = "web", []string{"authorization_code"}, []string{"code"}
	if err := m.Validate(nil); !errors.Is(err, ErrInvalidClientMetadata) {
		t.Errorf("dpop_bound_access_tokens false: %v", err)
	}
	m.DPoPBoundAccessTokens = true
	if err := m.Validate(nil); err != nil {
		t.Errorf("valid public metadata: %v", err)
	}
	m.TokenEndpointAuthMethod = ""
	if err := m.Validate(nil); !errors.Is(err, ErrInvalidClientMetadata) {
		t.Errorf("missing auth method: %v", err)
	}
	// Native app with a private-use scheme and loopback redirects is fine.
	m = webMetadata()
	m.ApplicationType = "native"
	m.RedirectURIs = []string{"com.example.app:/callback", "http://127.0.0.1/cb", "http://[::1]:99/cb"}
	if _, err := NewClient(Config{Metadata: m, StateStore: newMemStore(), SessionStore: newMemStore()}); err != nil {
		t.Errorf("native: %v", err)
	}
}

func TestFetchClientMetadata(t *testing.T) {
	doc := webMetadata()
	doc.TokenEndpointAuthMethod, doc.ApplicationType, doc.DPoPBoundAccessTokens = "none", "web", true
	doc.GrantTypes, doc.ResponseTypes = []string{"authorization_code"}, []string{"code"}
	var serve func(w http.ResponseWriter, r *http.Request)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serve(w, r) }))
	defer srv.Close()
	hc := routedClient(srv) // app.example.com -> srv
	cfg := Config{HTTPClient: hc}
	id := doc.ClientID
	ctx := context.Background()

	serve = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}
	m, err := FetchClientMetadata(ctx, id, cfg)
	if err != nil || m.ClientID != id {
		t.Fatalf("fetch: %v", err)
	}
	cfg.StateStore, cfg.SessionStore = newMemStore(), newMemStore()
	if c, err := NewClientFromClientID(ctx, id, cfg); err != nil || c.Metadata().ClientName != "Test" {
		t.Fatalf("NewClientFromClientID: %v", err)
	}
	// The document's client_id must be the one asked for.
	serve = func(w http.ResponseWriter, r *http.Request) {
		d := doc
		d.ClientID = "https://evil.example.com/client-metadata.json"
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d)
	}
	if _, err := FetchClientMetadata(ctx, id, cfg); !errors.Is(err, ErrInvalidClientMetadata) {
		t.Fatalf("client_id mismatch: %v", err)
	}
	// Invalid document.
	serve = func(w http.ResponseWriter, r *http.Request) {
		d := doc
		d.Scope = "transition:generic"
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d)
	}
	if _, err := FetchClientMetadata(ctx, id, cfg); !errors.Is(err, ErrInvalidClientMetadata) {
		t.Fatalf("invalid document: %v", err)
	}
	// Redirects are refused.
	serve = func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }
	if _, err := FetchClientMetadata(ctx, id, cfg); !errors.Is(err, ErrRedirectRefused) {
		t.Fatalf("redirect: %v", err)
	}
	// Size cap.
	serve = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"client_name":"` + strings.Repeat("a", maxMetadataSize) + `"}`))
	}
	if _, err := FetchClientMetadata(ctx, id, cfg); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("size cap: %v", err)
	}
	// Wrong content type.
	serve = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_ = json.NewEncoder(w).Encode(doc)
	}
	if _, err := FetchClientMetadata(ctx, id, cfg); err == nil {
		t.Fatal("text/html accepted")
	}
	// Not a discoverable client_id.
	if _, err := FetchClientMetadata(ctx, "http://localhost", cfg); !errors.Is(err, ErrInvalidClientMetadata) {
		t.Fatalf("loopback id fetched: %v", err)
	}
}

func FuzzClientMetadata(f *testing.F) {
	f.Add([]byte(`{"client_id":"https://app.example.com/c.json","application_type":"web","redirect_uris":["https://app.example.com/cb"],"grant_types":["authorization_code"],"response_types":["code"],"scope":"atproto","token_endpoint_auth_method":"none","dpop_bound_access_tokens":true}`))
	f.Add([]byte(`{"client_id":"http://localhost","redirect_uris":["http://127.0.0.1/"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m ClientMetadata
		if json.Unmarshal(data, &m) != nil {
			return
		}
		if m.Validate(nil) == nil {
			if !m.DPoPBoundAccessTokens || !hasScope(m.Scope, "atproto") || len(m.RedirectURIs) == 0 ||
				(m.TokenEndpointAuthMethod != AuthMethodNone && m.TokenEndpointAuthMethod != AuthMethodPrivateKeyJWT) {
				t.Fatalf("accepted %+v", m)
			}
		}
	})
}
