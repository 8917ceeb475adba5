package oauthtransport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// clientAuth is how the client authenticates to the authorization server,
// bound to a login and its session: the method and, for private_key_jwt,
// the kid of the key.
type clientAuth struct {
	Method string `json:"method"`
	KID    string `json:"kid,omitempty"`
}

// negotiateAuth picks the client authentication for a new login with the
// authorization server m.
func (c *Client) negotiateAuth(m *authServerMetadata) (clientAuth, error) {
	method := c.md.TokenEndpointAuthMethod
	if !slices.Contains(m.TokenEndpointAuthMethodsSupported, method) {
		return clientAuth{}, fmt.Errorf("%w: %s does not support %s", ErrAuthMethodUnsatisfiable, m.Issuer, method)
	}
	if method == AuthMethodNone {
		return clientAuth{Method: method}, nil
	}
	algs := m.TokenEndpointAuthSigningAlgValuesSupported
	if len(algs) == 0 {
		algs = []string{string(jose.ES256)}
	}
	k := c.keys.first()
	if k == nil || !slices.Contains(algs, string(jose.ES256)) {
		return clientAuth{}, fmt.Errorf("%w: %s accepts no ES256 client assertion", ErrAuthMethodUnsatisfiable, m.Issuer)
	}
	return clientAuth{Method: method, KID: k.kid}, nil
}

// addClientAuth adds client_id and, for private_key_jwt, a fresh client
// assertion to form. A session whose key has left the keyset, or whose
// method the server dropped, fails with ErrAuthMethodUnsatisfiable.
func (c *Client) addClientAuth(form url.Values, auth clientAuth, m *authServerMetadata) error {
	form.Set("client_id", c.md.ClientID)
	switch auth.Method {
	case AuthMethodNone:
		if !slices.Contains(m.TokenEndpointAuthMethodsSupported, AuthMethodNone) {
			return fmt.Errorf("%w: %s no longer supports method none", ErrAuthMethodUnsatisfiable, m.Issuer)
		}
		return nil
	case AuthMethodPrivateKeyJWT:
		if !slices.Contains(m.TokenEndpointAuthMethodsSupported, AuthMethodPrivateKeyJWT) {
			return fmt.Errorf("%w: %s no longer supports private_key_jwt", ErrAuthMethodUnsatisfiable, m.Issuer)
		}
		k, ok := c.keys.Key(auth.KID)
		if !ok {
			return fmt.Errorf("%w: key %q is no longer in the keyset", ErrAuthMethodUnsatisfiable, auth.KID)
		}
		a, err := k.clientAssertion(c.md.ClientID, m.Issuer, c.now())
		if err != nil {
			return err
		}
		form.Set("client_assertion_type", clientAssertionType)
		form.Set("client_assertion", a)
		return nil
	}
	return fmt.Errorf("%w: unknown method %q", ErrAuthMethodUnsatisfiable, auth.Method)
}

// asPost sends a form POST with a DPoP proof and client authentication to
// an authorization-server endpoint, retrying once if the server asks for a
// new DPoP nonce. It returns the body of a 2xx answer, and an *OAuthError
// for an error answer. requireNonce makes a 2xx answer without a DPoP-Nonce
// header an error.
func (c *Client) asPost(ctx context.Context, dk *dpopKey, m *authServerMetadata, endpoint string, params url.Values, auth clientAuth, requireNonce bool) (int, []byte, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return 0, nil, err
	}
	htu, org := normalizeHTU(u), origin(u)
	for attempt := 0; ; attempt++ {
		form := url.Values{}
		for k, v := range params {
			form[k] = v
		}
		if err := c.addClientAuth(form, auth, m); err != nil {
			return 0, nil, err
		}
		nonce := c.nonces.get(org)
		proof, err := dk.proof(http.MethodPost, htu, nonce, "", c.now())
		if err != nil {
			return 0, nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("DPoP", proof)
		resp, body, err := c.fetch.do(req, maxMetadataSize)
		if err != nil {
			return 0, nil, err
		}
		newNonce := resp.Header.Get("DPoP-Nonce")
		c.nonces.set(org, newNonce)
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if requireNonce && newNonce == "" {
				return 0, nil, fmt.Errorf("%w: %s", ErrMissingDPoPNonce, endpoint)
			}
			if !isJSON(resp.Header.Get("Content-Type")) && len(body) > 0 {
				return 0, nil, fmt.Errorf("%w: %s answered %q", ErrInvalidServerMetadata, endpoint, resp.Header.Get("Content-Type"))
			}
			return resp.StatusCode, body, nil
		}
		oe := parseOAuthError(resp.StatusCode, body)
		if oe.Code == "use_dpop_nonce" && attempt == 0 && newNonce != "" && newNonce != nonce {
			c.log.DebugContext(ctx, "oauthtransport: retrying with a new DPoP nonce", "endpoint", endpoint)
			continue
		}
		return resp.StatusCode, nil, oe
	}
}

// parseOAuthError reads an OAuth error body (RFC 6749 §5.2).
func parseOAuthError(status int, body []byte) *OAuthError {
	var e struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		ErrorURI         string `json:"error_uri"`
	}
	if len(body) > maxErrorSize {
		body = nil
	}
	_ = json.Unmarshal(body, &e)
	if e.Error == "" {
		e.Error = fmt.Sprintf("http_%d", status)
	}
	return &OAuthError{StatusCode: status, Code: e.Error, Description: e.ErrorDescription, URI: e.ErrorURI}
}

// tokenResponse is an atproto token response.
type tokenResponse struct {
	AccessToken  string          `json:"access_token"`
	TokenType    string          `json:"token_type"`
	RefreshToken string          `json:"refresh_token"`
	Scope        string          `json:"scope"`
	ExpiresIn    json.RawMessage `json:"expires_in"`
	Sub          string          `json:"sub"`
	IDToken      json.RawMessage `json:"id_token"`
	expiresIn    int64
}

// parseTokenResponse decodes and checks a token response: a DPoP token
// type, an atproto DID subject, a scope with atproto, no id_token, and a
// non-negative integer expires_in if present.
func parseTokenResponse(body []byte) (*tokenResponse, error) {
	var t tokenResponse
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidTokenResponse, err)
	}
	bad := func(why string) (*tokenResponse, error) {
		return nil, fmt.Errorf("%w: %s", ErrInvalidTokenResponse, why)
	}
	switch {
	case t.AccessToken == "":
		return bad("no access_token")
	case !strings.EqualFold(t.TokenType, "DPoP"):
		return bad(fmt.Sprintf("token_type %q, want DPoP", t.TokenType))
	case !isAtprotoDID(t.Sub):
		return bad(fmt.Sprintf("sub %q is not a did:plc or did:web", t.Sub))
	case !hasScope(t.Scope, "atproto"):
		return bad(fmt.Sprintf("scope %q lacks atproto", t.Scope))
	case len(t.IDToken) != 0 && string(t.IDToken) != "null":
		return bad("unexpected id_token")
	}
	if len(t.ExpiresIn) != 0 && string(t.ExpiresIn) != "null" {
		v, ok := jsonInt(t.ExpiresIn)
		if !ok || v < 0 {
			return bad("expires_in is not a non-negative integer")
		}
		t.expiresIn = v
	}
	return &t, nil
}

// revokeToken revokes one token (RFC 7009); errors are returned for the
// caller to log: revocation is best effort.
func (c *Client) revokeToken(ctx context.Context, dk *dpopKey, m *authServerMetadata, auth clientAuth, token, hint string) error {
	if m.RevocationEndpoint == "" || token == "" {
		return nil
	}
	_, _, err := c.asPost(ctx, dk, m, m.RevocationEndpoint, url.Values{"token": {token}, "token_type_hint": {hint}}, auth, false)
	return err
}

// isDefinite reports whether err means the grant is over for good, as
// opposed to a network problem or a server hiccup worth retrying later.
func isDefinite(err error) bool {
	var oe *OAuthError
	if errors.As(err, &oe) {
		switch oe.Code {
		case "invalid_grant", "unauthorized_client", "invalid_client", "access_denied":
			return true
		}
	}
	return errors.Is(err, ErrAuthMethodUnsatisfiable) || errors.Is(err, ErrIssuerMismatch) ||
		errors.Is(err, ErrSubjectMismatch) || errors.Is(err, ErrRefreshRejected)
}

// jsonInt decodes a JSON number that is an integer (not a string, not a
// fraction).
func jsonInt(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return 0, false
	}
	v, err := n.Int64()
	return v, err == nil
}
