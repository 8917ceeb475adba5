package oauthtransport

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Client authentication methods atproto allows.
const (
	AuthMethodNone          = "none"
	AuthMethodPrivateKeyJWT = "private_key_jwt"
)

// ClientMetadata is an OAuth client metadata document (RFC 7591 §2, as
// profiled by atproto). A confidential web app publishes it at its
// client_id URL; see [Client.MetadataHandler].
type ClientMetadata struct {
	// ClientID is the URL of this document (https), or a loopback
	// client_id (http://localhost?...). Required.
	ClientID string `json:"client_id"`
	// ApplicationType is "web" (default) or "native".
	ApplicationType string `json:"application_type,omitempty"`
	// ClientName is shown to the user on the consent screen.
	ClientName string `json:"client_name,omitempty"`
	// ClientURI is the app's home page, on the client_id's origin.
	ClientURI string `json:"client_uri,omitempty"`
	// LogoURI is the app's logo.
	LogoURI string `json:"logo_uri,omitempty"`
	// TosURI is the app's terms of service.
	TosURI string `json:"tos_uri,omitempty"`
	// PolicyURI is the app's privacy policy.
	PolicyURI string `json:"policy_uri,omitempty"`
	// RedirectURIs are the callback URLs; the first is the default.
	RedirectURIs []string `json:"redirect_uris"`
	// GrantTypes default to authorization_code and refresh_token.
	GrantTypes []string `json:"grant_types,omitempty"`
	// ResponseTypes default to code.
	ResponseTypes []string `json:"response_types,omitempty"`
	// Scope is the space-separated set of scopes the app may ask for;
	// it must contain atproto (the default).
	Scope string `json:"scope,omitempty"`
	// TokenEndpointAuthMethod is "none" (public client) or
	// "private_key_jwt" (confidential client, the default with keys).
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// TokenEndpointAuthSigningAlg is ES256 for private_key_jwt.
	TokenEndpointAuthSigningAlg string `json:"token_endpoint_auth_signing_alg,omitempty"`
	// DPoPBoundAccessTokens must be true (it is set by NewClient).
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens"`
	// JWKSURI is where the public keys are served (see
	// Client.JWKSHandler); when neither it nor JWKS is set, the keys are
	// embedded in JWKS.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// JWKS holds the public keys of a confidential client.
	JWKS *jose.JSONWebKeySet `json:"jwks,omitempty"`
}

// LoopbackClientID builds the client_id of a loopback (development or
// native) client: http://localhost with the redirect URIs and scope as
// query parameters. Empty values use the authorization server's defaults
// (redirects to http://127.0.0.1/ and http://[::1]/, scope "atproto").
func LoopbackClientID(scope string, redirectURIs ...string) string {
	q := url.Values{}
	for _, r := range redirectURIs {
		q.Add("redirect_uri", r)
	}
	if scope != "" {
		q.Set("scope", scope)
	}
	if len(q) == 0 {
		return "http://localhost"
	}
	return "http://localhost?" + q.Encode()
}

// isLoopbackClientID reports whether id is an http client_id (which must
// then be a valid loopback client_id).
func isLoopbackClientID(id string) bool { return strings.HasPrefix(id, "http:") }

// parseLoopbackClientID checks a loopback client_id: exactly http://localhost
// with an optional "/", no port, credentials or fragment, and only the query
// parameters redirect_uri (repeatable) and scope (at most once). It returns
// the redirect URIs and scope, with the atproto defaults filled in.
func parseLoopbackClientID(id string) (redirects []string, scope string, err error) {
	bad := func(why string) ([]string, string, error) {
		return nil, "", fmt.Errorf("%w: loopback client_id %q: %s", ErrInvalidClientMetadata, id, why)
	}
	u, err := url.Parse(id)
	if err != nil {
		return bad(err.Error())
	}
	if u.Scheme != "http" || u.Host != "localhost" || u.User != nil || u.Fragment != "" || strings.Contains(id, "#") {
		return bad("must be http://localhost with no port, credentials or fragment")
	}
	if u.Path != "" && u.Path != "/" {
		return bad("no path allowed")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad(err.Error())
	}
	for k, v := range q {
		switch k {
		case "redirect_uri":
		case "scope":
			if len(v) != 1 {
				return bad("scope given more than once")
			}
		default:
			return bad("unexpected query parameter " + k)
		}
	}
	redirects = q["redirect_uri"]
	if len(redirects) == 0 {
		redirects = []string{"http://127.0.0.1/", "http://[::1]/"}
	}
	scope = q.Get("scope")
	if _, ok := q["scope"]; !ok {
		scope = "atproto"
	}
	return redirects, scope, nil
}

// localTLDs are names a discoverable client_id's host must not end in.
var localTLDs = []string{".test", ".local", ".localhost", ".invalid", ".example", ".internal.localhost"}

// checkDiscoverableClientID checks an https client_id: a canonical URL with
// a path (not "/", no trailing slash), no credentials, query-free fragment,
// and a public-looking host name (not an IP address or a local name).
func checkDiscoverableClientID(id string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: client_id %q: %s", ErrInvalidClientMetadata, id, why)
	}
	u, err := url.Parse(id)
	if err != nil {
		return bad(err.Error())
	}
	if u.Scheme != "https" {
		return bad("must be https (or a http://localhost loopback client_id)")
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(id, "#") {
		return bad("no credentials or fragment allowed")
	}
	if u.Path == "" || u.Path == "/" || strings.HasSuffix(u.Path, "/") {
		return bad("must have a path, without a trailing slash")
	}
	if path.Clean(u.Path) != u.Path || u.String() != id {
		return bad("not in canonical form")
	}
	h := strings.ToLower(u.Hostname())
	if _, err := netip.ParseAddr(h); err == nil {
		return bad("host must be a name, not an IP address")
	}
	if h == "localhost" || !strings.Contains(h, ".") {
		return bad("host must be a public name")
	}
	for _, tld := range localTLDs {
		if strings.HasSuffix(h, tld) {
			return bad("host must not be under " + tld)
		}
	}
	return nil
}

// checkRedirectURI checks one redirect URI against the atproto rules for an
// application type.
func checkRedirectURI(raw, appType string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: redirect_uri %q: %s", ErrInvalidClientMetadata, raw, why)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad(err.Error())
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return bad("no fragment allowed")
	}
	switch u.Scheme {
	case "https":
		h := strings.ToLower(u.Hostname())
		if a, err := netip.ParseAddr(h); err == nil && a.IsLoopback() {
			return bad("https on a loopback address")
		}
		if h == "localhost" || !strings.Contains(h, ".") || strings.HasSuffix(h, ".local") || strings.HasSuffix(h, ".localhost") {
			return bad("https redirect needs a public host name")
		}
		return nil
	case "http":
		h := u.Hostname()
		if h == "localhost" {
			return bad(`use a loopback IP (127.0.0.1 or [::1]), not "localhost" (RFC 8252 §8.3)`)
		}
		if a, err := netip.ParseAddr(h); err != nil || !a.IsLoopback() || (!a.Is4() && a != netip.IPv6Loopback()) {
			return bad("http only on 127.0.0.1 or [::1]")
		}
		if appType != "native" {
			return bad("loopback redirect URIs are only for native clients")
		}
		return nil
	case "":
		return bad("no scheme")
	}
	// A private-use scheme (RFC 8252 §7.1): reverse domain name with a dot,
	// then ":/path" with a single slash.
	if appType != "native" {
		return bad("private-use URI schemes are only for native clients")
	}
	if !strings.Contains(u.Scheme, ".") {
		return bad("private-use scheme must be a reversed domain name")
	}
	rest := strings.TrimPrefix(raw, u.Scheme+":")
	if !strings.HasPrefix(rest, "/") || strings.HasPrefix(rest, "//") {
		return bad(`private-use scheme must be followed by a single "/"`)
	}
	labels := strings.Split(u.Scheme, ".")
	slices.Reverse(labels)
	host := strings.Join(labels, ".")
	for _, tld := range localTLDs {
		if strings.HasSuffix(host, tld) {
			return bad("private-use scheme is a reversed local name")
		}
	}
	return nil
}

// hasScope reports whether a space-separated scope string contains s.
func hasScope(scope, s string) bool {
	return slices.Contains(strings.Fields(scope), s)
}

// completeMetadata fills in the defaults of a configured metadata document:
// loopback client_ids get their redirect URIs and scope from the client_id;
// grant and response types, application type and DPoP binding get the
// atproto values; a confidential client's JWKS is embedded when neither jwks
// nor jwks_uri is set.
func completeMetadata(m ClientMetadata, keys *Keyset) (ClientMetadata, error) {
	m.RedirectURIs = slices.Clone(m.RedirectURIs)
	if isLoopbackClientID(m.ClientID) {
		redirects, scope, err := parseLoopbackClientID(m.ClientID)
		if err != nil {
			return m, err
		}
		if len(m.RedirectURIs) != 0 && !slices.Equal(m.RedirectURIs, redirects) {
			return m, fmt.Errorf("%w: a loopback client's redirect URIs come from its client_id", ErrInvalidClientMetadata)
		}
		if m.Scope != "" && m.Scope != scope {
			return m, fmt.Errorf("%w: a loopback client's scope comes from its client_id", ErrInvalidClientMetadata)
		}
		m.RedirectURIs, m.Scope = redirects, scope
		if m.ApplicationType == "" {
			m.ApplicationType = "native"
		}
		if m.TokenEndpointAuthMethod == "" {
			m.TokenEndpointAuthMethod = AuthMethodNone
		}
	}
	if m.ApplicationType == "" {
		m.ApplicationType = "web"
	}
	if len(m.GrantTypes) == 0 {
		m.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	if len(m.ResponseTypes) == 0 {
		m.ResponseTypes = []string{"code"}
	}
	if m.Scope == "" {
		m.Scope = "atproto"
	}
	if m.TokenEndpointAuthMethod == "" {
		if keys.Len() > 0 {
			m.TokenEndpointAuthMethod = AuthMethodPrivateKeyJWT
		} else {
			m.TokenEndpointAuthMethod = AuthMethodNone
		}
	}
	if m.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT {
		if m.TokenEndpointAuthSigningAlg == "" {
			m.TokenEndpointAuthSigningAlg = string(jose.ES256)
		}
		if m.JWKS == nil && m.JWKSURI == "" {
			set := keys.PublicJWKS()
			m.JWKS = &set
		}
	}
	m.DPoPBoundAccessTokens = true
	return m, nil
}

// Validate checks metadata against the atproto OAuth rules. keys is the
// client's keyset when validating its own metadata (a confidential client's
// keys must all be published) and nil when validating a fetched document.
func (m *ClientMetadata) Validate(keys *Keyset) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidClientMetadata}, args...)...)
	}
	loopback := isLoopbackClientID(m.ClientID)
	if loopback {
		if _, _, err := parseLoopbackClientID(m.ClientID); err != nil {
			return err
		}
		if m.ApplicationType != "native" {
			return bad("a loopback client is a native application")
		}
		if m.TokenEndpointAuthMethod != AuthMethodNone {
			return bad("a loopback client is a public client (token_endpoint_auth_method none)")
		}
	} else if err := checkDiscoverableClientID(m.ClientID); err != nil {
		return err
	}
	switch m.ApplicationType {
	case "web", "native":
	case "":
		return bad("application_type missing")
	default:
		return bad("application_type %q", m.ApplicationType)
	}
	if !hasScope(m.Scope, "atproto") {
		return bad("scope %q lacks atproto", m.Scope)
	}
	if !slices.Contains(m.ResponseTypes, "code") {
		return bad("response_types lacks code")
	}
	if !slices.Contains(m.GrantTypes, "authorization_code") {
		return bad("grant_types lacks authorization_code")
	}
	if !m.DPoPBoundAccessTokens {
		return bad("dpop_bound_access_tokens must be true")
	}
	if len(m.RedirectURIs) == 0 {
		return bad("no redirect_uris")
	}
	for _, r := range m.RedirectURIs {
		if err := checkRedirectURI(r, m.ApplicationType); err != nil {
			return err
		}
	}
	if m.ClientURI != "" && !loopback {
		cu, err := url.Parse(m.ClientURI)
		id, _ := url.Parse(m.ClientID)
		if err != nil || origin(cu) != origin(id) {
			return bad("client_uri %q is not on the client_id's origin", m.ClientURI)
		}
	}
	switch m.TokenEndpointAuthMethod {
	case AuthMethodNone:
		if m.TokenEndpointAuthSigningAlg != "" {
			return bad("token_endpoint_auth_signing_alg with method none")
		}
	case AuthMethodPrivateKeyJWT:
		if m.TokenEndpointAuthSigningAlg != string(jose.ES256) {
			return bad("token_endpoint_auth_signing_alg %q, atproto requires ES256", m.TokenEndpointAuthSigningAlg)
		}
		if m.JWKS == nil && m.JWKSURI == "" {
			return bad("private_key_jwt needs jwks or jwks_uri")
		}
		if m.JWKS != nil && m.JWKSURI != "" {
			return bad("both jwks and jwks_uri")
		}
		if m.JWKSURI != "" {
			if u, err := url.Parse(m.JWKSURI); err != nil || u.Scheme != "https" {
				return bad("jwks_uri %q must be https", m.JWKSURI)
			}
		}
		if keys != nil {
			if keys.Len() == 0 {
				return bad("private_key_jwt needs a keyset")
			}
			if m.JWKS != nil {
				for _, k := range keys.keys {
					if !jwksHas(m.JWKS, k) {
						return bad("key %q is not published in jwks", k.kid)
					}
				}
			}
		}
	case "":
		return bad("token_endpoint_auth_method missing (the default, client_secret_basic, is not allowed)")
	default:
		return bad("token_endpoint_auth_method %q not allowed", m.TokenEndpointAuthMethod)
	}
	return nil
}

func jwksHas(set *jose.JSONWebKeySet, k *Key) bool {
	for _, j := range set.Key(k.kid) {
		if pub, ok := j.Key.(*ecdsa.PublicKey); ok && pub.Equal(&k.priv.PublicKey) {
			return true
		}
	}
	return false
}

// FetchClientMetadata fetches the metadata document of a discoverable
// client_id, validates it, and checks that its client_id is the one asked
// for. It uses the same hardened fetch as everything else (no redirects,
// size cap, timeout, SSRF guard); opts only needs its network fields
// (HTTPClient, AllowHTTP, AllowPrivateNetworks, FetchTimeout, UserAgent).
func FetchClientMetadata(ctx context.Context, clientID string, opts Config) (*ClientMetadata, error) {
	if err := checkDiscoverableClientID(clientID); err != nil {
		return nil, err
	}
	f := newFetcher(opts.HTTPClient, opts.AllowHTTP, opts.AllowPrivateNetworks, opts.FetchTimeout, opts.UserAgent)
	body, err := f.get(ctx, clientID, maxMetadataSize, "application/json")
	if err != nil {
		return nil, fmt.Errorf("fetching client metadata: %w", err)
	}
	var m ClientMetadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidClientMetadata, err)
	}
	if m.ClientID != clientID {
		return nil, fmt.Errorf("%w: document's client_id %q is not %q", ErrInvalidClientMetadata, m.ClientID, clientID)
	}
	if err := m.Validate(nil); err != nil {
		return nil, err
	}
	return &m, nil
}

// NewClientFromClientID fetches the metadata document published at
// clientID (see [FetchClientMetadata]) and builds a client from it and the
// rest of cfg, whose Metadata is ignored. The keys in cfg must be those the
// document publishes.
func NewClientFromClientID(ctx context.Context, clientID string, cfg Config) (*Client, error) {
	m, err := FetchClientMetadata(ctx, clientID, cfg)
	if err != nil {
		return nil, err
	}
	cfg.Metadata = *m
	return NewClient(cfg)
}
