package oauthtransport

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

func TestDiscovery(t *testing.T) {
	f := newFakeNet(t)
	c, _, _, _ := f.newClient()
	ctx := context.Background()
	m, err := c.pdsIssuer(ctx, f.pds.URL)
	if err != nil {
		t.Fatal(err)
	}
	if m.Issuer != f.as.URL || m.PushedAuthorizationRequestEndpoint != f.as.URL+"/oauth/par" {
		t.Fatalf("metadata %+v", m)
	}
}

func TestDiscoveryRejects(t *testing.T) {
	type tc struct {
		pr   func(f *fakeNet, m map[string]any)
		as   func(f *fakeNet, m map[string]any)
		want error
	}
	cases := map[string]tc{
		// §2.2 #20, #21
		"resource mismatch": {pr: func(f *fakeNet, m map[string]any) { m["resource"] = f.as.URL }, want: ErrInvalidServerMetadata},
		"no AS":             {pr: func(f *fakeNet, m map[string]any) { m["authorization_servers"] = []string{} }, want: ErrInvalidServerMetadata},
		"two AS": {pr: func(f *fakeNet, m map[string]any) {
			m["authorization_servers"] = []string{f.as.URL, "https://other.example.com"}
		}, want: ErrInvalidServerMetadata},
		// §2.2 #24
		"issuer trailing slash": {pr: func(f *fakeNet, m map[string]any) { m["authorization_servers"] = []string{f.as.URL + "/"} }, want: ErrInvalidServerMetadata},
		"issuer with path":      {pr: func(f *fakeNet, m map[string]any) { m["authorization_servers"] = []string{f.as.URL + "/as"} }, want: ErrInvalidServerMetadata},
		"issuer with query":     {pr: func(f *fakeNet, m map[string]any) { m["authorization_servers"] = []string{f.as.URL + "?x=1"} }, want: ErrInvalidServerMetadata},
		"issuer userinfo": {pr: func(f *fakeNet, m map[string]any) {
			m["authorization_servers"] = []string{"http://u@" + f.as.Listener.Addr().String()}
		}, want: ErrInvalidServerMetadata},
		// §2.2 #25: mix-up
		"issuer mismatch": {as: func(f *fakeNet, m map[string]any) { m["issuer"] = "https://evil.example.com" }, want: ErrIssuerMismatch},
		// §2.2 #26, #27 and the atproto capability checks
		"no CIMD":          {as: func(f *fakeNet, m map[string]any) { delete(m, "client_id_metadata_document_supported") }, want: ErrInvalidServerMetadata},
		"PAR not required": {as: func(f *fakeNet, m map[string]any) { m["require_pushed_authorization_requests"] = false }, want: ErrInvalidServerMetadata},
		"no PAR endpoint":  {as: func(f *fakeNet, m map[string]any) { delete(m, "pushed_authorization_request_endpoint") }, want: ErrInvalidServerMetadata},
		"no code":          {as: func(f *fakeNet, m map[string]any) { m["response_types_supported"] = []string{"token"} }, want: ErrInvalidServerMetadata},
		"no refresh grant": {as: func(f *fakeNet, m map[string]any) { m["grant_types_supported"] = []string{"authorization_code"} }, want: ErrInvalidServerMetadata},
		"no S256":          {as: func(f *fakeNet, m map[string]any) { m["code_challenge_methods_supported"] = []string{"plain"} }, want: ErrInvalidServerMetadata},
		"no DPoP ES256":    {as: func(f *fakeNet, m map[string]any) { m["dpop_signing_alg_values_supported"] = []string{"RS256"} }, want: ErrInvalidServerMetadata},
		"signing alg none": {as: func(f *fakeNet, m map[string]any) {
			m["token_endpoint_auth_signing_alg_values_supported"] = []string{"ES256", "none"}
		}, want: ErrInvalidServerMetadata},
		"no atproto scope":     {as: func(f *fakeNet, m map[string]any) { m["scopes_supported"] = []string{"openid"} }, want: ErrInvalidServerMetadata},
		"no iss parameter":     {as: func(f *fakeNet, m map[string]any) { m["authorization_response_iss_parameter_supported"] = false }, want: ErrInvalidServerMetadata},
		"javascript: endpoint": {as: func(f *fakeNet, m map[string]any) { m["authorization_endpoint"] = "javascript:alert(1)" }, want: ErrInvalidServerMetadata},
		"no token endpoint":    {as: func(f *fakeNet, m map[string]any) { delete(m, "token_endpoint") }, want: ErrInvalidServerMetadata},
		// §2.2 #22
		"PDS not a protected resource": {as: func(f *fakeNet, m map[string]any) { m["protected_resources"] = []string{"https://other.example.com"} }, want: ErrInvalidServerMetadata},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeNet(t)
			if tc.pr != nil {
				f.prMeta = func(m map[string]any) { tc.pr(f, m) }
			}
			if tc.as != nil {
				f.asMeta = func(m map[string]any) { tc.as(f, m) }
			}
			c, _, _, _ := f.newClient()
			if _, err := c.pdsIssuer(context.Background(), f.pds.URL); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDiscoveryTransport(t *testing.T) {
	ctx := context.Background()
	// §2.2 #18: redirects are not followed.
	f := newFakeNet(t)
	f.redirects = true
	c, _, _, _ := f.newClient()
	if _, err := c.pdsIssuer(ctx, f.pds.URL); !errors.Is(err, ErrRedirectRefused) {
		t.Fatalf("redirect: %v", err)
	}
	// §2.2 #23: http PDS or issuer without development mode.
	f = newFakeNet(t)
	c, _, _, _ = f.newClient(func(cfg *Config) { cfg.AllowHTTP = false })
	if _, err := c.pdsIssuer(ctx, f.pds.URL); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("http PDS: %v", err)
	}
	if _, err := c.fetchAuthServerMetadata(ctx, f.as.URL); !errors.Is(err, ErrInvalidServerMetadata) {
		t.Fatalf("http issuer: %v", err)
	}
	// §2.2 #19, #28: non-JSON and non-200.
	f = newFakeNet(t)
	c, _, _, _ = f.newClient()
	f.setPDSHook(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`{"resource":"` + f.pds.URL + `","authorization_servers":["` + f.as.URL + `"]}`))
		return true
	})
	if _, err := c.pdsIssuer(ctx, f.pds.URL); err == nil {
		t.Fatal("text/html protected-resource metadata accepted")
	}
	f.setPDSHook(func(w http.ResponseWriter, r *http.Request) bool { http.NotFound(w, r); return true })
	if _, err := c.pdsIssuer(ctx, f.pds.URL); !isStatus(err, 404) {
		t.Fatalf("404: %v", err)
	}
}

func FuzzAuthServerMetadata(f *testing.F) {
	f.Add([]byte(`{"issuer":"https://as.example.com","authorization_endpoint":"https://as.example.com/a","token_endpoint":"https://as.example.com/t","pushed_authorization_request_endpoint":"https://as.example.com/p","require_pushed_authorization_requests":true,"response_types_supported":["code"],"grant_types_supported":["authorization_code","refresh_token"],"code_challenge_methods_supported":["S256"],"scopes_supported":["atproto"],"dpop_signing_alg_values_supported":["ES256"],"authorization_response_iss_parameter_supported":true,"client_id_metadata_document_supported":true}`))
	f.Add([]byte(`{"issuer":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseAuthServerMetadata(data)
		if err != nil {
			return
		}
		if err := m.validate("https://as.example.com", false); err == nil {
			if m.Issuer != "https://as.example.com" || !m.RequirePushedAuthorizationRequests || m.PushedAuthorizationRequestEndpoint == "" {
				t.Fatalf("accepted invalid metadata %+v", m)
			}
		}
	})
}
