// Package atp is an atproto client for Go: sign a person in with OAuth (package
// oauthtransport), or a bot with an app password, or read without an account,
// and talk to the network through an [Agent].
//
// # The Agent
//
// An Agent sends requests through a [Transport]:
//
//	agent := atp.NewAgent(atp.OAuth(sess))           // an OAuth session (oauthtransport)
//	sess, err := atp.PasswordSession(ctx, "https://bsky.social", "bot.example.com", appPassword)
//	agent := atp.NewAgent(sess)                       // an app-password session
//	agent := atp.NewAgent(atp.Public())               // no account: the public AppView
//	agent := atp.NewAgent(&atp.HTTPTransport{URL: u, Client: hc}) // anything else
//
// It has short methods for what apps do most, with the semantics of the
// TypeScript Agent of @atproto/api:
//
//	profile, err := agent.GetProfile(ctx, "did:plc:123")
//	ref, err := agent.Post(ctx, atp.PostInput{Text: "hello @alice.test #go https://go.dev", DetectFacets: true})
//	_, err = agent.Like(ctx, ref.URI, ref.CID)
//	for item, err := range agent.Timeline(ctx) { ... }
//
// and it is a [lex.Client], so every other endpoint is one generated call away
// (packages agent/bsky, agent/atproto, agent/chat, agent/ozone):
//
//	out, err := bsky.FeedGetFeed(ctx, agent, feedURI, nil)
//
// The short query methods (GetTimeline, GetProfile, ..., and the iterators
// Timeline, Followers, ...) are generated into agent_gen.go; the record helpers
// (Post, Like, Follow, UpsertProfile, ...), the preferences, the routing and the
// sessions are written by hand.
//
// # Routing
//
// As in the TypeScript Agent, an authenticated Agent sends every call to the
// account's PDS, which forwards it: app.bsky.* calls carry
// "atproto-proxy: did:web:api.bsky.app#bsky_appview" and chat.bsky.* calls
// "atproto-proxy: did:web:api.bsky.chat#bsky_chat" ([WithAppViewProxy] and
// [WithChatProxy] change them; the PDS's own preferences endpoints are never
// proxied); [Agent.WithProxy] sends all calls of a copy to another service; a
// header already on a request wins. Every call asks for Bluesky's moderation
// labels (with ";redact") and those of the configured labelers in
// "atproto-accept-labelers" ([WithAppLabelers], [WithLabelers]).
//
// # Records
//
// Records are validated against their lexicons before they are sent: a post
// over 300 graphemes, five images or a missing required field is a
// [*lex.ValidationError], and nothing goes out. Errors from the network are
// [*lex.Error] values, matched to the lexicon's declared errors with
// errors.Is (atproto.ErrRepoPutRecordInvalidSwap), with the response headers
// (rate limits) attached.
//
// Package richtext finds mentions, links and hashtags with the UTF-8 byte
// offsets facets need; [PostInput].DetectFacets uses it.
package atp
