// Command webapp is a web app that signs people in to their atproto
// (Bluesky) account with OAuth, shows their profile and timeline, and posts
// for them: the net/http version of the TypeScript OAuth client's Express
// example.
//
// With no configuration it runs as a loopback (development) client on
// http://127.0.0.1:8080, with sessions in an SQLite file in ./data:
//
//	go run ./examples/webapp
//
// Against a PDS and PLC directory on your own machine (the reference network
// of the end-to-end tests, with alice.test):
//
//	go run ./examples/webapp -addr 127.0.0.1:18080 -dev -plc-url http://localhost:2582 -handle-resolver http://localhost:2583
//
// In production it is a confidential client at a public https URL, behind
// a TLS-terminating proxy, with its keys in the environment and, for many
// instances, sessions in Redis and refreshes under a Redis lock:
//
//	PRIVATE_KEY_1="$(cat key.pem)" COOKIE_SECRET=... SESSION_STORE_KEY=... \
//	  webapp -addr :8080 -client-id https://app.example.com/client-metadata.json -redis-url redis://redis:6379/0
//
// Routes:
//
//	GET  /client-metadata.json   the client metadata (the client_id of a hosted app)
//	GET  /jwks.json              the public keys of a confidential client
//	GET  /                       sign-in form, or profile, timeline and post form
//	GET  /login?handle=H         start a sign-in (silent=1: try prompt=none first)
//	GET  /atproto-oauth-callback the authorization server's redirect back
//	POST /post                   post (text, csrf)
//	POST /logout                 sign out (csrf)
//	GET  /api/me                 {"did","handle"} of the signed-in account, or 401
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atpgo/atp/oauthtransport"
	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/redisstore"
	"github.com/atpgo/atp/store/sqlitestore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

// run serves the app until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if cfg.Verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	pub, err := cfg.publicURL(ln.Addr())
	if err != nil {
		return err
	}

	stores, err := openStores(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer stores.close()

	keys, err := parseKeys(cfg.PrivateKeys)
	if err != nil {
		return err
	}
	client, err := oauthtransport.NewClient(oauthtransport.Config{
		Metadata:             cfg.clientMetadata(pub, keys != nil),
		Keys:                 keys,
		StateStore:           stores.state,
		SessionStore:         stores.sessions,
		Lock:                 stores.lock,
		AllowHTTP:            cfg.Dev,
		AllowPrivateNetworks: cfg.Dev,
		PLCURL:               cfg.PLCURL,
		HandleResolverURL:    cfg.HandleResolver,
		Logger:               logger,
		OnEvent:              logEvent(logger),
		UserAgent:            "atp-example-webapp",
	})
	if err != nil {
		return err
	}
	cookieKey, err := loadCookieKey(cfg.CookieSecret, cfg.DataDir)
	if err != nil {
		return fmt.Errorf("cookie key: %w", err)
	}
	app := newApp(appConfig{Client: client, CookieKey: cookieKey, PublicURL: pub, Loopback: cfg.ClientID == "", Logger: logger})

	srv := &http.Server{
		Handler:           app.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	kind := "loopback development client"
	if cfg.ClientID != "" {
		kind = "public web client"
		if keys != nil {
			kind = fmt.Sprintf("confidential web client (%d keys)", keys.Len())
		}
	}
	logger.Info("serving", "url", pub.String(), "client", kind, "client_id", client.Metadata().ClientID, "store", stores.desc)

	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			errc <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// appStores are the state store, session store and lock the OAuth client
// uses.
type appStores struct {
	state, sessions store.Store
	lock            store.Locker
	desc            string
	close           func()
}

// openStores opens Redis when configured (many instances: shared sessions,
// and the distributed lock so that two instances never refresh the same
// session at once, which would revoke it), and otherwise the SQLite file in
// the data directory (one machine; its lock works across processes too).
func openStores(ctx context.Context, cfg *config, logger *slog.Logger) (*appStores, error) {
	var s appStores
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("-redis-url: %w", err)
		}
		rc := redis.NewClient(opts)
		if err := rc.Ping(ctx).Err(); err != nil {
			rc.Close()
			return nil, fmt.Errorf("redis %s: %w", opts.Addr, err)
		}
		s.state = redisstore.New(rc, redisstore.WithPrefix("atp-webapp:state:"))
		s.sessions = redisstore.New(rc, redisstore.WithPrefix("atp-webapp:session:"))
		s.lock = redisstore.NewLocker(rc)
		s.desc = "redis " + opts.Addr
		s.close = func() { rc.Close() }
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		path := filepath.Join(cfg.DataDir, "atp.db")
		db, err := sqlitestore.Open(ctx, path)
		if err != nil {
			return nil, err
		}
		s.state, s.sessions, s.lock = db.Store("state"), db.Store("session"), db.Locker()
		s.desc = "sqlite " + path
		s.close = func() { db.Close() }
	}
	if cfg.StoreKey != nil {
		enc, err := store.Encrypt(s.sessions, cfg.StoreKey)
		if err != nil {
			s.close()
			return nil, err
		}
		s.sessions = enc
		s.desc += " (sessions encrypted)"
	} else if cfg.ClientID != "" {
		logger.Warn("sessions are stored unencrypted: set SESSION_STORE_KEY to encrypt them at rest")
	}
	return &s, nil
}

// parseKeys reads PRIVATE_KEY_1..3; nil when there are none (a public
// client).
func parseKeys(pems []string) (*oauthtransport.Keyset, error) {
	if len(pems) == 0 {
		return nil, nil
	}
	keys := make([]*oauthtransport.Key, 0, len(pems))
	for i, s := range pems {
		k, err := oauthtransport.ParseKey(s, "")
		if err != nil {
			return nil, fmt.Errorf("PRIVATE_KEY_%d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return oauthtransport.NewKeyset(keys...)
}

// logEvent logs what happens to stored sessions: a new sign-in or a token
// refresh (updated), a sign-out or a session ended by the server (deleted).
// Never the tokens: Event carries none.
func logEvent(logger *slog.Logger) func(context.Context, oauthtransport.Event) {
	return func(ctx context.Context, e oauthtransport.Event) {
		switch e.Type {
		case oauthtransport.SessionUpdated:
			logger.InfoContext(ctx, "session updated", "did", e.DID, "scope", e.Info.Scope, "expires_at", e.Info.ExpiresAt.Format(time.RFC3339))
		case oauthtransport.SessionDeleted:
			var cause string
			switch {
			case e.Cause == nil:
			case errors.Is(e.Cause, oauthtransport.ErrTokenRevoked):
				cause = "signed out"
			default:
				cause = e.Cause.Error()
			}
			logger.InfoContext(ctx, "session deleted", "did", e.DID, "cause", cause)
		}
	}
}
