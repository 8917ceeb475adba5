package oauthtransport

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const (
	aliceDID = "did:plc:alice0000000000000000000"
	bobDID   = "did:plc:bob000000000000000000000"
)

func testRedirect() string { return "http://127.0.0.1:8765/callback" }

// newTestClient returns a development-mode loopback client wired to f.
func (f *fakeNet) newClient(mods ...func(*Config)) (*Client, *memStore, *memStore, *testClock) {
	f.t.Helper()
	clock := &testClock{t: time.Unix(1_800_000_000, 0)}
	states, sessions := newMemStore(), newMemStore()
	cfg := Config{
		Metadata:             ClientMetadata{ClientID: LoopbackClientID("atproto transition:generic", testRedirect())},
		StateStore:           states,
		SessionStore:         sessions,
		AllowHTTP:            true,
		AllowPrivateNetworks: true,
		PLCURL:               f.plc.URL,
		HandleResolverURL:    f.pds.URL,
		Now:                  clock.Now,
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return c, states, sessions, clock
}

func TestResolveAccount(t *testing.T) {
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, _ := f.newClient()
	ctx := context.Background()
	acct, err := c.resolveAccount(ctx, "Alice.Test")
	if err != nil {
		t.Fatal(err)
	}
	if acct.DID != aliceDID || acct.Handle != "alice.test" || acct.PDS != f.pds.URL {
		t.Fatalf("account %+v", acct)
	}
	if acct, err := c.resolveAccount(ctx, aliceDID); err != nil || acct.PDS != f.pds.URL {
		t.Fatalf("by DID: %+v %v", acct, err)
	}
	// §2.2 #11: a handle the DID document does not confirm.
	f.addAccount(bobDID, "bob.test")
	f.mu.Lock()
	f.handles["mallory.test"] = bobDID
	f.mu.Unlock()
	if _, err := c.resolveAccount(ctx, "mallory.test"); !errors.Is(err, ErrUnresolved) {
		t.Fatalf("unconfirmed handle: %v", err)
	}
	// Unknown handle, bad input, unsupported DID method.
	for _, in := range []string{"nobody.test", "not a handle", "did:key:z6Mk", "did:plc:"} {
		if _, err := c.resolveAccount(ctx, in); !errors.Is(err, ErrUnresolved) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestResolveDIDDocumentChecks(t *testing.T) {
	f := newFakeNet(t)
	f.addAccount(aliceDID, "alice.test")
	c, _, _, _ := f.newClient()
	ctx := context.Background()
	edit := func(fn func(doc map[string]any)) {
		f.addAccount(aliceDID, "alice.test")
		f.mu.Lock()
		fn(f.docs[aliceDID])
		f.mu.Unlock()
	}
	cases := map[string]func(doc map[string]any){
		// §2.2 #15
		"id mismatch": func(doc map[string]any) { doc["id"] = bobDID },
		// §2.2 #17
		"no pds": func(doc map[string]any) { doc["service"] = []any{} },
		"wrong type": func(doc map[string]any) {
			doc["service"] = []map[string]any{{"id": "#atproto_pds", "type": "Other", "serviceEndpoint": f.pds.URL}}
		},
		"endpoint not url": func(doc map[string]any) {
			doc["service"] = []map[string]any{{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "ftp://x"}}
		},
		"endpoint with path": func(doc map[string]any) {
			doc["service"] = []map[string]any{{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": f.pds.URL + "/x?y"}}
		},
	}
	for name, fn := range cases {
		edit(fn)
		if _, err := c.resolveAccount(ctx, aliceDID); !errors.Is(err, ErrUnresolved) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDIDWebURL(t *testing.T) {
	good := map[string]string{
		"example.com":      "https://example.com/.well-known/did.json",
		"localhost%3A2583": "http://localhost:2583/.well-known/did.json",
	}
	for id, want := range good {
		if got, err := didWebURL(id, true); err != nil || got != want {
			t.Errorf("%s: %q %v", id, got, err)
		}
	}
	if got, _ := didWebURL("localhost%3A2583", false); got != "https://localhost:2583/.well-known/did.json" {
		t.Errorf("localhost without AllowHTTP: %q", got)
	}
	// §2.2 #16
	for _, id := range []string{"example.com:user:alice", "example.com%3A8443", "exa%2Fmple.com", ""} {
		if _, err := didWebURL(id, true); !errors.Is(err, ErrUnresolved) {
			t.Errorf("did:web:%s accepted: %v", id, err)
		}
	}
}

// fakeTXT is a TXTResolver answering from a map.
type fakeTXT map[string][]string

func (f fakeTXT) LookupTXT(_ context.Context, name string) ([]string, error) {
	if r, ok := f[name]; ok {
		return r, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func TestResolveHandleDNSAndHTTPS(t *testing.T) {
	wellKnown := map[string]func(w http.ResponseWriter){
		"both.example.com":     func(w http.ResponseWriter) { _, _ = w.Write([]byte(aliceDID + "\n")) },
		"conflict.example.com": func(w http.ResponseWriter) { _, _ = w.Write([]byte(bobDID)) },
		"https.example.com":    func(w http.ResponseWriter) { _, _ = w.Write([]byte(aliceDID)) },
		"redirect.example.com": func(w http.ResponseWriter) {
			w.Header().Set("Location", "https://https.example.com/.well-known/atproto-did")
			w.WriteHeader(302)
		},
		"big.example.com":  func(w http.ResponseWriter) { _, _ = w.Write([]byte(aliceDID + strings.Repeat(" ", maxSmallSize))) },
		"junk.example.com": func(w http.ResponseWriter) { _, _ = w.Write([]byte("did:key:z6Mk")) },
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := wellKnown[r.Host]; ok && r.URL.Path == "/.well-known/atproto-did" {
			h(w)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	txt := fakeTXT{
		"_atproto.both.example.com":     {"did=" + aliceDID},
		"_atproto.conflict.example.com": {"did=" + aliceDID},
		"_atproto.dns.example.com":      {"other", "did=" + aliceDID},
		"_atproto.two.example.com":      {"did=" + aliceDID, "did=" + bobDID},
	}
	f := newFakeNet(t)
	c, _, _, _ := f.newClient(func(cfg *Config) {
		cfg.HandleResolverURL = ""
		cfg.TXTResolver = txt
		cfg.HTTPClient = routedClient(srv)
	})
	ctx := context.Background()
	for h, want := range map[string]string{"both.example.com": aliceDID, "dns.example.com": aliceDID, "https.example.com": aliceDID} {
		if got, err := c.resolveHandle(ctx, h); err != nil || got != want {
			t.Errorf("%s: %q %v", h, got, err)
		}
	}
	// §2.2 #13 and #14, and conflicting answers.
	for _, h := range []string{"conflict.example.com", "two.example.com", "redirect.example.com", "big.example.com", "junk.example.com", "none.example.com"} {
		if got, err := c.resolveHandle(ctx, h); !errors.Is(err, ErrUnresolved) {
			t.Errorf("%s resolved to %q (%v)", h, got, err)
		}
	}
}

func TestSSRFGuard(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"did": aliceDID})
	}))
	defer srv.Close()
	ctx := context.Background()
	// Production mode: http and loopback refused before any request.
	prod := newFetcher(nil, false, false, time.Second, "")
	for _, u := range []string{srv.URL, "https://127.0.0.1/x", "https://[::1]/x", "https://10.0.0.1/x", "https://169.254.169.254/latest",
		"https://[fe80::1]/x", "https://224.0.0.1/x", "https://localhost/x", "https://0.0.0.0/x", "https://[::ffff:127.0.0.1]/x", "ftp://example.com/x"} {
		if _, err := prod.get(ctx, u, 100, "application/json"); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s: %v", u, err)
		}
	}
	// http allowed but private networks not: the dialer refuses the
	// address it would connect to, whatever the URL's host name.
	httpOnly := newFetcher(nil, true, false, time.Second, "")
	if _, err := httpOnly.get(ctx, srv.URL, 100, "application/json"); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("loopback with AllowHTTP only: %v", err)
	}
	req, _ := http.NewRequest("GET", strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), nil)
	if _, err := guardedTransport(false).RoundTrip(req); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("dial guard: %v", err)
	}
	dev := newFetcher(nil, true, true, time.Second, "")
	if _, err := dev.get(ctx, srv.URL, 100, "application/json"); err != nil {
		t.Errorf("dev mode: %v", err)
	}
	// Timeouts apply to every fetch.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer slow.Close()
	short := newFetcher(nil, true, true, 50*time.Millisecond, "")
	if _, err := short.get(ctx, slow.URL, 100, "application/json"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
}

func TestIsPublicAddr(t *testing.T) {
	cases := map[string]bool{
		"8.8.8.8": true, "2606:4700:4700::1111": true, "1.1.1.1": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "255.255.255.255": false, "224.0.0.251": false, "198.18.0.1": false,
		"192.0.2.1": false, "::1": false, "fe80::1": false, "fc00::1": false, "ff02::1": false, "::ffff:10.0.0.1": false,
		"64:ff9b::a00:1": false, "2001:db8::1": false, "::": false,
	}
	for s, want := range cases {
		if got := isPublicAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("%s: %v, want %v", s, got, want)
		}
	}
}

func TestDIDWebAccount(t *testing.T) {
	// A did:web account on localhost (development mode): its document is
	// fetched from http://localhost:<port>/.well-known/did.json.
	f := newFakeNet(t)
	var did string
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/did.json" {
			http.NotFound(w, r)
			return
		}
		writeJSON(w, 200, map[string]any{"id": did, "alsoKnownAs": []string{"at://web.test"},
			"service": []map[string]any{{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": f.pds.URL}}})
	}))
	defer web.Close()
	did = "did:web:" + strings.Replace(strings.TrimPrefix(web.URL, "http://127.0.0.1"), ":", "localhost%3A", 1)
	f.mu.Lock()
	f.handles["web.test"] = did
	f.mu.Unlock()
	c, _, _, _ := f.newClient()
	acct, err := c.resolveAccount(context.Background(), "web.test")
	if err != nil || acct.DID != did || acct.PDS != f.pds.URL {
		t.Fatalf("%+v %v", acct, err)
	}
	sess := f.login(c, "web.test", did)
	if sess.DID() != did {
		t.Fatal(sess.DID())
	}
}
