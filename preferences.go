package atp

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// Preferences summarizes an account's app.bsky preferences, as
// @atproto/api's BskyPreferences does.
type Preferences struct {
	// AdultContentEnabled says whether adult content may be shown at all.
	AdultContentEnabled bool
	// ContentLabels are the per-label visibility choices (global when
	// LabelerDID is nil).
	ContentLabels []*bsky.ActorDefsContentLabelPref
	// SavedFeeds are the saved and pinned feeds, lists and timelines, in
	// order (savedFeedsPrefV2).
	SavedFeeds []*bsky.ActorDefsSavedFeed
	// MutedWords are the muted words and tags.
	MutedWords []*bsky.ActorDefsMutedWord
	// HiddenPosts are the URIs of hidden posts.
	HiddenPosts []string
	// Labelers are the DIDs of the labelers the account subscribed to.
	// Pass them to [WithLabelers] to receive their labels.
	Labelers []string
	// Raw is every preference as stored, including the kinds not
	// summarized above and any unknown to this program.
	Raw bsky.ActorDefsPreferences
}

// GetPreferences reads the account's preferences
// (app.bsky.actor.getPreferences, served by the PDS). Unlike the
// TypeScript Agent, it writes nothing (no migration of old saved feeds)
// and does not reconfigure the Agent's labelers: see Preferences.Labelers.
func (a *Agent) GetPreferences(ctx context.Context) (*Preferences, error) {
	out, err := bsky.ActorGetPreferences(ctx, a, nil)
	if err != nil {
		return nil, err
	}
	p := &Preferences{Raw: out.Preferences}
	for _, item := range out.Preferences {
		switch v := item.(type) {
		case *bsky.ActorDefsAdultContentPref:
			p.AdultContentEnabled = v.Enabled
		case *bsky.ActorDefsContentLabelPref:
			p.ContentLabels = append(p.ContentLabels, v)
		case *bsky.ActorDefsSavedFeedsPrefV2:
			p.SavedFeeds = v.Items
		case *bsky.ActorDefsMutedWordsPref:
			p.MutedWords = v.Items
		case *bsky.ActorDefsHiddenPostsPref:
			p.HiddenPosts = v.Items
		case *bsky.ActorDefsLabelersPref:
			p.Labelers = p.Labelers[:0]
			for _, l := range v.Labelers {
				p.Labelers = append(p.Labelers, l.DID)
			}
		}
	}
	return p, nil
}

// UpdatePreferences reads the account's preferences, passes them to
// update, and writes what it returns (app.bsky.actor.putPreferences
// replaces them all). Updates through an Agent, and the copies made with
// With and WithProxy, are serialized, so that two of them never lose each
// other's changes; preferences unknown to this program are written back
// unchanged. update may modify its argument and return it.
func (a *Agent) UpdatePreferences(ctx context.Context, update func(bsky.ActorDefsPreferences) (bsky.ActorDefsPreferences, error)) error {
	if _, err := a.assertDID(); err != nil {
		return err
	}
	mu := prefsLock(a.did)
	mu.Lock()
	defer mu.Unlock()
	out, err := bsky.ActorGetPreferences(ctx, a, nil)
	if err != nil {
		return err
	}
	prefs, err := update(out.Preferences)
	if err != nil {
		return err
	}
	in := &bsky.ActorPutPreferencesInput{Preferences: prefs}
	if in.Preferences == nil {
		in.Preferences = bsky.ActorDefsPreferences{}
	}
	if err := lex.Validate(in); err != nil {
		return err
	}
	return bsky.ActorPutPreferences(ctx, a, in)
}

// prefsLocks holds a *sync.Mutex per account DID, serializing preference
// updates across Agents (an app may make one Agent per request).
var prefsLocks sync.Map

func prefsLock(did string) *sync.Mutex {
	mu, _ := prefsLocks.LoadOrStore(did, new(sync.Mutex))
	return mu.(*sync.Mutex)
}

// updatePref updates the preference of type T in a.prefs (the last one,
// dropping others of the type), creating it first when there is none.
func updatePref[T bsky.ActorDefsPreferences_Item](ctx context.Context, a *Agent, create func() T, update func(T)) error {
	return a.UpdatePreferences(ctx, func(prefs bsky.ActorDefsPreferences) (bsky.ActorDefsPreferences, error) {
		var found T
		var ok bool
		prefs = slices.DeleteFunc(prefs, func(p bsky.ActorDefsPreferences_Item) bool {
			t, is := p.(T)
			if is {
				found, ok = t, true
			}
			return is
		})
		if !ok {
			found = create()
		}
		update(found)
		return append(prefs, found), nil
	})
}

// SetAdultContentEnabled allows or forbids adult content.
func (a *Agent) SetAdultContentEnabled(ctx context.Context, enabled bool) error {
	return updatePref(ctx, a, func() *bsky.ActorDefsAdultContentPref { return new(bsky.ActorDefsAdultContentPref) },
		func(p *bsky.ActorDefsAdultContentPref) { p.Enabled = enabled })
}

// SetContentLabelPref sets how content with label is shown: globally
// when labelerDID is "", or for that labeler's label. (The TypeScript
// Agent's old names "nsfw", "nudity", "suggestive" and "gore" are not
// rewritten.)
func (a *Agent) SetContentLabelPref(ctx context.Context, label string, visibility bsky.ActorDefsContentLabelPref_Visibility, labelerDID string) error {
	return a.UpdatePreferences(ctx, func(prefs bsky.ActorDefsPreferences) (bsky.ActorDefsPreferences, error) {
		prefs = slices.DeleteFunc(prefs, func(p bsky.ActorDefsPreferences_Item) bool {
			c, ok := p.(*bsky.ActorDefsContentLabelPref)
			return ok && c.Label == label && c.GetLabelerDID() == labelerDID
		})
		pref := &bsky.ActorDefsContentLabelPref{Label: label, Visibility: visibility}
		if labelerDID != "" {
			pref.LabelerDID = lex.Ptr(labelerDID)
		}
		return append(prefs, pref), nil
	})
}

// AddLabeler subscribes the account to the labeler with the given DID.
func (a *Agent) AddLabeler(ctx context.Context, did string) error {
	return updatePref(ctx, a, func() *bsky.ActorDefsLabelersPref {
		return &bsky.ActorDefsLabelersPref{Labelers: []*bsky.ActorDefsLabelerPrefItem{}}
	},
		func(p *bsky.ActorDefsLabelersPref) {
			if !slices.ContainsFunc(p.Labelers, func(l *bsky.ActorDefsLabelerPrefItem) bool { return l.DID == did }) {
				p.Labelers = append(p.Labelers, &bsky.ActorDefsLabelerPrefItem{DID: did})
			}
		})
}

// RemoveLabeler unsubscribes the account from the labeler with the given
// DID.
func (a *Agent) RemoveLabeler(ctx context.Context, did string) error {
	return updatePref(ctx, a, func() *bsky.ActorDefsLabelersPref {
		return &bsky.ActorDefsLabelersPref{Labelers: []*bsky.ActorDefsLabelerPrefItem{}}
	},
		func(p *bsky.ActorDefsLabelersPref) {
			p.Labelers = slices.DeleteFunc(p.Labelers, func(l *bsky.ActorDefsLabelerPrefItem) bool { return l.DID == did })
		})
}

func newSavedFeeds() *bsky.ActorDefsSavedFeedsPrefV2 {
	return &bsky.ActorDefsSavedFeedsPrefV2{Items: []*bsky.ActorDefsSavedFeed{}}
}

// newID returns a fresh TID, the id form the TypeScript Agent gives saved
// feeds and muted words.
func newID() string { return syntax.NewTIDNow(uint(rand.IntN(1024))).String() }

// AddSavedFeeds saves feeds (after those saved already), giving each
// without an ID a new one; a feed of the same type and value as one
// already saved is not added twice.
func (a *Agent) AddSavedFeeds(ctx context.Context, feeds ...*bsky.ActorDefsSavedFeed) error {
	return updatePref(ctx, a, newSavedFeeds, func(p *bsky.ActorDefsSavedFeedsPrefV2) {
		for _, f := range feeds {
			if slices.ContainsFunc(p.Items, func(g *bsky.ActorDefsSavedFeed) bool { return g.Type == f.Type && g.Value == f.Value }) {
				continue
			}
			g := *f
			if g.ID == "" {
				g.ID = newID()
			}
			p.Items = append(p.Items, &g)
		}
	})
}

// RemoveSavedFeeds removes the saved feeds with the given IDs.
func (a *Agent) RemoveSavedFeeds(ctx context.Context, ids ...string) error {
	return updatePref(ctx, a, newSavedFeeds, func(p *bsky.ActorDefsSavedFeedsPrefV2) {
		p.Items = slices.DeleteFunc(p.Items, func(f *bsky.ActorDefsSavedFeed) bool { return slices.Contains(ids, f.ID) })
	})
}

// OverwriteSavedFeeds replaces the saved feeds (pinned ones have Pinned
// set), giving each without an ID a new one.
func (a *Agent) OverwriteSavedFeeds(ctx context.Context, feeds []*bsky.ActorDefsSavedFeed) error {
	return updatePref(ctx, a, newSavedFeeds, func(p *bsky.ActorDefsSavedFeedsPrefV2) {
		p.Items = make([]*bsky.ActorDefsSavedFeed, 0, len(feeds))
		for _, f := range feeds {
			g := *f
			if g.ID == "" {
				g.ID = newID()
			}
			p.Items = append(p.Items, &g)
		}
	})
}

// SetFeedPinned pins or unpins the saved feed with the given ID.
func (a *Agent) SetFeedPinned(ctx context.Context, id string, pinned bool) error {
	return updatePref(ctx, a, newSavedFeeds, func(p *bsky.ActorDefsSavedFeedsPrefV2) {
		for _, f := range p.Items {
			if f.ID == id {
				f.Pinned = pinned
			}
		}
	})
}

// sanitizeMutedWord trims a muted word and the "#" of a tag, as the
// TypeScript Agent does.
func sanitizeMutedWord(v string) string {
	v = strings.TrimFunc(v, unicode.IsSpace)
	v = strings.TrimLeft(v, "#＃")
	return strings.TrimFunc(v, unicode.IsSpace)
}

func newMutedWords() *bsky.ActorDefsMutedWordsPref {
	return &bsky.ActorDefsMutedWordsPref{Items: []*bsky.ActorDefsMutedWord{}}
}

// AddMutedWords mutes words (Targets "content" for text, "tag" for
// hashtags), trimming spaces and a leading "#" from each Value and giving
// each a new ID. Words that are empty after trimming are skipped.
func (a *Agent) AddMutedWords(ctx context.Context, words ...*bsky.ActorDefsMutedWord) error {
	return updatePref(ctx, a, newMutedWords, func(p *bsky.ActorDefsMutedWordsPref) {
		for _, w := range words {
			v := sanitizeMutedWord(w.Value)
			if v == "" {
				continue
			}
			nw := *w
			nw.Value, nw.ID = v, lex.Ptr(newID())
			p.Items = append(p.Items, &nw)
		}
	})
}

// UpdateMutedWord replaces the muted word with w's ID (or, for words
// saved without one, w's value).
func (a *Agent) UpdateMutedWord(ctx context.Context, w *bsky.ActorDefsMutedWord) error {
	return updatePref(ctx, a, newMutedWords, func(p *bsky.ActorDefsMutedWordsPref) {
		for i, old := range p.Items {
			if sameMutedWord(old, w) {
				nw := *w
				nw.Value = sanitizeMutedWord(w.Value)
				p.Items[i] = &nw
			}
		}
	})
}

// RemoveMutedWords unmutes words, matched by ID (or, for words saved
// without one, by value).
func (a *Agent) RemoveMutedWords(ctx context.Context, words ...*bsky.ActorDefsMutedWord) error {
	return updatePref(ctx, a, newMutedWords, func(p *bsky.ActorDefsMutedWordsPref) {
		p.Items = slices.DeleteFunc(p.Items, func(old *bsky.ActorDefsMutedWord) bool {
			return slices.ContainsFunc(words, func(w *bsky.ActorDefsMutedWord) bool { return sameMutedWord(old, w) })
		})
	})
}

func sameMutedWord(old, w *bsky.ActorDefsMutedWord) bool {
	if old.ID != nil && w.ID != nil {
		return *old.ID == *w.ID
	}
	return old.ID == nil && old.Value == sanitizeMutedWord(w.Value)
}

func newHiddenPosts() *bsky.ActorDefsHiddenPostsPref {
	return &bsky.ActorDefsHiddenPostsPref{Items: []string{}}
}

// HidePost hides the post at uri from the account's views.
func (a *Agent) HidePost(ctx context.Context, uri string) error {
	return updatePref(ctx, a, newHiddenPosts, func(p *bsky.ActorDefsHiddenPostsPref) {
		if !slices.Contains(p.Items, uri) {
			p.Items = append(p.Items, uri)
		}
	})
}

// UnhidePost undoes [Agent.HidePost].
func (a *Agent) UnhidePost(ctx context.Context, uri string) error {
	return updatePref(ctx, a, newHiddenPosts, func(p *bsky.ActorDefsHiddenPostsPref) {
		p.Items = slices.DeleteFunc(p.Items, func(s string) bool { return s == uri })
	})
}

// replacePref replaces the preferences of type T that match (all of them
// when match is nil) with v.
func replacePref[T bsky.ActorDefsPreferences_Item](ctx context.Context, a *Agent, v T, match func(T) bool) error {
	return a.UpdatePreferences(ctx, func(prefs bsky.ActorDefsPreferences) (bsky.ActorDefsPreferences, error) {
		prefs = slices.DeleteFunc(prefs, func(p bsky.ActorDefsPreferences_Item) bool {
			t, ok := p.(T)
			return ok && (match == nil || match(t))
		})
		return append(prefs, v), nil
	})
}

// SetFeedViewPref sets how the feed pref.Feed ("home" for the timeline,
// or a feed generator's URI) shows replies, reposts and quotes, replacing
// its previous settings.
func (a *Agent) SetFeedViewPref(ctx context.Context, pref *bsky.ActorDefsFeedViewPref) error {
	return replacePref(ctx, a, pref, func(p *bsky.ActorDefsFeedViewPref) bool { return p.Feed == pref.Feed })
}

// SetThreadViewPref sets how threads are shown.
func (a *Agent) SetThreadViewPref(ctx context.Context, pref *bsky.ActorDefsThreadViewPref) error {
	return replacePref(ctx, a, pref, nil)
}

// SetInterests sets the account's interests (tags such as "tech").
func (a *Agent) SetInterests(ctx context.Context, tags []string) error {
	if tags == nil {
		tags = []string{}
	}
	return replacePref(ctx, a, &bsky.ActorDefsInterestsPref{Tags: tags}, nil)
}

// SetPersonalDetails sets the account holder's birth date.
func (a *Agent) SetPersonalDetails(ctx context.Context, birthDate time.Time) error {
	return replacePref(ctx, a, &bsky.ActorDefsPersonalDetailsPref{BirthDate: lex.Ptr(datetime(birthDate))}, nil)
}

// SetPostInteractionSettings sets the default threadgate and postgate
// rules of new posts.
func (a *Agent) SetPostInteractionSettings(ctx context.Context, pref *bsky.ActorDefsPostInteractionSettingsPref) error {
	return replacePref(ctx, a, pref, nil)
}

// SetVerificationPrefs sets how verification badges are shown.
func (a *Agent) SetVerificationPrefs(ctx context.Context, pref *bsky.ActorDefsVerificationPrefs) error {
	return replacePref(ctx, a, pref, nil)
}
