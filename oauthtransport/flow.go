package oauthtransport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/atpgo/atp/store"
)

// AuthorizeOptions are the per-login options of [Client.Authorize].
type AuthorizeOptions struct {
	// State is application state returned by Callback. It is stored with
	// the login, never sent to the authorization server.
	State string
	// Scope overrides the metadata's scope for this login; it must contain
	// atproto.
	Scope string
	// RedirectURI selects one of the registered redirect URIs; default the
	// first.
	RedirectURI string
	// Prompt is the OpenID prompt: "none" (silent sign-in), "login",
	// "consent", "select_account" or "create". The reference authorization
	// server (Bluesky's) accepts "none" only from confidential clients: a
	// public client gets an invalid_request error from Authorize.
	Prompt string
	// UILocales is a space-separated list of BCP 47 language tags.
	UILocales string
	// Display is "page", "popup", "touch" or "wap".
	Display string
}

// stateRecord is what the state store keeps between Authorize and Callback.
type stateRecord struct {
	Issuer      string          `json:"iss"`
	DPoPKey     json.RawMessage `json:"dpopJwk"`
	Auth        clientAuth      `json:"authMethod"`
	Verifier    string          `json:"verifier"`
	AppState    string          `json:"appState,omitempty"`
	RedirectURI string          `json:"redirectUri"`
	ExpectedDID string          `json:"expectedDid,omitempty"`
}

const stateKeyPrefix = "oauth-state:"

// Authorize starts a login. input is a handle ("alice.bsky.social"), a DID,
// or the https URL of a PDS or an authorization server (entryway). It
// resolves the account's authorization server, pushes the authorization
// request (PAR, PKCE S256, DPoP) and returns the URL to send the browser to.
func (c *Client) Authorize(ctx context.Context, input string, opts AuthorizeOptions) (string, error) {
	// Checks that need no network come first.
	redirectURI := opts.RedirectURI
	if redirectURI == "" {
		redirectURI = c.md.RedirectURIs[0]
	} else if !redirectAllowed(c.md.RedirectURIs, redirectURI) {
		return "", fmt.Errorf("%w: %q", ErrRedirectURINotRegistered, redirectURI)
	}
	scope := opts.Scope
	if scope == "" {
		scope = c.md.Scope
	}
	if !hasScope(scope, "atproto") {
		return "", fmt.Errorf("oauthtransport: scope %q lacks atproto", scope)
	}
	if _, err := ParseScope(scope); err != nil {
		return "", err
	}
	for _, tok := range strings.Fields(scope) {
		if !hasScope(c.md.Scope, tok) {
			return "", fmt.Errorf("%w: %q is not in the client metadata's scope %q", ErrScopeNotDeclared, tok, c.md.Scope)
		}
	}
	switch opts.Prompt {
	case "", "none", "login", "consent", "select_account", "create":
	default:
		return "", fmt.Errorf("oauthtransport: unknown prompt %q", opts.Prompt)
	}
	switch opts.Display {
	case "", "page", "popup", "touch", "wap":
	default:
		return "", fmt.Errorf("oauthtransport: unknown display %q", opts.Display)
	}
	input = strings.TrimSpace(input)

	var (
		m           *authServerMetadata
		expectedDID string
		loginHint   string
		err         error
	)
	if strings.HasPrefix(input, "https://") || strings.HasPrefix(input, "http://") {
		m, err = c.resolveServer(ctx, input)
	} else {
		var acct *account
		acct, err = c.resolveAccount(ctx, input)
		if err == nil {
			expectedDID, loginHint = acct.DID, strings.TrimPrefix(input, "@")
			m, err = c.pdsIssuer(ctx, acct.PDS)
		}
	}
	if err != nil {
		return "", &ResolverError{Input: input, Err: err}
	}
	auth, err := c.negotiateAuth(m)
	if err != nil {
		return "", err
	}

	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	dk := newDPoPKey(priv)
	keyJSON, err := marshalPrivateJWK(priv)
	if err != nil {
		return "", err
	}
	verifier := randomString(32) // 43 characters, 256 bits
	sum := sha256.Sum256([]byte(verifier))
	state := randomString(16)
	rec := stateRecord{Issuer: m.Issuer, DPoPKey: keyJSON, Auth: auth, Verifier: verifier, AppState: opts.State,
		RedirectURI: redirectURI, ExpectedDID: expectedDID}
	raw, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	if err := c.states.Set(ctx, stateKeyPrefix+state, raw, c.stateTTL); err != nil {
		return "", fmt.Errorf("%w: saving state: %w", ErrSessionStore, err)
	}

	params := url.Values{
		"response_type":         {"code"},
		"code_challenge":        {b64(sum[:])},
		"code_challenge_method": {"S256"},
		"state":                 {state},
		"redirect_uri":          {redirectURI},
		"scope":                 {scope},
	}
	for k, v := range map[string]string{"login_hint": loginHint, "prompt": opts.Prompt, "ui_locales": opts.UILocales, "display": opts.Display} {
		if v != "" {
			params.Set(k, v)
		}
	}
	_, body, err := c.asPost(ctx, dk, m, m.PushedAuthorizationRequestEndpoint, params, auth, true)
	if err != nil {
		_ = c.states.Delete(context.WithoutCancel(ctx), stateKeyPrefix+state)
		return "", fmt.Errorf("oauthtransport: pushed authorization request: %w", err)
	}
	var par struct {
		RequestURI string          `json:"request_uri"`
		ExpiresIn  json.RawMessage `json:"expires_in"`
	}
	if json.Unmarshal(body, &par) != nil || par.RequestURI == "" {
		_ = c.states.Delete(context.WithoutCancel(ctx), stateKeyPrefix+state)
		return "", fmt.Errorf("%w: PAR response without request_uri", ErrInvalidServerMetadata)
	}
	if n, ok := jsonInt(par.ExpiresIn); !ok || n <= 0 {
		_ = c.states.Delete(context.WithoutCancel(ctx), stateKeyPrefix+state)
		return "", fmt.Errorf("%w: PAR expires_in %s is not a positive integer", ErrInvalidServerMetadata, par.ExpiresIn)
	}
	u, err := url.Parse(m.AuthorizationEndpoint)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("client_id", c.md.ClientID)
	q.Set("request_uri", par.RequestURI)
	u.RawQuery = q.Encode()
	c.log.DebugContext(ctx, "oauthtransport: authorization started", "issuer", m.Issuer, "did", expectedDID)
	return u.String(), nil
}

// redirectAllowed reports whether uri is one of the registered redirect
// URIs. A registered loopback URI without a port (http://127.0.0.1/cb)
// allows any port (RFC 8252 §7.3), as native apps bind ephemeral ports.
func redirectAllowed(registered []string, uri string) bool {
	if slices.Contains(registered, uri) {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return false
	}
	noPort := *u
	noPort.Host = u.Hostname()
	if strings.Contains(noPort.Host, ":") {
		noPort.Host = "[" + noPort.Host + "]"
	}
	for _, r := range registered {
		ru, err := url.Parse(r)
		if err == nil && ru.Scheme == "http" && ru.Port() == "" && ru.String() == noPort.String() {
			return true
		}
	}
	return false
}

// resolveServer treats a URL login input as a PDS (protected-resource
// metadata) and, failing that, as an authorization server.
func (c *Client) resolveServer(ctx context.Context, raw string) (*authServerMetadata, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not a URL", ErrUnresolved, raw)
	}
	m, err := c.pdsIssuer(ctx, origin(u))
	if err == nil {
		return m, nil
	}
	m2, err2 := c.fetchAuthServerMetadata(ctx, origin(u))
	if err2 != nil {
		return nil, errors.Join(err, err2)
	}
	return m2, nil
}

// Callback completes a login from the query parameters of the redirect to
// the redirect URI. It returns the new session and the application state
// given to Authorize. Any failure after the state was found is a
// *CallbackError carrying the application state; the state is consumed on
// first use either way, so a callback cannot be replayed.
func (c *Client) Callback(ctx context.Context, params url.Values) (*Session, string, error) {
	if params.Has("response") {
		return nil, "", &CallbackError{Params: params, Err: errors.New("JARM responses are not supported")}
	}
	state := params.Get("state")
	if state == "" {
		return nil, "", &CallbackError{Params: params, Err: fmt.Errorf("%w: no state parameter", ErrInvalidState)}
	}
	raw, err := c.states.GetDelete(ctx, stateKeyPrefix+state)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = ErrInvalidState
		} else {
			err = fmt.Errorf("%w: %w", ErrSessionStore, err)
		}
		return nil, "", &CallbackError{Params: params, Err: err}
	}
	var rec stateRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, "", &CallbackError{Params: params, Err: fmt.Errorf("%w: corrupt state: %v", ErrInvalidState, err)}
	}
	fail := func(err error) (*Session, string, error) {
		return nil, rec.AppState, &CallbackError{Params: params, AppState: rec.AppState, Err: err}
	}
	if code := params.Get("error"); code != "" {
		desc := params.Get("error_description")
		return nil, rec.AppState, &CallbackError{Params: params, Code: code, Description: desc, AppState: rec.AppState,
			Err: &OAuthError{Code: code, Description: desc, URI: params.Get("error_uri")}}
	}
	// RFC 9207: atproto servers always send iss.
	if iss := params.Get("iss"); iss != rec.Issuer {
		return fail(fmt.Errorf("%w: callback iss %q, login started at %s", ErrIssuerMismatch, iss, rec.Issuer))
	}
	code := params.Get("code")
	if code == "" {
		return fail(errors.New("oauthtransport: callback without code"))
	}
	priv, err := unmarshalPrivateJWK(rec.DPoPKey)
	if err != nil {
		return fail(err)
	}
	dk := newDPoPKey(priv)
	m, err := c.fetchAuthServerMetadata(ctx, rec.Issuer)
	if err != nil {
		return fail(err)
	}
	start := c.now()
	_, body, err := c.asPost(ctx, dk, m, m.TokenEndpoint, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {rec.RedirectURI},
		"code_verifier": {rec.Verifier},
	}, rec.Auth, true)
	if err != nil {
		return fail(fmt.Errorf("oauthtransport: code exchange: %w", err))
	}
	tok, err := parseTokenResponse(body)
	if err != nil {
		return fail(err)
	}
	// The account that signed in must be the one the login started from,
	// and its DID document, resolved afresh, must point to this server.
	revoke := func() {
		ctx := context.WithoutCancel(ctx)
		if err := c.revokeToken(ctx, dk, m, rec.Auth, tok.RefreshToken, "refresh_token"); err != nil {
			c.log.WarnContext(ctx, "oauthtransport: revoking rejected tokens", "err", err)
		}
		if err := c.revokeToken(ctx, dk, m, rec.Auth, tok.AccessToken, "access_token"); err != nil {
			c.log.WarnContext(ctx, "oauthtransport: revoking rejected tokens", "err", err)
		}
	}
	if rec.ExpectedDID != "" && tok.Sub != rec.ExpectedDID {
		revoke()
		return fail(fmt.Errorf("%w: signed in as %s, login started for %s", ErrSubjectMismatch, tok.Sub, rec.ExpectedDID))
	}
	pds, _, err := c.verifyIssuer(ctx, tok.Sub, rec.Issuer)
	if err != nil {
		if isDefinite(err) {
			revoke()
		}
		return fail(err)
	}
	srec := &sessionRecord{
		DID: tok.Sub, Issuer: rec.Issuer, PDS: pds, DPoPKey: rec.DPoPKey, Auth: rec.Auth,
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Scope: tok.Scope,
	}
	if tok.expiresIn > 0 {
		srec.ExpiresAt = start.Add(time.Duration(tok.expiresIn) * time.Second).Round(0)
	}
	// One session per account: the previous one is revoked and replaced.
	if old, err := c.loadRecord(ctx, tok.Sub); err == nil {
		c.revokeRecord(context.WithoutCancel(ctx), old)
	}
	if err := c.saveRecord(ctx, srec); err != nil {
		revoke()
		return fail(err)
	}
	c.log.InfoContext(ctx, "oauthtransport: signed in", "did", tok.Sub, "issuer", rec.Issuer)
	return c.newSession(srec, dk), rec.AppState, nil
}
