package atp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
)

// testJWT returns an unsigned JWT with the given subject, id and expiry.
func testJWT(id string, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(map[string]any{"sub": testDID, "jti": id, "exp": exp.Unix()})
	return enc([]byte(`{"alg":"ES256K","typ":"at+jwt"}`)) + "." + enc(payload) + ".c2ln"
}

// passwordPDS is a fake entryway + PDS pair for password sessions. The
// entryway only signs in; its DID document sends everything else to the
// PDS, which checks bearer tokens.
type passwordPDS struct {
	t        *testing.T
	entryway *httptest.Server
	pds      *httptest.Server

	mu        sync.Mutex
	gen       int             // token generation
	access    map[string]bool // valid access tokens
	refresh   map[string]bool // valid refresh tokens
	expired   map[string]bool // access tokens the PDS says have expired
	refreshes int
	log       []string // "NSID auth body" of each PDS request
	accessTTL time.Duration
}

func newPasswordPDS(t *testing.T) *passwordPDS {
	p := &passwordPDS{t: t, access: map[string]bool{}, refresh: map[string]bool{}, expired: map[string]bool{}, accessTTL: time.Hour}
	p.pds = httptest.NewServer(http.HandlerFunc(p.servePDS))
	p.entryway = httptest.NewServer(http.HandlerFunc(p.serveEntryway))
	t.Cleanup(p.pds.Close)
	t.Cleanup(p.entryway.Close)
	return p
}

// mint returns a new session body; callers hold p.mu.
func (p *passwordPDS) mint() string {
	p.gen++
	a, r := testJWT(fmt.Sprintf("access%d", p.gen), time.Now().Add(p.accessTTL)), testJWT(fmt.Sprintf("refresh%d", p.gen), time.Now().Add(90*24*time.Hour))
	p.access[a], p.refresh[r] = true, true
	b, _ := json.Marshal(map[string]any{
		"did": testDID, "handle": "alice.test", "accessJwt": a, "refreshJwt": r,
		"didDoc": map[string]any{
			"id": testDID,
			"service": []map[string]any{
				{"id": "#bsky_notif", "type": "BskyNotificationService", "serviceEndpoint": "https://example.com"},
				{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": p.pds.URL + "/"},
			},
		},
	})
	return string(b)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (p *passwordPDS) serveEntryway(w http.ResponseWriter, r *http.Request) {
	var in struct{ Identifier, Password, AuthFactorToken string }
	json.NewDecoder(r.Body).Decode(&in)
	if r.URL.Path != "/xrpc/com.atproto.server.createSession" || r.Method != http.MethodPost {
		writeJSON(w, 404, `{"error":"NotFound"}`)
		return
	}
	if in.Identifier != "alice.test" || in.Password != "app-pass-word" {
		writeJSON(w, 401, `{"error":"AuthenticationRequired","message":"Invalid identifier or password"}`)
		return
	}
	if in.AuthFactorToken != "" && in.AuthFactorToken != "123456" {
		writeJSON(w, 401, `{"error":"AuthFactorTokenRequired"}`)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	writeJSON(w, 200, p.mint())
}

func (p *passwordPDS) servePDS(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	nsid := strings.TrimPrefix(r.URL.Path, "/xrpc/")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, nsid+" "+tokenID(tok)+" "+string(body))
	switch nsid {
	case "com.atproto.server.refreshSession":
		if !p.refresh[tok] {
			writeJSON(w, 400, `{"error":"ExpiredToken","message":"Token has been revoked"}`)
			return
		}
		p.refreshes++
		delete(p.refresh, tok) // single use
		writeJSON(w, 200, p.mint())
	case "com.atproto.server.deleteSession":
		if !p.refresh[tok] {
			writeJSON(w, 401, `{"error":"InvalidToken"}`)
			return
		}
		delete(p.refresh, tok)
		w.WriteHeader(200)
	default:
		switch {
		case p.expired[tok]:
			writeJSON(w, 400, `{"error":"ExpiredToken","message":"Token has expired"}`)
		case !p.access[tok]:
			writeJSON(w, 401, `{"error":"InvalidToken"}`)
		case nsid == "app.bsky.actor.getProfile":
			writeJSON(w, 200, profileJSON)
		case nsid == "com.atproto.repo.createRecord":
			writeJSON(w, 200, createdJSON)
		default:
			writeJSON(w, 501, `{"error":"MethodNotImplemented"}`)
		}
	}
}

// expireAll makes the PDS answer ExpiredToken to every current access token.
func (p *passwordPDS) expireAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for tok := range p.access {
		p.expired[tok] = true
	}
}

func (p *passwordPDS) takeLog() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.log
	p.log = nil
	return l
}

// tokenID returns the jti of a test JWT, or "-".
func tokenID(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "-"
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct{ Jti string }
	json.Unmarshal(b, &c)
	return c.Jti
}

func TestPasswordSession(t *testing.T) {
	ctx := context.Background()
	p := newPasswordPDS(t)
	var updates []SessionData
	s, err := PasswordSession(ctx, p.entryway.URL, "alice.test", "app-pass-word", &PasswordOptions{
		OnUpdate: func(d SessionData) { updates = append(updates, d) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.DID() != testDID || s.Service() != p.pds.URL || s.Data().Handle != "alice.test" {
		t.Errorf("session: DID %q, service %q, data %+v", s.DID(), s.Service(), s.Data())
	}
	if len(updates) != 1 || tokenID(updates[0].AccessJWT) != "access1" || updates[0].PDS != p.pds.URL {
		t.Errorf("updates = %+v", updates)
	}
	a := NewAgent(s)
	if a.DID() != testDID {
		t.Errorf("agent DID = %q", a.DID())
	}
	if _, err := bsky.ActorGetProfile(ctx, a, "bob.test", nil); err != nil {
		t.Fatal(err)
	}
	if diff := strings.Join(p.takeLog(), "\n"); diff != "app.bsky.actor.getProfile access1 " {
		t.Errorf("PDS log:\n%s", diff)
	}

	// The PDS says the token expired: one refresh, and the request (with
	// its body) is sent again with the new token.
	p.expireAll()
	if _, err := a.Post(ctx, PostInput{Text: "hi", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	log := p.takeLog()
	body := `{"repo":"did:plc:alice","collection":"app.bsky.feed.post","record":{"$type":"app.bsky.feed.post","text":"hi","createdAt":"` + t0s + `"}}`
	want := []string{
		"com.atproto.repo.createRecord access1 " + body,
		"com.atproto.server.refreshSession refresh1 ",
		"com.atproto.repo.createRecord access2 " + body,
	}
	if strings.Join(log, "\n") != strings.Join(want, "\n") {
		t.Errorf("PDS log:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
	}
	if len(updates) != 2 || tokenID(updates[1].RefreshJWT) != "refresh2" {
		t.Errorf("updates after refresh = %+v", updates)
	}

	// An explicit refresh.
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if l := p.takeLog(); len(l) != 1 || l[0] != "com.atproto.server.refreshSession refresh2 " || tokenID(s.Data().AccessJWT) != "access3" {
		t.Errorf("PDS log %q, access token %s", l, tokenID(s.Data().AccessJWT))
	}

	// Logout revokes the refresh token; later requests fail locally.
	if err := s.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bsky.ActorGetProfile(ctx, a, "bob.test", nil); !errors.Is(err, ErrLoggedOut) {
		t.Errorf("after logout: %v", err)
	}
	if l := p.takeLog(); len(l) != 1 || l[0] != "com.atproto.server.deleteSession refresh3 " {
		t.Errorf("PDS log: %q", l)
	}
}

func TestPasswordSessionConcurrentRefresh(t *testing.T) {
	ctx := context.Background()
	p := newPasswordPDS(t)
	s, err := PasswordSession(ctx, p.entryway.URL, "alice.test", "app-pass-word")
	if err != nil {
		t.Fatal(err)
	}
	a := NewAgent(s)
	p.expireAll()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := bsky.ActorGetProfile(ctx, a, "bob.test", nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if p.refreshes != 1 {
		t.Errorf("%d refreshes, want 1", p.refreshes)
	}
}

func TestPasswordSessionProactiveRefresh(t *testing.T) {
	ctx := context.Background()
	p := newPasswordPDS(t)
	p.accessTTL = 10 * time.Second // within refreshMargin
	s, err := PasswordSession(ctx, p.entryway.URL, "alice.test", "app-pass-word")
	if err != nil {
		t.Fatal(err)
	}
	p.accessTTL = time.Hour
	if _, err := bsky.ActorGetProfile(ctx, NewAgent(s), "bob.test", nil); err != nil {
		t.Fatal(err)
	}
	want := "com.atproto.server.refreshSession refresh1 \napp.bsky.actor.getProfile access2 "
	if got := strings.Join(p.takeLog(), "\n"); got != want {
		t.Errorf("PDS log:\n%s\nwant:\n%s", got, want)
	}
}

func TestPasswordSessionFailures(t *testing.T) {
	ctx := context.Background()
	p := newPasswordPDS(t)
	t.Run("wrong password", func(t *testing.T) {
		_, err := PasswordSession(ctx, p.entryway.URL, "alice.test", "nope")
		if err == nil || !strings.Contains(err.Error(), "AuthenticationRequired") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("auth factor", func(t *testing.T) {
		_, err := PasswordSession(ctx, p.entryway.URL, "alice.test", "app-pass-word", &PasswordOptions{AuthFactorToken: "bad"})
		if !errors.Is(err, atproto.ErrServerCreateSessionAuthFactorTokenRequired) {
			t.Errorf("err = %v", err)
		}
		if _, err := PasswordSession(ctx, p.entryway.URL, "alice.test", "app-pass-word", &PasswordOptions{AuthFactorToken: "123456"}); err != nil {
			t.Error(err)
		}
	})
	t.Run("revoked refresh token", func(t *testing.T) {
		s, err := PasswordSession(ctx, p.entryway.URL, "alice.test", "app-pass-word")
		if err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		clear(p.refresh)
		p.mu.Unlock()
		p.expireAll()
		_, err = bsky.ActorGetProfile(ctx, NewAgent(s), "bob.test", nil)
		if !errors.Is(err, atproto.ErrServerRefreshSessionExpiredToken) {
			t.Errorf("err = %v, want refreshSession's ExpiredToken", err)
		}
	})
	t.Run("tokens stay on their origin", func(t *testing.T) {
		s, err := PasswordSession(ctx, p.entryway.URL, "alice.test", "app-pass-word")
		if err != nil {
			t.Fatal(err)
		}
		var leaked bool
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { leaked = true }))
		defer other.Close()
		_, err = s.HTTPClient().Get(other.URL + "/xrpc/app.bsky.actor.getProfile?actor=x")
		if !errors.Is(err, ErrForeignOrigin) || leaked {
			t.Errorf("err = %v, leaked = %v", err, leaked)
		}
	})
	t.Run("resume", func(t *testing.T) {
		s, err := PasswordSession(ctx, p.entryway.URL, "alice.test", "app-pass-word")
		if err != nil {
			t.Fatal(err)
		}
		saved, _ := json.Marshal(s.Data())
		var d SessionData
		if err := json.Unmarshal(saved, &d); err != nil {
			t.Fatal(err)
		}
		r := ResumePasswordSession(p.entryway.URL, d)
		if r.Service() != p.pds.URL || r.DID() != testDID {
			t.Errorf("resumed: service %q, DID %q", r.Service(), r.DID())
		}
		p.takeLog()
		if _, err := bsky.ActorGetProfile(ctx, NewAgent(r), "bob.test", nil); err != nil {
			t.Fatal(err)
		}
		if l := p.takeLog(); len(l) != 1 || !strings.HasPrefix(l[0], "app.bsky.actor.getProfile "+tokenID(d.AccessJWT)) {
			t.Errorf("PDS log: %q", l)
		}
	})
}

func TestPDSEndpoint(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{`{"id":"did:plc:x","service":[{"id":"did:plc:x#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"https://pds.example.com"}]}`, "https://pds.example.com"},
		{`{"id":"did:plc:x","service":[{"id":"#atproto_pds","type":"Other","serviceEndpoint":"https://pds.example.com"}]}`, ""},
		{`{"id":"did:plc:x","service":[{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"ftp://pds"}]}`, ""},
		{`{"id":"did:plc:x","service":[{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":{"a":1}}]}`, ""},
		{`{"id":"did:plc:x"}`, ""},
	} {
		var in atproto.ServerCreateSessionOutput
		if err := json.Unmarshal([]byte(`{"accessJwt":"a","refreshJwt":"r","handle":"h.test","did":"did:plc:x","didDoc":`+tt.doc+`}`), &in); err != nil {
			t.Fatal(err)
		}
		if got := pdsEndpoint(in.DIDDoc); got != tt.want {
			t.Errorf("pdsEndpoint(%s) = %q, want %q", tt.doc, got, tt.want)
		}
	}
}
