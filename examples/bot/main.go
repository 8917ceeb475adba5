// Command bot posts to an atproto (Bluesky) account on a schedule, restoring
// its OAuth session by DID from the store at every start: the worker side of
// an OAuth app, which never sees the user.
//
// Sign in once (a loopback client: it prints the URL to open and waits for
// the browser on 127.0.0.1):
//
//	go run ./examples/bot -login alice.bsky.social
//
// Then run the bot as often as you like, with the DID it printed:
//
//	go run ./examples/bot -did did:plc:... -every 1h -text 'Hello at {{.Time.Format "15:04"}} (#{{.N}})'
//	go run ./examples/bot -did did:plc:... -count 1 -reply-to at://did:plc:.../app.bsky.feed.post/3k...
//
// Sessions live in ./data/bot.db (SQLite). Its lock makes several bot
// processes sharing the file refresh a session one at a time, so a
// single-use refresh token is never sent twice. When the session has been
// deleted (signed out, revoked, refresh refused) the bot stops and says how
// to sign in again.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/atpgo/atp"
	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/oauthtransport"
	"github.com/atpgo/atp/store/sqlitestore"
)

const scope = "atproto transition:generic"

// exitSessionDeleted is the exit status when the session is gone for good.
const exitSessionDeleted = 2

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	var de *sessionDeletedError
	switch {
	case errors.As(err, &de):
		fmt.Fprintln(os.Stderr, "bot:", err)
		os.Exit(exitSessionDeleted)
	case err != nil:
		fmt.Fprintln(os.Stderr, "bot:", err)
		os.Exit(1)
	}
}

// options are the bot's flags.
type options struct {
	dataDir        string
	login          string
	did            string
	text           string
	every          time.Duration
	count          int
	replyTo        string
	dev            bool
	plcURL         string
	handleResolver string
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	var o options
	fs := flag.NewFlagSet("bot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dataDir, "data", "data", "directory of the SQLite store (bot.db)")
	fs.StringVar(&o.login, "login", "", "sign in this handle (prints the URL to open), then exit")
	fs.StringVar(&o.did, "did", os.Getenv("BOT_DID"), "the account to post as, signed in before with -login (BOT_DID)")
	fs.StringVar(&o.text, "text", `Hello from an atp bot, {{.Time.Format "2 Jan 15:04 MST"}} (#{{.N}})`, "post text: a Go text/template with .Time and .N (the post's number)")
	fs.DurationVar(&o.every, "every", time.Hour, "time between posts (at least a minute, unless -dev)")
	fs.IntVar(&o.count, "count", 0, "stop after this many posts (0: run until interrupted)")
	fs.StringVar(&o.replyTo, "reply-to", "", "post as replies to this post (at://DID/app.bsky.feed.post/RKEY)")
	fs.BoolVar(&o.dev, "dev", false, "development: allow plain http and loopback addresses for the PDS, PLC and resolver")
	fs.StringVar(&o.plcURL, "plc-url", "", "did:plc directory (default https://plc.directory)")
	fs.StringVar(&o.handleResolver, "handle-resolver", "", "resolve handles through this service's com.atproto.identity.resolveHandle")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.login == "" && o.did == "":
		fs.Usage()
		return nil, errors.New("give -login HANDLE to sign in, or -did DID to run")
	case o.login == "" && !strings.HasPrefix(o.did, "did:"):
		return nil, fmt.Errorf("-did %q is not a DID", o.did)
	case o.every < time.Minute && !o.dev:
		return nil, fmt.Errorf("-every %v: at least a minute", o.every)
	case o.every <= 0:
		return nil, fmt.Errorf("-every %v must be positive", o.every)
	case o.count < 0:
		return nil, fmt.Errorf("-count %d must not be negative", o.count)
	}
	return &o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return err
	}
	db, err := sqlitestore.Open(ctx, filepath.Join(o.dataDir, "bot.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	client, err := oauthtransport.NewClient(oauthtransport.Config{
		Metadata:             oauthtransport.ClientMetadata{ClientID: oauthtransport.LoopbackClientID(scope, "http://127.0.0.1/callback")},
		StateStore:           db.Store("state"),
		SessionStore:         db.Store("session"),
		Lock:                 db.Locker(),
		AllowHTTP:            o.dev,
		AllowPrivateNetworks: o.dev,
		PLCURL:               o.plcURL,
		HandleResolverURL:    o.handleResolver,
		Logger:               logger,
		OnEvent: func(ctx context.Context, e oauthtransport.Event) {
			switch e.Type {
			case oauthtransport.SessionUpdated:
				logger.InfoContext(ctx, "session updated", "did", e.DID, "expires_at", e.Info.ExpiresAt.Format(time.RFC3339))
			case oauthtransport.SessionDeleted:
				logger.WarnContext(ctx, "session deleted", "did", e.DID, "cause", e.Cause)
			}
		},
		UserAgent: "atp-example-bot",
	})
	if err != nil {
		return err
	}
	if o.login != "" {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		sess, err := login(lctx, client, o.login, stdout)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Signed in as %s. Run the bot with:\n\n  go run ./examples/bot -did %s\n", sess.DID(), sess.DID())
		return nil
	}
	tmpl, err := parseText(o.text)
	if err != nil {
		return err
	}
	return postLoop(ctx, client, o, tmpl, logger)
}

// sessionDeletedError reports that the bot's session no longer exists.
type sessionDeletedError struct {
	DID string
	Err error
}

func (e *sessionDeletedError) Error() string {
	return fmt.Sprintf("the session of %s no longer exists (%v): it was signed out or revoked, or never signed in. "+
		"Sign in again with: go run ./examples/bot -login <handle>", e.DID, e.Err)
}

func (e *sessionDeletedError) Unwrap() error { return e.Err }

// sessionGone reports whether err means the stored session is gone for good.
func sessionGone(err error) bool {
	var re *oauthtransport.RefreshError
	return errors.Is(err, oauthtransport.ErrSessionNotFound) ||
		errors.Is(err, oauthtransport.ErrTokenRevoked) ||
		errors.Is(err, oauthtransport.ErrRefreshRejected) ||
		errors.Is(err, oauthtransport.ErrTokenInvalid) ||
		errors.Is(err, oauthtransport.ErrAuthMethodUnsatisfiable) ||
		(errors.As(err, &re) && re.Deleted)
}

// postLoop restores the session and posts every o.every until ctx ends or
// o.count posts are made. A failed post is logged and retried at the next
// tick, unless the session is gone.
func postLoop(ctx context.Context, client *oauthtransport.Client, o *options, tmpl *template.Template, logger *slog.Logger) error {
	sess, err := client.Restore(ctx, o.did)
	if sessionGone(err) {
		return &sessionDeletedError{DID: o.did, Err: err}
	}
	if err != nil {
		return fmt.Errorf("restoring the session of %s: %w", o.did, err)
	}
	agent := atp.NewAgent(atp.OAuth(sess))
	var reply *bsky.FeedPostReplyRef
	if o.replyTo != "" {
		repo, rkey, err := parsePostURI(o.replyTo)
		if err != nil {
			return err
		}
		parent, err := agent.GetPost(ctx, repo, rkey)
		if sessionGone(err) {
			return &sessionDeletedError{DID: o.did, Err: err}
		}
		if err != nil {
			return fmt.Errorf("reading the post to reply to: %w", err)
		}
		if reply, err = replyRefTo(parent); err != nil {
			return err
		}
	}
	logger.Info("bot started", "did", o.did, "every", o.every, "count", o.count)

	ticker := time.NewTicker(o.every)
	defer ticker.Stop()
	for n, posted := 1, 0; ; n++ {
		text, err := renderText(tmpl, n, time.Now())
		if err != nil {
			return err
		}
		ref, err := agent.Post(ctx, atp.PostInput{Text: text, Reply: reply, DetectFacets: true})
		switch {
		case sessionGone(err):
			return &sessionDeletedError{DID: o.did, Err: err}
		case ctx.Err() != nil:
			return nil
		case err != nil:
			logger.Warn("post failed; next try at the next tick", "err", err)
		default:
			posted++
			logger.Info("posted", "uri", ref.URI, "n", n)
		}
		if o.count > 0 && posted >= o.count {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// parseText parses the post template and checks it renders.
func parseText(text string) (*template.Template, error) {
	tmpl, err := template.New("text").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("-text: %w", err)
	}
	if _, err := renderText(tmpl, 1, time.Now()); err != nil {
		return nil, err
	}
	return tmpl, nil
}

// renderText renders the n-th post.
func renderText(tmpl *template.Template, n int, now time.Time) (string, error) {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, struct {
		Time time.Time
		N    int
	}{now, n}); err != nil {
		return "", fmt.Errorf("-text: %w", err)
	}
	text := strings.TrimSpace(b.String())
	if text == "" {
		return "", errors.New("-text: the post is empty")
	}
	return text, nil
}

// parsePostURI splits at://REPO/app.bsky.feed.post/RKEY.
func parsePostURI(s string) (repo, rkey string, err error) {
	u, err := syntax.ParseATURI(s)
	if err != nil {
		return "", "", fmt.Errorf("-reply-to: %w", err)
	}
	if u.Collection() != "app.bsky.feed.post" || u.RecordKey() == "" {
		return "", "", fmt.Errorf("-reply-to %q is not a post (at://REPO/app.bsky.feed.post/RKEY)", s)
	}
	return u.Authority().String(), u.RecordKey().String(), nil
}

// replyRefTo is the reply reference of a reply to parent: the parent, and
// the root of its thread (the parent itself when it is not a reply).
func replyRefTo(parent *atp.PostRecord) (*bsky.FeedPostReplyRef, error) {
	if parent == nil || parent.CID == "" {
		return nil, errors.New("the post to reply to has no CID")
	}
	p := &atproto.RepoStrongRef{URI: parent.URI, CID: parent.CID}
	root := p
	if parent.Value != nil && parent.Value.Reply != nil && parent.Value.Reply.Root != nil {
		root = parent.Value.Reply.Root
	}
	return &bsky.FeedPostReplyRef{Root: root, Parent: p}, nil
}

// login runs the loopback flow once: it prints the URL to open, and waits
// for the browser to come back to 127.0.0.1 on a random port.
func login(ctx context.Context, client *oauthtransport.Client, handle string, stdout io.Writer) (*oauthtransport.Session, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", ln.Addr().(*net.TCPAddr).Port)
	u, err := client.Authorize(ctx, handle, oauthtransport.AuthorizeOptions{RedirectURI: redirect})
	if err != nil {
		return nil, err
	}
	type result struct {
		sess *oauthtransport.Session
		err  error
	}
	results := make(chan result, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		sess, _, err := client.Callback(ctx, r.URL.Query())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<!doctype html><h1>Sign-in failed</h1><p>%s</p>", html.EscapeString(err.Error()))
			if errors.Is(err, oauthtransport.ErrInvalidState) {
				return // not this sign-in
			}
		} else {
			fmt.Fprint(w, "<!doctype html><h1>The bot is signed in</h1><p>You can close this window.</p>")
		}
		select {
		case results <- result{sess, err}:
		default:
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		// Shutdown, not Close: let the callback page reach the browser.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	fmt.Fprintf(stdout, "Open this URL in a browser on this machine to sign the bot in:\n\n  %s\n\nWaiting...\n", u)
	select {
	case res := <-results:
		return res.sess, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer from the browser: %w", context.Cause(ctx))
	}
}
