package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
	ibsky "github.com/bluesky-social/indigo/api/bsky"
	"github.com/google/go-cmp/cmp"
)

// BenchmarkDecodeTimeline decodes a 100-post getTimeline response into
// this module's types (ours), indigo's api/bsky types (indigo) and
// map[string]any (map-any, a reference point).
func BenchmarkDecodeTimeline(b *testing.B) {
	data, _ := timeline(100)
	for _, d := range decoders {
		b.Run(d.name, benchmark(data, d.decode))
	}
}

// TestFixtureMix checks the mix of the response that timeline.go
// documents.
func TestFixtureMix(t *testing.T) {
	data, items := timeline(100)
	count := map[string]int{}
	for _, it := range items {
		count["embed:"+it.Embed]++
		if it.Parent != "" {
			count["reply"]++
		}
		if it.RepostBy != "" {
			count["repost"]++
		}
	}
	want := map[string]int{
		"embed:images": 25, "embed:external": 13, "embed:record": 13, "embed:recordWithMedia": 13, "embed:": 36,
		"reply": 33, "repost": 20,
	}
	if diff := cmp.Diff(want, count); diff != "" {
		t.Errorf("mix (-want +got):\n%s", diff)
	}
	if !json.Valid(data) {
		t.Fatal("fixture is not valid JSON")
	}
	t.Logf("%d bytes", len(data))
}

// TestDecodersReadEverything decodes the response with both decoders and
// checks that each read every feed item completely: the values the fixture
// was built with come back from both, our decoder kept nothing as an
// unknown member or extra field (so every member matched a typed field),
// and indigo's result re-encodes (indigo's unions encode only when a known
// member was decoded; an unknown $type leaves them empty, see the README).
func TestDecodersReadEverything(t *testing.T) {
	data, want := timeline(100)

	ours, err := decodeOurs(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := oursItems(ours)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ours (-want +got):\n%s", diff)
	}
	if ours.Cursor == nil || *ours.Cursor == "" {
		t.Error("ours: no cursor")
	}
	if err := noLeftovers(reflect.ValueOf(ours), "FeedGetTimelineOutput"); err != nil {
		t.Errorf("ours: %v", err)
	}

	theirs, err := decodeIndigo(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err = indigoItems(theirs)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("indigo (-want +got):\n%s", diff)
	}
	if theirs.Cursor == nil || *theirs.Cursor == "" {
		t.Error("indigo: no cursor")
	}
	if _, err := json.Marshal(theirs); err != nil {
		t.Errorf("indigo: re-encoding: %v", err)
	}
}

var (
	unknownType = reflect.TypeFor[*lex.Unknown]()
	extraType   = reflect.TypeFor[lex.Extra]()
)

// noLeftovers reports an *lex.Unknown, or an Extra holding members, anywhere
// in v.
func noLeftovers(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if v.Type() == unknownType || (v.Kind() == reflect.Interface && v.Elem().Type() == unknownType) {
			u := v.Interface().(*lex.Unknown)
			return fmt.Errorf("%s: kept as unknown (%q, err %v)", path, u.Type, u.Err)
		}
		return noLeftovers(v.Elem(), path)
	case reflect.Slice:
		for i := range v.Len() {
			if err := noLeftovers(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		if v.Type() == extraType {
			x := v.Addr().Interface().(*lex.Extra)
			if x.Len() > 0 {
				for name := range x.All() {
					return fmt.Errorf("%s: member %q not decoded into a field", path, name)
				}
			}
			return nil
		}
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			if err := noLeftovers(v.Field(i), path+"."+v.Type().Field(i).Name); err != nil {
				return err
			}
		}
	}
	return nil
}

func oursItems(out *bsky.FeedGetTimelineOutput) ([]item, error) {
	var items []item
	for i, fv := range out.Feed {
		p := fv.Post
		rec, ok := p.Record.(*bsky.FeedPost)
		if !ok {
			return nil, fmt.Errorf("feed[%d].post.record is %T", i, p.Record)
		}
		it := item{URI: p.URI, Handle: p.Author.Handle, Text: rec.Text}
		for _, f := range rec.Facets {
			for _, ft := range f.Features {
				switch ft.(type) {
				case *bsky.RichtextFacetMention:
					it.Features = append(it.Features, "mention")
				case *bsky.RichtextFacetLink:
					it.Features = append(it.Features, "link")
				case *bsky.RichtextFacetTag:
					it.Features = append(it.Features, "tag")
				default:
					return nil, fmt.Errorf("feed[%d]: facet feature %T", i, ft)
				}
			}
		}
		quoted := func(r bsky.EmbedRecordView_Record) (string, error) {
			vr, ok := r.(*bsky.EmbedRecordViewRecord)
			if !ok {
				return "", fmt.Errorf("feed[%d]: quoted record is %T", i, r)
			}
			if _, ok := vr.Value.(*bsky.FeedPost); !ok {
				return "", fmt.Errorf("feed[%d]: quoted value is %T", i, vr.Value)
			}
			return vr.URI, nil
		}
		var err error
		switch e := p.Embed.(type) {
		case nil:
		case *bsky.EmbedImagesView:
			it.Embed, it.Images = "images", len(e.Images)
		case *bsky.EmbedExternalView:
			it.Embed = "external"
		case *bsky.EmbedRecordView:
			it.Embed = "record"
			it.QuoteURI, err = quoted(e.Record)
		case *bsky.EmbedRecordWithMediaView:
			it.Embed = "recordWithMedia"
			it.QuoteURI, err = quoted(e.Record.Record)
			switch m := e.Media.(type) {
			case *bsky.EmbedImagesView:
				it.Images = len(m.Images)
			case *bsky.EmbedExternalView:
			default:
				err = fmt.Errorf("feed[%d]: media is %T", i, m)
			}
		default:
			err = fmt.Errorf("feed[%d]: embed is %T", i, e)
		}
		if err != nil {
			return nil, err
		}
		if fv.Reply != nil {
			switch r := fv.Reply.Root.(type) {
			case *bsky.FeedDefsPostView:
				it.Root = r.URI
			case *bsky.FeedDefsNotFoundPost:
				it.Root = r.URI
			default:
				return nil, fmt.Errorf("feed[%d]: reply root is %T", i, r)
			}
			pv, ok := fv.Reply.Parent.(*bsky.FeedDefsPostView)
			if !ok {
				return nil, fmt.Errorf("feed[%d]: reply parent is %T", i, fv.Reply.Parent)
			}
			it.Parent = pv.URI
		}
		if fv.Reason != nil {
			r, ok := fv.Reason.(*bsky.FeedDefsReasonRepost)
			if !ok {
				return nil, fmt.Errorf("feed[%d]: reason is %T", i, fv.Reason)
			}
			it.RepostBy = r.By.DID
		}
		for _, l := range p.Labels {
			it.Labels = append(it.Labels, l.Val)
		}
		if p.LikeCount != nil {
			it.LikeCount = *p.LikeCount
		}
		if v := p.Author.Viewer; v != nil && v.Following != nil {
			it.Following = *v.Following
		}
		items = append(items, it)
	}
	return items, nil
}

func indigoItems(out *ibsky.FeedGetTimeline_Output) ([]item, error) {
	var items []item
	for i, fv := range out.Feed {
		p := fv.Post
		if p.Record == nil {
			return nil, fmt.Errorf("feed[%d].post.record is nil", i)
		}
		rec, ok := p.Record.Val.(*ibsky.FeedPost)
		if !ok {
			return nil, fmt.Errorf("feed[%d].post.record is %T", i, p.Record.Val)
		}
		it := item{URI: p.Uri, Handle: p.Author.Handle, Text: rec.Text}
		for _, f := range rec.Facets {
			for _, ft := range f.Features {
				switch {
				case ft.RichtextFacet_Mention != nil:
					it.Features = append(it.Features, "mention")
				case ft.RichtextFacet_Link != nil:
					it.Features = append(it.Features, "link")
				case ft.RichtextFacet_Tag != nil:
					it.Features = append(it.Features, "tag")
				default:
					return nil, fmt.Errorf("feed[%d]: empty facet feature", i)
				}
			}
		}
		quoted := func(r *ibsky.EmbedRecord_View_Record) (string, error) {
			if r == nil || r.EmbedRecord_ViewRecord == nil {
				return "", fmt.Errorf("feed[%d]: quoted record not decoded", i)
			}
			vr := r.EmbedRecord_ViewRecord
			if vr.Value == nil {
				return "", fmt.Errorf("feed[%d]: quoted value is nil", i)
			}
			if _, ok := vr.Value.Val.(*ibsky.FeedPost); !ok {
				return "", fmt.Errorf("feed[%d]: quoted value is %T", i, vr.Value.Val)
			}
			return vr.Uri, nil
		}
		var err error
		if e := p.Embed; e != nil {
			switch {
			case e.EmbedImages_View != nil:
				it.Embed, it.Images = "images", len(e.EmbedImages_View.Images)
			case e.EmbedExternal_View != nil:
				it.Embed = "external"
			case e.EmbedRecord_View != nil:
				it.Embed = "record"
				it.QuoteURI, err = quoted(e.EmbedRecord_View.Record)
			case e.EmbedRecordWithMedia_View != nil:
				it.Embed = "recordWithMedia"
				rwm := e.EmbedRecordWithMedia_View
				it.QuoteURI, err = quoted(rwm.Record.Record)
				switch m := rwm.Media; {
				case m == nil:
					err = fmt.Errorf("feed[%d]: media is nil", i)
				case m.EmbedImages_View != nil:
					it.Images = len(m.EmbedImages_View.Images)
				case m.EmbedExternal_View != nil:
				default:
					err = fmt.Errorf("feed[%d]: empty media union", i)
				}
			default:
				err = fmt.Errorf("feed[%d]: empty embed union", i)
			}
		}
		if err != nil {
			return nil, err
		}
		if r := fv.Reply; r != nil {
			switch {
			case r.Root == nil:
				return nil, fmt.Errorf("feed[%d]: no reply root", i)
			case r.Root.FeedDefs_PostView != nil:
				it.Root = r.Root.FeedDefs_PostView.Uri
			case r.Root.FeedDefs_NotFoundPost != nil:
				it.Root = r.Root.FeedDefs_NotFoundPost.Uri
			default:
				return nil, fmt.Errorf("feed[%d]: empty reply root union", i)
			}
			if r.Parent == nil || r.Parent.FeedDefs_PostView == nil {
				return nil, fmt.Errorf("feed[%d]: reply parent not decoded", i)
			}
			it.Parent = r.Parent.FeedDefs_PostView.Uri
		}
		if r := fv.Reason; r != nil {
			if r.FeedDefs_ReasonRepost == nil {
				return nil, fmt.Errorf("feed[%d]: reason not decoded", i)
			}
			it.RepostBy = r.FeedDefs_ReasonRepost.By.Did
		}
		for _, l := range p.Labels {
			it.Labels = append(it.Labels, l.Val)
		}
		if p.LikeCount != nil {
			it.LikeCount = *p.LikeCount
		}
		if v := p.Author.Viewer; v != nil && v.Following != nil {
			it.Following = *v.Following
		}
		items = append(items, it)
	}
	return items, nil
}
