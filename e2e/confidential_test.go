package e2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/atpgo/atp/oauthtransport"
)

// webApp is a confidential web client's own https server on loopback: it
// serves the client metadata document and the JWKS, under a
// *.interop.internal name that the PDS maps to 127.0.0.1, with a
// certificate from the test CA that the PDS trusts.
type webApp struct {
	*env
	base    string // https://client.interop.internal:<port>
	md      *oauthtransport.ClientMetadata
	mu      sync.Mutex
	hits    map[string]int // path -> requests served
	serving *oauthtransport.Client
}

// serve makes the server publish c's metadata and JWKS (after a key
// rotation, say).
func (w *webApp) serve(c *oauthtransport.Client) {
	w.mu.Lock()
	w.serving = c
	w.mu.Unlock()
}

// withKeys returns a new client instance of the app with other keys (same
// metadata and stores).
func (w *webApp) withKeys(t *testing.T, keys ...*oauthtransport.Key) *env {
	t.Helper()
	ks, err := oauthtransport.NewKeyset(keys...)
	step(t, "NewKeyset", err)
	e := w.sibling(t)
	e.cfg.Keys = ks
	c, err := oauthtransport.NewClient(e.cfg)
	step(t, "NewClient with other keys", err)
	e.client = c
	return e
}

func (w *webApp) served(path string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hits[path]
}

// newWebApp starts the https server of a confidential client (ES256
// private_key_jwt, keys published at jwks_uri) and returns its client. Each
// call uses a new port, hence a new client_id, so the PDS's 10-minute cache
// of client metadata never mixes two tests.
func newWebApp(t *testing.T, n *network, scope string) *webApp {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	step(t, "listen for the client's https server", err)
	port := l.Addr().(*net.TCPAddr).Port
	w := &webApp{base: fmt.Sprintf("https://client.interop.internal:%d", port), hits: map[string]int{}}
	key, err := oauthtransport.GenerateKey("e2e-key-A")
	step(t, "GenerateKey", err)
	keys, err := oauthtransport.NewKeyset(key)
	step(t, "NewKeyset", err)
	if scope == "" {
		scope = "atproto transition:generic"
	}
	md := &oauthtransport.ClientMetadata{
		ClientID:                    w.base + "/oauth-client-metadata.json",
		ApplicationType:             "web",
		ClientName:                  "atp e2e web app",
		ClientURI:                   w.base + "/",
		RedirectURIs:                []string{w.base + "/callback"},
		Scope:                       scope,
		TokenEndpointAuthMethod:     oauthtransport.AuthMethodPrivateKeyJWT,
		TokenEndpointAuthSigningAlg: "ES256",
		JWKSURI:                     w.base + "/jwks.json",
	}
	w.md = md
	w.env = newClient(t, n, clientOpts{metadata: md, keys: keys})
	w.serving = w.client

	srv := &http.Server{
		Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			w.mu.Lock()
			w.hits[r.URL.Path]++
			c := w.serving
			w.mu.Unlock()
			switch r.URL.Path {
			case "/oauth-client-metadata.json":
				c.MetadataHandler().ServeHTTP(rw, r)
			case "/jwks.json":
				c.JWKSHandler().ServeHTTP(rw, r)
			default:
				http.NotFound(rw, r)
			}
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{n.ca.leaf}, MinVersion: tls.VersionTLS12},
	}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return w
}
