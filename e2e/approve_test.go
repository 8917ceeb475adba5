package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// This file is a Go port of approve.mjs: it plays the person in front of
// the browser on the reference PDS's sign-in and consent pages, through the
// private JSON API that the provider's own web app (@atproto/oauth-provider-ui)
// uses, with the headers a browser sends:
//
//  1. GET  <authorization URL>  (Sec-Fetch-Site: none, Mode: navigate, Dest: document)
//     -> cookies dev-id, ses-id, csrf-token
//  2. POST /@atproto/oauth-provider/~api/sign-in {locale, username, password, remember}
//  3. POST /@atproto/oauth-provider/~api/consent {did[, scope]} with Authorization: Bearer <ephemeralToken>
//     (or POST .../~api/reject {} to deny)  -> {"url": <issuer>/oauth/authorize/redirect?...}
//  4. GET  that URL -> 303 Location: <redirect_uri>?state&iss&code (or &error=...)
//
// API calls carry Origin, Referer (the authorization URL), Sec-Fetch-Mode and
// Sec-Fetch-Site same-origin, and X-CSRF-Token equal to the csrf-token cookie.
// An authorization URL is good for one attempt: after any failure, start a
// new authorization.

const providerAPI = "/@atproto/oauth-provider/~api"

const browserUA = "Mozilla/5.0 (X11; Linux x86_64) atp-e2e-approve/1.0"

// approval is what the person does on the consent screen.
type approval struct {
	Username string // handle or email
	Password string
	Deny     bool   // press "Deny access" (without signing in)
	Scope    string // consent to this subset of the requested scope
	Remember bool   // "remember me" (device session) instead of the ephemeral token
	// Browser, when set, keeps the cookies across approvals, as one browser
	// would (a remembered device session allows a later silent sign-in).
	Browser *browserCookies
}

// browserCookies are one browser's cookies for the PDS.
type browserCookies struct {
	jar   map[string]string
	order []string
}

// approve completes the person's part of an authorization and returns the
// URL the PDS redirects the browser to (the client's redirect_uri with
// code, state and iss, or an error).
func approve(ctx context.Context, authURL string, a approval) (*url.URL, error) {
	au, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	origin := au.Scheme + "://" + au.Host
	hc := &http.Client{
		Transport: loopbackTransport(),
		Timeout:   30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	b := a.Browser
	if b == nil {
		b = &browserCookies{}
	}
	if b.jar == nil {
		b.jar = map[string]string{}
	}
	jar := b.jar
	absorb := func(resp *http.Response) {
		for _, c := range resp.Cookies() {
			if c.Value == "" || c.MaxAge < 0 {
				delete(jar, c.Name)
				continue
			}
			if _, ok := jar[c.Name]; !ok {
				b.order = append(b.order, c.Name)
			}
			jar[c.Name] = c.Value
		}
	}
	cookieHeader := func() string {
		var parts []string
		for _, k := range b.order {
			if v, ok := jar[k]; ok {
				parts = append(parts, k+"="+v)
			}
		}
		return strings.Join(parts, "; ")
	}
	get := func(u string, headers map[string]string) (*http.Response, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("User-Agent", browserUA)
		req.Header.Set("Accept", "text/html")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		if c := cookieHeader(); c != "" {
			req.Header.Set("Cookie", c)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		absorb(resp)
		return resp, body, err
	}

	// 1. The authorization page, as a top-level navigation.
	resp, page, err := get(authURL, map[string]string{
		"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document",
	})
	if err != nil {
		return nil, fmt.Errorf("approve: GET authorization page: %w", err)
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return resp.Location()
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("approve: authorization page: HTTP %d: %.300s", resp.StatusCode, page)
	}
	if jar["csrf-token"] == "" {
		return nil, fmt.Errorf("approve: the authorization page set no csrf-token cookie")
	}

	api := func(endpoint string, in any, bearer string) (map[string]any, error) {
		body, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, origin+providerAPI+endpoint, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		h := req.Header
		h.Set("User-Agent", browserUA)
		h.Set("Accept", "application/json")
		h.Set("Content-Type", "application/json")
		h.Set("Origin", origin)
		h.Set("Referer", authURL)
		h.Set("Sec-Fetch-Site", "same-origin")
		h.Set("Sec-Fetch-Mode", "same-origin")
		h.Set("Sec-Fetch-Dest", "empty")
		h.Set("X-CSRF-Token", jar["csrf-token"])
		h.Set("Cookie", cookieHeader())
		if bearer != "" {
			h.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("approve: POST %s: %w", endpoint, err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		absorb(resp)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode/100 != 2 {
			return nil, fmt.Errorf("approve: POST %s: HTTP %d %s", endpoint, resp.StatusCode, raw)
		}
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, fmt.Errorf("approve: POST %s: %w: %.200s", endpoint, err, raw)
		}
		return out, nil
	}

	var target string
	if a.Deny {
		out, err := api("/reject", map[string]any{}, "")
		if err != nil {
			return nil, err
		}
		target, _ = out["url"].(string)
	} else {
		// 2. Sign in.
		out, err := api("/sign-in", map[string]any{
			"locale": "en", "username": a.Username, "password": a.Password, "remember": a.Remember,
		}, "")
		if err != nil {
			return nil, err
		}
		acct, _ := out["account"].(map[string]any)
		did, _ := acct["did"].(string)
		if did == "" {
			did, _ = acct["sub"].(string)
		}
		if did == "" {
			return nil, fmt.Errorf("approve: sign-in returned no account: %v", out)
		}
		eph, _ := out["ephemeralToken"].(string)
		// 3. Consent.
		in := map[string]any{"did": did}
		if a.Scope != "" {
			in["scope"] = a.Scope
		}
		out, err = api("/consent", in, eph)
		if err != nil {
			return nil, err
		}
		target, _ = out["url"].(string)
	}
	if target == "" {
		return nil, fmt.Errorf("approve: the provider returned no redirect URL")
	}
	tu, err := url.Parse(origin)
	if err != nil {
		return nil, err
	}
	if tu, err = tu.Parse(target); err != nil {
		return nil, err
	}

	// 4. The provider's own redirect endpoint sends the browser back to the
	// client.
	resp, body, err := get(tu.String(), map[string]string{
		"Referer": authURL, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document",
	})
	if err != nil {
		return nil, fmt.Errorf("approve: GET %s: %w", tu.Path, err)
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return resp.Location()
	}
	return nil, fmt.Errorf("approve: redirect endpoint: HTTP %d: %.300s", resp.StatusCode, body)
}
