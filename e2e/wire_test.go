package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atpgo/atp/oauthtransport"
)

// loopbackTransport returns an http.Transport that connects to 127.0.0.1
// only: "localhost" is dialled as 127.0.0.1 and any other name or address
// is refused, so no test can send anything off this machine.
func loopbackTransport() *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if strings.EqualFold(host, "localhost") {
				host = "127.0.0.1"
			}
			ip := net.ParseIP(host)
			if ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("e2e: refusing to dial %s: the tests talk to loopback only", addr)
			}
			return d.DialContext(ctx, "tcp4", net.JoinHostPort(host, port))
		},
		MaxIdleConnsPerHost: 64,
		ForceAttemptHTTP2:   false,
		DisableCompression:  false,
	}
}

// exchange is one HTTP exchange seen on the wire.
type exchange struct {
	Method    string
	URL       *url.URL
	Grant     string // grant_type of a token request
	Refresh   string // hash of the refresh_token sent, if any
	Assertion string // client_assertion_type of a token, PAR or revocation request
	KID       string // the kid in the client assertion's header
	Status    int
	Challenge string // the WWW-Authenticate error code of a 401, if any
	OAuthErr  string // the "error" of an authorization server's 4xx JSON answer
	Proxy     string // the atproto-proxy header sent
	Err       error
}

func (e exchange) String() string {
	s := fmt.Sprintf("%s %s -> %d", e.Method, e.URL.Path, e.Status)
	if e.Grant != "" {
		s += " grant=" + e.Grant
	}
	if e.Challenge != "" {
		s += " challenge=" + e.Challenge
	}
	if e.OAuthErr != "" {
		s += " error=" + e.OAuthErr
	}
	if e.Err != nil {
		s += " err=" + e.Err.Error()
	}
	return s
}

// wire records every request a client sends (to the authorization server
// and, through session transports, to the PDS) and forwards it over a
// loopback-only transport.
type wire struct {
	base http.RoundTripper
	mu   sync.Mutex
	log  []exchange
	// hook, when set, runs before a request is sent (tests use it to hold
	// token requests).
	hook atomic.Pointer[func(*http.Request)]
}

func newWire() *wire { return &wire{base: loopbackTransport()} }

// client returns the *http.Client to put in oauthtransport.Config.
func (w *wire) client() *http.Client { return &http.Client{Transport: w} }

func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := exchange{Method: req.Method, URL: req.URL, Proxy: req.Header.Get("Atproto-Proxy")}
	if req.Method == http.MethodPost && strings.HasPrefix(req.URL.Path, "/oauth/") && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		form, _ := url.ParseQuery(string(body))
		ex.Grant = form.Get("grant_type")
		ex.Assertion = form.Get("client_assertion_type")
		if a := form.Get("client_assertion"); a != "" {
			if h, _, ok := strings.Cut(a, "."); ok {
				if raw, err := base64.RawURLEncoding.DecodeString(h); err == nil {
					var hdr struct {
						KID string `json:"kid"`
					}
					if json.Unmarshal(raw, &hdr) == nil {
						ex.KID = hdr.KID
					}
				}
			}
		}
		if rt := form.Get("refresh_token"); rt != "" {
			sum := sha256.Sum256([]byte(rt))
			ex.Refresh = hex.EncodeToString(sum[:8])
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	if h := w.hook.Load(); h != nil {
		(*h)(req)
	}
	resp, err := w.base.RoundTrip(req)
	if err != nil {
		ex.Err = err
	} else {
		ex.Status = resp.StatusCode
		if resp.StatusCode/100 == 4 && strings.HasPrefix(req.URL.Path, "/oauth/") {
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(body))
			if rerr == nil {
				var oe struct {
					Error string `json:"error"`
				}
				if json.Unmarshal(body, &oe) == nil {
					ex.OAuthErr = oe.Error
				}
			}
		}
		if resp.StatusCode == http.StatusUnauthorized {
			for _, c := range oauthtransport.ParseChallenges(resp.Header) {
				if e := c.Params["error"]; e != "" {
					ex.Challenge = e
				}
			}
		}
	}
	w.mu.Lock()
	w.log = append(w.log, ex)
	w.mu.Unlock()
	return resp, err
}

// mark returns a position in the log, for since.
func (w *wire) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.log)
}

// since returns the exchanges recorded after mark m.
func (w *wire) since(m int) []exchange {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]exchange(nil), w.log[m:]...)
}

// refreshes returns the refresh-token grants among exs, leaving out the
// requests the server turned away for a DPoP nonce before looking at the
// grant (the client then sends the same request again, with the nonce, as
// RFC 9449 has it).
func refreshes(exs []exchange) []exchange {
	var out []exchange
	for _, e := range exs {
		if e.Grant == "refresh_token" && e.OAuthErr != "use_dpop_nonce" {
			out = append(out, e)
		}
	}
	return out
}

// replayedRefreshTokens returns the refresh tokens (hashed) sent more than
// once in exs (not counting a request repeated for a DPoP nonce).
func replayedRefreshTokens(exs []exchange) []string {
	seen := map[string]int{}
	var out []string
	for _, e := range refreshes(exs) {
		if e.Refresh == "" {
			continue
		}
		seen[e.Refresh]++
		if seen[e.Refresh] == 2 {
			out = append(out, e.Refresh)
		}
	}
	return out
}

// clock is a client clock that tests can move: Now is the real time plus
// an offset. The authorization server accepts DPoP proofs whose iat is up
// to three minutes off, so offsets of a minute or so only change when the
// client believes its tokens expire.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time           { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) set(offset time.Duration) { c.off.Store(int64(offset)) }
