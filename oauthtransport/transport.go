package oauthtransport

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
)

// maxBufferedBody is the largest request body without GetBody that the
// transport keeps in memory so that it can send it again after a nonce or
// token retry. A larger one (a blob upload from a file, say) is spooled to
// an unlinked temporary file instead, so it can be replayed too.
const maxBufferedBody = 1 << 20

// Transport is the http.RoundTripper of a [Session], in the spirit of
// golang.org/x/oauth2's Transport. For every request to the session's PDS
// it adds "Authorization: DPoP <token>" and a DPoP proof, refreshing the
// token first when it is about to expire. It retries once when the PDS
// asks for a new DPoP nonce, and, on 401 invalid_token, refreshes once and
// retries once. A request to any other origin fails with ErrWrongOrigin:
// the token is never sent anywhere else. The request is cloned, never
// modified.
type Transport struct {
	s *Session
	// base sends the requests; the client's network transport when nil.
	base http.RoundTripper
}

// Transport returns the session's http.RoundTripper.
func (s *Session) Transport() *Transport { return &Transport{s: s, base: s.c.base} }

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			_ = req.Body.Close()
		}
	}
	s, ctx := t.s, req.Context()
	s.mu.Lock()
	pds := s.rec.PDS
	s.mu.Unlock()
	if req.URL == nil || origin(req.URL) != pds {
		closeBody()
		return nil, fmt.Errorf("%w: %s", ErrWrongOrigin, redacted(req.URL))
	}
	rec, err := s.current(ctx)
	if rec == nil {
		closeBody()
		return nil, err
	}
	if err != nil {
		s.c.log.WarnContext(ctx, "oauthtransport: using refreshed tokens that were not saved", "did", s.did, "err", err)
	}

	// Bodies for retries.
	getBody := req.GetBody
	if req.Body != nil && req.Body != http.NoBody && getBody == nil {
		buf, err := io.ReadAll(io.LimitReader(req.Body, maxBufferedBody+1))
		if err != nil {
			closeBody()
			return nil, err
		}
		if len(buf) <= maxBufferedBody {
			closeBody()
			getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
		} else {
			sp, err := spool(buf, req.Body)
			closeBody()
			if err != nil {
				// No place to keep it: send it once, with no retry.
				s.c.log.WarnContext(ctx, "oauthtransport: request body not replayable", "err", err)
				return nil, fmt.Errorf("oauthtransport: buffering the request body: %w", err)
			}
			defer sp.finish()
			getBody = sp.reader
		}
	}
	htu, org := normalizeHTU(req.URL), origin(req.URL)
	send := func(rec *sessionRecord, first bool) (*http.Response, string, error) {
		r := req.Clone(ctx)
		if getBody != nil && (!first || req.GetBody == nil) {
			b, err := getBody()
			if err != nil {
				return nil, "", err
			}
			r.Body = b
		}
		s.mu.Lock()
		dk := s.dk
		s.mu.Unlock()
		nonce := s.c.nonces.get(org)
		proof, err := dk.proof(req.Method, htu, nonce, rec.AccessToken, s.c.now())
		if err != nil {
			if r.Body != nil {
				_ = r.Body.Close()
			}
			return nil, "", err
		}
		r.Header.Set("Authorization", "DPoP "+rec.AccessToken)
		r.Header.Set("DPoP", proof)
		resp, err := t.base.RoundTrip(r)
		if err != nil {
			return nil, "", err
		}
		s.c.nonces.set(org, resp.Header.Get("DPoP-Nonce"))
		return resp, nonce, nil
	}

	resp, sentNonce, err := send(rec, true)
	if err != nil {
		return nil, err
	}
	nonceRetried, refreshed := false, false
	for resp.StatusCode == http.StatusUnauthorized {
		code := challengeError(resp.Header, "DPoP")
		switch {
		case code == "use_dpop_nonce" && !nonceRetried:
			newNonce := resp.Header.Get("DPoP-Nonce")
			if newNonce == "" || newNonce == sentNonce {
				return resp, nil
			}
			nonceRetried = true
		case code == "invalid_token" && !refreshed:
			refreshed = true
			next, rerr := s.refreshFrom(ctx, rec.AccessToken)
			if next == nil {
				// The refresh failed: the caller gets the 401 as is.
				s.c.log.WarnContext(ctx, "oauthtransport: refresh after invalid_token failed", "did", s.did, "err", rerr)
				return resp, nil
			}
			rec = next
		case code == "invalid_token" && refreshed:
			// Freshly refreshed tokens rejected too: the session is
			// unusable.
			s.c.deleteSession(ctx, s.did, fmt.Errorf("%w: rejected by %s after a refresh", ErrTokenInvalid, pds))
			return resp, nil
		default:
			return resp, nil
		}
		drain(resp)
		if resp, sentNonce, err = send(rec, false); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// drain reads a little of a discarded response so that the connection can
// be reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	_ = resp.Body.Close()
}

func redacted(u *url.URL) string {
	if u == nil {
		return "<nil URL>"
	}
	return u.Redacted()
}

var _ http.RoundTripper = (*Transport)(nil)

// spooled is a request body kept in an unlinked temporary file, read by
// each attempt through its own section reader. The file is closed once the
// round trip is over and every reader handed out has been closed (an
// abandoned attempt may still be writing its body).
type spooled struct {
	f    *os.File
	size int64
	name string // still to remove, where the OS refused to unlink an open file

	mu   sync.Mutex
	open int
	done bool
}

// spool writes head and the rest of body to a temporary file.
func spool(head []byte, body io.Reader) (*spooled, error) {
	f, err := os.CreateTemp("", "atp-request-body-*")
	if err != nil {
		return nil, err
	}
	sp := &spooled{f: f}
	if os.Remove(f.Name()) != nil {
		sp.name = f.Name()
	}
	n, err := f.Write(head)
	if err == nil {
		var m int64
		m, err = io.Copy(f, body)
		n += int(m)
	}
	if err != nil {
		sp.done = true
		sp.close()
		return nil, err
	}
	sp.size = int64(n)
	return sp, nil
}

func (sp *spooled) reader() (io.ReadCloser, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.done {
		return nil, os.ErrClosed
	}
	sp.open++
	return &spoolReader{SectionReader: io.NewSectionReader(sp.f, 0, sp.size), sp: sp}, nil
}

func (sp *spooled) release() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.open--
	if sp.open == 0 && sp.done {
		sp.close()
	}
}

// finish marks the round trip over.
func (sp *spooled) finish() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.done = true
	if sp.open == 0 {
		sp.close()
	}
}

func (sp *spooled) close() {
	_ = sp.f.Close()
	if sp.name != "" {
		_ = os.Remove(sp.name)
	}
}

type spoolReader struct {
	*io.SectionReader
	sp   *spooled
	once sync.Once
}

func (r *spoolReader) Close() error {
	r.once.Do(r.sp.release)
	return nil
}
