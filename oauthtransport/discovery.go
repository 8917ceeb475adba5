package oauthtransport

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// authServerMetadata is the part of an authorization server's metadata
// (RFC 8414) the client uses.
type authServerMetadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	PushedAuthorizationRequestEndpoint         string   `json:"pushed_authorization_request_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint,omitempty"`
	RequirePushedAuthorizationRequests         bool     `json:"require_pushed_authorization_requests"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	ScopesSupported                            []string `json:"scopes_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	DPoPSigningAlgValuesSupported              []string `json:"dpop_signing_alg_values_supported"`
	AuthorizationResponseISSParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	ClientIDMetadataDocumentSupported          bool     `json:"client_id_metadata_document_supported"`
	ProtectedResources                         []string `json:"protected_resources,omitempty"`
}

// validate checks the metadata of the authorization server issuer against
// what atproto requires.
func (m *authServerMetadata) validate(issuer string, allowHTTP bool) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: authorization server %s: "+format, append([]any{ErrInvalidServerMetadata, issuer}, args...)...)
	}
	if m.Issuer != issuer {
		return fmt.Errorf("%w: metadata of %s names issuer %q", ErrIssuerMismatch, issuer, m.Issuer)
	}
	if !m.ClientIDMetadataDocumentSupported {
		return bad("client_id_metadata_document_supported is not true")
	}
	if !m.RequirePushedAuthorizationRequests || m.PushedAuthorizationRequestEndpoint == "" {
		return bad("pushed authorization requests are not required or have no endpoint")
	}
	if !m.AuthorizationResponseISSParameterSupported {
		return bad("authorization_response_iss_parameter_supported is not true")
	}
	for name, ep := range map[string]string{
		"authorization_endpoint":                m.AuthorizationEndpoint,
		"token_endpoint":                        m.TokenEndpoint,
		"pushed_authorization_request_endpoint": m.PushedAuthorizationRequestEndpoint,
		"revocation_endpoint":                   m.RevocationEndpoint,
	} {
		if ep == "" && name == "revocation_endpoint" {
			continue
		}
		u, err := url.Parse(ep)
		if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" ||
			!(u.Scheme == "https" || (u.Scheme == "http" && allowHTTP)) {
			return bad("%s %q is not an https URL", name, ep)
		}
	}
	if !slices.Contains(m.ResponseTypesSupported, "code") {
		return bad("response type code not supported")
	}
	if !slices.Contains(m.GrantTypesSupported, "authorization_code") || !slices.Contains(m.GrantTypesSupported, "refresh_token") {
		return bad("grant types authorization_code and refresh_token not both supported")
	}
	if !slices.Contains(m.CodeChallengeMethodsSupported, "S256") {
		return bad("PKCE S256 not supported")
	}
	if !slices.Contains(m.DPoPSigningAlgValuesSupported, "ES256") {
		return bad("DPoP with ES256 not supported")
	}
	if slices.Contains(m.TokenEndpointAuthSigningAlgValuesSupported, "none") {
		return bad(`token endpoint signing algorithm "none" offered`)
	}
	if !slices.Contains(m.ScopesSupported, "atproto") {
		return bad("scope atproto not supported")
	}
	return nil
}

// checkIssuer checks that s is a canonical issuer identifier: an https
// origin (http only in development mode), no path, query, fragment or
// userinfo, lowercase, no default port.
func checkIssuer(s string, allowHTTP bool) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Path != "" ||
		strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") || origin(u) != s {
		return fmt.Errorf("%w: issuer %q is not a canonical origin", ErrInvalidServerMetadata, s)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && allowHTTP) {
		return fmt.Errorf("%w: issuer %q is not https", ErrInvalidServerMetadata, s)
	}
	return nil
}

// fetchAuthServerMetadata fetches and validates the metadata of issuer.
// Nothing is cached.
func (c *Client) fetchAuthServerMetadata(ctx context.Context, issuer string) (*authServerMetadata, error) {
	if err := checkIssuer(issuer, c.fetch.allowHTTP); err != nil {
		return nil, err
	}
	body, err := c.fetch.get(ctx, issuer+"/.well-known/oauth-authorization-server", maxMetadataSize, "application/json")
	if err != nil {
		return nil, err
	}
	m, err := parseAuthServerMetadata(body)
	if err != nil {
		return nil, err
	}
	if err := m.validate(issuer, c.fetch.allowHTTP); err != nil {
		return nil, err
	}
	return m, nil
}

func parseAuthServerMetadata(body []byte) (*authServerMetadata, error) {
	var m authServerMetadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidServerMetadata, err)
	}
	return &m, nil
}

// protectedResource is a PDS's OAuth protected-resource metadata (RFC 9728).
type protectedResource struct {
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
}

// pdsIssuer finds the authorization server of a PDS: its protected-resource
// metadata must name itself as the resource and exactly one authorization
// server, whose metadata must be valid and, if it lists its protected
// resources, include the PDS.
func (c *Client) pdsIssuer(ctx context.Context, pds string) (*authServerMetadata, error) {
	u, err := url.Parse(pds)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: PDS URL %q", ErrInvalidServerMetadata, pds)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && c.fetch.allowHTTP) {
		return nil, fmt.Errorf("%w: PDS %q is not https", ErrForbiddenAddress, pds)
	}
	resource := origin(u)
	body, err := c.fetch.get(ctx, resource+"/.well-known/oauth-protected-resource", maxMetadataSize, "application/json")
	if err != nil {
		return nil, fmt.Errorf("protected-resource metadata of %s: %w", resource, err)
	}
	var pr protectedResource
	if err := json.Unmarshal(body, &pr); err != nil {
		return nil, fmt.Errorf("%w: protected-resource metadata of %s: %v", ErrInvalidServerMetadata, resource, err)
	}
	if pr.Resource != resource {
		return nil, fmt.Errorf("%w: protected-resource metadata of %s names resource %q", ErrInvalidServerMetadata, resource, pr.Resource)
	}
	if len(pr.AuthorizationServers) != 1 {
		return nil, fmt.Errorf("%w: %s lists %d authorization servers, want exactly one", ErrInvalidServerMetadata, resource, len(pr.AuthorizationServers))
	}
	m, err := c.fetchAuthServerMetadata(ctx, pr.AuthorizationServers[0])
	if err != nil {
		return nil, err
	}
	if m.ProtectedResources != nil && !slices.Contains(m.ProtectedResources, resource) {
		return nil, fmt.Errorf("%w: %s does not list %s among its protected resources", ErrInvalidServerMetadata, m.Issuer, resource)
	}
	return m, nil
}

// verifyIssuer re-resolves did with no cache and checks that its PDS is
// served by issuer. It returns the PDS URL.
func (c *Client) verifyIssuer(ctx context.Context, did, issuer string) (string, *authServerMetadata, error) {
	doc, err := c.resolveDID(ctx, did)
	if err != nil {
		return "", nil, err
	}
	pds, err := doc.pds()
	if err != nil {
		return "", nil, err
	}
	m, err := c.pdsIssuer(ctx, pds)
	if err != nil {
		return "", nil, err
	}
	if m.Issuer != issuer {
		return "", nil, fmt.Errorf("%w: %s is served by %s, not %s", ErrIssuerMismatch, did, m.Issuer, issuer)
	}
	return pds, m, nil
}
