package oauthtransport

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Key is an ES256 (ECDSA P-256) private key with a key id, used to sign
// private_key_jwt client assertions. atproto requires ES256 for client
// authentication, so other key types are refused. A Key is immutable and
// safe for concurrent use.
type Key struct {
	priv *ecdsa.PrivateKey
	kid  string
	// header is the base64url JWS protected header of client assertions.
	header string
}

// GenerateKey creates a new random ES256 key. An empty kid is replaced by the
// key's RFC 7638 thumbprint.
func GenerateKey(kid string) (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return newKey(priv, kid)
}

// ParseKey imports a private key from a PKCS#8 PEM block ("-----BEGIN PRIVATE
// KEY-----") or a JWK JSON object, which is the form keys usually take in
// environment variables (PRIVATE_KEY_1, ...). kid names the key; if it is
// empty the JWK's own "kid" is used, and failing that the key's RFC 7638
// thumbprint. A JWK "kid" that differs from a non-empty kid is an error.
func ParseKey(data, kid string) (*Key, error) {
	s := strings.TrimSpace(data)
	switch {
	case strings.HasPrefix(s, "-----BEGIN"):
		return parsePEMKey([]byte(s), kid)
	case strings.HasPrefix(s, "{"):
		return ParseJWK([]byte(s), kid)
	}
	return nil, fmt.Errorf("%w: neither PEM nor JWK JSON", ErrInvalidKey)
}

func parsePEMKey(data []byte, kid string) (*Key, error) {
	block, rest := pem.Decode(data)
	if block == nil || len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fmt.Errorf("%w: want exactly one PEM block", ErrInvalidKey)
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: PEM type %q, want PKCS#8 \"PRIVATE KEY\"", ErrInvalidKey, block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not an ECDSA key (atproto requires ES256)", ErrInvalidKey, k)
	}
	return newKey(priv, kid)
}

// ParseJWK imports a private key from a JWK given as JSON ([]byte, string or
// json.RawMessage), a map such as a decoded JSON object, or a
// jose.JSONWebKey. kid works as in [ParseKey].
func ParseJWK(jwk any, kid string) (*Key, error) {
	var raw []byte
	switch v := jwk.(type) {
	case []byte:
		raw = v
	case json.RawMessage:
		raw = v
	case string:
		raw = []byte(v)
	case jose.JSONWebKey:
		return keyFromJOSE(&v, kid)
	case *jose.JSONWebKey:
		return keyFromJOSE(v, kid)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
		raw = b
	}
	var j jose.JSONWebKey
	if err := j.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return keyFromJOSE(&j, kid)
}

func keyFromJOSE(j *jose.JSONWebKey, kid string) (*Key, error) {
	priv, ok := j.Key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: JWK is not an ECDSA private key (%T)", ErrInvalidKey, j.Key)
	}
	if j.Algorithm != "" && j.Algorithm != string(jose.ES256) {
		return nil, fmt.Errorf("%w: JWK alg %q, want ES256", ErrInvalidKey, j.Algorithm)
	}
	if kid != "" && j.KeyID != "" && kid != j.KeyID {
		return nil, fmt.Errorf("%w: kid %q given for a JWK whose kid is %q", ErrInvalidKey, kid, j.KeyID)
	}
	if kid == "" {
		kid = j.KeyID
	}
	return newKey(priv, kid)
}

func newKey(priv *ecdsa.PrivateKey, kid string) (*Key, error) {
	if priv == nil || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: want a P-256 key (ES256)", ErrInvalidKey)
	}
	if kid == "" {
		kid = thumbprint(&priv.PublicKey)
	}
	h, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}{"ES256", kid})
	return &Key{priv: priv, kid: kid, header: b64(h)}, nil
}

// KeyID returns the key's kid.
func (k *Key) KeyID() string { return k.kid }

// PublicJWK returns the public half of the key as a JWK with kid, alg ES256
// and use "sig".
func (k *Key) PublicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.ES256), Use: "sig"}
}

// Keyset is an ordered set of client keys with distinct kids. The first key
// signs new logins; the others stay usable for the sessions bound to them,
// which is how keys are rotated: publish the new key in second place first
// and wait at least as long as authorization servers cache client JWKS (the
// reference server: 10 minutes, and it does not re-fetch for an unknown kid,
// so new logins signed with an unpublished key fail until then); then put it
// first, and keep the old one until its sessions have ended. The zero Keyset
// is empty (a public client).
type Keyset struct {
	keys []*Key
}

// NewKeyset returns a keyset of keys, in order of preference. Duplicate kids
// and nil keys are errors.
func NewKeyset(keys ...*Key) (*Keyset, error) {
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		if k == nil {
			return nil, fmt.Errorf("%w: key %d is nil", ErrInvalidKey, i)
		}
		if seen[k.kid] {
			return nil, fmt.Errorf("%w: duplicate kid %q", ErrInvalidKey, k.kid)
		}
		seen[k.kid] = true
	}
	return &Keyset{keys: append([]*Key(nil), keys...)}, nil
}

// Len returns the number of keys.
func (ks *Keyset) Len() int {
	if ks == nil {
		return 0
	}
	return len(ks.keys)
}

// Key returns the key with the given kid.
func (ks *Keyset) Key(kid string) (*Key, bool) {
	if ks == nil {
		return nil, false
	}
	for _, k := range ks.keys {
		if k.kid == kid {
			return k, true
		}
	}
	return nil, false
}

// first returns the preferred signing key.
func (ks *Keyset) first() *Key {
	if ks.Len() == 0 {
		return nil
	}
	return ks.keys[0]
}

// PublicJWKS returns the public keys as a JWK Set; it never contains private
// key material.
func (ks *Keyset) PublicJWKS() jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	if ks == nil {
		return set
	}
	for _, k := range ks.keys {
		set.Keys = append(set.Keys, k.PublicJWK())
	}
	return set
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of a P-256 public key.
func thumbprint(pub *ecdsa.PublicKey) string {
	j := jose.JSONWebKey{Key: pub}
	t, err := j.Thumbprint(crypto.SHA256)
	if err != nil { // cannot happen for a valid P-256 key
		panic(err)
	}
	return b64(t)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// signES256 returns the compact JWS header.payload.signature, where header is
// already base64url encoded.
func signES256(priv *ecdsa.PrivateKey, header string, payload []byte) (string, error) {
	n := len(header) + 1 + base64.RawURLEncoding.EncodedLen(len(payload))
	buf := make([]byte, 0, n+1+86)
	buf = append(buf, header...)
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, payload)
	digest := sha256.Sum256(buf)
	der, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		return "", err
	}
	var sig [64]byte
	if !derToRaw(der, sig[:]) {
		return "", errors.New("oauthtransport: malformed ECDSA signature")
	}
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, sig[:])
	return string(buf), nil
}

// randomString returns n CSPRNG bytes, base64url encoded.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand.Read never fails since Go 1.24
	}
	return b64(b)
}

// marshalPrivateJWK serialises a DPoP key for the state and session stores.
func marshalPrivateJWK(priv *ecdsa.PrivateKey) (json.RawMessage, error) {
	return jose.JSONWebKey{Key: priv, Algorithm: string(jose.ES256)}.MarshalJSON()
}

// unmarshalPrivateJWK is the inverse of marshalPrivateJWK.
func unmarshalPrivateJWK(raw json.RawMessage) (*ecdsa.PrivateKey, error) {
	var j jose.JSONWebKey
	if err := j.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("%w: stored DPoP key: %v", ErrInvalidKey, err)
	}
	priv, ok := j.Key.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: stored DPoP key is not a P-256 private key", ErrInvalidKey)
	}
	return priv, nil
}

// clientAssertionType is the RFC 7523 client_assertion_type.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// clientAssertion returns a private_key_jwt client assertion (RFC 7523 §3):
// iss = sub = the client_id, aud = the authorization server's issuer, a
// random jti, iat, exp one minute later, and the key's kid in the header.
func (k *Key) clientAssertion(clientID, issuer string, now time.Time) (string, error) {
	payload, err := json.Marshal(struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		JTI string `json:"jti"`
		IAT int64  `json:"iat"`
		Exp int64  `json:"exp"`
	}{clientID, clientID, issuer, randomString(16), now.Unix(), now.Add(time.Minute).Unix()})
	if err != nil {
		return "", err
	}
	return signES256(k.priv, k.header, payload)
}

// derToRaw converts an ASN.1 ECDSA signature, SEQUENCE { INTEGER r,
// INTEGER s }, to the fixed-size r||s form of JWS (RFC 7518 §3.4).
func derToRaw(der []byte, out []byte) bool {
	if len(der) < 2 || der[0] != 0x30 || int(der[1]) != len(der)-2 || der[1] >= 0x80 {
		return false
	}
	rest := der[2:]
	size := len(out) / 2
	for i := range 2 {
		if len(rest) < 2 || rest[0] != 0x02 || int(rest[1]) > len(rest)-2 || rest[1] >= 0x80 {
			return false
		}
		n := rest[2 : 2+int(rest[1])]
		rest = rest[2+int(rest[1]):]
		for len(n) > 0 && n[0] == 0 {
			n = n[1:]
		}
		if len(n) > size {
			return false
		}
		copy(out[i*size+size-len(n):(i+1)*size], n)
	}
	return len(rest) == 0
}
