package atp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/lex"
)

// ErrForeignOrigin is returned by a [CredentialSession]'s transport for a
// request to a host other than the session's: its tokens are never sent
// anywhere else.
var ErrForeignOrigin = errors.New("atp: request to a host other than the session's")

// ErrLoggedOut is returned for requests through a [CredentialSession] that
// was logged out.
var ErrLoggedOut = errors.New("atp: the session was logged out")

// SessionData is the state of an app-password session: what to save to
// resume it later with [ResumePasswordSession] without signing in again
// (createSession is rate-limited; refreshSession much less).
type SessionData struct {
	DID        string `json:"did"`
	Handle     string `json:"handle"`
	AccessJWT  string `json:"accessJwt"`
	RefreshJWT string `json:"refreshJwt"`
	// PDS is the account's PDS from its DID document, where requests go;
	// "" when the service signed in to is the PDS.
	PDS string `json:"pds,omitempty"`
}

// PasswordOptions are the optional settings of a password session.
type PasswordOptions struct {
	// AuthFactorToken is the code the server emailed, for accounts with
	// email two-factor authentication (createSession fails with
	// atproto.ErrServerCreateSessionAuthFactorTokenRequired without it).
	AuthFactorToken string
	// HTTPClient sends the requests; nil means http.DefaultClient. The
	// session's client uses its Transport, Timeout and CheckRedirect.
	HTTPClient *http.Client
	// OnUpdate, if set, is called with the new state after the session is
	// created and after each refresh, to save it. Calls are serialized.
	OnUpdate func(SessionData)
}

// CredentialSession is a session signed in with a handle (or email) and an
// app password, through com.atproto.server.createSession. It is a
// [Transport]: its HTTP client adds the access token to each request to the
// account's PDS and refreshes it (com.atproto.server.refreshSession) shortly
// before it expires or when the PDS says it has (ExpiredToken), retrying
// the request once (a request whose body cannot be read again, one without
// GetBody such as an upload from a file, is not retried: the proactive
// refresh is what spares it). A refresh is done once even when many
// requests find the token expired at the same time. Safe for concurrent
// use.
type CredentialSession struct {
	service  string
	base     *http.Client
	onUpdate func(SessionData)

	mu        sync.Mutex
	data      SessionData
	accessExp time.Time // zero if unknown

	refreshMu sync.Mutex // held while refreshing
}

// refreshMargin is how long before its expiry an access token is refreshed.
const refreshMargin = 30 * time.Second

// refreshTimeout bounds a refresh, which outlives a canceled request: a
// refresh token is single-use, so an abandoned refresh could lose the
// session.
const refreshTimeout = 30 * time.Second

// PasswordSession signs in to service (an entryway such as
// "https://bsky.social", or a PDS) with an identifier (handle, DID or email)
// and an app password. Requests then go to the account's PDS, read from the
// DID document the server returns.
func PasswordSession(ctx context.Context, service, identifier, password string, opts ...*PasswordOptions) (*CredentialSession, error) {
	o := firstParams(opts)
	if o == nil {
		o = &PasswordOptions{}
	}
	s := newCredentialSession(service, o)
	in := &atproto.ServerCreateSessionInput{Identifier: identifier, Password: password}
	if o.AuthFactorToken != "" {
		in.AuthFactorToken = lex.Ptr(o.AuthFactorToken)
	}
	out, err := atproto.ServerCreateSession(ctx, &lex.HTTPClient{Host: s.service, Client: s.base}, in)
	if err != nil {
		return nil, fmt.Errorf("atp: signing in: %w", err)
	}
	s.set(SessionData{DID: out.DID, Handle: out.Handle, AccessJWT: out.AccessJWT, RefreshJWT: out.RefreshJWT, PDS: pdsEndpoint(out.DIDDoc)})
	return s, nil
}

// ResumePasswordSession resumes a session saved from [CredentialSession.Data]
// (or OnUpdate) without a request; the tokens are refreshed when needed.
func ResumePasswordSession(service string, data SessionData, opts ...*PasswordOptions) *CredentialSession {
	o := firstParams(opts)
	if o == nil {
		o = &PasswordOptions{}
	}
	s := newCredentialSession(service, o)
	s.data, s.accessExp = data, jwtExpiry(data.AccessJWT)
	return s
}

func newCredentialSession(service string, o *PasswordOptions) *CredentialSession {
	base := o.HTTPClient
	if base == nil {
		base = http.DefaultClient
	}
	return &CredentialSession{service: strings.TrimSuffix(service, "/"), base: base, onUpdate: o.OnUpdate}
}

// set replaces the session state and reports it to OnUpdate. Callers hold
// refreshMu or own s exclusively.
func (s *CredentialSession) set(d SessionData) {
	s.mu.Lock()
	s.data, s.accessExp = d, jwtExpiry(d.AccessJWT)
	s.mu.Unlock()
	if s.onUpdate != nil {
		s.onUpdate(d)
	}
}

// Data returns the session's current state, to save.
func (s *CredentialSession) Data() SessionData {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// DID implements [Transport]: the account's DID.
func (s *CredentialSession) DID() string { return s.Data().DID }

// Service implements [Transport]: the account's PDS, or the service signed
// in to when it did not name one.
func (s *CredentialSession) Service() string {
	if pds := s.Data().PDS; pds != "" {
		return pds
	}
	return s.service
}

// HTTPClient implements [Transport]: a client that authenticates requests
// to the session's service.
func (s *CredentialSession) HTTPClient() *http.Client {
	c := *s.base
	c.Transport = s.Transport()
	return &c
}

// Transport returns the session's http.RoundTripper.
func (s *CredentialSession) Transport() http.RoundTripper { return &credTransport{s: s} }

// Refresh refreshes the tokens now.
func (s *CredentialSession) Refresh(ctx context.Context) error {
	return s.refresh(ctx, s.Data().AccessJWT)
}

// Logout ends the session on the server (com.atproto.server.deleteSession)
// and forgets its tokens; later requests fail with [ErrLoggedOut].
func (s *CredentialSession) Logout(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	d := s.Data()
	if d.RefreshJWT == "" {
		return ErrLoggedOut
	}
	err := atproto.ServerDeleteSession(ctx, s.bearer(d.RefreshJWT))
	if err != nil {
		return fmt.Errorf("atp: logging out: %w", err)
	}
	d.AccessJWT, d.RefreshJWT = "", ""
	s.set(d)
	return nil
}

// bearer returns a client for calls authenticated with token (the refresh
// token, for refreshSession and deleteSession).
func (s *CredentialSession) bearer(token string) lex.Client {
	return &lex.HTTPClient{Host: s.Service(), Client: s.base, Header: http.Header{"Authorization": {"Bearer " + token}}}
}

// refresh refreshes the tokens unless the access token is no longer stale
// (another request refreshed it meanwhile).
func (s *CredentialSession) refresh(ctx context.Context, stale string) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	d := s.Data()
	if d.AccessJWT != stale {
		return nil
	}
	if d.RefreshJWT == "" {
		return ErrLoggedOut
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
	defer cancel()
	out, err := atproto.ServerRefreshSession(ctx, s.bearer(d.RefreshJWT))
	if err != nil {
		return fmt.Errorf("atp: refreshing the session: %w", err)
	}
	if out.DID != d.DID {
		return fmt.Errorf("atp: refreshing the session: the server returned a session for %s, not %s", out.DID, d.DID)
	}
	nd := SessionData{DID: out.DID, Handle: out.Handle, AccessJWT: out.AccessJWT, RefreshJWT: out.RefreshJWT, PDS: d.PDS}
	if pds := pdsEndpoint(out.DIDDoc); pds != "" {
		nd.PDS = pds
	}
	s.set(nd)
	return nil
}

// accessToken returns a current access token, refreshing it first when it
// expires within refreshMargin.
func (s *CredentialSession) accessToken(ctx context.Context) (string, error) {
	s.mu.Lock()
	tok, exp := s.data.AccessJWT, s.accessExp
	s.mu.Unlock()
	if tok == "" {
		return "", ErrLoggedOut
	}
	if exp.IsZero() || time.Until(exp) > refreshMargin {
		return tok, nil
	}
	if err := s.refresh(ctx, tok); err != nil {
		if time.Now().Before(exp) {
			return tok, nil // still valid: let the server decide
		}
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data.AccessJWT, nil
}

type credTransport struct{ s *CredentialSession }

// RoundTrip implements http.RoundTripper.
func (t *credTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s := t.s
	if req.URL == nil || !sameOrigin(req.URL, s.Service()) {
		closeRequestBody(req)
		return nil, fmt.Errorf("%w: %s", ErrForeignOrigin, redactURL(req.URL))
	}
	ctx := req.Context()
	tok, err := s.accessToken(ctx)
	if err != nil {
		closeRequestBody(req)
		return nil, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	resp, err := t.send(req, req.Body, tok)
	if err != nil || !replayable || !expiredToken(resp) {
		return resp, err
	}
	resp.Body.Close()
	if err := s.refresh(ctx, tok); err != nil {
		return nil, err
	}
	body := req.Body
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	tok = s.data.AccessJWT
	s.mu.Unlock()
	return t.send(req, body, tok)
}

func (t *credTransport) send(req *http.Request, body io.ReadCloser, tok string) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Body = body
	r.Header.Set("Authorization", "Bearer "+tok)
	rt := t.s.base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	return rt.RoundTrip(r)
}

// maxPeek bounds how much of an error response is read to find its name.
const maxPeek = 64 << 10

// expiredToken reports whether resp says the access token has expired. It
// leaves resp's body readable as it was.
func expiredToken(resp *http.Response) bool {
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
		return false
	}
	buf, err := io.ReadAll(io.LimitReader(resp.Body, maxPeek))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), resp.Body), resp.Body}
	if err != nil {
		return false
	}
	var e struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(buf, &e) == nil && e.Error == "ExpiredToken"
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

func sameOrigin(u *url.URL, service string) bool {
	su, err := url.Parse(service)
	return err == nil && strings.EqualFold(u.Scheme, su.Scheme) && strings.EqualFold(u.Host, su.Host)
}

func redactURL(u *url.URL) string {
	if u == nil {
		return "<nil URL>"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// jwtExpiry returns the expiry ("exp") of a JWT, without checking it, or
// zero when there is none.
func jwtExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp <= 0 {
		return time.Time{}
	}
	return time.Unix(claims.Exp, 0)
}

// pdsEndpoint returns the #atproto_pds service endpoint of a DID document,
// or "".
func pdsEndpoint(doc lex.Object) string {
	if doc == nil {
		return ""
	}
	raw, err := lex.Marshal(doc)
	if err != nil {
		return ""
	}
	var d struct {
		ID      string `json:"id"`
		Service []struct {
			ID              string `json:"id"`
			Type            string `json:"type"`
			ServiceEndpoint any    `json:"serviceEndpoint"`
		} `json:"service"`
	}
	if json.Unmarshal(raw, &d) != nil {
		return ""
	}
	for _, svc := range d.Service {
		if (svc.ID != "#atproto_pds" && svc.ID != d.ID+"#atproto_pds") || svc.Type != "AtprotoPersonalDataServer" {
			continue
		}
		ep, ok := svc.ServiceEndpoint.(string)
		if !ok {
			return ""
		}
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return ""
		}
		return strings.TrimSuffix(ep, "/")
	}
	return ""
}
