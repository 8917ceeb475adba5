// Package oauthtransport signs a person in to their atproto account
// (Bluesky or any PDS) with OAuth, and then makes authenticated requests to
// their PDS through an ordinary [net/http.Client].
//
// It implements the atproto OAuth profile: client metadata documents and
// loopback clients, PAR, PKCE S256, DPoP-bound tokens with server nonces,
// private_key_jwt client authentication, identity-bound sessions, token
// refresh and revocation.
//
// # Using it
//
//	client, err := oauthtransport.NewClient(oauthtransport.Config{
//		Metadata:     oauthtransport.ClientMetadata{ClientID: "https://app.example.com/client-metadata.json", RedirectURIs: ...},
//		Keys:         keyset, // nil for a public client
//		StateStore:   stateStore,
//		SessionStore: sessionStore,
//	})
//	http.Handle("GET /client-metadata.json", client.MetadataHandler())
//	url, err := client.Authorize(ctx, "alice.bsky.social", oauthtransport.AuthorizeOptions{State: "..."})
//	// ... redirect the browser to url; on the redirect back:
//	sess, appState, err := client.Callback(ctx, r.URL.Query())
//	// later, in any request handler or process:
//	sess, err = client.Restore(ctx, did)
//	resp, err := sess.HTTPClient().Get(pds + "/xrpc/com.atproto.server.getSession")
//
// # Architecture
//
// The flow has five stages; each has its own file.
//
// Configuration (client.go, metadata.go, keys.go). [NewClient] fills in the
// atproto defaults of the [ClientMetadata] and validates it as an
// authorization server would: the client_id form (a discoverable https URL,
// or the loopback http://localhost?redirect_uri=...&scope=...), redirect
// URIs per application type, the authentication method against the keys,
// atproto in the scope, DPoP-bound tokens. Client keys are ES256 only; the
// first key of the [Keyset] signs new logins, the others keep the sessions
// bound to them working, which is how keys rotate. [FetchClientMetadata]
// applies the same rules to a hosted document.
//
// Resolution and discovery (identity.go, discovery.go). The login input is
// a handle, a DID or a server URL. A handle is resolved through DNS TXT
// _atproto.<handle> and https://<handle>/.well-known/atproto-did in
// parallel (two different answers leave it unresolved), or through an XRPC
// resolveHandle service; the DID document (did:plc from a configurable
// directory, did:web) must name the handle back and give the PDS. The PDS's
// protected-resource metadata must name itself and exactly one
// authorization server, whose metadata must name the same issuer and offer
// what atproto needs (PAR required, S256, DPoP ES256, iss parameter,
// client_id metadata documents, ...). Nothing is cached: every
// authorization and every refresh resolves afresh.
//
// Authorization (flow.go, asclient.go, dpop.go). [Client.Authorize] checks
// the options locally, resolves, negotiates the client authentication
// method with the server, creates a new DPoP key, a PKCE verifier and a
// random state, stores them (with the app's own state, which is never sent)
// in the state store with a TTL, and pushes the authorization request. Every
// request to the authorization server carries a DPoP proof (typ dpop+jwt,
// public jwk, htm, normalised htu, iat, random jti, nonce; no iss or exp)
// and, for confidential clients, a fresh client assertion; a use_dpop_nonce
// error is retried once with the server's new nonce, and nonces are cached
// per origin for all sessions.
//
// Callback (flow.go). [Client.Callback] consumes the state with one atomic
// GetDelete, so a callback can never be replayed, even after a failure. It
// then checks iss (RFC 9207), turns an error response into a
// [CallbackError] carrying the OAuth error code and the app state (for
// silent sign-in with prompt=none), redeems the code, and validates the
// token response (DPoP token type, atproto DID subject, atproto scope, no
// id_token). The subject must be the account the login started from, and
// its DID document, resolved again, must lead to this same authorization
// server; otherwise the new tokens are revoked. The session is saved under
// the DID, replacing (and revoking) any previous session of that account.
//
// Sessions (session.go, transport.go). A [Session] refreshes its access
// token shortly before expiry (10 s plus up to 30 s of jitter, so instances
// do not all refresh together) and when the PDS answers 401 invalid_token.
// Refreshes of one account are de-duplicated in the process and serialised
// across processes by the configured [store.Locker]; under the lock the
// store is read again, so a token another instance already refreshed is
// reused rather than replayed. Before a refresh token is sent, the account's
// DID is resolved again and its authorization server must still be the
// session's issuer. A session is deleted only for a definite reason (grant
// rejected, key or method gone, subject or issuer mismatch, tokens rejected
// right after a refresh, sign-out), never for a network error; each change
// is reported as an [Event]. The session's [Transport] clones each request,
// sends the token only to the session's PDS origin, adds the DPoP proof
// (with ath), retries once for a new nonce and once after a refresh,
// replaying the body through GetBody or a bounded buffer.
//
// # Hardening
//
// Every request the client makes for itself (identity, metadata, PAR,
// token, revocation) refuses redirects, caps the response size and has a
// timeout; by default its dialer refuses loopback, private, link-local,
// multicast and reserved addresses, and only https is used. For a PDS on
// your own machine, set Config.AllowHTTP and Config.AllowPrivateNetworks.
//
// Errors are typed: test them with [errors.Is] against the Err* sentinels
// and with [errors.As] for [*OAuthError], [*CallbackError], [*RefreshError]
// and [*ResolverError]. Logs go to the configured [log/slog.Logger] and
// never contain tokens or keys.
package oauthtransport
