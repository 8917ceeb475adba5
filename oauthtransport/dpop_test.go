package oauthtransport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// verifyJWS checks a compact JWS with go-jose (an independent
// implementation) and returns its header and claims.
func verifyJWS(t *testing.T, token string, key any) (jose.Header, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse %q: %v", token, err)
	}
	h := jws.Signatures[0].Protected
	if key == nil {
		if h.JSONWebKey == nil {
			t.Fatal("no jwk header")
		}
		key = h.JSONWebKey
	}
	payload, err := jws.Verify(key)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return h, claims
}

func TestDPoPProof(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k := newDPoPKey(priv)
	now := time.Unix(1700000000, 0)
	p1, err := k.proof("POST", "https://pds.example/xrpc/x", "n1", "tok", now)
	if err != nil {
		t.Fatal(err)
	}
	h, c := verifyJWS(t, p1, nil)
	if h.ExtraHeaders["typ"] != "dpop+jwt" || h.Algorithm != "ES256" {
		t.Fatalf("header %+v", h)
	}
	if !h.JSONWebKey.IsPublic() {
		t.Fatal("jwk header is not a public key")
	}
	// The embedded key is the DPoP key's public key, and nothing private.
	var raw map[string]any
	hb, _ := json.Marshal(h.JSONWebKey)
	_ = json.Unmarshal(hb, &raw)
	if _, ok := raw["d"]; ok {
		t.Fatal("private key in proof header")
	}
	if !h.JSONWebKey.Key.(*ecdsa.PublicKey).Equal(&priv.PublicKey) {
		t.Fatal("jwk is not the DPoP key")
	}
	sum := sha256.Sum256([]byte("tok"))
	want := map[string]any{"htm": "POST", "htu": "https://pds.example/xrpc/x", "iat": float64(1700000000), "nonce": "n1", "ath": b64(sum[:]), "jti": c["jti"]}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("claims %v, want %v", c, want)
	}
	if jti, _ := c["jti"].(string); len(jti) < 22 {
		t.Fatalf("jti %q too short for 128 random bits", jti)
	}
	// No ath without a token, no nonce when unknown, and a fresh jti.
	p2, _ := k.proof("GET", "https://as.example/par", "", "", now)
	_, c2 := verifyJWS(t, p2, nil)
	for _, absent := range []string{"ath", "nonce", "iss", "exp"} {
		if _, ok := c2[absent]; ok {
			t.Errorf("claim %s present: %v", absent, c2)
		}
	}
	if c2["jti"] == c["jti"] {
		t.Fatal("jti reused")
	}
}

func TestNormalizeHTU(t *testing.T) {
	cases := map[string]string{
		"https://PDS.Example:443/xrpc/a?x=1#f":   "https://pds.example/xrpc/a",
		"http://user:pw@localhost:80/p":          "http://localhost/p",
		"HTTP://localhost:2583/oauth/par":        "http://localhost:2583/oauth/par",
		"https://host":                           "https://host/",
		"https://[::1]:8443/a%2Fb":               "https://[::1]:8443/a%2Fb",
		"https://host/xrpc/com.x.y?cursor=a%20b": "https://host/xrpc/com.x.y",
	}
	for in, want := range cases {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := normalizeHTU(u); got != want {
			t.Errorf("normalizeHTU(%q) = %q, want %q", in, got, want)
		}
	}
	u, _ := url.Parse("https://[::1]:443/x")
	if got := origin(u); got != "https://[::1]" {
		t.Errorf("origin = %q", got)
	}
	u, _ = url.Parse("http://LOCALHOST:2583/x?y")
	if got := origin(u); got != "http://localhost:2583" {
		t.Errorf("origin = %q", got)
	}
}

func TestNonceCache(t *testing.T) {
	now := time.Unix(0, 0)
	c := &nonceCache{now: func() time.Time { return now }}
	c.set("https://a", "n1")
	c.set("https://b", "")
	if c.get("https://a") != "n1" || c.get("https://b") != "" {
		t.Fatal("get/set")
	}
	c.set("https://a", "n2")
	if c.get("https://a") != "n2" {
		t.Fatal("rotation not stored")
	}
	now = now.Add(nonceTTL + time.Second)
	if c.get("https://a") != "" {
		t.Fatal("expired nonce returned")
	}
	for i := range nonceCacheSize + 10 {
		c.set("https://h"+string(rune('a'+i%26))+string(rune('a'+i/26)), "n")
	}
	if len(c.m) > nonceCacheSize {
		t.Fatalf("cache grew to %d", len(c.m))
	}
}

func TestParseChallenges(t *testing.T) {
	h := http.Header{}
	h.Add("WWW-Authenticate", `Bearer realm="x", error="invalid_token", DPoP algs="ES256 ES256K", error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
	h.Add("WWW-Authenticate", `Negotiate abc123==, Basic realm="a \"q\""`)
	got := ParseChallenges(h)
	want := []Challenge{
		{Scheme: "Bearer", Params: map[string]string{"realm": "x", "error": "invalid_token"}},
		{Scheme: "DPoP", Params: map[string]string{"algs": "ES256 ES256K", "error": "use_dpop_nonce", "error_description": "Resource server requires nonce in DPoP proof"}},
		{Scheme: "Negotiate", Token68: "abc123==", Params: map[string]string{}},
		{Scheme: "Basic", Params: map[string]string{"realm": `a "q"`}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
	if e := challengeError(h, "dpop"); e != "use_dpop_nonce" {
		t.Fatalf("DPoP error = %q", e)
	}
	// A substring match would be fooled by this: the error is in a
	// description, not in the error parameter.
	h2 := http.Header{"Www-Authenticate": {`DPoP error="invalid_token", error_description="not use_dpop_nonce"`}}
	if e := challengeError(h2, "DPoP"); e != "invalid_token" {
		t.Fatalf("error = %q", e)
	}
	// Unquoted token values and case-insensitive parameter names.
	h3 := http.Header{"Www-Authenticate": {`dpop ERROR=use_dpop_nonce`}}
	if e := challengeError(h3, "DPoP"); e != "use_dpop_nonce" {
		t.Fatalf("error = %q", e)
	}
}

func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`DPoP error="use_dpop_nonce", error_description="x"`,
		`Bearer realm="a", DPoP algs="ES256"`,
		`Negotiate abc==, Basic realm="\"`,
		`, ,DPoP`, `a b c=d`, `"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range parseChallenges(s) {
			if c.Scheme == "" {
				t.Fatalf("empty scheme from %q", s)
			}
		}
	})
}
