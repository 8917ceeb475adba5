package atp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
)

// BenchmarkAgentOverhead compares a generated call sent through the Agent
// (routing headers, labelers) with the same call through a bare
// lex.HTTPClient, against the same httptest server. The target is
// Agent ≤ 1.05 × raw.
func BenchmarkAgentOverhead(b *testing.B) {
	const body = `{"did":"did:plc:bob","handle":"bob.test","displayName":"Bob","description":"hello","followersCount":10,"followsCount":20,"postsCount":30}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	ctx := context.Background()
	clients := []struct {
		name string
		c    lex.Client
	}{
		{"raw", &lex.HTTPClient{Host: srv.URL, Client: srv.Client()}},
		{"agent", NewAgent(&HTTPTransport{URL: srv.URL, Client: srv.Client(), AccountDID: testDID})},
	}
	for _, c := range clients {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bsky.ActorGetProfile(ctx, c.c, "bob.test", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAgentDo measures the Agent's own work per call (building the
// request and its headers) without the network: its transport answers
// from memory.
func BenchmarkAgentDo(b *testing.B) {
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})
	hc := &http.Client{Transport: rt}
	ctx := context.Background()
	req := &lex.Request{Method: http.MethodGet, NSID: bsky.ActorGetProfileNSID}
	for _, c := range []struct {
		name string
		c    lex.Client
	}{
		{"raw", &lex.HTTPClient{Host: "https://pds.example.com", Client: hc}},
		{"agent", NewAgent(&HTTPTransport{URL: "https://pds.example.com", Client: hc, AccountDID: testDID})},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.c.Do(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
