package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atpgo/atp"
	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
)

// homeData is what the home page shows.
type homeData struct {
	DID         string
	Handle      string
	DisplayName string
	Description string
	Avatar      string
	Followers   int64
	Follows     int64
	Posts       int64
	HasCounts   bool

	FeedTitle string
	Feed      []postView
	// FeedNote says why the timeline is not shown, when the AppView could
	// not be reached and the account's own posts are shown instead.
	FeedNote string
}

// postView is one post of the feed.
type postView struct {
	AuthorHandle string
	AuthorName   string
	Text         string
	When         string
	URI          string
	RepostedBy   string
}

// feedLimit is how many posts the home page shows.
const feedLimit = 30

// loadHome reads the home page from the account's PDS (the account) and the
// Bluesky AppView through the PDS (profile and timeline). When the AppView
// cannot answer (a PDS with no AppView, as on a local test network), the
// page says so and falls back to what the PDS itself serves: the profile
// record and the account's own posts.
func loadHome(ctx context.Context, agent *atp.Agent) (*homeData, error) {
	// The PDS answers getSession itself: the account and its handle.
	me, err := atproto.ServerGetSession(ctx, agent, nil)
	if err != nil {
		return nil, fmt.Errorf("getSession: %w", err)
	}
	h := &homeData{DID: me.DID, Handle: me.Handle}

	profileErr := loadProfile(ctx, agent, h)
	if profileErr != nil {
		if err := loadProfileRecord(ctx, agent, h); err != nil {
			return nil, err
		}
	}

	h.FeedTitle = "Timeline"
	tl, err := agent.GetTimeline(ctx, &bsky.FeedGetTimelineParams{Limit: lex.Ptr[int64](feedLimit)})
	if err == nil {
		for _, item := range tl.Feed {
			h.Feed = append(h.Feed, feedItem(item))
		}
		return h, nil
	}
	if sessionGone(err) {
		return nil, err
	}
	h.FeedTitle = "Your posts"
	h.FeedNote = fmt.Sprintf("The timeline is unavailable (%v); these are your latest posts, read from your PDS.", err)
	recs, err := atproto.RepoListRecords(ctx, agent, me.DID, "app.bsky.feed.post", &atproto.RepoListRecordsParams{Limit: lex.Ptr[int64](feedLimit)})
	if err != nil {
		return nil, fmt.Errorf("listing your posts: %w", err)
	}
	for _, rec := range recs.Records {
		p := postView{AuthorHandle: h.Handle, AuthorName: h.DisplayName, URI: rec.URI}
		if fp, ok := rec.Value.(*bsky.FeedPost); ok {
			p.Text, p.When = fp.Text, formatTime(fp.CreatedAt)
		}
		h.Feed = append(h.Feed, p)
	}
	return h, nil
}

// loadProfile fills in the profile from the AppView (app.bsky.actor.getProfile).
func loadProfile(ctx context.Context, agent *atp.Agent, h *homeData) error {
	p, err := agent.GetProfile(ctx, h.DID)
	if err != nil {
		return err
	}
	h.Handle = p.Handle
	h.DisplayName = deref(p.DisplayName)
	h.Description = deref(p.Description)
	h.Avatar = deref(p.Avatar)
	h.Followers, h.Follows, h.Posts = deref(p.FollowersCount), deref(p.FollowsCount), deref(p.PostsCount)
	h.HasCounts = true
	return nil
}

// loadProfileRecord fills in the profile from the account's own profile
// record on its PDS; an account without one is not an error.
func loadProfileRecord(ctx context.Context, agent *atp.Agent, h *homeData) error {
	out, err := atproto.RepoGetRecord(ctx, agent, h.DID, "app.bsky.actor.profile", "self", nil)
	if errors.Is(err, atproto.ErrRepoGetRecordRecordNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading your profile: %w", err)
	}
	if p, ok := out.Value.(*bsky.ActorProfile); ok {
		h.DisplayName = deref(p.DisplayName)
		h.Description = deref(p.Description)
	}
	return nil
}

func feedItem(item *bsky.FeedDefsFeedViewPost) postView {
	var p postView
	if item.Post == nil {
		return p
	}
	p.URI = item.Post.URI
	p.When = formatTime(item.Post.IndexedAt)
	if a := item.Post.Author; a != nil {
		p.AuthorHandle, p.AuthorName = a.Handle, deref(a.DisplayName)
	}
	if fp, ok := item.Post.Record.(*bsky.FeedPost); ok {
		p.Text = fp.Text
		p.When = formatTime(fp.CreatedAt)
	}
	if r, ok := item.Reason.(*bsky.FeedDefsReasonRepost); ok && r.By != nil {
		p.RepostedBy = r.By.Handle
	}
	return p
}

func formatTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.Local().Format("2 Jan 2006 15:04")
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
