// Package lexicons holds the atproto lexicons: every lexicon JSON file of the
// github.com/bluesky-social/indigo module version pinned in go.mod, at its
// path under that module's lexicons/ directory (app/bsky/feed/post.json,
// ...), with the module's license notices (LICENSE-MIT, LICENSE-APACHE,
// LICENSE-DUAL: the lexicons are indigo's, under MIT or Apache-2.0) and a
// manifest.json recording the module, its version, the file count and a
// digest of the files.
//
// The JSON files are copied by `go run ./cmd/lexgen sync` and never edited by
// hand; the tests of this package fail when they differ from the pinned
// module. To update them:
//
//	go get github.com/bluesky-social/indigo@VERSION
//	go run ./cmd/lexgen sync
//	go run ./cmd/lexgen
//
// and commit the result. If upstream adds a lexicon authority directory, add
// it to the go:embed line below (a test says so).
package lexicons

import "embed"

// FS holds every lexicon JSON file, at its slash-separated path relative to
// this directory, and manifest.json.
//
//go:embed app chat com site tools manifest.json
var FS embed.FS
