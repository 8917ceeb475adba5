package oauthtransport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/atpgo/atp/store"
)

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

// Expired reports whether the access token has expired at t (with five
// seconds of margin). A token without a known expiry never expires here.
func (ti TokenInfo) Expired(t time.Time) bool {
	return !ti.ExpiresAt.IsZero() && !t.Add(5*time.Second).Before(ti.ExpiresAt)
}

// sessionRecord is what the session store keeps, keyed by DID.
type sessionRecord struct {
	DID          string          `json:"sub"`
	Issuer       string          `json:"iss"`
	PDS          string          `json:"aud"`
	DPoPKey      json.RawMessage `json:"dpopJwk"`
	Auth         clientAuth      `json:"authMethod"`
	AccessToken  string          `json:"access_token"`
	RefreshToken string          `json:"refresh_token,omitempty"`
	Scope        string          `json:"scope"`
	ExpiresAt    time.Time       `json:"expires_at,omitzero"`
}

func (r *sessionRecord) info() TokenInfo {
	return TokenInfo{Subject: r.DID, Issuer: r.Issuer, Audience: r.PDS, Scope: r.Scope, ExpiresAt: r.ExpiresAt}
}

const (
	sessionKeyPrefix = "oauth-session:"
	// The refresh lock is a lease of refreshLockTTL. Its holder gets
	// refreshTimeout, shorter than the lease, for the refresh itself, so
	// its work cannot outlive its lease; a waiter waits up to
	// lockWaitTimeout, longer than a lease, so that when a holder dies
	// without releasing, the others outlast its lease instead of failing.
	refreshLockTTL  = 30 * time.Second
	refreshTimeout  = 20 * time.Second
	lockWaitTimeout = 45 * time.Second
	// A token is refreshed when less than staleMargin plus a random part
	// of staleJitter remains, so that instances sharing a session do not
	// all refresh at the same moment.
	staleMargin = 10 * time.Second
	staleJitter = 30 * time.Second
)

func (c *Client) loadRecord(ctx context.Context, did string) (*sessionRecord, error) {
	c.pendingMu.Lock()
	p := c.pending[did]
	c.pendingMu.Unlock()
	if p != nil {
		// Refreshed tokens the store refused: they are the live ones (the
		// stored refresh token is spent). Try to save them again.
		if err := c.saveRecord(ctx, p); err != nil {
			c.log.WarnContext(ctx, "oauthtransport: session store still failing", "did", did, "err", err)
		}
		return p, nil
	}
	raw, err := c.sessions.Get(ctx, sessionKeyPrefix+did)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrSessionNotFound, did)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSessionStore, err)
	}
	var rec sessionRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, fmt.Errorf("%w: corrupt session of %s: %v", ErrSessionStore, did, err)
	}
	if rec.DID != did {
		return nil, fmt.Errorf("%w: session stored under %s belongs to %s", ErrSubjectMismatch, did, rec.DID)
	}
	return &rec, nil
}

func (c *Client) saveRecord(ctx context.Context, rec *sessionRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := c.sessions.Set(ctx, sessionKeyPrefix+rec.DID, raw, 0); err != nil {
		return fmt.Errorf("%w: saving session of %s: %w", ErrSessionStore, rec.DID, err)
	}
	c.clearPending(rec.DID)
	c.emit(ctx, Event{Type: SessionUpdated, DID: rec.DID, Info: rec.info()})
	return nil
}

func (c *Client) clearPending(did string) {
	c.pendingMu.Lock()
	delete(c.pending, did)
	c.pendingMu.Unlock()
}

// deleteSession deletes a session for a definite reason.
func (c *Client) deleteSession(ctx context.Context, did string, cause error) {
	ctx = context.WithoutCancel(ctx)
	c.clearPending(did)
	if err := c.sessions.Delete(ctx, sessionKeyPrefix+did); err != nil {
		c.log.WarnContext(ctx, "oauthtransport: deleting session", "did", did, "err", err)
	}
	c.log.InfoContext(ctx, "oauthtransport: session deleted", "did", did, "cause", cause)
	c.emit(ctx, Event{Type: SessionDeleted, DID: did, Cause: cause})
}

// revokeRecord revokes a session's tokens, best effort.
func (c *Client) revokeRecord(ctx context.Context, rec *sessionRecord) {
	priv, err := unmarshalPrivateJWK(rec.DPoPKey)
	if err != nil {
		return
	}
	m, err := c.fetchAuthServerMetadata(ctx, rec.Issuer)
	if err != nil {
		c.log.WarnContext(ctx, "oauthtransport: revocation skipped", "did", rec.DID, "err", err)
		return
	}
	dk := newDPoPKey(priv)
	if err := c.revokeToken(ctx, dk, m, rec.Auth, rec.RefreshToken, "refresh_token"); err != nil {
		c.log.WarnContext(ctx, "oauthtransport: revoking refresh token", "did", rec.DID, "err", err)
	}
	if err := c.revokeToken(ctx, dk, m, rec.Auth, rec.AccessToken, "access_token"); err != nil {
		c.log.WarnContext(ctx, "oauthtransport: revoking access token", "did", rec.DID, "err", err)
	}
}

// stale reports whether a record's access token should be refreshed now.
func (c *Client) stale(rec *sessionRecord) bool {
	if rec.ExpiresAt.IsZero() {
		return false
	}
	margin := staleMargin + rand.N(staleJitter)
	return !c.now().Add(margin).Before(rec.ExpiresAt)
}

// flight is an in-progress refresh that concurrent callers wait for.
type flight struct {
	done chan struct{}
	rec  *sessionRecord
	err  error
}

// refresh refreshes the session of did whose access token staleToken is no
// longer good. Concurrent calls in the process share one refresh; across
// processes the configured Locker serialises them. The refresh, once
// started, is not abandoned when ctx ends, so rotated tokens are never lost.
// A non-nil record with an error wrapping ErrSessionStore means the new
// tokens are valid but could not be saved.
func (c *Client) refresh(ctx context.Context, did, staleToken string) (*sessionRecord, error) {
	c.flightMu.Lock()
	fl := c.flights[did]
	if fl == nil {
		fl = &flight{done: make(chan struct{})}
		c.flights[did] = fl
		go func() {
			fl.rec, fl.err = c.doRefresh(context.WithoutCancel(ctx), did, staleToken)
			c.flightMu.Lock()
			delete(c.flights, did)
			c.flightMu.Unlock()
			close(fl.done)
		}()
	}
	c.flightMu.Unlock()
	select {
	case <-fl.done:
		return fl.rec, fl.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// doRefresh runs one refresh: it waits for the cross-process lock (up to
// lockWaitTimeout), then does the work within refreshTimeout of getting it.
// base carries values but no deadline.
func (c *Client) doRefresh(base context.Context, did, staleToken string) (*sessionRecord, error) {
	if c.locker != nil {
		lctx, cancel := context.WithTimeout(base, lockWaitTimeout)
		unlock, err := c.locker.Lock(lctx, "oauthtransport-refresh:"+did, refreshLockTTL)
		cancel()
		if err != nil {
			return nil, &RefreshError{DID: did, Err: fmt.Errorf("taking the refresh lock: %w", err)}
		}
		defer unlock()
	}
	ctx, cancel := context.WithTimeout(base, refreshTimeout)
	defer cancel()
	fail := func(err error, del bool) (*sessionRecord, error) {
		if del {
			c.deleteSession(ctx, did, err)
		}
		return nil, &RefreshError{DID: did, Deleted: del, Err: err}
	}
	rec, err := c.loadRecord(ctx, did)
	if err != nil {
		return fail(err, errors.Is(err, ErrSubjectMismatch))
	}
	if rec.AccessToken != staleToken && !c.stale(rec) {
		return rec, nil // refreshed meanwhile by another caller or instance
	}
	if rec.RefreshToken == "" {
		return fail(fmt.Errorf("%w: no refresh token", ErrRefreshRejected), true)
	}
	if rec.Auth.Method == AuthMethodPrivateKeyJWT {
		if _, ok := c.keys.Key(rec.Auth.KID); !ok {
			return fail(fmt.Errorf("%w: key %q is no longer in the keyset", ErrAuthMethodUnsatisfiable, rec.Auth.KID), true)
		}
	}
	priv, err := unmarshalPrivateJWK(rec.DPoPKey)
	if err != nil {
		return fail(err, true)
	}
	// The issuer must still be the account's authorization server before
	// the refresh token is sent to it.
	pds, m, err := c.verifyIssuer(ctx, did, rec.Issuer)
	if err != nil {
		return fail(err, errors.Is(err, ErrIssuerMismatch))
	}
	start := c.now()
	_, body, err := c.asPost(ctx, newDPoPKey(priv), m, m.TokenEndpoint,
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rec.RefreshToken}}, rec.Auth, true)
	if err != nil {
		if errors.Is(err, &OAuthError{Code: "invalid_grant"}) {
			// Another instance may have rotated the token without a
			// shared lock: its tokens are in the store.
			if cur, lerr := c.loadRecord(ctx, did); lerr == nil && cur.RefreshToken != rec.RefreshToken {
				return cur, nil
			}
			return fail(fmt.Errorf("%w: %w", ErrRefreshRejected, err), true)
		}
		return fail(err, isDefinite(err))
	}
	tok, err := parseTokenResponse(body)
	if err != nil {
		return fail(err, false)
	}
	if tok.Sub != did {
		return fail(fmt.Errorf("%w: refresh for %s answered for %s", ErrSubjectMismatch, did, tok.Sub), true)
	}
	next := *rec
	next.PDS, next.AccessToken, next.Scope = pds, tok.AccessToken, tok.Scope
	if tok.RefreshToken != "" {
		next.RefreshToken = tok.RefreshToken
	}
	next.ExpiresAt = time.Time{}
	if tok.expiresIn > 0 {
		next.ExpiresAt = start.Add(time.Duration(tok.expiresIn) * time.Second).Round(0)
	}
	if err := c.saveRecord(ctx, &next); err != nil {
		c.log.ErrorContext(ctx, "oauthtransport: refreshed tokens not saved", "did", did, "err", err)
		c.pendingMu.Lock()
		c.pending[did] = &next
		c.pendingMu.Unlock()
		return &next, &RefreshError{DID: did, Err: err}
	}
	c.log.DebugContext(ctx, "oauthtransport: session refreshed", "did", did)
	return &next, nil
}

// Session is a signed-in account. Its HTTP client sends requests to the
// account's PDS with the DPoP-bound access token, refreshing it as needed.
// A Session is safe for concurrent use.
type Session struct {
	c   *Client
	did string

	mu      sync.Mutex
	rec     *sessionRecord
	dk      *dpopKey
	unsaved bool // rec holds refreshed tokens the store did not take
}

func (c *Client) newSession(rec *sessionRecord, dk *dpopKey) *Session {
	return &Session{c: c, did: rec.DID, rec: rec, dk: dk}
}

// Restore loads the session of did from the session store, refreshing its
// tokens if they are about to expire (a refresh that fails for a transient
// reason while the token is still valid is retried on the next request). A
// session whose key has left the keyset is deleted and fails with
// ErrAuthMethodUnsatisfiable. If refreshed tokens could not be saved,
// Restore returns the working session together with an error wrapping
// ErrSessionStore.
func (c *Client) Restore(ctx context.Context, did string) (*Session, error) {
	if !isAtprotoDID(did) {
		return nil, fmt.Errorf("%w: %q is not a did:plc or did:web", ErrSessionNotFound, did)
	}
	rec, err := c.loadRecord(ctx, did)
	if err != nil {
		if errors.Is(err, ErrSubjectMismatch) {
			c.deleteSession(ctx, did, err)
		}
		return nil, err
	}
	if rec.Auth.Method == AuthMethodPrivateKeyJWT {
		if _, ok := c.keys.Key(rec.Auth.KID); !ok {
			err := fmt.Errorf("%w: key %q is no longer in the keyset", ErrAuthMethodUnsatisfiable, rec.Auth.KID)
			c.deleteSession(ctx, did, err)
			return nil, err
		}
	}
	priv, err := unmarshalPrivateJWK(rec.DPoPKey)
	if err != nil {
		c.deleteSession(ctx, did, err)
		return nil, err
	}
	s := c.newSession(rec, newDPoPKey(priv))
	if _, err := s.current(ctx); err != nil {
		var re *RefreshError
		if !errors.As(err, &re) || re.Deleted || !errors.Is(err, ErrSessionStore) {
			return nil, err
		}
		// Refreshed but not saved: the session works, the error says so.
		return s, err
	}
	return s, nil
}

// Scopes returns the granted scopes, parsed; tokens this package does not
// know are left out.
func (s *Session) Scopes() Scopes {
	s.mu.Lock()
	scope := s.rec.Scope
	s.mu.Unlock()
	var out Scopes
	for _, tok := range strings.Fields(scope) {
		if p, err := parsePermission(tok); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// Revoke signs the account did out: it revokes the stored session's tokens
// (best effort) and deletes the session, even if the authorization server
// cannot be reached. A missing session is not an error.
func (c *Client) Revoke(ctx context.Context, did string) error {
	rec, err := c.loadRecord(ctx, did)
	switch {
	case errors.Is(err, ErrSessionNotFound):
		return nil
	case err == nil:
		c.revokeRecord(ctx, rec)
	}
	c.clearPending(did)
	if err := c.sessions.Delete(context.WithoutCancel(ctx), sessionKeyPrefix+did); err != nil {
		return fmt.Errorf("%w: deleting session: %w", ErrSessionStore, err)
	}
	c.emit(ctx, Event{Type: SessionDeleted, DID: did, Cause: ErrTokenRevoked})
	return nil
}

// DID returns the session's account.
func (s *Session) DID() string { return s.did }

// Service returns the URL of the account's PDS, where the session's
// requests go. With it a *Session is an atp.Transport: atp.NewAgent(sess).
func (s *Session) Service() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.PDS
}

// TokenInfo describes the current tokens.
func (s *Session) TokenInfo() TokenInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.info()
}

// Refresh refreshes the tokens now, whatever their expiry.
func (s *Session) Refresh(ctx context.Context) error {
	s.mu.Lock()
	tok := s.rec.AccessToken
	s.mu.Unlock()
	_, err := s.refreshFrom(ctx, tok)
	return err
}

// current returns the record to use for a request, refreshing first if
// the token is stale.
func (s *Session) current(ctx context.Context) (*sessionRecord, error) {
	s.mu.Lock()
	rec, unsaved := s.rec, s.unsaved
	s.mu.Unlock()
	if unsaved {
		// Refreshed tokens the store refused: the client keeps the newest
		// such record; save it again and adopt it.
		c := s.c
		c.pendingMu.Lock()
		p := c.pending[s.did]
		c.pendingMu.Unlock()
		if p != nil {
			if err := c.saveRecord(ctx, p); err != nil {
				c.log.WarnContext(ctx, "oauthtransport: session store still failing", "did", s.did, "err", err)
			}
			if err := s.adopt(p); err != nil {
				return nil, err
			}
			rec = p
		}
		c.pendingMu.Lock()
		still := c.pending[s.did] != nil
		c.pendingMu.Unlock()
		s.mu.Lock()
		s.unsaved = still
		s.mu.Unlock()
	}
	if !s.c.stale(rec) {
		return rec, nil
	}
	next, err := s.refreshFrom(ctx, rec.AccessToken)
	var re *RefreshError
	if next == nil && errors.As(err, &re) && !re.Deleted && s.c.now().Before(rec.ExpiresAt) {
		// The early refresh failed for now (network, server hiccup) but
		// the token has not expired yet: use it; the next call retries.
		s.c.log.WarnContext(ctx, "oauthtransport: early refresh failed; using the current token", "did", s.did, "err", err)
		return rec, nil
	}
	return next, err
}

// refreshFrom refreshes a session whose token staleToken is stale or was
// rejected, and adopts the result.
func (s *Session) refreshFrom(ctx context.Context, staleToken string) (*sessionRecord, error) {
	rec, err := s.c.refresh(ctx, s.did, staleToken)
	if rec != nil {
		if aerr := s.adopt(rec); aerr != nil {
			return nil, aerr
		}
		s.mu.Lock()
		s.unsaved = err != nil
		s.mu.Unlock()
	}
	return rec, err
}

// adopt makes rec the session's current record.
func (s *Session) adopt(rec *sessionRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if string(s.rec.DPoPKey) != string(rec.DPoPKey) {
		priv, err := unmarshalPrivateJWK(rec.DPoPKey)
		if err != nil {
			return err
		}
		s.dk = newDPoPKey(priv)
	}
	s.rec = rec
	return nil
}

// SignOut revokes the session's tokens and deletes it. The local session
// is deleted even if the authorization server cannot be reached.
func (s *Session) SignOut(ctx context.Context) error {
	s.mu.Lock()
	rec := s.rec
	s.mu.Unlock()
	// Revoke what the store holds, which may be newer than our copy.
	if cur, err := s.c.loadRecord(ctx, s.did); err == nil {
		rec = cur
	}
	s.c.revokeRecord(ctx, rec)
	s.c.clearPending(s.did)
	if err := s.c.sessions.Delete(context.WithoutCancel(ctx), sessionKeyPrefix+s.did); err != nil {
		return fmt.Errorf("%w: deleting session: %w", ErrSessionStore, err)
	}
	s.c.emit(ctx, Event{Type: SessionDeleted, DID: s.did, Cause: ErrTokenRevoked})
	return nil
}

// HTTPClient returns an *http.Client whose requests go through the
// session's [Session.Transport].
func (s *Session) HTTPClient() *http.Client {
	return &http.Client{Transport: s.Transport()}
}
