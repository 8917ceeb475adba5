package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Cookie lifetimes.
const (
	sessionLifetime = 30 * 24 * time.Hour // the app's sign-in; the OAuth session refreshes itself
	loginLifetime   = 10 * time.Minute    // one sign-in attempt, as long as the library's state
	handleLifetime  = 365 * 24 * time.Hour
)

// Cookie names, before the __Host- prefix added over https.
const (
	sessionCookie = "atp_session"
	loginCookie   = "atp_login"
	handleCookie  = "atp_handle"
)

// webSession is the content of the signed session cookie: which account
// this browser is signed in as. The OAuth tokens stay in the session store;
// the cookie only names the DID.
type webSession struct {
	DID string `json:"did"`
	SID string `json:"sid"` // random per sign-in; CSRF tokens are derived from it
	Exp int64  `json:"exp"` // Unix seconds
}

// cookies signs and checks the app's cookies with HMAC-SHA256. Every cookie
// is HttpOnly and SameSite=Lax, and Secure (with the __Host- prefix) when
// the app is served over https.
type cookies struct {
	key    []byte
	secure bool
	now    func() time.Time
}

func (c *cookies) name(base string) string {
	if c.secure {
		return "__Host-" + base
	}
	return base
}

func (c *cookies) mac(purpose, payload string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// sign returns payload and its MAC, bound to purpose so that a value signed
// for one cookie is never accepted as another.
func (c *cookies) sign(purpose string, payload []byte) string {
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(c.mac(purpose, p))
}

// verify returns the payload of a value made by sign, or false.
func (c *cookies) verify(purpose, value string) ([]byte, bool) {
	p, sig, ok := strings.Cut(value, ".")
	if !ok {
		return nil, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, c.mac(purpose, p)) {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, false
	}
	return payload, true
}

func (c *cookies) set(w http.ResponseWriter, base, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:     c.name(base),
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge / time.Second),
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

func (c *cookies) clear(w http.ResponseWriter, base string) {
	http.SetCookie(w, &http.Cookie{Name: c.name(base), Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
}

func (c *cookies) get(r *http.Request, base string) string {
	ck, err := r.Cookie(c.name(base))
	if err != nil {
		return ""
	}
	return ck.Value
}

// setSession signs the browser in as did.
func (c *cookies) setSession(w http.ResponseWriter, did string) {
	s := webSession{DID: did, SID: randomToken(), Exp: c.now().Add(sessionLifetime).Unix()}
	payload, _ := json.Marshal(s)
	c.set(w, sessionCookie, c.sign("session", payload), sessionLifetime)
}

// session returns the browser's signed-in account, if its cookie is present,
// authentic and not expired.
func (c *cookies) session(r *http.Request) (webSession, bool) {
	var s webSession
	payload, ok := c.verify("session", c.get(r, sessionCookie))
	if !ok || json.Unmarshal(payload, &s) != nil || s.DID == "" || s.SID == "" {
		return webSession{}, false
	}
	if c.now().Unix() >= s.Exp {
		return webSession{}, false
	}
	return s, true
}

// csrfToken is the token the forms of a signed-in page carry: a MAC of the
// session's random id, so it needs no server-side storage, changes at every
// sign-in, and cannot be computed without the key.
func (c *cookies) csrfToken(s webSession) string {
	return base64.RawURLEncoding.EncodeToString(c.mac("csrf", s.SID))
}

// checkCSRF compares a submitted token with the session's, in constant time.
func (c *cookies) checkCSRF(s webSession, token string) bool {
	return subtle.ConstantTimeCompare([]byte(c.csrfToken(s)), []byte(token)) == 1
}

// setHandle remembers the handle last signed in with, for "continue as"
// (silent sign-in).
func (c *cookies) setHandle(w http.ResponseWriter, handle string) {
	c.set(w, handleCookie, c.sign("handle", []byte(handle)), handleLifetime)
}

func (c *cookies) handle(r *http.Request) string {
	h, ok := c.verify("handle", c.get(r, handleCookie))
	if !ok {
		return ""
	}
	return string(h)
}

// randomToken returns 256 random bits, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand.Read panics rather than return an error)
	return base64.RawURLEncoding.EncodeToString(b)
}

// loadCookieKey returns the cookie-signing key: from COOKIE_SECRET, or from
// dir/cookie.key, created on first use with a new random key, readable only
// by its owner.
func loadCookieKey(secret []byte, dir string) ([]byte, error) {
	if secret != nil {
		return secret, nil
	}
	path := filepath.Join(dir, "cookie.key")
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := decodeSecret(string(b))
		if err != nil || len(key) < 32 {
			return nil, fmt.Errorf("%s: not a key of at least 32 bytes in hex or base64", path)
		}
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// Write a new key to a temporary file, then link it into place: the link
	// fails if another process got there first, and then its key is used.
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tmp, err := os.CreateTemp(dir, ".cookie.key-*") // mode 0600
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := fmt.Fprintf(tmp, "%x\n", key); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return loadCookieKey(nil, dir)
	} else if err != nil {
		return nil, err
	}
	return key, nil
}
