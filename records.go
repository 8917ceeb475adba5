package atp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
	"github.com/atpgo/atp/richtext"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// ErrNoAccount is returned by methods that write to the account's
// repository when the Agent has no account.
var ErrNoAccount = errors.New("atp: the agent has no account")

// now returns the current time in the lexicon datetime form.
func now() string { return datetime(time.Now()) }

func datetime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (a *Agent) assertDID() (string, error) {
	if a.did == "" {
		return "", ErrNoAccount
	}
	return a.did, nil
}

// createRecord validates record and creates it in the account's
// repository.
func (a *Agent) createRecord(ctx context.Context, collection string, record lex.Object) (*atproto.RepoStrongRef, error) {
	did, err := a.assertDID()
	if err != nil {
		return nil, err
	}
	if err := lex.Validate(record); err != nil {
		return nil, err
	}
	out, err := atproto.RepoCreateRecord(ctx, a, &atproto.RepoCreateRecordInput{
		Repo:       did,
		Collection: collection,
		Record:     record,
	})
	if err != nil {
		return nil, err
	}
	return &atproto.RepoStrongRef{URI: out.URI, CID: out.CID}, nil
}

// deleteRecord deletes the record at uri, which must be in collection.
// Like the TypeScript Agent, it deletes from the account's repository
// whatever the URI's authority (a DID or a handle) says.
func (a *Agent) deleteRecord(ctx context.Context, collection, uri string) error {
	did, err := a.assertDID()
	if err != nil {
		return err
	}
	u, err := syntax.ParseATURI(uri)
	if err != nil {
		return fmt.Errorf("atp: %w", err)
	}
	if got := u.Collection().String(); got != collection {
		return fmt.Errorf("atp: %s is a %s record, not %s", uri, got, collection)
	}
	rkey := u.RecordKey().String()
	if rkey == "" {
		return fmt.Errorf("atp: %s has no record key", uri)
	}
	_, err = atproto.RepoDeleteRecord(ctx, a, &atproto.RepoDeleteRecordInput{
		Repo:       did,
		Collection: collection,
		Rkey:       rkey,
	})
	return err
}

// PostInput is a post to create with [Agent.Post]. Only Text (or an
// Embed) is needed.
type PostInput struct {
	// Text is the post's text: at most 300 graphemes.
	Text string
	// Facets annotate Text (mentions, links, hashtags) with UTF-8 byte
	// offsets. When nil and DetectFacets is set, Post detects them.
	Facets []*bsky.RichtextFacet
	// DetectFacets makes Post find the mentions, links and hashtags in
	// Text (with [richtext.DetectFacets], resolving mentions through the
	// Agent) when Facets is nil.
	DetectFacets bool
	// Reply makes the post a reply: Root is the thread's first post,
	// Parent the post replied to (the same for a reply to a root);
	// [ReplyTo] builds it.
	Reply *bsky.FeedPostReplyRef
	// Embed is an embedded image set (*bsky.EmbedImages, with alt text and
	// aspect ratios), link card (*bsky.EmbedExternal), quoted record
	// (*bsky.EmbedRecord), quote with media (*bsky.EmbedRecordWithMedia) or
	// video (*bsky.EmbedVideo). Upload images and videos first with
	// UploadBlob.
	Embed bsky.FeedPost_Embed
	// Langs are the languages of Text (BCP-47 tags, at most 3).
	Langs []string
	// Labels are self-labels (*atproto.LabelDefsSelfLabels), such as
	// content warnings.
	Labels bsky.FeedPost_Labels
	// Tags are hashtags beyond those in Text (at most 8).
	Tags []string
	// CreatedAt is the post's creation time; zero means now.
	CreatedAt time.Time
}

// Post creates a post in the account's repository and returns its URI
// and CID (a reference to reply to, like or quote it). The record is
// checked against the app.bsky.feed.post lexicon first: a text over 300
// graphemes, more than 4 images or a missing alt text is an error
// wrapping [*lex.ValidationError], and nothing is sent.
func (a *Agent) Post(ctx context.Context, in PostInput) (*atproto.RepoStrongRef, error) {
	if _, err := a.assertDID(); err != nil {
		return nil, err
	}
	post := &bsky.FeedPost{
		Text:   in.Text,
		Facets: in.Facets,
		Reply:  in.Reply,
		Embed:  in.Embed,
		Langs:  in.Langs,
		Labels: in.Labels,
		Tags:   in.Tags,
	}
	if in.CreatedAt.IsZero() {
		post.CreatedAt = now()
	} else {
		post.CreatedAt = datetime(in.CreatedAt)
	}
	if post.Facets == nil && in.DetectFacets {
		if err := lex.Validate(post); err != nil {
			return nil, err // before any handle resolution
		}
		facets, err := richtext.DetectFacets(ctx, in.Text, a)
		if err != nil {
			return nil, err
		}
		if len(facets) > 0 {
			post.Facets = facets
		}
	}
	return a.createRecord(ctx, bsky.FeedPostNSID, post)
}

// ReplyTo returns the reply reference of a reply to the post at uri with
// the given cid, whose record is parent (from [Agent.GetPost], or a post
// view's Record): the parent is that post, and the thread's root is
// parent's root when parent is itself a reply, the post otherwise.
func ReplyTo(uri, cid string, parent *bsky.FeedPost) *bsky.FeedPostReplyRef {
	ref := &atproto.RepoStrongRef{URI: uri, CID: cid}
	root := ref
	if r := parent.GetReply().GetRoot(); r != nil {
		root = &atproto.RepoStrongRef{URI: r.URI, CID: r.CID}
	}
	return &bsky.FeedPostReplyRef{Root: root, Parent: ref}
}

// The Agent resolves handles for richtext (ResolveHandle is generated).
var _ richtext.Resolver = (*Agent)(nil)

// DeletePost deletes the post at uri from the account's repository.
func (a *Agent) DeletePost(ctx context.Context, uri string) error {
	return a.deleteRecord(ctx, bsky.FeedPostNSID, uri)
}

// RecordOptions are the optional fields of a like, repost or follow.
type RecordOptions struct {
	// Via is the record through which the subject was found: the repost a
	// post was liked from, the starter pack a follow came from.
	Via *atproto.RepoStrongRef
	// CreatedAt is the record's creation time; zero means now.
	CreatedAt time.Time
}

func (o *RecordOptions) createdAt() string {
	if o == nil || o.CreatedAt.IsZero() {
		return now()
	}
	return datetime(o.CreatedAt)
}

func (o *RecordOptions) via() *atproto.RepoStrongRef {
	if o == nil {
		return nil
	}
	return o.Via
}

// Like likes the post (or other record) with the given URI and CID and
// returns the like record's reference.
func (a *Agent) Like(ctx context.Context, uri, cid string, opts ...*RecordOptions) (*atproto.RepoStrongRef, error) {
	o := firstParams(opts)
	return a.createRecord(ctx, bsky.FeedLikeNSID, &bsky.FeedLike{
		Subject:   &atproto.RepoStrongRef{URI: uri, CID: cid},
		CreatedAt: o.createdAt(),
		Via:       o.via(),
	})
}

// DeleteLike deletes the like record at likeURI (the URI [Agent.Like]
// returned, or a post view's viewer.like).
func (a *Agent) DeleteLike(ctx context.Context, likeURI string) error {
	return a.deleteRecord(ctx, bsky.FeedLikeNSID, likeURI)
}

// Repost reposts the post with the given URI and CID and returns the
// repost record's reference.
func (a *Agent) Repost(ctx context.Context, uri, cid string, opts ...*RecordOptions) (*atproto.RepoStrongRef, error) {
	o := firstParams(opts)
	return a.createRecord(ctx, bsky.FeedRepostNSID, &bsky.FeedRepost{
		Subject:   &atproto.RepoStrongRef{URI: uri, CID: cid},
		CreatedAt: o.createdAt(),
		Via:       o.via(),
	})
}

// DeleteRepost deletes the repost record at repostURI.
func (a *Agent) DeleteRepost(ctx context.Context, repostURI string) error {
	return a.deleteRecord(ctx, bsky.FeedRepostNSID, repostURI)
}

// Follow follows the account with the given DID and returns the follow
// record's reference.
func (a *Agent) Follow(ctx context.Context, subjectDID string, opts ...*RecordOptions) (*atproto.RepoStrongRef, error) {
	o := firstParams(opts)
	return a.createRecord(ctx, bsky.GraphFollowNSID, &bsky.GraphFollow{
		Subject:   subjectDID,
		CreatedAt: o.createdAt(),
		Via:       o.via(),
	})
}

// DeleteFollow deletes the follow record at followURI (a profile view's
// viewer.following).
func (a *Agent) DeleteFollow(ctx context.Context, followURI string) error {
	return a.deleteRecord(ctx, bsky.GraphFollowNSID, followURI)
}

// PostRecord is a post as stored in a repository.
type PostRecord struct {
	URI   string
	CID   string // "" if the server did not say
	Value *bsky.FeedPost
}

// GetPost fetches the post record repo/app.bsky.feed.post/rkey (repo is
// a DID or handle); params may pin a CID.
func (a *Agent) GetPost(ctx context.Context, repo, rkey string, params ...*atproto.RepoGetRecordParams) (*PostRecord, error) {
	out, err := atproto.RepoGetRecord(ctx, a, repo, bsky.FeedPostNSID, rkey, firstParams(params))
	if err != nil {
		return nil, err
	}
	post, ok := out.Value.(*bsky.FeedPost)
	if !ok {
		return nil, &lex.ResponseError{NSID: atproto.RepoGetRecordNSID, Err: notA(out.Value, bsky.FeedPostNSID)}
	}
	return &PostRecord{URI: out.URI, CID: out.GetCID(), Value: post}, nil
}

func notA(v lex.Object, typ string) error {
	if u, ok := v.(*lex.Unknown); ok && u.Err != nil {
		return fmt.Errorf("record is not a valid %s: %w", typ, u.Err)
	}
	if v == nil {
		return fmt.Errorf("record is missing, want %s", typ)
	}
	return fmt.Errorf("record is a %q, want %s", v.LexiconType(), typ)
}

// maxProfileRetries is how many times UpsertProfile retries after a swap
// conflict, as the TypeScript Agent does.
const maxProfileRetries = 5

// UpsertProfile updates the account's profile record: it reads the
// current one (existing is nil when there is none), calls update, checks
// the result against the app.bsky.actor.profile lexicon, and writes it
// with putRecord, swapping on the CID read so that a concurrent change is
// never overwritten: on such a conflict (InvalidSwap) it starts again, up
// to 5 more times. update may be called several times; it may modify and
// return existing. When update returns a nil profile and no error,
// nothing is written.
func (a *Agent) UpsertProfile(ctx context.Context, update func(existing *bsky.ActorProfile) (*bsky.ActorProfile, error)) error {
	did, err := a.assertDID()
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		var existing *bsky.ActorProfile
		swap := &lex.Nullable[string]{} // null: there must be no record yet
		out, err := atproto.RepoGetRecord(ctx, a, did, bsky.ActorProfileNSID, "self", nil)
		switch {
		case errors.Is(err, atproto.ErrRepoGetRecordRecordNotFound):
		case err != nil:
			return err
		default:
			p, ok := out.Value.(*bsky.ActorProfile)
			if !ok {
				return &lex.ResponseError{NSID: atproto.RepoGetRecordNSID, Err: notA(out.Value, bsky.ActorProfileNSID)}
			}
			existing = p
			if out.CID != nil {
				*swap = lex.NullableOf(*out.CID)
			} else {
				swap = nil
			}
		}
		updated, err := update(existing)
		if err != nil {
			return err
		}
		if updated == nil {
			return nil
		}
		if err := lex.Validate(updated); err != nil {
			return err
		}
		_, err = atproto.RepoPutRecord(ctx, a, &atproto.RepoPutRecordInput{
			Repo:       did,
			Collection: bsky.ActorProfileNSID,
			Rkey:       "self",
			Record:     updated,
			SwapRecord: swap,
		})
		if err == nil || !errors.Is(err, atproto.ErrRepoPutRecordInvalidSwap) || attempt == maxProfileRetries {
			return err
		}
	}
}

// Mute mutes the account actor (a DID or handle): its posts and
// notifications are hidden from the muting account, privately.
func (a *Agent) Mute(ctx context.Context, actor string) error {
	return bsky.GraphMuteActor(ctx, a, &bsky.GraphMuteActorInput{Actor: actor})
}

// Unmute unmutes the account actor.
func (a *Agent) Unmute(ctx context.Context, actor string) error {
	return bsky.GraphUnmuteActor(ctx, a, &bsky.GraphUnmuteActorInput{Actor: actor})
}

// MuteModList mutes every account on the moderation list at listURI.
func (a *Agent) MuteModList(ctx context.Context, listURI string) error {
	return bsky.GraphMuteActorList(ctx, a, &bsky.GraphMuteActorListInput{List: listURI})
}

// UnmuteModList undoes [Agent.MuteModList].
func (a *Agent) UnmuteModList(ctx context.Context, listURI string) error {
	return bsky.GraphUnmuteActorList(ctx, a, &bsky.GraphUnmuteActorListInput{List: listURI})
}

// BlockModList blocks every account on the moderation list at listURI by
// creating a listblock record, whose reference it returns.
func (a *Agent) BlockModList(ctx context.Context, listURI string) (*atproto.RepoStrongRef, error) {
	return a.createRecord(ctx, bsky.GraphListblockNSID, &bsky.GraphListblock{
		Subject:   listURI,
		CreatedAt: now(),
	})
}

// UnblockModList undoes [Agent.BlockModList]: it looks up the account's
// listblock record for the list (the list view's viewer.blocked) and
// deletes it. A list that is not blocked is left as it is.
func (a *Agent) UnblockModList(ctx context.Context, listURI string) error {
	if _, err := a.assertDID(); err != nil {
		return err
	}
	out, err := bsky.GraphGetList(ctx, a, listURI, &bsky.GraphGetListParams{Limit: lex.Ptr[int64](1)})
	if err != nil {
		return err
	}
	blocked := out.GetList().GetViewer().GetBlocked()
	if blocked == "" {
		return nil
	}
	return a.deleteRecord(ctx, bsky.GraphListblockNSID, blocked)
}

// UpdateSeenNotifications marks the account's notifications as seen up to
// seenAt, or now when seenAt is not given.
func (a *Agent) UpdateSeenNotifications(ctx context.Context, seenAt ...time.Time) error {
	t := now()
	if len(seenAt) > 0 && !seenAt[0].IsZero() {
		t = datetime(seenAt[0])
	}
	return bsky.NotificationUpdateSeen(ctx, a, &bsky.NotificationUpdateSeenInput{SeenAt: t})
}
