package oauthtransport

import "time"

// TokenInfo describes a session's current tokens, without the tokens.
type TokenInfo struct {
	// Subject is the account's DID (the token's sub).
	Subject string
	// Issuer is the authorization server.
	Issuer string
	// Audience is the PDS the access token is for.
	Audience string
	// Scope is the granted scope.
	Scope string
	// ExpiresAt is when the access token expires (zero if unknown).
	ExpiresAt time.Time
}

// flight is an in-progress refresh that concurrent callers wait for.
type flight struct {
	done chan struct{}
	err  error
}
