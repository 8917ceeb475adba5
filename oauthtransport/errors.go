package oauthtransport

import (
	"errors"
	"fmt"
	"net/url"
)

// Sentinel errors. Every error the package returns wraps at most a few of
// these, so callers test them with [errors.Is] rather than comparing strings.
var (
	// ErrInvalidKey reports a key that cannot be used: not a P-256 (ES256)
	// private key, unparseable, or without a kid where one is needed.
	ErrInvalidKey = errors.New("oauthtransport: invalid key")
	// ErrInvalidClientMetadata reports client metadata (configured or fetched)
	// that breaks the atproto OAuth rules.
	ErrInvalidClientMetadata = errors.New("oauthtransport: invalid client metadata")
	// ErrInvalidServerMetadata reports protected-resource or
	// authorization-server metadata that breaks the atproto OAuth rules.
	ErrInvalidServerMetadata = errors.New("oauthtransport: invalid server metadata")
	// ErrForbiddenAddress reports a fetch refused by the SSRF guard: a
	// private, loopback, link-local, multicast or unspecified address, or a
	// plain-http URL, while the client is not in development mode.
	ErrForbiddenAddress = errors.New("oauthtransport: forbidden address")
	// ErrResponseTooLarge reports a response body over the size cap.
	ErrResponseTooLarge = errors.New("oauthtransport: response too large")
	// ErrRedirectRefused reports an HTTP redirect where none is allowed.
	ErrRedirectRefused = errors.New("oauthtransport: redirect refused")
	// ErrUnresolved reports an identity (handle or DID) that did not resolve.
	ErrUnresolved = errors.New("oauthtransport: identity not resolved")
	// ErrRedirectURINotRegistered reports a redirect_uri that is not one of
	// the client's registered redirect URIs.
	ErrRedirectURINotRegistered = errors.New("oauthtransport: redirect_uri not registered")
	// ErrScopeNotDeclared reports a requested scope that the client
	// metadata does not declare (servers refuse those).
	ErrScopeNotDeclared = errors.New("oauthtransport: scope not declared in the client metadata")
	// ErrInvalidState reports a callback whose state is missing, unknown,
	// expired or already used.
	ErrInvalidState = errors.New("oauthtransport: unknown or used authorization state")
	// ErrIssuerMismatch reports an authorization server that is not the one
	// expected: wrong iss in a callback or metadata, or a DID whose PDS is
	// served by another authorization server.
	ErrIssuerMismatch = errors.New("oauthtransport: issuer mismatch")
	// ErrSubjectMismatch reports a token response whose sub is not the
	// account the flow started from or the session belongs to.
	ErrSubjectMismatch = errors.New("oauthtransport: subject mismatch")
	// ErrInvalidTokenResponse reports a token response that breaks the
	// atproto rules (token_type, sub, scope, id_token, ...).
	ErrInvalidTokenResponse = errors.New("oauthtransport: invalid token response")
	// ErrMissingDPoPNonce reports an authorization-server response that
	// carries no DPoP-Nonce header, which atproto requires.
	ErrMissingDPoPNonce = errors.New("oauthtransport: response without DPoP-Nonce")
	// ErrAuthMethodUnsatisfiable reports that the client authentication
	// method (or the key) bound to a login or session can no longer be used.
	ErrAuthMethodUnsatisfiable = errors.New("oauthtransport: client authentication method unsatisfiable")
	// ErrSessionNotFound reports that no session is stored for a DID.
	ErrSessionNotFound = errors.New("oauthtransport: session not found")
	// ErrTokenRevoked reports a session that was signed out or revoked.
	ErrTokenRevoked = errors.New("oauthtransport: token revoked")
	// ErrTokenInvalid reports an access token the resource server rejected
	// even after a refresh.
	ErrTokenInvalid = errors.New("oauthtransport: token invalid")
	// ErrRefreshRejected reports a refresh the authorization server refused
	// for good (invalid_grant): the session is over.
	ErrRefreshRejected = errors.New("oauthtransport: refresh rejected")
	// ErrSessionStore reports a failure of the session store.
	ErrSessionStore = errors.New("oauthtransport: session store failure")
	// ErrWrongOrigin reports a request through a session's transport to an
	// origin other than the session's PDS: the token is never sent there.
	ErrWrongOrigin = errors.New("oauthtransport: request to an origin other than the session's PDS")
	// ErrBodyNotReplayable reports a request whose body would have to be
	// sent twice but cannot be (no GetBody and over the buffering limit).
	ErrBodyNotReplayable = errors.New("oauthtransport: request body cannot be replayed")
)

// OAuthError is an error response from an authorization server (RFC 6749
// §5.2) or a resource server (RFC 6750 §3). It matches another *OAuthError
// with [errors.Is] when the codes are equal, so
// errors.Is(err, &OAuthError{Code: "invalid_grant"}) works.
type OAuthError struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Code is the OAuth error code, such as "invalid_grant".
	Code string
	// Description is the optional error_description.
	Description string
	// URI is the optional error_uri.
	URI string
}

// Error implements error.
func (e *OAuthError) Error() string {
	s := fmt.Sprintf("oauthtransport: OAuth error %q", e.Code)
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Is reports whether target is an *OAuthError with the same Code.
func (e *OAuthError) Is(target error) bool {
	t, ok := target.(*OAuthError)
	return ok && t.Code != "" && t.Code == e.Code
}

// CallbackError is returned by [Client.Callback] for every failure: the
// authorization server's error response (Code set, e.g. "login_required"
// after a silent sign-in with prompt=none), a failed check or exchange (Err
// set), or a missing, unknown or already used state (Err set). AppState is
// the state the app passed to [Client.Authorize], so the app can retry or
// report; it is "" when the state was not found.
type CallbackError struct {
	// Params are the callback's query parameters.
	Params url.Values
	// Code is the OAuth error code of an error response ("" otherwise).
	Code string
	// Description is the error_description of an error response.
	Description string
	// AppState is the application state given to Authorize.
	AppState string
	// Err is the underlying failure, when the callback carried no error
	// code; otherwise it is an *OAuthError with Code and Description.
	Err error
}

// Error implements error.
func (e *CallbackError) Error() string {
	if e.Code != "" {
		s := "oauthtransport: authorization failed: " + e.Code
		if e.Description != "" {
			s += ": " + e.Description
		}
		return s
	}
	if e.Err != nil {
		return "oauthtransport: callback: " + e.Err.Error()
	}
	return "oauthtransport: callback failed"
}

// Unwrap returns the underlying error.
func (e *CallbackError) Unwrap() error { return e.Err }

// RefreshError reports a failed token refresh. Deleted tells whether the
// session was deleted because the failure is definite; a network error or a
// timeout keeps the session so a later refresh can succeed.
type RefreshError struct {
	// DID is the session's account.
	DID string
	// Deleted is true when the session was deleted.
	Deleted bool
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *RefreshError) Error() string {
	s := "oauthtransport: refresh of " + e.DID + " failed"
	if e.Deleted {
		s += " (session deleted)"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *RefreshError) Unwrap() error { return e.Err }

// ResolverError reports a failure to resolve a login input (handle, DID or
// URL) to its PDS and authorization server.
type ResolverError struct {
	// Input is what was being resolved.
	Input string
	// Err is the cause; it wraps ErrUnresolved, ErrInvalidServerMetadata, a
	// network error, ...
	Err error
}

// Error implements error.
func (e *ResolverError) Error() string {
	return fmt.Sprintf("oauthtransport: resolving %q: %v", e.Input, e.Err)
}

// Unwrap returns the cause.
func (e *ResolverError) Unwrap() error { return e.Err }
