package oauthtransport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// didDocument holds the parts of a DID document atproto uses.
type didDocument struct {
	ID          string   `json:"id"`
	AlsoKnownAs []string `json:"alsoKnownAs"`
	Service     []struct {
		ID              string          `json:"id"`
		Type            json.RawMessage `json:"type"`
		ServiceEndpoint json.RawMessage `json:"serviceEndpoint"`
	} `json:"service"`
}

// handle returns the document's first at:// alias, normalised, or "".
func (d *didDocument) handle() string {
	for _, aka := range d.AlsoKnownAs {
		if h, ok := strings.CutPrefix(aka, "at://"); ok {
			if ph, err := syntax.ParseHandle(h); err == nil {
				return ph.Normalize().String()
			}
			return ""
		}
	}
	return ""
}

// pds returns the endpoint of the #atproto_pds service.
func (d *didDocument) pds() (string, error) {
	for _, s := range d.Service {
		if s.ID != "#atproto_pds" && s.ID != d.ID+"#atproto_pds" {
			continue
		}
		var typ string
		if json.Unmarshal(s.Type, &typ) != nil || typ != "AtprotoPersonalDataServer" {
			return "", fmt.Errorf("%w: %s: #atproto_pds service has type %s", ErrUnresolved, d.ID, s.Type)
		}
		var ep string
		if json.Unmarshal(s.ServiceEndpoint, &ep) != nil {
			return "", fmt.Errorf("%w: %s: #atproto_pds endpoint is not a string", ErrUnresolved, d.ID)
		}
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
			return "", fmt.Errorf("%w: %s: PDS endpoint %q is not an http(s) origin", ErrUnresolved, d.ID, ep)
		}
		return origin(u), nil
	}
	return "", fmt.Errorf("%w: %s has no #atproto_pds service", ErrUnresolved, d.ID)
}

// resolveDID fetches and checks the DID document of did (did:plc through
// the PLC directory, did:web through the host's well-known did.json). It
// never caches.
func (c *Client) resolveDID(ctx context.Context, did string) (*didDocument, error) {
	d, err := syntax.ParseDID(did)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnresolved, err)
	}
	var docURL string
	switch d.Method() {
	case "plc":
		docURL = strings.TrimSuffix(c.plcURL, "/") + "/" + url.PathEscape(did)
	case "web":
		u, err := didWebURL(d.Identifier(), c.fetch.allowHTTP)
		if err != nil {
			return nil, err
		}
		docURL = u
	default:
		return nil, fmt.Errorf("%w: DID method %q is not supported by atproto", ErrUnresolved, d.Method())
	}
	body, err := c.fetch.get(ctx, docURL, maxMetadataSize, "application/did+ld+json, application/json")
	if err != nil {
		return nil, fmt.Errorf("%w: DID document of %s: %w", ErrUnresolved, did, err)
	}
	var doc didDocument
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%w: DID document of %s: %v", ErrUnresolved, did, err)
	}
	if doc.ID != did {
		return nil, fmt.Errorf("%w: DID document id %q is not %s", ErrUnresolved, doc.ID, did)
	}
	return &doc, nil
}

// didWebURL maps a did:web identifier to its document URL. atproto allows
// only a host name (no path); a port only for localhost, which is also the
// only host reached over plain http, and only in development mode.
func didWebURL(id string, allowHTTP bool) (string, error) {
	host, err := url.PathUnescape(id)
	if err != nil || strings.Contains(id, ":") || strings.ContainsAny(host, "/?#@") || host == "" {
		return "", fmt.Errorf("%w: did:web:%s is not an atproto did:web (no paths)", ErrUnresolved, id)
	}
	name, port, hasPort := strings.Cut(host, ":")
	if hasPort && name != "localhost" {
		return "", fmt.Errorf("%w: did:web:%s: a port is only allowed for localhost", ErrUnresolved, id)
	}
	_ = port
	scheme := "https"
	if name == "localhost" && allowHTTP {
		scheme = "http"
	}
	return scheme + "://" + host + "/.well-known/did.json", nil
}

// resolveHandle returns the DID a handle claims: through the configured XRPC
// service, or else through DNS TXT and HTTPS well-known in parallel. Two
// different DIDs, or several did= TXT records, leave the handle unresolved.
func (c *Client) resolveHandle(ctx context.Context, handle string) (string, error) {
	if c.hrURL != "" {
		return c.resolveHandleXRPC(ctx, handle)
	}
	var (
		wg                 sync.WaitGroup
		dnsDID, httpDID    string
		dnsErr, httpErr    error
		dnsCtx, dnsCancel  = context.WithTimeout(ctx, c.fetch.timeout)
		httpCtx, httpCance = context.WithCancel(ctx)
	)
	defer dnsCancel()
	defer httpCance()
	wg.Add(2)
	go func() {
		defer wg.Done()
		dnsDID, dnsErr = c.resolveHandleDNS(dnsCtx, handle)
	}()
	go func() {
		defer wg.Done()
		httpDID, httpErr = c.resolveHandleHTTP(httpCtx, handle)
	}()
	wg.Wait()
	switch {
	case dnsDID != "" && httpDID != "" && dnsDID != httpDID:
		return "", fmt.Errorf("%w: handle %s: DNS says %s, HTTPS says %s", ErrUnresolved, handle, dnsDID, httpDID)
	case dnsDID != "":
		return dnsDID, nil
	case httpDID != "":
		return httpDID, nil
	}
	return "", fmt.Errorf("%w: handle %s: %w", ErrUnresolved, handle, errors.Join(dnsErr, httpErr))
}

func (c *Client) resolveHandleDNS(ctx context.Context, handle string) (string, error) {
	recs, err := c.txt.LookupTXT(ctx, "_atproto."+handle)
	if err != nil {
		return "", fmt.Errorf("DNS: %w", err)
	}
	var found string
	for _, r := range recs {
		v, ok := strings.CutPrefix(strings.TrimSpace(r), "did=")
		if !ok {
			continue
		}
		if found != "" {
			return "", errors.New("DNS: several did= records")
		}
		found = v
	}
	if found == "" {
		return "", errors.New("DNS: no did= record")
	}
	if !isAtprotoDID(found) {
		return "", fmt.Errorf("DNS: %q is not a did:plc or did:web", found)
	}
	return found, nil
}

func (c *Client) resolveHandleHTTP(ctx context.Context, handle string) (string, error) {
	body, err := c.fetch.get(ctx, "https://"+handle+"/.well-known/atproto-did", maxSmallSize, "text/plain")
	if err != nil {
		return "", fmt.Errorf("HTTPS: %w", err)
	}
	line, _, _ := bufio.NewReader(bytes.NewReader(body)).ReadLine()
	did := strings.TrimSpace(string(line))
	if !isAtprotoDID(did) {
		return "", fmt.Errorf("HTTPS: %q is not a did:plc or did:web", did)
	}
	return did, nil
}

func (c *Client) resolveHandleXRPC(ctx context.Context, handle string) (string, error) {
	u := strings.TrimSuffix(c.hrURL, "/") + "/xrpc/com.atproto.identity.resolveHandle?handle=" + url.QueryEscape(handle)
	body, err := c.fetch.get(ctx, u, maxSmallSize, "application/json")
	if err != nil {
		return "", fmt.Errorf("%w: handle %s: %w", ErrUnresolved, handle, err)
	}
	var out struct {
		DID string `json:"did"`
	}
	if err := json.Unmarshal(body, &out); err != nil || !isAtprotoDID(out.DID) {
		return "", fmt.Errorf("%w: handle %s: bad resolveHandle answer", ErrUnresolved, handle)
	}
	return out.DID, nil
}

func isAtprotoDID(s string) bool {
	d, err := syntax.ParseDID(s)
	return err == nil && (d.Method() == "plc" || d.Method() == "web")
}

// account is a resolved, verified atproto account.
type account struct {
	DID    string
	Handle string // verified handle, or ""
	PDS    string
}

// resolveAccount resolves a handle or a DID to its PDS. A handle must be
// confirmed by the DID document (bidirectional check).
func (c *Client) resolveAccount(ctx context.Context, input string) (*account, error) {
	if strings.HasPrefix(input, "did:") {
		if !isAtprotoDID(input) {
			return nil, fmt.Errorf("%w: %q is not a did:plc or did:web", ErrUnresolved, input)
		}
		doc, err := c.resolveDID(ctx, input)
		if err != nil {
			return nil, err
		}
		pds, err := doc.pds()
		if err != nil {
			return nil, err
		}
		return &account{DID: input, PDS: pds}, nil
	}
	h, err := syntax.ParseHandle(strings.TrimPrefix(input, "@"))
	if err != nil {
		return nil, fmt.Errorf("%w: %q is neither a handle nor a DID", ErrUnresolved, input)
	}
	handle := h.Normalize().String()
	did, err := c.resolveHandle(ctx, handle)
	if err != nil {
		return nil, err
	}
	doc, err := c.resolveDID(ctx, did)
	if err != nil {
		return nil, err
	}
	if doc.handle() != handle {
		return nil, fmt.Errorf("%w: %s claims %s, but its DID document says %q", ErrUnresolved, handle, did, doc.handle())
	}
	pds, err := doc.pds()
	if err != nil {
		return nil, err
	}
	return &account{DID: did, Handle: handle, PDS: pds}, nil
}
