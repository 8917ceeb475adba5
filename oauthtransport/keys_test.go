package oauthtransport

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func pemOf(t *testing.T, k any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestParseKeyForms(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p := pemOf(t, priv)

	k, err := ParseKey(p, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if k.KeyID() != "k1" || !k.priv.Equal(priv) {
		t.Fatalf("PEM import: kid %q", k.KeyID())
	}
	// Without a kid, the thumbprint is the kid.
	k2, err := ParseKey("\n"+p, "")
	if err != nil {
		t.Fatal(err)
	}
	if k2.KeyID() != thumbprint(&priv.PublicKey) {
		t.Fatalf("kid %q, want thumbprint", k2.KeyID())
	}

	jwkJSON, _ := json.Marshal(jose.JSONWebKey{Key: priv, KeyID: "jk", Algorithm: "ES256"})
	k3, err := ParseKey(string(jwkJSON), "")
	if err != nil || k3.KeyID() != "jk" || !k3.priv.Equal(priv) {
		t.Fatalf("JWK string: %v %v", k3, err)
	}
	var obj map[string]any
	_ = json.Unmarshal(jwkJSON, &obj)
	k4, err := ParseJWK(obj, "")
	if err != nil || k4.KeyID() != "jk" {
		t.Fatalf("JWK object: %v", err)
	}
	if _, err := ParseJWK(obj, "other"); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("conflicting kid: %v", err)
	}
}

func TestParseKeyRejects(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubJWK, _ := json.Marshal(jose.JSONWebKey{Key: &p256.PublicKey})
	es384JWK, _ := json.Marshal(jose.JSONWebKey{Key: p256, Algorithm: "ES384"})
	ecDER, _ := x509.MarshalECPrivateKey(p256)
	cases := map[string]string{
		"P-384":        pemOf(t, p384),
		"Ed25519":      pemOf(t, ed),
		"public JWK":   string(pubJWK),
		"alg ES384":    string(es384JWK),
		"SEC1 PEM":     string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})),
		"garbage":      "hello",
		"two PEMs":     pemOf(t, p256) + pemOf(t, p256),
		"broken JSON":  "{",
		"broken PKCS8": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	}
	for name, in := range cases {
		if _, err := ParseKey(in, "x"); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: err = %v, want ErrInvalidKey", name, err)
		}
	}
}

func TestKeysetDuplicateKid(t *testing.T) {
	a, _ := GenerateKey("same")
	b, _ := GenerateKey("same")
	if _, err := NewKeyset(a, b); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("duplicate kid accepted: %v", err)
	}
	if _, err := NewKeyset(a, nil); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("nil key accepted: %v", err)
	}
}

func TestKeysetPublicJWKSHasNoPrivateParts(t *testing.T) {
	a, _ := GenerateKey("a")
	b, _ := GenerateKey("b")
	ks, err := NewKeyset(a, b)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(ks.PublicJWKS())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), `"d"`) {
		t.Fatalf("private key in JWKS: %s", raw)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 || set.Keys[0].KeyID != "a" || set.Keys[1].KeyID != "b" || !set.Keys[0].IsPublic() {
		t.Fatalf("JWKS = %s", raw)
	}
	var empty *Keyset
	if raw, _ := json.Marshal(empty.PublicJWKS()); string(raw) != `{"keys":[]}` {
		t.Fatalf("empty JWKS = %s", raw)
	}
}

func TestPrivateJWKRoundTrip(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, err := marshalPrivateJWK(priv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := unmarshalPrivateJWK(raw)
	if err != nil || !got.Equal(priv) {
		t.Fatalf("round trip: %v", err)
	}
	pub, _ := json.Marshal(jose.JSONWebKey{Key: &priv.PublicKey})
	if _, err := unmarshalPrivateJWK(pub); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("public key accepted as DPoP key: %v", err)
	}
}

func TestClientAssertion(t *testing.T) {
	k, _ := GenerateKey("kid-1")
	now := time.Unix(1700000000, 0)
	a, err := k.clientAssertion("https://app.example/client-metadata.json", "https://as.example", now)
	if err != nil {
		t.Fatal(err)
	}
	h, c := verifyJWS(t, a, &k.priv.PublicKey)
	if h.KeyID != "kid-1" || h.Algorithm != "ES256" || h.JSONWebKey != nil {
		t.Fatalf("header %+v", h)
	}
	if c["iss"] != "https://app.example/client-metadata.json" || c["sub"] != c["iss"] ||
		c["aud"] != "https://as.example" || c["iat"] != float64(1700000000) || c["exp"] != float64(1700000060) {
		t.Fatalf("claims %v", c)
	}
	b, _ := k.clientAssertion("x", "y", now)
	_, c2 := verifyJWS(t, b, &k.priv.PublicKey)
	if jti, _ := c["jti"].(string); jti == "" || jti == c2["jti"] {
		t.Fatalf("jti %q not fresh", jti)
	}
}

func TestDERToRaw(t *testing.T) {
	// r = 1, s = 0x00ff (with a sign-padding zero) -> 32-byte big-endian halves.
	der := []byte{0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0xff}
	var out [64]byte
	if !derToRaw(der, out[:]) || out[31] != 1 || out[63] != 0xff || out[62] != 0 {
		t.Fatalf("derToRaw = %x", out)
	}
	for _, bad := range [][]byte{nil, {0x30, 0x00}, {0x31, 0x03, 0x02, 0x01, 0x01}, append([]byte{0x30, 0x25, 0x02, 0x21}, make([]byte, 35)...), {0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0xff, 0x00}} {
		if derToRaw(bad, out[:]) {
			t.Errorf("accepted %x", bad)
		}
	}
}
