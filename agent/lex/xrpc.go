package lex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client sends XRPC requests. It is the one thing generated calls need:
// the Agent implements it over an OAuth session, an app-password session or
// no session, and [HTTPClient] is a plain implementation.
type Client interface {
	// Do sends req and returns the response when its status is 2xx; the
	// caller closes its body. Any other status is returned as an error
	// (an [*Error] built with [CheckResponse]) with the body closed.
	Do(ctx context.Context, req *Request) (*http.Response, error)
}

// Request is one XRPC call.
type Request struct {
	// Method is http.MethodGet for a query and http.MethodPost for a
	// procedure.
	Method string
	// NSID names the endpoint ("app.bsky.feed.getTimeline").
	NSID string
	// Params are the query parameters.
	Params url.Values
	// Body is a procedure's input, or nil.
	Body io.Reader
	// ContentType is Body's media type.
	ContentType string
	// Header holds extra request headers (atproto-proxy,
	// atproto-accept-labelers, ...), or nil.
	Header http.Header
}

// HTTPRequest builds the *http.Request for req against the service at
// host ("https://public.api.bsky.app").
func (req *Request) HTTPRequest(ctx context.Context, host string) (*http.Request, error) {
	u := strings.TrimSuffix(host, "/") + "/xrpc/" + req.NSID
	if len(req.Params) > 0 {
		u += "?" + req.Params.Encode()
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u, req.Body)
	if err != nil {
		return nil, err
	}
	for k, vs := range req.Header {
		hreq.Header[k] = append(hreq.Header[k], vs...)
	}
	if req.Body != nil && req.ContentType != "" {
		hreq.Header.Set("Content-Type", req.ContentType)
	}
	return hreq, nil
}

// HTTPClient is a [Client] that sends requests to one service with an
// *http.Client. Authentication, if any, belongs in the *http.Client's
// transport (an OAuth session's HTTP client, for one).
type HTTPClient struct {
	// Host is the service's base URL, such as "https://public.api.bsky.app".
	Host string
	// Client sends the requests; nil means http.DefaultClient.
	Client *http.Client
	// Header is added to every request.
	Header http.Header
}

// Do implements [Client].
func (c *HTTPClient) Do(ctx context.Context, req *Request) (*http.Response, error) {
	hreq, err := req.HTTPRequest(ctx, c.Host)
	if err != nil {
		return nil, err
	}
	for k, vs := range c.Header {
		if hreq.Header.Get(k) == "" {
			hreq.Header[k] = vs
		}
	}
	hc := c.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, err
	}
	if err := CheckResponse(req.NSID, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// Error is an XRPC error response: a non-2xx status with, usually, a JSON
// body {"error": "Name", "message": "..."}.
//
// When the endpoint's lexicon declares the error, Known is set, and
// errors.Is(err, pkg.ErrEndpointName) matches it.
type Error struct {
	NSID       string      // the endpoint called
	StatusCode int         // HTTP status
	Name       string      // the "error" member, such as "InvalidRequest"; may be ""
	Message    string      // the "message" member
	Header     http.Header // response headers (rate limits, WWW-Authenticate)
	Known      *KnownError // the lexicon's declaration of Name for NSID, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "xrpc %s: %d", e.NSID, e.StatusCode)
	if e.Name != "" {
		b.WriteString(" " + e.Name)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// RateLimit is the rate-limit state a server reported in its
// RateLimit-* response headers.
type RateLimit struct {
	Limit     int       // requests allowed in the window
	Remaining int       // requests left in it
	Reset     time.Time // when the window resets
	Policy    string    // the RateLimit-Policy header, as sent
}

// RateLimit returns the rate-limit headers of the error response, and
// whether there were any. A 429 carries them; so do most responses of
// Bluesky's services.
func (e *Error) RateLimit() (RateLimit, bool) {
	return ParseRateLimit(e.Header)
}

// ParseRateLimit reads RateLimit-Limit, RateLimit-Remaining,
// RateLimit-Reset (a Unix time) and RateLimit-Policy from h.
func ParseRateLimit(h http.Header) (RateLimit, bool) {
	var rl RateLimit
	ok := false
	if v, err := strconv.Atoi(h.Get("RateLimit-Limit")); err == nil {
		rl.Limit, ok = v, true
	}
	if v, err := strconv.Atoi(h.Get("RateLimit-Remaining")); err == nil {
		rl.Remaining, ok = v, true
	}
	if v, err := strconv.ParseInt(h.Get("RateLimit-Reset"), 10, 64); err == nil {
		rl.Reset, ok = time.Unix(v, 0), true
	}
	if p := h.Get("RateLimit-Policy"); p != "" {
		rl.Policy, ok = p, true
	}
	return rl, ok
}

// Unwrap returns e.Known, so errors.Is matches the declared error.
func (e *Error) Unwrap() error {
	if e.Known == nil {
		return nil
	}
	return e.Known
}

// KnownError is an error a lexicon declares for an endpoint. Generated
// packages export one per declaration (ErrRepoPutRecordInvalidSwap) to
// match with errors.Is.
type KnownError struct {
	NSID        string // the endpoint declaring the error
	Name        string // the error name
	Description string // the lexicon's description of it
}

func (k *KnownError) Error() string { return k.NSID + ": " + k.Name }

// Is reports whether target is a KnownError with the same name: an
// InvalidSwap from putRecord matches ErrRepoDeleteRecordInvalidSwap too.
func (k *KnownError) Is(target error) bool {
	t, ok := target.(*KnownError)
	return ok && t.Name == k.Name
}

// maxErrorBody caps how much of an error response is read.
const maxErrorBody = 64 << 10

// CheckResponse returns nil for a 2xx response. Otherwise it reads and
// closes the body and returns an [*Error].
func CheckResponse(nsid string, resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	xe := &Error{NSID: nsid, StatusCode: resp.StatusCode, Header: resp.Header}
	var eb struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &eb) == nil {
		xe.Name, xe.Message = eb.Error, eb.Message
	} else if len(body) > 0 {
		xe.Message = strings.TrimSpace(string(body))
	}
	return xe
}

// ResponseError reports a successful response whose body could not be
// decoded into the endpoint's output type.
type ResponseError struct {
	NSID string
	Err  error
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("xrpc %s: bad response: %v", e.NSID, e.Err)
}

// Unwrap returns the underlying error.
func (e *ResponseError) Unwrap() error { return e.Err }

// Decodable is implemented by every generated output type.
type Decodable interface {
	DecodeLex(d *Decoder)
}

// Encodable is implemented by every generated input type.
type Encodable interface {
	EncodeLex(e *Encoder, typed bool)
}

// JSONBody encodes in as a request body.
func JSONBody(in Encodable) (io.Reader, error) {
	var e Encoder
	in.EncodeLex(&e, false)
	b, err := e.Bytes()
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// Call sends req through c and decodes a JSON response into out (nil to
// discard it). known lists the errors the endpoint's lexicon declares; a
// matching [*Error] gets its Known field set.
func Call(ctx context.Context, c Client, req *Request, out Decodable, known ...*KnownError) error {
	resp, err := c.Do(ctx, req)
	if err != nil {
		return withKnown(err, known)
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	d := NewDecoder(body)
	out.DecodeLex(d)
	if err := d.Finish(); err != nil {
		return &ResponseError{NSID: req.NSID, Err: withPath(err, body)}
	}
	return nil
}

func withKnown(err error, known []*KnownError) error {
	var xe *Error
	if errors.As(err, &xe) && xe.Known == nil && xe.Name != "" {
		for _, k := range known {
			if k.Name == xe.Name {
				xe.Known = k
				break
			}
		}
	}
	return err
}

// Stream is a binary response body (a CAR file, a blob), streamed rather
// than buffered: the caller reads and closes it.
type Stream struct {
	io.ReadCloser
	// ContentType is the response's media type.
	ContentType string
	// ContentLength is the body's length, or -1 if unknown.
	ContentLength int64
}

// CallStream sends req through c and returns the response body unread.
func CallStream(ctx context.Context, c Client, req *Request, known ...*KnownError) (*Stream, error) {
	resp, err := c.Do(ctx, req)
	if err != nil {
		return nil, withKnown(err, known)
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		ct = mt
	}
	return &Stream{ReadCloser: resp.Body, ContentType: ct, ContentLength: resp.ContentLength}, nil
}

// EncodeFunc adapts a function to the [Encodable] interface.
type EncodeFunc func(e *Encoder)

// EncodeLex calls f(e).
func (f EncodeFunc) EncodeLex(e *Encoder, _ bool) { f(e) }

// Pages iterates over the pages of a cursor-paginated query: it calls
// fetch with cursor (the first page's, usually "") and then with each
// page's next cursor, until a page has no cursor, repeats the previous one,
// or fetch fails (the error is yielded once, last). Stop early by breaking
// out of the loop. Generated packages wrap it as FooPages functions.
func Pages[P any](cursor string, fetch func(cursor string) (P, string, error)) iter.Seq2[P, error] {
	return func(yield func(P, error) bool) {
		for {
			page, next, err := fetch(cursor)
			if err != nil {
				var zero P
				yield(zero, err)
				return
			}
			if !yield(page, nil) || next == "" || next == cursor {
				return
			}
			cursor = next
		}
	}
}
