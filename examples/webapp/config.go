package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/atpgo/atp/oauthtransport"
)

// callbackPath is where the authorization server sends the browser back.
const callbackPath = "/atproto-oauth-callback"

// defaultScope asks for the account's repository and the Bluesky app: enough
// to read the timeline and post.
const defaultScope = "atproto transition:generic"

// config is the example's configuration, from flags and environment
// variables. Secrets (keys, cookie and store secrets) come only from the
// environment, so they never show up in a process listing.
type config struct {
	Addr           string // listen address
	ClientID       string // hosted client_id (https URL of the metadata); "" for a loopback client
	Scope          string
	DataDir        string // SQLite file and cookie key, when not in Redis/env
	RedisURL       string // redis://... : store, lock (many instances)
	Dev            bool   // allow http and loopback/private addresses (a local PDS)
	PLCURL         string
	HandleResolver string
	Verbose        bool
	TLSCert        string // serve https with this certificate (PEM) ...
	TLSKey         string // ... and key, instead of behind a TLS-terminating proxy

	CookieSecret []byte   // COOKIE_SECRET (hex or base64, at least 32 bytes)
	StoreKey     []byte   // SESSION_STORE_KEY (32 bytes, hex or base64): encrypt sessions at rest
	PrivateKeys  []string // PRIVATE_KEY_1..3 (PEM or JWK)
}

// parseConfig reads flags from args, with defaults from getenv.
func parseConfig(args []string, getenv func(string) string, output io.Writer) (*config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	cfg := &config{}
	fs := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(output, `Usage: webapp [flags]

Signs people in to their atproto account with OAuth and shows their timeline.
With no flags it is a loopback (development) client on http://127.0.0.1:8080,
keeping sessions in ./data/atp.db.

Flags (each has an environment variable):
`)
		fs.PrintDefaults()
		fmt.Fprintf(output, `
Secrets come from the environment only:
  PRIVATE_KEY_1..3   ES256 keys (PKCS#8 PEM or JWK) of a confidential client; the first signs
  COOKIE_SECRET      key that signs the session cookie (hex or base64, >= 32 bytes);
                     default: a key generated once into the data directory
  SESSION_STORE_KEY  32-byte key (hex or base64) that encrypts stored sessions at rest
`)
	}
	fs.StringVar(&cfg.Addr, "addr", env("ADDR", "127.0.0.1:8080"), "listen address (ADDR)")
	fs.StringVar(&cfg.ClientID, "client-id", env("CLIENT_ID", ""),
		"hosted client_id: the https URL of this app's client metadata, such as https://app.example.com/client-metadata.json (CLIENT_ID); empty: loopback development client")
	fs.StringVar(&cfg.Scope, "scope", env("SCOPE", defaultScope), "OAuth scope to ask for (SCOPE)")
	fs.StringVar(&cfg.DataDir, "data", env("DATA_DIR", "data"), "directory for the SQLite store and the generated cookie key (DATA_DIR)")
	fs.StringVar(&cfg.RedisURL, "redis-url", env("REDIS_URL", ""),
		"keep state and sessions in Redis and refresh under a Redis lock, for many instances: redis://host:6379/0 (REDIS_URL)")
	fs.BoolVar(&cfg.Dev, "dev", env("ATP_DEV", "") != "", "development: allow plain http and loopback or private addresses for the PDS, PLC and resolver (ATP_DEV)")
	fs.StringVar(&cfg.PLCURL, "plc-url", env("PLC_URL", ""), "did:plc directory (PLC_URL); default https://plc.directory")
	fs.StringVar(&cfg.HandleResolver, "handle-resolver", env("HANDLE_RESOLVER", ""),
		"resolve handles with com.atproto.identity.resolveHandle on this service instead of DNS and HTTPS (HANDLE_RESOLVER)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", env("TLS_CERT_FILE", ""), "serve https with this certificate file (PEM) (TLS_CERT_FILE)")
	fs.StringVar(&cfg.TLSKey, "tls-key", env("TLS_KEY_FILE", ""), "the certificate's private key file (PEM) (TLS_KEY_FILE)")
	fs.BoolVar(&cfg.Verbose, "v", env("VERBOSE", "") != "", "debug logging (VERBOSE)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	var err error
	if s := getenv("COOKIE_SECRET"); s != "" {
		if cfg.CookieSecret, err = decodeSecret(s); err != nil {
			return nil, fmt.Errorf("COOKIE_SECRET: %w", err)
		}
		if len(cfg.CookieSecret) < 32 {
			return nil, errors.New("COOKIE_SECRET: need at least 32 bytes")
		}
	}
	if s := getenv("SESSION_STORE_KEY"); s != "" {
		if cfg.StoreKey, err = decodeSecret(s); err != nil {
			return nil, fmt.Errorf("SESSION_STORE_KEY: %w", err)
		}
		if len(cfg.StoreKey) != 32 {
			return nil, fmt.Errorf("SESSION_STORE_KEY: need exactly 32 bytes, got %d", len(cfg.StoreKey))
		}
	}
	for i := 1; i <= 3; i++ {
		if s := getenv(fmt.Sprintf("PRIVATE_KEY_%d", i)); s != "" {
			cfg.PrivateKeys = append(cfg.PrivateKeys, s)
		}
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	if cfg.TLSCert != "" && cfg.ClientID == "" {
		return nil, errors.New("-tls-cert is for a hosted client (-client-id); a loopback client is served over http")
	}
	if cfg.ClientID == "" && len(cfg.PrivateKeys) > 0 {
		return nil, errors.New("PRIVATE_KEY_n is set but -client-id is not: a loopback client cannot use keys; give the hosted client_id")
	}
	if cfg.RedisURL != "" && cfg.CookieSecret == nil {
		return nil, errors.New("with -redis-url (many instances), set COOKIE_SECRET so that every instance checks the same cookies")
	}
	return cfg, nil
}

// decodeSecret accepts hex or (standard or URL-safe, padded or not) base64.
func decodeSecret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("neither hex nor base64")
}

// publicURL is the origin the browser uses to reach the app. A loopback
// client is reached at the address it listens on (127.0.0.1 or [::1],
// never "localhost", which atproto refuses in redirect URIs); a hosted one at
// its client_id's origin (behind a TLS-terminating proxy, typically).
func (c *config) publicURL(listen net.Addr) (*url.URL, error) {
	if c.ClientID != "" {
		u, err := url.Parse(c.ClientID)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("-client-id %q is not a URL", c.ClientID)
		}
		if u.Scheme != "https" && !c.Dev {
			return nil, fmt.Errorf("-client-id %q must be https", c.ClientID)
		}
		return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
	}
	tcp, ok := listen.(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("cannot use listen address %v", listen)
	}
	switch {
	case tcp.IP.IsUnspecified(), tcp.IP.To4() != nil && tcp.IP.IsLoopback():
		// Listening everywhere is reachable on 127.0.0.1 too.
		return &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))}, nil
	case tcp.IP.IsLoopback():
		return &url.URL{Scheme: "http", Host: net.JoinHostPort("::1", fmt.Sprint(tcp.Port))}, nil
	}
	return nil, fmt.Errorf("a loopback client must listen on 127.0.0.1 or [::1], not %v (or give -client-id)", tcp.IP)
}

// clientMetadata is this app's OAuth client metadata for public URL pub.
func (c *config) clientMetadata(pub *url.URL, confidential bool) oauthtransport.ClientMetadata {
	redirect := pub.JoinPath(callbackPath).String()
	if c.ClientID == "" {
		// A loopback client is described by its client_id alone.
		return oauthtransport.ClientMetadata{ClientID: oauthtransport.LoopbackClientID(c.Scope, redirect)}
	}
	m := oauthtransport.ClientMetadata{
		ClientID:        c.ClientID,
		ApplicationType: "web",
		ClientName:      "atp example web app",
		ClientURI:       pub.String(),
		RedirectURIs:    []string{redirect},
		Scope:           c.Scope,
	}
	if confidential {
		m.TokenEndpointAuthMethod = oauthtransport.AuthMethodPrivateKeyJWT
		m.JWKSURI = pub.JoinPath("/jwks.json").String()
	} else {
		m.TokenEndpointAuthMethod = oauthtransport.AuthMethodNone
	}
	return m
}
