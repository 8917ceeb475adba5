package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/atpgo/atp"
	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/lex"
	"github.com/atpgo/atp/oauthtransport"
)

// loginState is the application state carried through a sign-in. The
// library keeps it server-side with the authorization state (it is never
// sent to the authorization server) and returns it from Callback.
type loginState struct {
	// Nonce must equal the atp_login cookie of the browser that comes back:
	// a sign-in started in one browser cannot be finished in another, so an
	// attacker cannot sign a victim in to the attacker's account (login
	// CSRF) by sending them a callback URL.
	Nonce  string `json:"n"`
	Handle string `json:"h"`
	Silent bool   `json:"s,omitempty"`
}

// login starts a sign-in: GET /login?handle=alice.example.com.
// With silent=1 it first tries prompt=none, which signs in without any
// page if the user is signed in at their server and has already approved
// this app; callback falls back to a normal sign-in otherwise.
//
// This is a GET, as the issue asks (so a link or a script can start it),
// and carries no CSRF token: it changes nothing in the app, and the
// sign-in it starts can only be finished by this browser (see loginState).
func (a *App) login(w http.ResponseWriter, r *http.Request) {
	handle := strings.TrimPrefix(strings.TrimSpace(r.FormValue("handle")), "@")
	if handle == "" {
		a.render(w, r, http.StatusBadRequest, "signedout.html", &page{Title: "Sign in", Notice: "Enter your handle to sign in."})
		return
	}
	// The reference PDS refuses prompt=none from public clients ("Public
	// clients are not allowed to use silent-sign-on"), so only a
	// confidential client tries it.
	a.startLogin(w, r, handle, r.FormValue("silent") == "1" && a.confidential)
}

// startLogin resolves handle, pushes the authorization request and sends
// the browser to the authorization server.
func (a *App) startLogin(w http.ResponseWriter, r *http.Request, handle string, silent bool) {
	st := loginState{Nonce: randomToken(), Handle: handle, Silent: silent}
	raw, _ := json.Marshal(st)
	opts := oauthtransport.AuthorizeOptions{State: string(raw)}
	if silent {
		opts.Prompt = "none"
	}
	// r.Context() ends when the browser goes away: the resolution and the
	// pushed authorization request stop, and the library forgets the
	// pending state (the seed's AbortController).
	u, err := a.client.Authorize(r.Context(), handle, opts)
	if err != nil {
		if r.Context().Err() != nil {
			a.log.DebugContext(r.Context(), "sign-in abandoned by the browser", "handle", handle)
			return
		}
		a.loginFailed(w, r, handle, err)
		return
	}
	a.cookie.set(w, loginCookie, st.Nonce, loginLifetime)
	a.log.InfoContext(r.Context(), "sign-in started", "handle", handle, "silent", silent)
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// loginFailed explains why a sign-in could not start.
func (a *App) loginFailed(w http.ResponseWriter, r *http.Request, handle string, err error) {
	var re *oauthtransport.ResolverError
	switch {
	case errors.Is(err, oauthtransport.ErrUnresolved):
		a.failLogin(w, r, http.StatusBadRequest, "We could not find the account “"+handle+"”. Check the handle and try again.", handle, err)
	case errors.As(err, &re):
		a.failLogin(w, r, http.StatusBadGateway, "We could not reach the server of “"+handle+"”. Try again later.", handle, err)
	default:
		a.failLogin(w, r, http.StatusBadGateway, "The sign-in could not start.", handle, err)
	}
}

// failLogin renders the sign-in page with an error, the handle prefilled.
func (a *App) failLogin(w http.ResponseWriter, r *http.Request, status int, message, handle string, err error) {
	a.log.InfoContext(r.Context(), "sign-in failed", "handle", handle, "err", err)
	a.render(w, r, status, "signedout.html", &page{Title: "Sign in", Status: status, Message: message, Detail: err.Error(), Handle: handle})
}

// needsUser reports whether a silent sign-in failed only because the user
// has to act (OpenID Connect §3.1.2.6), so a normal sign-in may succeed.
func needsUser(code string) bool {
	switch code {
	case "login_required", "consent_required", "interaction_required", "account_selection_required":
		return true
	}
	return false
}

// callbackTimeout bounds the code exchange of a callback.
const callbackTimeout = 30 * time.Second

// callback finishes a sign-in: GET /atproto-oauth-callback?state&iss&code.
func (a *App) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// The state is consumed on first use, so finish the exchange even if
	// the browser goes away meanwhile: otherwise the tokens would be issued
	// and lost. A timeout still bounds it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callbackTimeout)
	defer cancel()
	sess, rawState, err := a.client.Callback(cctx, r.URL.Query())
	var ce *oauthtransport.CallbackError
	if errors.As(err, &ce) {
		rawState = ce.AppState
	}
	var st loginState
	if rawState != "" {
		_ = json.Unmarshal([]byte(rawState), &st)
	}
	nonce := a.cookie.get(r, loginCookie)
	a.cookie.clear(w, loginCookie)
	// This app always sends a state, so an empty one means the library did
	// not find the sign-in (unknown, expired or used).
	stateFound := err == nil || rawState != ""
	if stateFound && (st.Nonce == "" || subtle.ConstantTimeCompare([]byte(nonce), []byte(st.Nonce)) != 1) {
		// Either way (success or failure), this browser did not start the
		// sign-in: do not sign it in, and do not start another one.
		a.log.WarnContext(ctx, "callback from a browser that did not start the sign-in", "handle", st.Handle)
		a.fail(w, r, http.StatusBadRequest, "This sign-in was started in another browser, or took too long. Start again from this page.", err)
		return
	}
	switch {
	case ce != nil && st.Silent && needsUser(ce.Code):
		a.log.InfoContext(ctx, "silent sign-in needs the user: normal sign-in", "handle", st.Handle, "error", ce.Code)
		a.startLogin(w, r, st.Handle, false)
		return
	case ce != nil && ce.Code == "access_denied":
		a.failLogin(w, r, http.StatusForbidden, "The sign-in was cancelled.", st.Handle, err)
		return
	case ce != nil && ce.Code != "":
		a.failLogin(w, r, http.StatusBadRequest, "Your server refused the sign-in.", st.Handle, err)
		return
	case errors.Is(err, oauthtransport.ErrInvalidState):
		a.fail(w, r, http.StatusBadRequest, "This sign-in link has expired or was already used. Start again.", err)
		return
	case err != nil:
		a.failLogin(w, r, http.StatusBadGateway, "The sign-in could not be completed.", st.Handle, err)
		return
	}
	a.cookie.setSession(w, sess.DID())
	if st.Handle != "" && !strings.HasPrefix(st.Handle, "did:") && !strings.Contains(st.Handle, "://") {
		a.cookie.setHandle(w, st.Handle)
	}
	a.log.InfoContext(ctx, "signed in", "did", sess.DID(), "handle", st.Handle)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// restore returns the OAuth session of the browser's account. A session
// that is gone for good (signed out elsewhere, revoked, refresh rejected)
// signs the browser out and returns gone; other errors are transient.
func (a *App) restore(ctx context.Context, w http.ResponseWriter, ws webSession) (sess *oauthtransport.Session, gone bool, err error) {
	sess, err = a.client.Restore(ctx, ws.DID)
	if err != nil && sessionGone(err) {
		a.cookie.clear(w, sessionCookie)
		return nil, true, err
	}
	return sess, false, err
}

// sessionGone reports whether err means the OAuth session no longer exists.
func sessionGone(err error) bool {
	var re *oauthtransport.RefreshError
	return errors.Is(err, oauthtransport.ErrSessionNotFound) ||
		errors.Is(err, oauthtransport.ErrTokenRevoked) ||
		errors.Is(err, oauthtransport.ErrRefreshRejected) ||
		errors.Is(err, oauthtransport.ErrTokenInvalid) ||
		errors.Is(err, oauthtransport.ErrAuthMethodUnsatisfiable) ||
		(errors.As(err, &re) && re.Deleted)
}

// home shows the sign-in form, or the account's profile, timeline and a
// post form.
func (a *App) home(w http.ResponseWriter, r *http.Request) {
	ws, ok := a.cookie.session(r)
	if !ok {
		a.render(w, r, http.StatusOK, "signedout.html", &page{Title: "Sign in", Handle: a.cookie.handle(r), Silent: a.confidential})
		return
	}
	sess, gone, err := a.restore(r.Context(), w, ws)
	if gone {
		a.render(w, r, http.StatusOK, "signedout.html", &page{Title: "Sign in", Handle: a.cookie.handle(r),
			Silent: a.confidential, Notice: "Your session has ended. Sign in again."})
		return
	}
	if err != nil {
		a.fail(w, r, http.StatusBadGateway, "Your session could not be restored. Try again later.", err)
		return
	}
	home, err := loadHome(r.Context(), atp.NewAgent(atp.OAuth(sess)))
	if sessionGone(err) {
		a.cookie.clear(w, sessionCookie)
		a.render(w, r, http.StatusOK, "signedout.html", &page{Title: "Sign in", Handle: a.cookie.handle(r),
			Silent: a.confidential, Notice: "Your session has ended. Sign in again."})
		return
	}
	if err != nil {
		a.fail(w, r, http.StatusBadGateway, "Your account could not be loaded from your server.", err)
		return
	}
	notice := ""
	if r.URL.Query().Get("posted") == "1" {
		notice = "Posted."
	}
	a.render(w, r, http.StatusOK, "home.html", &page{Title: "@" + home.Handle, Home: home, CSRF: a.cookie.csrfToken(ws), Notice: notice})
}

// maxFormBytes bounds the body of a form post.
const maxFormBytes = 64 << 10

// signedInForm checks a form post: a signed-in browser and a valid CSRF
// token. It writes the error response and returns false otherwise.
func (a *App) signedInForm(w http.ResponseWriter, r *http.Request) (webSession, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		a.fail(w, r, http.StatusBadRequest, "The form could not be read.", err)
		return webSession{}, false
	}
	ws, ok := a.cookie.session(r)
	if !ok {
		a.fail(w, r, http.StatusForbidden, "You are not signed in.", nil)
		return webSession{}, false
	}
	if !a.cookie.checkCSRF(ws, r.PostForm.Get("csrf")) {
		a.fail(w, r, http.StatusForbidden, "This form has expired. Reload the page and try again.", nil)
		return webSession{}, false
	}
	return ws, true
}

// post creates a post: POST /post with text and csrf.
func (a *App) post(w http.ResponseWriter, r *http.Request) {
	ws, ok := a.signedInForm(w, r)
	if !ok {
		return
	}
	text := strings.TrimSpace(r.PostForm.Get("text"))
	if text == "" {
		a.fail(w, r, http.StatusBadRequest, "A post needs some text.", nil)
		return
	}
	sess, gone, err := a.restore(r.Context(), w, ws)
	if gone {
		a.fail(w, r, http.StatusUnauthorized, "Your session has ended. Sign in again.", err)
		return
	}
	if err != nil {
		a.fail(w, r, http.StatusBadGateway, "Your session could not be restored. Try again later.", err)
		return
	}
	ref, err := atp.NewAgent(atp.OAuth(sess)).Post(r.Context(), atp.PostInput{Text: text, DetectFacets: true})
	var ve *lex.ValidationError
	switch {
	case errors.As(err, &ve):
		a.fail(w, r, http.StatusBadRequest, "This post cannot be sent.", err)
		return
	case err != nil:
		a.fail(w, r, http.StatusBadGateway, "Your server did not accept the post.", err)
		return
	}
	a.log.InfoContext(r.Context(), "posted", "did", ws.DID, "uri", ref.URI)
	http.Redirect(w, r, "/?posted=1", http.StatusSeeOther)
}

// logout signs out: POST /logout with csrf. The OAuth session is revoked at
// the authorization server and deleted (SignOut), and the cookie cleared.
func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	ws, ok := a.signedInForm(w, r)
	if !ok {
		return
	}
	a.cookie.clear(w, sessionCookie)
	sess, gone, err := a.restore(r.Context(), w, ws)
	switch {
	case gone:
		// Already signed out.
	case err != nil:
		// Cannot load the session (store or network): Revoke still deletes it.
		if err := a.client.Revoke(r.Context(), ws.DID); err != nil {
			a.fail(w, r, http.StatusBadGateway, "You could not be signed out. Try again.", err)
			return
		}
	default:
		if err := sess.SignOut(r.Context()); err != nil {
			// The local session is deleted even when the server cannot be reached.
			a.log.WarnContext(r.Context(), "sign-out: tokens not revoked at the server", "did", ws.DID, "err", err)
		}
	}
	a.log.InfoContext(r.Context(), "signed out", "did", ws.DID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// me is GET /api/me: {"did": ..., "handle": ...} for the signed-in account,
// 401 when signed out.
func (a *App) me(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ws, ok := a.cookie.session(r)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not signed in"})
		return
	}
	sess, gone, err := a.restore(r.Context(), w, ws)
	if gone {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "session ended"})
		return
	}
	if err != nil {
		a.log.WarnContext(r.Context(), "api/me: restore", "did", ws.DID, "err", err)
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "session could not be restored"})
		return
	}
	// getSession is answered by the PDS itself: the account's current handle.
	out, err := atproto.ServerGetSession(r.Context(), atp.NewAgent(atp.OAuth(sess)), nil)
	if sessionGone(err) {
		a.cookie.clear(w, sessionCookie)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "session ended"})
		return
	}
	if err != nil {
		a.log.WarnContext(r.Context(), "api/me: getSession", "did", ws.DID, "err", err)
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "the account's server did not answer"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"did": out.DID, "handle": out.Handle})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
