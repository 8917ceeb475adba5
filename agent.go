package atp

import (
	"context"
	"net/http"
	"strings"

	"github.com/atpgo/atp/agent/lex"
	"github.com/atpgo/atp/oauthtransport"
)

// Well-known services and labelers.
const (
	// PublicAppView is the Bluesky AppView's public, unauthenticated endpoint.
	PublicAppView = "https://public.api.bsky.app"
	// BskyAppViewProxy is the atproto-proxy value that sends app.bsky.*
	// calls from a PDS to the Bluesky AppView.
	BskyAppViewProxy = "did:web:api.bsky.app#bsky_appview"
	// BskyChatProxy is the atproto-proxy value that sends chat.bsky.* calls
	// from a PDS to the Bluesky chat service.
	BskyChatProxy = "did:web:api.bsky.chat#bsky_chat"
	// BskyModerationLabeler is the DID of Bluesky's moderation labeler, an
	// app labeler of every Agent unless [WithAppLabelers] says otherwise.
	BskyModerationLabeler = "did:plc:ar7c4by46qjdydhdevvrndac"
)

// Header names the Agent sets.
const (
	headerProxy    = "Atproto-Proxy"
	headerLabelers = "Atproto-Accept-Labelers"
)

// Transport is what an [Agent] sends its requests through: an HTTP client
// (which authenticates the requests, when there is an account) and the
// service it talks to.
type Transport interface {
	// Service returns the base URL requests are sent to: the account's PDS,
	// or, without an account, a service such as [PublicAppView].
	Service() string
	// HTTPClient returns the client that sends the requests. The Agent
	// calls it once, in [NewAgent].
	HTTPClient() *http.Client
	// DID returns the signed-in account's DID, or "" when requests are
	// not authenticated.
	DID() string
}

// HTTPTransport is a [Transport] over any *http.Client and service URL.
type HTTPTransport struct {
	// URL is the service's base URL ("https://public.api.bsky.app").
	URL string
	// Client sends the requests; nil means http.DefaultClient.
	Client *http.Client
	// AccountDID is the DID of the account Client authenticates as, or ""
	// when Client sends unauthenticated requests. With a DID, app.bsky.*
	// and chat.bsky.* calls carry atproto-proxy headers, as a PDS expects.
	AccountDID string
}

// Service implements [Transport].
func (t *HTTPTransport) Service() string { return t.URL }

// HTTPClient implements [Transport].
func (t *HTTPTransport) HTTPClient() *http.Client {
	if t.Client == nil {
		return http.DefaultClient
	}
	return t.Client
}

// DID implements [Transport].
func (t *HTTPTransport) DID() string { return t.AccountDID }

// Public returns a Transport for unauthenticated reads from the Bluesky
// AppView ([PublicAppView]).
func Public() Transport { return &HTTPTransport{URL: PublicAppView} }

// OAuth returns an OAuth session as a Transport: requests go to the
// account's PDS through the session's DPoP-signing, refreshing client. A
// *oauthtransport.Session is itself a Transport, so NewAgent(sess) is the
// same thing.
func OAuth(s *oauthtransport.Session) Transport { return s }

var _ Transport = (*oauthtransport.Session)(nil)

// Agent is a high-level atproto client: a [lex.Client] that routes every
// generated call the way the TypeScript Agent does, plus short methods for
// the common ones (GetProfile, Post, Follow, ...).
//
// Pass the Agent as the client of any generated call:
//
//	out, err := bsky.FeedGetFeed(ctx, agent, feedURI, nil)
//
// When the Agent has an account, calls go to the account's PDS: app.bsky.*
// calls with an atproto-proxy header naming the Bluesky AppView, chat.bsky.*
// calls with one naming the chat service (both configurable); a proxy set
// with [Agent.WithProxy] applies to every call; a header already on the
// request wins. Every call asks for labels from the app labelers (Bluesky's
// moderation service by default, with ";redact") and the configured
// labelers in an atproto-accept-labelers header.
//
// An Agent is safe for concurrent use, and cheap to make (one per request
// is fine). Its configuration never changes: [Agent.With] and
// [Agent.WithProxy] return modified copies, which share the transport.
type Agent struct {
	t       Transport
	hc      *http.Client
	did     string
	appView string // atproto-proxy for app.bsky.*
	chat    string // atproto-proxy for chat.bsky.*
	proxy   string // atproto-proxy for every call, from WithProxy

	appLabelers []string
	labelers    []string
	labelHeader []string // the atproto-accept-labelers value, computed once
	hdrAppView  []string // appView, chat and proxy as header values
	hdrChat     []string
	hdrProxy    []string
}

// Option configures an [Agent].
type Option func(*Agent)

// WithAppViewProxy sets the atproto-proxy value for app.bsky.* calls of an
// authenticated Agent ([BskyAppViewProxy] by default); "" sends them to the
// PDS without the header, to be handled or proxied as the PDS decides.
func WithAppViewProxy(value string) Option { return func(a *Agent) { a.appView = value } }

// WithChatProxy sets the atproto-proxy value for chat.bsky.* calls of an
// authenticated Agent ([BskyChatProxy] by default).
func WithChatProxy(value string) Option { return func(a *Agent) { a.chat = value } }

// WithAppLabelers replaces the app labelers, whose labels are applied with
// ";redact" ([BskyModerationLabeler] by default). No DIDs means none.
func WithAppLabelers(dids ...string) Option {
	return func(a *Agent) { a.appLabelers = append([]string(nil), dids...) }
}

// WithLabelers sets the labelers, besides the app labelers, whose labels
// the Agent accepts (the ones a user subscribed to, for instance).
func WithLabelers(dids ...string) Option {
	return func(a *Agent) { a.labelers = append([]string(nil), dids...) }
}

// NewAgent returns an Agent that sends its requests through t: [OAuth] for an
// OAuth session, a [*CredentialSession] for an app password, [Public] for
// unauthenticated reads, or an [*HTTPTransport] for anything else.
func NewAgent(t Transport, opts ...Option) *Agent {
	a := &Agent{
		t:           t,
		hc:          t.HTTPClient(),
		did:         t.DID(),
		appView:     BskyAppViewProxy,
		chat:        BskyChatProxy,
		appLabelers: []string{BskyModerationLabeler},
	}
	if a.hc == nil {
		a.hc = http.DefaultClient
	}
	for _, o := range opts {
		o(a)
	}
	a.computeHeaders()
	return a
}

// With returns a copy of a with opts applied.
func (a *Agent) With(opts ...Option) *Agent {
	b := *a
	for _, o := range opts {
		o(&b)
	}
	b.computeHeaders()
	return &b
}

// WithProxy returns a copy of a whose calls all carry
// "atproto-proxy: did#service", such as
// WithProxy("did:plc:ar7c4by46qjdydhdevvrndac", "atproto_labeler") for
// tools.ozone.* calls to a moderation service. It applies to
// authenticated Agents only: a PDS is what follows the header.
func (a *Agent) WithProxy(did, service string) *Agent {
	b := *a
	b.proxy = did + "#" + service
	b.computeHeaders()
	return &b
}

// DID returns the DID of the Agent's account, or "" for an Agent without
// one.
func (a *Agent) DID() string { return a.did }

// Service returns the base URL the Agent sends requests to.
func (a *Agent) Service() string { return a.t.Service() }

// Labelers returns the labelers whose labels the Agent accepts, app
// labelers first.
func (a *Agent) Labelers() []string {
	return append(append([]string(nil), a.appLabelers...), a.labelers...)
}

// computeHeaders computes the header values from the configuration, once
// per Agent rather than once per request.
func (a *Agent) computeHeaders() {
	a.labelHeader = nil
	if len(a.appLabelers)+len(a.labelers) > 0 {
		parts := make([]string, 0, len(a.appLabelers)+len(a.labelers))
		for _, d := range a.appLabelers {
			parts = append(parts, d+";redact")
		}
		parts = append(parts, a.labelers...)
		a.labelHeader = []string{strings.Join(parts, ", ")}
	}
	a.hdrAppView, a.hdrChat, a.hdrProxy = headerValue(a.appView), headerValue(a.chat), headerValue(a.proxy)
}

func headerValue(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}

// proxyFor returns the atproto-proxy header value for a call to nsid, or
// nil.
func (a *Agent) proxyFor(nsid string) []string {
	if a.did == "" {
		return nil
	}
	if a.hdrProxy != nil {
		return a.hdrProxy
	}
	switch {
	case strings.HasPrefix(nsid, "chat.bsky."):
		return a.hdrChat
	case strings.HasPrefix(nsid, "app.bsky."):
		if pdsLocal(nsid) {
			return nil
		}
		return a.hdrAppView
	}
	return nil
}

// pdsLocal reports whether nsid is an app.bsky method the PDS serves
// itself, which must not be proxied to the AppView.
func pdsLocal(nsid string) bool {
	switch nsid {
	case "app.bsky.actor.getPreferences", "app.bsky.actor.putPreferences":
		return true
	}
	return false
}

// Do implements [lex.Client]: it sends req to the Agent's service with the
// routing headers described on [Agent]. req is not modified.
func (a *Agent) Do(ctx context.Context, req *lex.Request) (*http.Response, error) {
	hreq, err := req.HTTPRequest(ctx, a.t.Service())
	if err != nil {
		return nil, err
	}
	h := hreq.Header
	if p := a.proxyFor(req.NSID); p != nil && len(h[headerProxy]) == 0 {
		h[headerProxy] = p
	}
	if a.labelHeader != nil {
		if existing := h[headerLabelers]; len(existing) > 0 {
			h[headerLabelers] = []string{a.labelHeader[0] + ", " + strings.Join(existing, ", ")}
		} else {
			h[headerLabelers] = a.labelHeader
		}
	}
	resp, err := a.hc.Do(hreq)
	if err != nil {
		return nil, err
	}
	if err := lex.CheckResponse(req.NSID, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// firstParams returns the first of the optional params a short method was
// given, or nil. Generated Agent methods take their optional parameters as
// a variadic so that callers can leave them out.
func firstParams[T any](p []*T) *T {
	if len(p) == 0 {
		return nil
	}
	return p[0]
}

var _ lex.Client = (*Agent)(nil)
