package main

import (
	"bytes"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/atpgo/atp/oauthtransport"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"initial": func(s string) string {
		for _, r := range s {
			return string(r)
		}
		return "?"
	},
}).ParseFS(templateFS, "templates/*.html"))

// App is the web app: its handlers share the OAuth client and the cookie
// signer. Build it with newApp and serve App.Handler.
type App struct {
	client *oauthtransport.Client
	cookie *cookies
	public *url.URL // the origin browsers use
	log    *slog.Logger
	// canonicalHost, when set, is the only Host the app answers on; other
	// hosts are redirected to it. A loopback client sets it: its cookies
	// live on 127.0.0.1, so a visit to localhost:8080 would sign in for
	// nothing.
	canonicalHost string
	// confidential is true for a client with keys (private_key_jwt): only
	// those may use silent sign-in.
	confidential bool
}

// appConfig holds what newApp needs.
type appConfig struct {
	Client    *oauthtransport.Client
	CookieKey []byte
	PublicURL *url.URL
	Loopback  bool
	Logger    *slog.Logger
	Now       func() time.Time // default time.Now
}

func newApp(c appConfig) *App {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	a := &App{
		client: c.Client,
		cookie: &cookies{key: c.CookieKey, secure: c.PublicURL.Scheme == "https", now: now},
		public: c.PublicURL,
		log:    c.Logger,
	}
	a.confidential = c.Client.Metadata().TokenEndpointAuthMethod == oauthtransport.AuthMethodPrivateKeyJWT
	if c.Loopback {
		a.canonicalHost = c.PublicURL.Host
	}
	return a
}

// Handler returns the app's routes.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /client-metadata.json", a.client.MetadataHandler())
	if u, err := url.Parse(a.client.Metadata().ClientID); err == nil && u.Scheme == "https" && u.Path != "/client-metadata.json" && u.Path != "" {
		mux.Handle("GET "+u.Path, a.client.MetadataHandler()) // wherever the hosted client_id points
	}
	mux.Handle("GET /jwks.json", a.client.JWKSHandler())
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET "+callbackPath, a.callback)
	mux.HandleFunc("POST /post", a.post)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /api/me", a.me)
	return a.middleware(mux)
}

// middleware sets security headers on every response and, for a loopback
// client, sends other hosts to the canonical one.
func (a *App) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if a.canonicalHost != "" && r.Host != a.canonicalHost {
			u := *r.URL
			u.Scheme, u.Host = a.public.Scheme, a.canonicalHost
			http.Redirect(w, r, u.String(), http.StatusTemporaryRedirect)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// page is what every template gets.
type page struct {
	Title  string
	Notice string // an informational message at the top
	// Error page.
	Status  int
	Message string
	Detail  string
	// Signed-out page.
	Handle string // handle to prefill, or to "continue as"
	Silent bool   // "continue as" tries a silent sign-in
	// Home page.
	Home *homeData
	CSRF string
}

// render writes the template name with data, buffering it so that a
// template error becomes a 500 rather than half a page.
func (a *App) render(w http.ResponseWriter, r *http.Request, status int, name string, data *page) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		a.log.ErrorContext(r.Context(), "template", "name", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail renders the error page.
func (a *App) fail(w http.ResponseWriter, r *http.Request, status int, message string, err error) {
	p := &page{Title: http.StatusText(status), Status: status, Message: message}
	if err != nil {
		p.Detail = err.Error() // errors of this module never contain tokens or keys
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelWarn
		}
		a.log.Log(r.Context(), level, message, "path", r.URL.Path, "status", status, "err", err)
	}
	a.render(w, r, status, "error.html", p)
}
