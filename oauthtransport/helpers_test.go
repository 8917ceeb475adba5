package oauthtransport

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
)

// routedClient returns an http.Client that trusts srv's certificate and
// connects to srv whatever host a URL names, so tests can use public-looking
// https URLs.
func routedClient(srv *httptest.Server) *http.Client {
	c := srv.Client()
	tr := c.Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	tr.DialTLSContext = nil
	c.Transport = tr
	return c
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
