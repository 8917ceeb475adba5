package oauthtransport

import (
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// fakeNet is an adversarial in-process atproto network: a PLC directory, a
// PDS (protected resource + XRPC + resolveHandle) and its authorization
// server, each on its own httptest server. Knobs make them misbehave.
type fakeNet struct {
	t   testing.TB
	plc *httptest.Server
	pds *httptest.Server
	as  *httptest.Server

	mu       sync.Mutex
	docs     map[string]map[string]any // DID -> document
	handles  map[string]string         // handle -> DID
	nonce    string
	nonceSeq int
	pars     map[string]*parRecord // request_uri -> request
	codes    map[string]*parRecord // code -> request
	access   map[string]*tokenRecord
	refresh  map[string]*tokenRecord
	revoked  []string
	jtis     map[string]bool

	// Counters.
	parCalls, tokenCalls, refreshCalls, revokeCalls, xrpcCalls, prCalls int

	// Knobs.
	asMeta      func(m map[string]any) // edit AS metadata
	prMeta      func(m map[string]any) // edit protected-resource metadata
	tokenResp   func(m map[string]any) // edit token responses
	parResp     func(m map[string]any) // edit PAR responses
	noNonceHdr  bool                   // AS omits DPoP-Nonce on success
	refreshErr  string                 // refresh answers this OAuth error
	refreshHook func()                 // runs inside a refresh request
	xrpcHook    func(w http.ResponseWriter, r *http.Request) bool
	pdsHook     func(w http.ResponseWriter, r *http.Request) bool
	asHook      func(w http.ResponseWriter, r *http.Request) bool // runs first on every AS request; true if it answered
	expiresIn   int
	redirects   bool // protected-resource metadata redirects
	revokeDown  bool // revocation endpoint answers 503
	nonceChurn  bool // the AS wants a new nonce on every request
}

type parRecord struct {
	form     url.Values
	jkt      string
	clientID string
	sub      string
}

type tokenRecord struct {
	sub, jkt, scope string
	clientID        string
	invalid         bool
}

func newFakeNet(t testing.TB) *fakeNet {
	f := &fakeNet{t: t, docs: map[string]map[string]any{}, handles: map[string]string{}, nonce: "nonce-0",
		pars: map[string]*parRecord{}, codes: map[string]*parRecord{}, access: map[string]*tokenRecord{},
		refresh: map[string]*tokenRecord{}, jtis: map[string]bool{}, expiresIn: 3600}
	f.plc = httptest.NewServer(http.HandlerFunc(f.servePLC))
	f.pds = httptest.NewServer(http.HandlerFunc(f.servePDS))
	f.as = httptest.NewServer(http.HandlerFunc(f.serveAS))
	t.Cleanup(func() { f.plc.Close(); f.pds.Close(); f.as.Close() })
	return f
}

// addAccount registers a did:plc account whose PDS is f.pds.
func (f *fakeNet) addAccount(did, handle string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.docs[did] = map[string]any{
		"id":          did,
		"alsoKnownAs": []string{"at://" + handle},
		"service":     []map[string]any{{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": f.pds.URL}},
	}
	f.handles[handle] = did
}

func (f *fakeNet) setPDS(did, pds string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.docs[did]["service"] = []map[string]any{{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds}}
}

func (f *fakeNet) rotateNonce() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nonceSeq++
	f.nonce = fmt.Sprintf("nonce-%d", f.nonceSeq)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeNet) servePLC(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	doc, ok := f.docs[strings.TrimPrefix(r.URL.Path, "/")]
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/did+ld+json")
	_ = json.NewEncoder(w).Encode(doc)
}

func (f *fakeNet) asMetadata() map[string]any {
	m := map[string]any{
		"issuer":                                           f.as.URL,
		"authorization_endpoint":                           f.as.URL + "/oauth/authorize",
		"token_endpoint":                                   f.as.URL + "/oauth/token",
		"pushed_authorization_request_endpoint":            f.as.URL + "/oauth/par",
		"revocation_endpoint":                              f.as.URL + "/oauth/revoke",
		"require_pushed_authorization_requests":            true,
		"response_types_supported":                         []string{"code"},
		"grant_types_supported":                            []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"scopes_supported":                                 []string{"atproto", "transition:generic"},
		"token_endpoint_auth_methods_supported":            []string{"none", "private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"ES256"},
		"dpop_signing_alg_values_supported":                []string{"ES256", "ES256K"},
		"authorization_response_iss_parameter_supported":   true,
		"client_id_metadata_document_supported":            true,
		"protected_resources":                              []string{f.pds.URL},
	}
	if f.asMeta != nil {
		f.asMeta(m)
	}
	return m
}

func (f *fakeNet) setPDSHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pdsHook = h
}

func (f *fakeNet) servePDS(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	hook := f.pdsHook
	f.mu.Unlock()
	if hook != nil && hook(w, r) {
		return
	}
	switch {
	case r.URL.Path == "/.well-known/oauth-protected-resource":
		f.mu.Lock()
		f.prCalls++
		f.mu.Unlock()
		if f.redirects {
			http.Redirect(w, r, f.as.URL+"/.well-known/oauth-protected-resource", http.StatusFound)
			return
		}
		m := map[string]any{"resource": f.pds.URL, "authorization_servers": []string{f.as.URL}}
		if f.prMeta != nil {
			f.prMeta(m)
		}
		writeJSON(w, 200, m)
	case r.URL.Path == "/xrpc/com.atproto.identity.resolveHandle":
		f.mu.Lock()
		did, ok := f.handles[r.URL.Query().Get("handle")]
		f.mu.Unlock()
		if !ok {
			writeJSON(w, 400, map[string]string{"error": "HandleNotFound"})
			return
		}
		writeJSON(w, 200, map[string]string{"did": did})
	case strings.HasPrefix(r.URL.Path, "/xrpc/"):
		f.serveXRPC(w, r)
	default:
		http.NotFound(w, r)
	}
}

// checkDPoP verifies a DPoP proof for r and returns its key's thumbprint.
// accessToken is checked against ath when set. It answers the nonce error
// itself (AS style when rs is false, RS style otherwise) and returns "".
func (f *fakeNet) checkDPoP(w http.ResponseWriter, r *http.Request, accessToken string, rs bool) string {
	proof := r.Header.Get("DPoP")
	fail := func(code, desc string) string {
		if rs {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`DPoP algs="ES256", error=%q, error_description=%q`, code, desc))
			w.Header().Set("DPoP-Nonce", f.currentNonce())
			writeJSON(w, 401, map[string]string{"error": code, "message": desc})
		} else {
			w.Header().Set("DPoP-Nonce", f.currentNonce())
			writeJSON(w, 400, map[string]string{"error": code, "error_description": desc})
		}
		return ""
	}
	jws, err := jose.ParseSignedCompact(proof, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return fail("invalid_dpop_proof", "unparseable")
	}
	h := jws.Signatures[0].Protected
	if h.ExtraHeaders["typ"] != "dpop+jwt" || h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() {
		return fail("invalid_dpop_proof", "header")
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		return fail("invalid_dpop_proof", "signature")
	}
	var c map[string]any
	_ = json.Unmarshal(payload, &c)
	htu := "http://" + r.Host + r.URL.Path
	if c["htm"] != r.Method || c["htu"] != htu {
		return fail("invalid_dpop_proof", fmt.Sprintf("htm/htu %v %v want %s %s", c["htm"], c["htu"], r.Method, htu))
	}
	if _, ok := c["iss"]; ok {
		return fail("invalid_dpop_proof", "iss present")
	}
	if _, ok := c["exp"]; ok {
		return fail("invalid_dpop_proof", "exp present")
	}
	jti, _ := c["jti"].(string)
	f.mu.Lock()
	replay := f.jtis[jti]
	f.jtis[jti] = true
	f.mu.Unlock()
	if jti == "" || replay {
		return fail("invalid_dpop_proof", "jti replayed")
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		if c["ath"] != b64(sum[:]) {
			return fail("invalid_dpop_proof", "ath")
		}
	} else if _, ok := c["ath"]; ok {
		return fail("invalid_dpop_proof", "unexpected ath")
	}
	f.mu.Lock()
	churn := f.nonceChurn && !rs
	f.mu.Unlock()
	if churn {
		f.rotateNonce()
	}
	if c["nonce"] != f.currentNonce() {
		return fail("use_dpop_nonce", "Authorization server requires nonce in DPoP proof")
	}
	tp, _ := h.JSONWebKey.Thumbprint(crypto.SHA256)
	return b64(tp)
}

func (f *fakeNet) currentNonce() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nonce
}

// checkClientAuth checks the form's client authentication; "" if fine.
func (f *fakeNet) checkClientAuth(form url.Values) string {
	id := form.Get("client_id")
	if id == "" {
		return "client_id missing"
	}
	if strings.HasPrefix(id, "http://localhost") {
		if form.Has("client_assertion") || form.Has("client_assertion_type") {
			return "assertion from a public client"
		}
		return ""
	}
	if form.Get("client_assertion_type") != clientAssertionType {
		return "no client assertion"
	}
	jws, err := jose.ParseSignedCompact(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return "bad assertion"
	}
	kid := jws.Signatures[0].Protected.KeyID
	f.mu.Lock()
	keys := fakeClientKeys[id]
	f.mu.Unlock()
	k, ok := keys.Key(kid)
	if !ok {
		return "unknown kid " + kid
	}
	payload, err := jws.Verify(&k.priv.PublicKey)
	if err != nil {
		return "assertion signature"
	}
	var c map[string]any
	_ = json.Unmarshal(payload, &c)
	if c["iss"] != id || c["sub"] != id || c["aud"] != f.as.URL || c["jti"] == nil || c["exp"] == nil {
		return fmt.Sprintf("assertion claims %v", c)
	}
	return ""
}

// fakeClientKeys plays the client's published JWKS for the fake AS.
var fakeClientKeys = map[string]*Keyset{}

func (f *fakeNet) oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("DPoP-Nonce", f.currentNonce())
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (f *fakeNet) setASHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asHook = h
}

func (f *fakeNet) serveAS(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	hook := f.asHook
	f.mu.Unlock()
	if hook != nil && hook(w, r) {
		return
	}
	switch r.URL.Path {
	case "/.well-known/oauth-authorization-server":
		writeJSON(w, 200, f.asMetadata())
	case "/oauth/par":
		f.mu.Lock()
		f.parCalls++
		f.mu.Unlock()
		_ = r.ParseForm()
		jkt := f.checkDPoP(w, r, "", false)
		if jkt == "" {
			return
		}
		if msg := f.checkClientAuth(r.PostForm); msg != "" {
			f.oauthError(w, 401, "invalid_client", msg)
			return
		}
		form := r.PostForm
		if form.Get("response_type") != "code" || form.Get("code_challenge_method") != "S256" ||
			len(form.Get("code_challenge")) != 43 || form.Get("state") == "" || form.Get("redirect_uri") == "" {
			f.oauthError(w, 400, "invalid_request", "bad PAR parameters")
			return
		}
		uri := "urn:ietf:params:oauth:request_uri:req-" + randomString(8)
		f.mu.Lock()
		f.pars[uri] = &parRecord{form: form, jkt: jkt, clientID: form.Get("client_id")}
		f.mu.Unlock()
		resp := map[string]any{"request_uri": uri, "expires_in": 299}
		if f.parResp != nil {
			f.parResp(resp)
		}
		if !f.noNonceHdr {
			w.Header().Set("DPoP-Nonce", f.currentNonce())
		}
		writeJSON(w, 201, resp)
	case "/oauth/token":
		f.serveToken(w, r)
	case "/oauth/revoke":
		_ = r.ParseForm()
		f.mu.Lock()
		f.revokeCalls++
		down := f.revokeDown
		if !down {
			tok := r.PostForm.Get("token")
			f.revoked = append(f.revoked, tok)
			if rec := f.access[tok]; rec != nil {
				rec.invalid = true
			}
			delete(f.refresh, tok)
		}
		f.mu.Unlock()
		if down {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(200)
	default:
		http.NotFound(w, r)
	}
}

// approve plays the user approving the authorization at authURL; it returns
// the callback's query. sub is the account that signs in.
func (f *fakeNet) approve(authURL, sub string) url.Values {
	f.t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	req, ok := f.pars[u.Query().Get("request_uri")]
	if !ok || u.Query().Get("client_id") != req.clientID {
		f.t.Fatalf("approve: unknown request %s", authURL)
	}
	delete(f.pars, u.Query().Get("request_uri"))
	code := "cod-" + randomString(8)
	req.sub = sub
	f.codes[code] = req
	return url.Values{"state": {req.form.Get("state")}, "iss": {f.as.URL}, "code": {code}}
}

func (f *fakeNet) serveToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	f.tokenCalls++
	f.mu.Unlock()
	jkt := f.checkDPoP(w, r, "", false)
	if jkt == "" {
		return
	}
	form := r.PostForm
	if msg := f.checkClientAuth(form); msg != "" {
		f.oauthError(w, 401, "invalid_client", msg)
		return
	}
	var sub, scope string
	switch form.Get("grant_type") {
	case "authorization_code":
		f.mu.Lock()
		req, ok := f.codes[form.Get("code")]
		delete(f.codes, form.Get("code"))
		f.mu.Unlock()
		if !ok {
			f.oauthError(w, 400, "invalid_grant", "Invalid code")
			return
		}
		sum := sha256.Sum256([]byte(form.Get("code_verifier")))
		if b64(sum[:]) != req.form.Get("code_challenge") || req.jkt != jkt ||
			form.Get("redirect_uri") != req.form.Get("redirect_uri") || form.Get("client_id") != req.clientID {
			f.oauthError(w, 400, "invalid_grant", "PKCE, DPoP key, redirect_uri or client mismatch")
			return
		}
		sub, scope = req.sub, req.form.Get("scope")
	case "refresh_token":
		f.mu.Lock()
		f.refreshCalls++
		hook, rerr := f.refreshHook, f.refreshErr
		f.mu.Unlock()
		if hook != nil {
			hook()
		}
		if rerr != "" {
			f.oauthError(w, 400, rerr, "refresh refused")
			return
		}
		f.mu.Lock()
		rec, ok := f.refresh[form.Get("refresh_token")]
		delete(f.refresh, form.Get("refresh_token"))
		f.mu.Unlock()
		if !ok {
			f.oauthError(w, 400, "invalid_grant", "Invalid refresh token")
			return
		}
		if rec.jkt != jkt {
			f.oauthError(w, 400, "invalid_grant", "DPoP key mismatch")
			return
		}
		sub, scope = rec.sub, rec.scope
	default:
		f.oauthError(w, 400, "unsupported_grant_type", "")
		return
	}
	access, refresh := "at-"+randomString(12), "rt-"+randomString(12)
	rec := &tokenRecord{sub: sub, jkt: jkt, scope: scope, clientID: form.Get("client_id")}
	f.mu.Lock()
	f.access[access] = rec
	f.refresh[refresh] = rec
	f.mu.Unlock()
	resp := map[string]any{"access_token": access, "token_type": "DPoP", "refresh_token": refresh,
		"scope": scope, "expires_in": f.expiresIn, "sub": sub}
	if f.tokenResp != nil {
		f.tokenResp(resp)
	}
	if !f.noNonceHdr {
		w.Header().Set("DPoP-Nonce", f.currentNonce())
	}
	writeJSON(w, 200, resp)
}

func (f *fakeNet) serveXRPC(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.xrpcCalls++
	hook := f.xrpcHook
	f.mu.Unlock()
	if hook != nil && hook(w, r) {
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "DPoP ")
	if !ok {
		w.Header().Set("WWW-Authenticate", `DPoP algs="ES256"`)
		writeJSON(w, 401, map[string]string{"error": "AuthMissing"})
		return
	}
	jkt := f.checkDPoP(w, r, tok, true)
	if jkt == "" {
		return
	}
	f.mu.Lock()
	rec := f.access[tok]
	f.mu.Unlock()
	if rec == nil || rec.invalid || rec.jkt != jkt {
		w.Header().Set("WWW-Authenticate", `DPoP algs="ES256", error="invalid_token", error_description="bad token"`)
		w.Header().Set("DPoP-Nonce", f.currentNonce())
		writeJSON(w, 401, map[string]string{"error": "InvalidToken"})
		return
	}
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("DPoP-Nonce", f.currentNonce())
	writeJSON(w, 200, map[string]any{"did": rec.sub, "path": r.URL.Path, "body": string(body)})
}

// testClock is an injectable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
