package oauthtransport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/atpgo/atp/store"
	jose "github.com/go-jose/go-jose/v4"
)

// TXTResolver looks up DNS TXT records. *net.Resolver implements it.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Config configures a [Client]. Metadata, StateStore and SessionStore are
// required; everything else has a safe default.
type Config struct {
	// Metadata is the client's metadata. Unset fields get the atproto
	// defaults (see [Client.Metadata]); a loopback client_id
	// (http://localhost?...) takes its redirect URIs and scope from the
	// client_id.
	Metadata ClientMetadata
	// Keys are the private keys of a confidential client (private_key_jwt);
	// nil for a public client.
	Keys *Keyset
	// StateStore holds the short-lived authorization state between
	// Authorize and Callback.
	StateStore store.Store
	// SessionStore holds sessions, keyed by DID.
	SessionStore store.Store
	// Lock serialises token refreshes across processes. Refreshes are
	// always de-duplicated within the process; with several instances
	// sharing a SessionStore, give them a shared Lock.
	Lock store.Locker
	// HTTPClient sends every request. Its redirect policy and timeout are
	// replaced (redirects are refused; FetchTimeout applies). When nil, a
	// client whose dialer refuses non-public addresses is used; a custom
	// client's Transport is responsible for that guard itself.
	HTTPClient *http.Client
	// AllowHTTP allows plain http URLs for PDSes, authorization servers,
	// the PLC directory and did:web, for local development.
	AllowHTTP bool
	// AllowPrivateNetworks allows loopback, private and link-local
	// addresses, for local development.
	AllowPrivateNetworks bool
	// PLCURL is the did:plc directory; default https://plc.directory.
	PLCURL string
	// HandleResolverURL, when set, resolves handles with the XRPC method
	// com.atproto.identity.resolveHandle of that service instead of DNS
	// and HTTPS well-known (useful on networks without DNS for handles).
	HandleResolverURL string
	// TXTResolver looks up _atproto TXT records; default net.DefaultResolver.
	TXTResolver TXTResolver
	// Logger receives debug, info (sign-ins, deleted sessions) and warning
	// logs; never tokens or keys.
	// Default: discard.
	Logger *slog.Logger
	// OnEvent, when set, is called after a session is saved or deleted.
	OnEvent func(ctx context.Context, e Event)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// StateTTL is how long an authorization may take; default 10 minutes.
	StateTTL time.Duration
	// FetchTimeout bounds each request the client makes for itself;
	// default 10 seconds.
	FetchTimeout time.Duration
	// UserAgent is sent with every request the client makes for itself.
	UserAgent string
}

// Client is an atproto OAuth client. It is safe for concurrent use.
type Client struct {
	md       ClientMetadata
	mdJSON   []byte
	jwksJSON []byte
	keys     *Keyset
	states   store.Store
	sessions store.Store
	locker   store.Locker
	fetch    *fetcher
	// base sends resource requests (through session transports).
	base     http.RoundTripper
	plcURL   string
	hrURL    string
	txt      TXTResolver
	log      *slog.Logger
	onEvent  func(context.Context, Event)
	now      func() time.Time
	stateTTL time.Duration
	nonces   *nonceCache

	flightMu sync.Mutex
	flights  map[string]*flight // in-process refresh de-duplication, by DID

	pendingMu sync.Mutex
	pending   map[string]*sessionRecord // refreshed records the store refused, by DID
}

// NewClient validates cfg and returns a client.
func NewClient(cfg Config) (*Client, error) {
	if cfg.StateStore == nil || cfg.SessionStore == nil {
		return nil, errors.New("oauthtransport: Config.StateStore and Config.SessionStore are required")
	}
	for name, u := range map[string]string{"PLCURL": cfg.PLCURL, "HandleResolverURL": cfg.HandleResolverURL} {
		if u == "" {
			continue
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" {
			return nil, fmt.Errorf("oauthtransport: Config.%s %q is not an http(s) base URL", name, u)
		}
	}
	md, err := completeMetadata(cfg.Metadata, cfg.Keys)
	if err != nil {
		return nil, err
	}
	keys := cfg.Keys
	if keys == nil {
		keys = &Keyset{}
	}
	if err := md.Validate(keys); err != nil {
		return nil, err
	}
	if md.TokenEndpointAuthMethod == AuthMethodNone && cfg.Keys.Len() > 0 {
		return nil, fmt.Errorf("%w: keys given to a public client (token_endpoint_auth_method none)", ErrInvalidClientMetadata)
	}
	c := &Client{
		md:       md,
		keys:     cfg.Keys,
		states:   cfg.StateStore,
		sessions: cfg.SessionStore,
		locker:   cfg.Lock,
		fetch:    newFetcher(cfg.HTTPClient, cfg.AllowHTTP, cfg.AllowPrivateNetworks, cfg.FetchTimeout, cfg.UserAgent),
		plcURL:   cfg.PLCURL,
		hrURL:    cfg.HandleResolverURL,
		txt:      cfg.TXTResolver,
		log:      cfg.Logger,
		onEvent:  cfg.OnEvent,
		now:      cfg.Now,
		stateTTL: cfg.StateTTL,
		flights:  map[string]*flight{},
		pending:  map[string]*sessionRecord{},
	}
	c.base = c.fetch.client.Transport
	if c.plcURL == "" {
		c.plcURL = "https://plc.directory"
	}
	if c.txt == nil {
		c.txt = net.DefaultResolver
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.stateTTL <= 0 {
		c.stateTTL = 10 * time.Minute
	}
	c.nonces = &nonceCache{now: c.now}
	if c.mdJSON, err = json.Marshal(c.md); err != nil {
		return nil, err
	}
	if c.jwksJSON, err = json.Marshal(c.keys.PublicJWKS()); err != nil {
		return nil, err
	}
	return c, nil
}

// Metadata returns the client's validated metadata, with defaults filled in.
func (c *Client) Metadata() ClientMetadata {
	m := c.md
	m.RedirectURIs = append([]string(nil), m.RedirectURIs...)
	m.GrantTypes = append([]string(nil), m.GrantTypes...)
	m.ResponseTypes = append([]string(nil), m.ResponseTypes...)
	if m.JWKS != nil {
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), m.JWKS.Keys...)}
		m.JWKS = &set
	}
	return m
}

// MetadataHandler serves the client metadata document as JSON; mount it at
// the path of the client_id URL.
func (c *Client) MetadataHandler() http.Handler {
	return jsonHandler(c.mdJSON)
}

// JWKSHandler serves the public keys as a JWK Set (never private parts);
// mount it at the jwks_uri, if the metadata uses one.
func (c *Client) JWKSHandler() http.Handler {
	return jsonHandler(c.jwksJSON)
}

func jsonHandler(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=600")
		_, _ = w.Write(body)
	})
}
