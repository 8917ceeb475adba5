package oauthtransport

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// dpopKey is a DPoP key pair with its precomputed proof header.
type dpopKey struct {
	priv   *ecdsa.PrivateKey
	header string // base64url {"alg":"ES256","typ":"dpop+jwt","jwk":{public}}
}

func newDPoPKey(priv *ecdsa.PrivateKey) *dpopKey {
	pub := priv.PublicKey
	x, y := make([]byte, 32), make([]byte, 32)
	// PublicKey.Bytes gives the uncompressed point 0x04||X||Y.
	raw, err := pub.Bytes()
	if err != nil { // cannot happen for a P-256 key
		panic(err)
	}
	copy(x, raw[1:33])
	copy(y, raw[33:65])
	type jwk struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}
	h, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		JWK jwk    `json:"jwk"`
	}{"ES256", "dpop+jwt", jwk{"P-256", "EC", b64(x), b64(y)}})
	return &dpopKey{priv: priv, header: b64(h)}
}

// dpopClaims are the claims of a DPoP proof (RFC 9449 §4.2). There is no
// iss and no exp: atproto servers neither need nor want them.
type dpopClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	Nonce string `json:"nonce,omitempty"`
	ATH   string `json:"ath,omitempty"`
}

// proof returns a DPoP proof for a request. htu must already be normalised
// (see normalizeHTU). accessToken is set for resource requests and yields
// the ath claim.
func (k *dpopKey) proof(method, htu, nonce, accessToken string, now time.Time) (string, error) {
	c := dpopClaims{JTI: randomString(16), HTM: method, HTU: htu, IAT: now.Unix(), Nonce: nonce}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c.ATH = b64(sum[:])
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return signES256(k.priv, k.header, payload)
}

// normalizeHTU returns the htu of a request URL (RFC 9449 §4.2, §4.3): no
// query, fragment or userinfo, lowercase scheme and host, no default port.
func normalizeHTU(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// origin returns scheme://host[:port] of u, normalised like normalizeHTU.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		return scheme + "://" + net.JoinHostPort(host, port)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host
}

// nonceCache remembers the last DPoP nonce of each origin. It is shared by
// every session of a client (nonces belong to servers, not sessions), bounded,
// and entries expire: servers rotate nonces every few minutes anyway.
type nonceCache struct {
	mu  sync.Mutex
	m   map[string]nonceEntry
	now func() time.Time
}

type nonceEntry struct {
	nonce string
	at    time.Time
}

const (
	nonceTTL       = 3 * time.Minute
	nonceCacheSize = 256
)

func (c *nonceCache) get(origin string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[origin]
	if !ok || c.now().Sub(e.at) > nonceTTL {
		return ""
	}
	return e.nonce
}

func (c *nonceCache) set(origin, nonce string) {
	if nonce == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]nonceEntry)
	}
	if _, ok := c.m[origin]; !ok && len(c.m) >= nonceCacheSize {
		// Evict the oldest entry.
		var oldest string
		var at time.Time
		for k, e := range c.m {
			if oldest == "" || e.at.Before(at) {
				oldest, at = k, e.at
			}
		}
		delete(c.m, oldest)
	}
	c.m[origin] = nonceEntry{nonce: nonce, at: c.now()}
}
