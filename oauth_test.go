package atp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/atpgo/atp/oauthtransport"
	"github.com/atpgo/atp/store/memstore"
	"github.com/go-jose/go-jose/v4"
)

// TestOAuth sends Agent calls through a restored OAuth session: they go to
// the session's PDS with its DPoP-bound token and the Agent's routing
// headers.
func TestOAuth(t *testing.T) {
	ctx := context.Background()
	const did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
	f := newFake(t)
	f.on("app.bsky.actor.getProfile", ok(profileJSON))

	// A session as oauthtransport stores it after a login (its stored form:
	// this test breaks, loudly, if that form changes).
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := jose.JSONWebKey{Key: priv, Algorithm: string(jose.ES256)}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(map[string]any{
		"sub": did, "iss": "https://auth.example.com", "aud": f.srv.URL, "dpopJwk": json.RawMessage(jwk),
		"authMethod": map[string]string{"method": "none"}, "access_token": "access-token", "refresh_token": "refresh-token",
		"scope": "atproto transition:generic", "expires_at": time.Now().Add(time.Hour),
	})
	sessions := memstore.New()
	if err := sessions.Set(ctx, "oauth-session:"+did, rec, 0); err != nil {
		t.Fatal(err)
	}
	client, err := oauthtransport.NewClient(oauthtransport.Config{
		Metadata:     oauthtransport.ClientMetadata{ClientID: "http://localhost"},
		StateStore:   memstore.New(),
		SessionStore: sessions,
		HTTPClient:   f.srv.Client(),
		AllowHTTP:    true, AllowPrivateNetworks: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := client.Restore(ctx, did)
	if err != nil {
		t.Fatal(err)
	}

	a := NewAgent(OAuth(sess))
	if a.DID() != did || a.Service() != f.srv.URL {
		t.Errorf("DID, Service = %q, %q", a.DID(), a.Service())
	}
	if _, err := a.GetProfile(ctx, "bob.test"); err != nil {
		t.Fatal(err)
	}
	c := f.takeOne()
	if got := c.Header.Get("Authorization"); got != "DPoP access-token" {
		t.Errorf("Authorization = %q", got)
	}
	if parts := strings.Split(c.Header.Get("DPoP"), "."); len(parts) != 3 {
		t.Errorf("DPoP proof = %q", c.Header.Get("DPoP"))
	}
	if c.Header.Get("Atproto-Proxy") != BskyAppViewProxy || c.Header.Get("Atproto-Accept-Labelers") == "" {
		t.Errorf("routing headers = %v", c.Header)
	}
}
