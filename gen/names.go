package gen

import (
	"strings"
	"unicode"
)

// Names are a pure function of the lexicon NSID, the definition name and,
// for nested types, the property name: nothing depends on what else is in
// the corpus, so adding a lexicon, a definition, a union member, a
// parameter or a field never renames anything that exists. Two different
// sources that would yield the same Go name are reported as an error rather
// than disambiguated by order.

// initialisms are the words written in capitals in Go names (Go's own
// convention: ID, URL, ...), plus the atproto ones.
var initialisms = map[string]string{
	"id": "ID", "uri": "URI", "url": "URL", "did": "DID", "cid": "CID",
	"nsid": "NSID", "json": "JSON", "http": "HTTP", "https": "HTTPS",
	"api": "API", "pds": "PDS", "tid": "TID", "jwt": "JWT", "ip": "IP",
	"html": "HTML", "uuid": "UUID", "dm": "DM", "plc": "PLC",
}

// authority returns the part of an NSID that selects the Go package: its
// first two segments ("app.bsky").
func authority(nsid string) string {
	parts := strings.SplitN(nsid, ".", 3)
	if len(parts) < 2 {
		return nsid
	}
	return parts[0] + "." + parts[1]
}

// defaultPackages names the packages of the authorities whose last segment
// would clash or read badly.
var defaultPackages = map[string]string{
	"app.bsky":    "bsky",
	"chat.bsky":   "chat",
	"com.atproto": "atproto",
	"tools.ozone": "ozone",
}

// packageName returns the Go package name for an authority: a fixed name
// for the well-known ones, otherwise its second segment, lower-cased, with
// anything but letters and digits removed.
func packageName(auth string) string {
	if p, ok := defaultPackages[auth]; ok {
		return p
	}
	_, second, _ := strings.Cut(auth, ".")
	var b strings.Builder
	for _, r := range strings.ToLower(second) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if s == "" || unicode.IsDigit(rune(s[0])) {
		s = "lex" + s
	}
	return s
}

// words splits a camelCase or dotted/hyphenated name into lower-case words:
// "getPostThreadV2" → get post thread v2; "did-doc" → did doc.
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && len(cur) > 0 &&
			(!unicode.IsUpper(cur[len(cur)-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return out
}

// exported turns a lexicon name into an exported Go identifier part:
// "createdAt" → CreatedAt, "did" → DID, "getTimeline" → GetTimeline.
func exported(s string) string {
	var b strings.Builder
	for _, w := range words(s) {
		if up, ok := initialisms[w]; ok {
			b.WriteString(up)
			continue
		}
		rs := []rune(w)
		rs[0] = unicode.ToUpper(rs[0])
		b.WriteString(string(rs))
	}
	return b.String()
}

// nsidName returns the Go name of an NSID within its package: the segments
// after the authority, exported and joined ("app.bsky.feed.post" →
// FeedPost). An NSID with nothing after its authority uses its last segment.
func nsidName(nsid string) string {
	parts := strings.Split(nsid, ".")
	rest := parts[2:]
	if len(rest) == 0 {
		rest = parts[len(parts)-1:]
	}
	var b strings.Builder
	for _, p := range rest {
		b.WriteString(exported(p))
	}
	return b.String()
}

// defName returns the Go name of a definition ("app.bsky.feed.defs",
// "postView" → FeedDefsPostView); main definitions use the NSID's name.
func defName(nsid, name string) string {
	if name == "main" {
		return nsidName(nsid)
	}
	return nsidName(nsid) + exported(name)
}

// valueName turns a known value of a string into a constant name suffix:
// every run of letters and digits is a word, capitalised (an all-capitals
// word is lower-cased first, an initialism upper-cased); a leading '!'
// becomes "Bang" ("posts_with_replies" → PostsWithReplies, "!hide" →
// BangHide, "JOB_STATE_COMPLETED" → JobStateCompleted). Two values of one
// type that map to the same name are a generation error. A token reference
// ("app.bsky.graph.defs#modlist") uses the token's name, prefixed with its
// lexicon's name when the token lives in another lexicon than owner.
func valueName(v, owner string) string {
	if nsid, frag, ok := strings.Cut(v, "#"); ok && frag != "" {
		name := exported(frag)
		if nsid != owner {
			prefix := nsidName(nsid)
			if authority(nsid) != authority(owner) {
				prefix = exported(strings.ReplaceAll(authority(nsid), ".", "-")) + prefix
			}
			name = prefix + name
		}
		return name
	}
	var b strings.Builder
	if strings.HasPrefix(v, "!") {
		b.WriteString("Bang")
	}
	for _, w := range strings.FieldsFunc(v, func(r rune) bool {
		return r >= unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r))
	}) {
		if up, ok := initialisms[strings.ToLower(w)]; ok {
			b.WriteString(up)
			continue
		}
		if strings.ToUpper(w) == w {
			w = strings.ToLower(w) // JOB_STATE_COMPLETED → JobStateCompleted
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	s := b.String()
	if s == "" {
		s = "Empty"
	}
	if unicode.IsDigit(rune(s[0])) {
		s = "V" + s
	}
	return s
}

// Authority returns the part of an NSID that selects its Go package: its
// first two segments ("app.bsky.feed.post" → "app.bsky").
func Authority(nsid string) string { return authority(nsid) }

// PackageName returns the default Go package name of an authority:
// "app.bsky" → bsky, "chat.bsky" → chat, "com.atproto" → atproto,
// "tools.ozone" → ozone, otherwise the authority's second segment.
func PackageName(auth string) string { return packageName(auth) }

// GoName returns the Go name generated for a definition of a lexicon
// ("app.bsky.feed.defs", "postView" → FeedDefsPostView); the main
// definition of a query or procedure names its call ("app.bsky.feed.getTimeline",
// "main" → FeedGetTimeline).
func GoName(nsid, def string) string { return defName(nsid, def) }
