package lex

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var (
	errPutInvalidSwap = &KnownError{NSID: "com.atproto.repo.putRecord", Name: "InvalidSwap", Description: "put"}
	errDelInvalidSwap = &KnownError{NSID: "com.atproto.repo.deleteRecord", Name: "InvalidSwap"}
	errRepoNotFound   = &KnownError{NSID: "com.atproto.repo.getRecord", Name: "RecordNotFound"}
)

func TestKnownErrorIsAs(t *testing.T) {
	e := &Error{NSID: "com.atproto.repo.putRecord", StatusCode: 400, Name: "InvalidSwap",
		Message: "Record was at bafyrei...", Known: errPutInvalidSwap}
	wrapped := fmt.Errorf("saving: %w", e)
	if !errors.Is(wrapped, errPutInvalidSwap) {
		t.Error("errors.Is(err, declared error) = false")
	}
	if !errors.Is(wrapped, errDelInvalidSwap) {
		t.Error("errors.Is does not match the same error name declared by another endpoint")
	}
	if errors.Is(wrapped, errRepoNotFound) {
		t.Error("errors.Is matched another error name")
	}
	var ke *KnownError
	if !errors.As(wrapped, &ke) || ke != errPutInvalidSwap {
		t.Errorf("errors.As(*KnownError) = %v", ke)
	}
	var xe *Error
	if !errors.As(wrapped, &xe) || xe.StatusCode != 400 {
		t.Errorf("errors.As(*Error) = %v", xe)
	}
	if got, want := e.Error(), "xrpc com.atproto.repo.putRecord: 400 InvalidSwap: Record was at bafyrei..."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := errPutInvalidSwap.Error(), "com.atproto.repo.putRecord: InvalidSwap"; got != want {
		t.Errorf("KnownError.Error() = %q", got)
	}

	plain := &Error{NSID: "x.y.z", StatusCode: 502}
	if plain.Unwrap() != nil || errors.Is(plain, errPutInvalidSwap) {
		t.Error("an undeclared error matches a KnownError")
	}
	if got := plain.Error(); got != "xrpc x.y.z: 502" {
		t.Errorf("Error() = %q", got)
	}
	if errPutInvalidSwap.Is(errors.New("InvalidSwap")) {
		t.Error("KnownError.Is matched a non-KnownError")
	}
}

type closeTracker struct {
	io.Reader
	closed bool
	read   int
}

func (c *closeTracker) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.read += n
	return n, err
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

func TestCheckResponse(t *testing.T) {
	big := strings.Repeat("x", 200<<10)
	for _, tt := range []struct {
		name       string
		status     int
		body       string
		wantName   string
		wantMsg    string
		wantMaxLen int
	}{
		{name: "json", status: 400, body: `{"error":"InvalidRequest","message":"bad cursor"}`,
			wantName: "InvalidRequest", wantMsg: "bad cursor"},
		{name: "json with more", status: 401, body: `{"error":"ExpiredToken","message":"Token has expired","extra":1}`,
			wantName: "ExpiredToken", wantMsg: "Token has expired"},
		{name: "name only", status: 429, body: `{"error":"RateLimitExceeded"}`, wantName: "RateLimitExceeded"},
		{name: "html", status: 502, body: "<html><body>Bad Gateway</body></html>\n",
			wantMsg: "<html><body>Bad Gateway</body></html>"},
		{name: "text", status: 500, body: "  internal error \n", wantMsg: "internal error"},
		{name: "json string", status: 500, body: `"oops"`, wantMsg: `"oops"`},
		{name: "empty", status: 404},
		{name: "huge", status: 500, body: big, wantMaxLen: 64 << 10},
	} {
		body := &closeTracker{Reader: strings.NewReader(tt.body)}
		resp := &http.Response{StatusCode: tt.status, Body: body, Header: http.Header{"Ratelimit-Remaining": {"0"}}}
		err := CheckResponse("app.bsky.feed.getTimeline", resp)
		var xe *Error
		if !errors.As(err, &xe) {
			t.Fatalf("%s: err = %v, want *Error", tt.name, err)
		}
		if xe.NSID != "app.bsky.feed.getTimeline" || xe.StatusCode != tt.status || xe.Name != tt.wantName {
			t.Errorf("%s: got %+v", tt.name, xe)
		}
		if tt.wantMaxLen > 0 {
			if len(xe.Message) == 0 || len(xe.Message) > tt.wantMaxLen {
				t.Errorf("%s: message length %d, want 1..%d", tt.name, len(xe.Message), tt.wantMaxLen)
			}
		} else if xe.Message != tt.wantMsg {
			t.Errorf("%s: Message = %q, want %q", tt.name, xe.Message, tt.wantMsg)
		}
		if xe.Header.Get("Ratelimit-Remaining") != "0" {
			t.Errorf("%s: headers not kept", tt.name)
		}
		if !body.closed {
			t.Errorf("%s: body not closed", tt.name)
		}
	}
	for _, status := range []int{200, 201, 204, 299} {
		body := &closeTracker{Reader: strings.NewReader("{}")}
		if err := CheckResponse("x", &http.Response{StatusCode: status, Body: body}); err != nil {
			t.Errorf("status %d: %v", status, err)
		}
		if body.closed || body.read != 0 {
			t.Errorf("status %d: body touched", status)
		}
	}
}

// fakeClient returns a fixed response and records the request.
type fakeClient struct {
	resp *http.Response
	err  error
	req  *Request
}

func (f *fakeClient) Do(_ context.Context, req *Request) (*http.Response, error) {
	f.req = req
	return f.resp, f.err
}

func TestHTTPClientDo(t *testing.T) {
	var got *http.Request
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()

	c := &HTTPClient{Host: srv.URL + "/", Client: srv.Client(), Header: http.Header{
		"Atproto-Accept-Labelers": {"did:plc:ar7c4by46qjdydhdevvrndac;redact"},
		"Atproto-Proxy":           {"did:web:default#svc"},
	}}
	req := &Request{
		Method: http.MethodPost, NSID: "com.atproto.repo.createRecord",
		Params:      url.Values{"a": {"1 2"}, "b": {"x", "y"}},
		Body:        strings.NewReader(`{"repo":"did:plc:x"}`),
		ContentType: "application/json",
		Header:      http.Header{"Atproto-Proxy": {"did:web:api.bsky.chat#bsky_chat"}},
	}
	resp, err := c.Do(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Method != http.MethodPost || got.URL.Path != "/xrpc/com.atproto.repo.createRecord" {
		t.Errorf("request %s %s", got.Method, got.URL.Path)
	}
	if q := got.URL.Query(); q.Get("a") != "1 2" || len(q["b"]) != 2 {
		t.Errorf("query %v", q)
	}
	if got.Header.Get("Content-Type") != "application/json" || gotBody != `{"repo":"did:plc:x"}` {
		t.Errorf("body %q type %q", gotBody, got.Header.Get("Content-Type"))
	}
	if v := got.Header.Values("Atproto-Proxy"); len(v) != 1 || v[0] != "did:web:api.bsky.chat#bsky_chat" {
		t.Errorf("per-request header did not win over the client's: %v", v)
	}
	if got.Header.Get("Atproto-Accept-Labelers") == "" {
		t.Error("client header not sent")
	}

	// A query: GET with no body and no content type.
	resp, err = c.Do(context.Background(), &Request{NSID: "app.bsky.actor.getProfile", Params: url.Values{"actor": {"bsky.app"}}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Method != http.MethodGet || got.URL.RawQuery != "actor=bsky.app" || got.Header.Get("Content-Type") != "" {
		t.Errorf("query request: %s %q %q", got.Method, got.URL.RawQuery, got.Header.Get("Content-Type"))
	}
}

func TestHTTPClientErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/xrpc/com.atproto.repo.putRecord":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"InvalidSwap","message":"Record was at bafyreiabc"}`)
		case "/xrpc/com.atproto.repo.getRecord":
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"InvalidRequest","message":"Could not locate record"}`)
		default:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			io.WriteString(w, "<html>502 Bad Gateway</html>")
		}
	}))
	defer srv.Close()
	c := &HTTPClient{Host: srv.URL, Client: srv.Client()}
	ctx := context.Background()

	err := Call(ctx, c, &Request{Method: http.MethodPost, NSID: "com.atproto.repo.putRecord"}, nil,
		errRepoNotFound, errPutInvalidSwap)
	var xe *Error
	if !errors.As(err, &xe) || xe.Known != errPutInvalidSwap || xe.StatusCode != 400 || xe.Message != "Record was at bafyreiabc" {
		t.Fatalf("err = %#v", err)
	}
	if !errors.Is(err, errPutInvalidSwap) || errors.Is(err, errRepoNotFound) {
		t.Error("errors.Is on a declared error")
	}

	// An error the endpoint does not declare stays unknown.
	err = Call(ctx, c, &Request{NSID: "com.atproto.repo.getRecord"}, nil, errRepoNotFound)
	if !errors.As(err, &xe) || xe.Known != nil || xe.Name != "InvalidRequest" || errors.Is(err, errRepoNotFound) {
		t.Errorf("undeclared error: %#v", err)
	}

	_, err = CallStream(ctx, c, &Request{NSID: "com.atproto.sync.getRepo"})
	if !errors.As(err, &xe) || xe.StatusCode != 502 || xe.Name != "" || xe.Message != "<html>502 Bad Gateway</html>" {
		t.Errorf("non-JSON error body: %#v", err)
	}
	if !strings.Contains(err.Error(), "502") {
		t.Errorf("Error() = %q", err.Error())
	}

	// A transport error is returned as is.
	down := &HTTPClient{Host: "http://127.0.0.1:1", Client: srv.Client()}
	if err := Call(ctx, down, &Request{NSID: "x.y.z"}, nil); err == nil || errors.As(err, &xe) {
		t.Errorf("transport error = %v", err)
	}
}

func TestCallDecodes(t *testing.T) {
	ctx := context.Background()
	mk := func(body string) *fakeClient {
		return &fakeClient{resp: &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(body))}}
	}
	var texts []string
	out := DecodeFunc(func(d *Decoder) {
		if d.BeginObject() {
			for d.More() {
				d.Key()
				texts = append(texts, d.String())
			}
		}
	})
	if err := Call(ctx, mk(`{"a":"x","b":"y"}`), &Request{NSID: "x.y.z"}, out); err != nil {
		t.Fatal(err)
	}
	if strings.Join(texts, ",") != "x,y" {
		t.Errorf("decoded %v", texts)
	}
	for _, bad := range []string{`{"a":1}`, `{"a":"x"} trailing`, `<html>`, ``} {
		err := Call(ctx, mk(bad), &Request{NSID: "x.y.z"}, out)
		var re *ResponseError
		var se *SyntaxError
		if !errors.As(err, &re) || re.NSID != "x.y.z" || !errors.As(err, &se) {
			t.Errorf("body %q: err = %v, want *ResponseError wrapping *SyntaxError", bad, err)
		}
		if err != nil && !strings.Contains(err.Error(), "bad response") {
			t.Errorf("Error() = %q", err.Error())
		}
	}
	// out == nil discards the body.
	body := &closeTracker{Reader: strings.NewReader("whatever, not JSON")}
	f := &fakeClient{resp: &http.Response{StatusCode: 200, Body: body}}
	if err := Call(ctx, f, &Request{NSID: "x.y.z"}, nil); err != nil || !body.closed {
		t.Errorf("discard: %v, closed %v", err, body.closed)
	}
	// Known errors are attached to errors the Client returns.
	f = &fakeClient{err: fmt.Errorf("wrapped: %w", &Error{NSID: "x.y.z", StatusCode: 400, Name: "InvalidSwap"})}
	if err := Call(ctx, f, &Request{NSID: "x.y.z"}, out, errPutInvalidSwap); !errors.Is(err, errPutInvalidSwap) {
		t.Errorf("known error through a wrapping Client: %v", err)
	}
}

func TestCallStreamDoesNotRead(t *testing.T) {
	body := &closeTracker{Reader: strings.NewReader("CAR bytes")}
	f := &fakeClient{resp: &http.Response{StatusCode: 200, Body: body, ContentLength: 9,
		Header: http.Header{"Content-Type": {"application/vnd.ipld.car; version=1"}}}}
	s, err := CallStream(context.Background(), f, &Request{NSID: "com.atproto.sync.getRepo"})
	if err != nil {
		t.Fatal(err)
	}
	if body.read != 0 || body.closed {
		t.Fatalf("CallStream read %d bytes (closed %v) before returning", body.read, body.closed)
	}
	if s.ContentType != "application/vnd.ipld.car" || s.ContentLength != 9 {
		t.Errorf("stream %q %d", s.ContentType, s.ContentLength)
	}
	b, _ := io.ReadAll(s)
	s.Close()
	if string(b) != "CAR bytes" || !body.closed {
		t.Errorf("read %q closed %v", b, body.closed)
	}
}

func TestCallStreamStreams(t *testing.T) {
	// The server sends a first chunk and then waits for the test to have
	// read it before sending the rest: a CallStream that buffered the body
	// would wait for the whole body and only get it when the server gives
	// up (released stays false).
	first := bytes.Repeat([]byte("a"), 1<<16)
	release := make(chan struct{})
	var released atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.ipld.car")
		w.Write(first)
		w.(http.Flusher).Flush()
		select {
		case <-release:
			released.Store(true)
		case <-time.After(30 * time.Second): // deadlock breaker, not a timing assertion
		case <-r.Context().Done():
		}
		io.WriteString(w, "rest")
	}))
	defer srv.Close()
	c := &HTTPClient{Host: srv.URL, Client: srv.Client()}
	s, err := CallStream(context.Background(), c, &Request{NSID: "com.atproto.sync.getRepo"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	buf := make([]byte, len(first))
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatal(err)
	}
	close(release)
	rest, err := io.ReadAll(s)
	if err != nil || string(rest) != "rest" {
		t.Fatalf("rest = %q, %v", rest, err)
	}
	if !released.Load() {
		t.Error("CallStream buffered the whole response before returning")
	}
	if s.ContentType != "application/vnd.ipld.car" || s.ContentLength != -1 {
		t.Errorf("stream %q %d", s.ContentType, s.ContentLength)
	}
}

func TestRequestHTTPRequest(t *testing.T) {
	r, err := (&Request{NSID: "a.b.c"}).HTTPRequest(context.Background(), "https://pds.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != http.MethodGet || r.URL.String() != "https://pds.example.com/xrpc/a.b.c" {
		t.Errorf("%s %s", r.Method, r.URL)
	}
	if _, err := (&Request{NSID: "a.b.c", Method: "BAD METHOD"}).HTTPRequest(context.Background(), "https://x"); err == nil {
		t.Error("invalid method accepted")
	}
	body, err := JSONBody(EncodeFunc(func(e *Encoder) { e.BeginObject(); e.Field("k"); e.Int(1); e.EndObject() }))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(body); string(b) != `{"k":1}` {
		t.Errorf("JSONBody = %s", b)
	}
	if _, err := JSONBody(EncodeFunc(func(e *Encoder) { e.Fail(errors.New("x")) })); err == nil {
		t.Error("JSONBody ignored an encoder error")
	}
}
