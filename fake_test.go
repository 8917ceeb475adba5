package atp

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// call is one request a fake service received.
type call struct {
	Method string
	NSID   string
	Query  url.Values
	Header http.Header
	Body   string
}

// reply is what a fake service answers to one call.
type reply struct {
	status int
	body   string
	header http.Header
}

// fake is an httptest XRPC service (a PDS, an AppView) that records every
// request and answers from per-NSID queues of replies (the last reply of a
// queue repeats).
type fake struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	calls   []call
	replies map[string][]reply
}

func newFake(t *testing.T) *fake {
	t.Helper()
	f := &fake{t: t, replies: map[string][]reply{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	nsid, ok := strings.CutPrefix(r.URL.Path, "/xrpc/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, call{Method: r.Method, NSID: nsid, Query: r.URL.Query(), Header: r.Header.Clone(), Body: string(body)})
	q := f.replies[nsid]
	var rep reply
	switch len(q) {
	case 0:
		rep = reply{status: http.StatusNotImplemented, body: `{"error":"MethodNotImplemented","message":"fake: no reply for ` + nsid + `"}`}
	case 1:
		rep = q[0]
	default:
		rep, f.replies[nsid] = q[0], q[1:]
	}
	f.mu.Unlock()
	for k, vs := range rep.header {
		w.Header()[k] = vs
	}
	if rep.body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	if rep.status == 0 {
		rep.status = http.StatusOK
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

// on queues replies to nsid.
func (f *fake) on(nsid string, replies ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies[nsid] = append(f.replies[nsid], replies...)
}

// ok is a 200 reply with a JSON body.
func ok(body string) reply { return reply{status: http.StatusOK, body: body} }

// xrpcErr is an XRPC error reply.
func xrpcErr(status int, name, msg string) reply {
	b, _ := json.Marshal(map[string]string{"error": name, "message": msg})
	return reply{status: status, body: string(b)}
}

// take returns the calls received so far and forgets them.
func (f *fake) take() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// takeOne returns the single call received, failing the test otherwise.
func (f *fake) takeOne() call {
	f.t.Helper()
	c := f.take()
	if len(c) != 1 {
		f.t.Fatalf("got %d calls, want 1: %v", len(c), nsids(c))
	}
	return c[0]
}

func nsids(cs []call) []string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Method+" "+c.NSID)
	}
	return s
}

// wantCalls checks the method and NSID of each call received, in order,
// and returns them.
func (f *fake) wantCalls(want ...string) []call {
	f.t.Helper()
	c := f.take()
	if diff := cmp.Diff(want, nsids(c)); diff != "" {
		f.t.Fatalf("calls (-want +got):\n%s", diff)
	}
	return c
}

// wantJSON checks that body is the JSON value want.
func wantJSON(t *testing.T, body, want string) {
	t.Helper()
	var got, w any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	if diff := cmp.Diff(w, got); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

// wantQuery checks a call's query parameters.
func wantQuery(t *testing.T, c call, want url.Values) {
	t.Helper()
	if diff := cmp.Diff(want, c.Query); diff != "" {
		t.Errorf("%s query (-want +got):\n%s", c.NSID, diff)
	}
}

const testDID = "did:plc:alice"

// pds returns an authenticated Agent for testDID over f.
func (f *fake) agent(opts ...Option) *Agent {
	return NewAgent(&HTTPTransport{URL: f.srv.URL, Client: f.srv.Client(), AccountDID: testDID}, opts...)
}

// public returns an Agent without an account over f.
func (f *fake) public(opts ...Option) *Agent {
	return NewAgent(&HTTPTransport{URL: f.srv.URL, Client: f.srv.Client()}, opts...)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
