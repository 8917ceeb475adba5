package oauthtransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Size caps on response bodies.
const (
	maxMetadataSize = 64 << 10 // metadata documents, DID documents, token responses
	maxSmallSize    = 4 << 10  // handle well-known answers
	maxErrorSize    = 16 << 10 // error bodies
)

// fetcher makes every request the client sends on its own behalf (identity,
// metadata, PAR, token, revocation): it refuses redirects, caps response
// sizes, bounds each request with a timeout, and, unless development mode
// allows them, refuses plain http and non-public addresses.
type fetcher struct {
	client       *http.Client // CheckRedirect refuses every redirect
	allowHTTP    bool
	allowPrivate bool
	timeout      time.Duration
	userAgent    string
}

func newFetcher(base *http.Client, allowHTTP, allowPrivate bool, timeout time.Duration, ua string) *fetcher {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	if c.Transport == nil {
		c.Transport = guardedTransport(allowPrivate)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return ErrRedirectRefused }
	c.Timeout = 0 // per request, through the context
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &fetcher{client: c, allowHTTP: allowHTTP, allowPrivate: allowPrivate, timeout: timeout, userAgent: ua}
}

// guardedTransport is a transport whose dialer refuses non-public addresses
// (checked on the address actually connected to, so DNS rebinding does not
// get around it). It uses no proxy: a proxy would hide the destination.
func guardedTransport(allowPrivate bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
			}
			if !isPublicAddr(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
			}
			return nil
		}
	}
	t.DialContext = d.DialContext
	t.MaxResponseHeaderBytes = 64 << 10
	return t
}

// isPublicAddr reports whether a is a global unicast address that is not
// private, loopback, link-local, multicast, unspecified or otherwise
// reserved for local use.
func isPublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() ||
		a.IsUnspecified() || !a.IsGlobalUnicast() {
		return false
	}
	for _, p := range reservedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var reservedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4 (embeds IPv4)
	netip.MustParsePrefix("fc00::/7"),        // unique local
}

// checkURL applies the scheme and literal-address rules to a URL before any
// request is made.
func (f *fetcher) checkURL(u *url.URL) error {
	switch u.Scheme {
	case "https":
	case "http":
		if !f.allowHTTP {
			return fmt.Errorf("%w: plain http URL %s (development mode only)", ErrForbiddenAddress, u.Redacted())
		}
	default:
		return fmt.Errorf("%w: scheme of %s", ErrForbiddenAddress, u.Redacted())
	}
	if u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, u.Redacted())
	}
	if !f.allowPrivate {
		h := u.Hostname()
		if a, err := netip.ParseAddr(h); err == nil && !isPublicAddr(a) {
			return fmt.Errorf("%w: %s", ErrForbiddenAddress, h)
		}
		if lh := strings.ToLower(strings.TrimSuffix(h, ".")); lh == "localhost" || strings.HasSuffix(lh, ".localhost") {
			return fmt.Errorf("%w: %s", ErrForbiddenAddress, h)
		}
	}
	return nil
}

// do sends req and reads at most limit bytes of the body; a longer body is
// ErrResponseTooLarge. The body is always closed.
func (f *fetcher) do(req *http.Request, limit int64) (*http.Response, []byte, error) {
	if err := f.checkURL(req.URL); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(req.Context(), f.timeout)
	defer cancel()
	req = req.WithContext(ctx)
	if f.userAgent != "" && req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", f.userAgent)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(body)) > limit {
		return nil, nil, fmt.Errorf("%w: %s over %d bytes", ErrResponseTooLarge, req.URL.Redacted(), limit)
	}
	return resp, body, nil
}

// errStatus is an unexpected HTTP status.
type errStatus struct {
	url    string
	status int
}

func (e *errStatus) Error() string {
	return fmt.Sprintf("oauthtransport: %s answered HTTP %d", e.url, e.status)
}

// get fetches rawURL and requires status 200 and, when jsonOnly, a JSON
// content type.
func (f *fetcher) get(ctx context.Context, rawURL string, limit int64, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, body, err := f.do(req, limit)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &errStatus{url: req.URL.Redacted(), status: resp.StatusCode}
	}
	if strings.Contains(accept, "json") && !isJSON(resp.Header.Get("Content-Type")) {
		return nil, fmt.Errorf("oauthtransport: %s: content type %q is not JSON", req.URL.Redacted(), resp.Header.Get("Content-Type"))
	}
	return body, nil
}

// isJSON reports whether a Content-Type is application/json or a +json type.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// isStatus reports whether err is an unexpected-status error with code.
func isStatus(err error, code int) bool {
	var s *errStatus
	return errors.As(err, &s) && s.status == code
}
