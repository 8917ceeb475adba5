package oauthtransport

import (
	"fmt"
	"mime"
	"net/url"
	"slices"
	"strings"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// Permission is one parsed atproto OAuth scope token: a resource and its
// parameters. "repo:app.bsky.feed.post?action=create" is Resource "repo"
// with Params collection=[app.bsky.feed.post], action=[create]; the
// positional part after ":" is stored under the resource's main parameter.
type Permission struct {
	// Resource is atproto, transition, repo, rpc, blob, account, identity
	// or include.
	Resource string
	// Params are the permission's parameters.
	Params url.Values
}

// Scopes is a parsed scope string.
type Scopes []Permission

// positional names the parameter that the part after "resource:" sets.
var positional = map[string]string{
	"repo": "collection", "rpc": "lxm", "blob": "accept", "account": "attr",
	"identity": "attr", "include": "nsid", "transition": "name",
}

// allowedParams lists each resource's parameters.
var allowedParams = map[string][]string{
	"repo":     {"collection", "action"},
	"rpc":      {"lxm", "aud"},
	"blob":     {"accept"},
	"account":  {"attr", "action"},
	"identity": {"attr"},
	"include":  {"nsid", "aud"},
}

// ParseScope parses a space-separated scope string and checks every token
// against the atproto permission syntax. Unknown resources are errors.
func ParseScope(scope string) (Scopes, error) {
	var out Scopes
	for _, tok := range strings.Fields(scope) {
		p, err := parsePermission(tok)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePermission(tok string) (Permission, error) {
	bad := func(why string) (Permission, error) {
		return Permission{}, fmt.Errorf("oauthtransport: scope %q: %s", tok, why)
	}
	if tok == "atproto" {
		return Permission{Resource: "atproto", Params: url.Values{}}, nil
	}
	switch tok {
	case "transition:generic", "transition:email", "transition:chat.bsky":
		return Permission{Resource: "transition", Params: url.Values{"name": {strings.TrimPrefix(tok, "transition:")}}}, nil
	}
	head, query, _ := strings.Cut(tok, "?")
	res, pos, hasPos := strings.Cut(head, ":")
	main, ok := positional[res]
	if !ok || res == "transition" {
		return bad("unknown resource")
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return bad(err.Error())
	}
	for k := range params {
		if !slices.Contains(allowedParams[res], k) {
			return bad("unknown parameter " + k)
		}
	}
	if hasPos {
		p, err := url.PathUnescape(pos)
		if err != nil || p == "" || params.Has(main) {
			return bad("bad positional parameter")
		}
		params[main] = append([]string{p}, params[main]...)
	}
	check := func(name string, ok func(string) bool) error {
		for _, v := range params[name] {
			if !ok(v) {
				return fmt.Errorf("oauthtransport: scope %q: bad %s %q", tok, name, v)
			}
		}
		return nil
	}
	isNSIDOrStar := func(v string) bool { _, err := syntax.ParseNSID(v); return v == "*" || err == nil }
	var errs []error
	switch res {
	case "repo":
		errs = append(errs, check("collection", isNSIDOrStar),
			check("action", func(v string) bool { return v == "create" || v == "update" || v == "delete" }))
		if len(params["collection"]) == 0 {
			return bad("no collection")
		}
	case "rpc":
		errs = append(errs, check("lxm", isNSIDOrStar), check("aud", func(v string) bool {
			if v == "*" {
				return true
			}
			did, frag, _ := strings.Cut(v, "#")
			_, err := syntax.ParseDID(did)
			return err == nil && frag != ""
		}))
		if len(params["lxm"]) == 0 || len(params["aud"]) != 1 {
			return bad("needs lxm and exactly one aud")
		}
		if params.Get("aud") == "*" && slices.Contains(params["lxm"], "*") {
			return bad("lxm and aud cannot both be *")
		}
	case "blob":
		errs = append(errs, check("accept", func(v string) bool {
			if v == "*/*" {
				return true
			}
			typ, sub, ok := strings.Cut(v, "/")
			if !ok || typ == "" || sub == "" || typ == "*" {
				return false
			}
			if sub == "*" {
				return true
			}
			_, _, err := mime.ParseMediaType(v)
			return err == nil
		}))
		if len(params["accept"]) == 0 {
			return bad("no accept")
		}
	case "account":
		errs = append(errs, check("attr", func(v string) bool { return v == "email" || v == "repo" || v == "status" }),
			check("action", func(v string) bool { return v == "read" || v == "manage" }))
		if len(params["attr"]) != 1 || len(params["action"]) > 1 {
			return bad("needs exactly one attr")
		}
	case "identity":
		errs = append(errs, check("attr", func(v string) bool { return v == "handle" || v == "*" }))
		if len(params["attr"]) != 1 {
			return bad("needs exactly one attr")
		}
	case "include":
		errs = append(errs, check("nsid", func(v string) bool { _, err := syntax.ParseNSID(v); return err == nil }),
			check("aud", func(v string) bool { _, err := syntax.ParseDID(strings.Split(v, "#")[0]); return err == nil }))
		if len(params["nsid"]) != 1 {
			return bad("needs exactly one nsid")
		}
	}
	for _, e := range errs {
		if e != nil {
			return Permission{}, e
		}
	}
	return Permission{Resource: res, Params: params}, nil
}

func (s Scopes) has(res, name string) bool {
	for _, p := range s {
		if p.Resource == res && (name == "" || p.Params.Get("name") == name) {
			return true
		}
	}
	return false
}

// AllowsRPC reports whether the scopes allow calling the XRPC method lxm
// on the service aud (a DID with a service fragment, "did:web:api.bsky.app#bsky_appview").
func (s Scopes) AllowsRPC(lxm, aud string) bool {
	if s.has("transition", "generic") && !strings.HasPrefix(lxm, "chat.bsky.") {
		return true
	}
	if s.has("transition", "chat.bsky") && strings.HasPrefix(lxm, "chat.bsky.") {
		return true
	}
	for _, p := range s {
		if p.Resource != "rpc" {
			continue
		}
		a := p.Params.Get("aud")
		if a != "*" && a != aud {
			continue
		}
		for _, l := range p.Params["lxm"] {
			if l == "*" || l == lxm {
				return true
			}
		}
	}
	return false
}

// AllowsRepo reports whether the scopes allow action ("create", "update"
// or "delete") on records of collection.
func (s Scopes) AllowsRepo(collection, action string) bool {
	if s.has("transition", "generic") {
		return true
	}
	for _, p := range s {
		if p.Resource != "repo" {
			continue
		}
		actions := p.Params["action"]
		if len(actions) != 0 && !slices.Contains(actions, action) {
			continue
		}
		for _, c := range p.Params["collection"] {
			if c == "*" || c == collection {
				return true
			}
		}
	}
	return false
}

// AllowsBlob reports whether the scopes allow uploading a blob of the
// given MIME type.
func (s Scopes) AllowsBlob(mimeType string) bool {
	if s.has("transition", "generic") {
		return true
	}
	typ, _, _ := strings.Cut(mimeType, "/")
	for _, p := range s {
		if p.Resource != "blob" {
			continue
		}
		for _, a := range p.Params["accept"] {
			if a == "*/*" || a == mimeType || a == typ+"/*" {
				return true
			}
		}
	}
	return false
}
