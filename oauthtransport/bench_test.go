package oauthtransport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchSession returns a session on srv that never needs a refresh.
func benchSession(b testing.TB, srv *httptest.Server) *Session {
	c, err := NewClient(Config{
		Metadata:   ClientMetadata{ClientID: "http://localhost"},
		StateStore: newMemStore(), SessionStore: newMemStore(),
		AllowHTTP: true, AllowPrivateNetworks: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := marshalPrivateJWK(priv)
	rec := &sessionRecord{DID: aliceDID, Issuer: srv.URL, PDS: srv.URL, DPoPKey: raw, Auth: clientAuth{Method: AuthMethodNone},
		AccessToken: "at-" + randomString(32), RefreshToken: "rt", Scope: "atproto"}
	return c.newSession(rec, newDPoPKey(priv))
}

func okServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("DPoP-Nonce", "n")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
}

func benchGet(b *testing.B, c *http.Client, url string) {
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkTransport compares a request through the session's RoundTripper
// with the same request through a plain client, and with one bare P-256
// signature (the floor: every request needs one proof).
func BenchmarkTransport(b *testing.B) {
	srv := okServer()
	defer srv.Close()
	url := srv.URL + "/xrpc/com.atproto.server.getSession?x=1"
	b.Run("plain", func(b *testing.B) {
		benchGet(b, &http.Client{Transport: guardedTransport(true)}, url)
	})
	b.Run("dpop", func(b *testing.B) {
		benchGet(b, benchSession(b, srv).HTTPClient(), url)
	})
	b.Run("p256-sign", func(b *testing.B) {
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		digest := sha256.Sum256([]byte("x"))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ecdsa.SignASN1(rand.Reader, priv, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("proof-only", func(b *testing.B) {
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		dk := newDPoPKey(priv)
		now := time.Now()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := dk.proof("GET", "https://pds.example.com/xrpc/com.atproto.server.getSession", "nonce", "at-token", now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestRefreshStorm: 1,000 concurrent requests hitting an expired access
// token make exactly one token request, and all succeed.
func TestRefreshStorm(t *testing.T) {
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, clock := f.newClient()
	s := f.login(c, "alice.test", aliceDID)
	clock.Add(2 * time.Hour)
	const n = 1000
	var wg sync.WaitGroup
	var ok atomic.Int32
	start := make(chan struct{})
	hc := s.HTTPClient()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := hc.Get(f.pds.URL + "/xrpc/com.atproto.server.getSession")
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ok.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	_, _, refreshes, _ := f.counts()
	if refreshes != 1 || ok.Load() != n {
		t.Fatalf("%d token refreshes, %d/%d requests succeeded", refreshes, ok.Load(), n)
	}
}

// BenchmarkRefreshStorm measures 1,000 concurrent requests that all find
// the access token expired; each round must make exactly one refresh.
func BenchmarkRefreshStorm(b *testing.B) {
	f := newFakeNet(b)
	f.addAccount(aliceDID, "alice.test")
	clock := &testClock{t: time.Unix(1_800_000_000, 0)}
	c, err := NewClient(Config{
		Metadata:   ClientMetadata{ClientID: LoopbackClientID("atproto transition:generic", testRedirect())},
		StateStore: newMemStore(), SessionStore: newMemStore(),
		AllowHTTP: true, AllowPrivateNetworks: true, PLCURL: f.plc.URL, HandleResolverURL: f.pds.URL, Now: clock.Now,
	})
	if err != nil {
		b.Fatal(err)
	}
	authURL, err := c.Authorize(b.Context(), "alice.test", AuthorizeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	f.mu.Lock()
	req := f.pars[u.Query().Get("request_uri")]
	req.sub = aliceDID
	code := "cod-bench"
	f.codes[code] = req
	f.mu.Unlock()
	s, _, err := c.Callback(b.Context(), url.Values{"state": {req.form.Get("state")}, "iss": {f.as.URL}, "code": {code}})
	if err != nil {
		b.Fatal(err)
	}
	hc := s.HTTPClient()
	target := f.pds.URL + "/xrpc/com.atproto.server.getSession"
	for b.Loop() {
		clock.Add(2 * time.Hour)
		_, _, before, _ := f.counts()
		var wg sync.WaitGroup
		var ok atomic.Int32
		for range 1000 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := hc.Get(target)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		if _, _, after, _ := f.counts(); after-before != 1 || ok.Load() != 1000 {
			b.Fatalf("%d refreshes, %d/1000 succeeded", after-before, ok.Load())
		}
	}
}
