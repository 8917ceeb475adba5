package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/atpgo/atp"
	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
)

// Record helpers over the generated calls, sent through the Agent (a
// lex.Client). They do what the Agent's Post, Like, Follow and DeletePost
// do, with the same lexicon types.

func datetime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func createRecord(ctx context.Context, a *atp.Agent, collection string, rec lex.Object) (*atproto.RepoStrongRef, error) {
	out, err := atproto.RepoCreateRecord(ctx, a, &atproto.RepoCreateRecordInput{
		Repo: a.DID(), Collection: collection, Record: rec,
	})
	if err != nil {
		return nil, err
	}
	return &atproto.RepoStrongRef{URI: out.URI, CID: out.CID}, nil
}

func post(ctx context.Context, a *atp.Agent, text string, embed bsky.FeedPost_Embed) (*atproto.RepoStrongRef, error) {
	return createRecord(ctx, a, "app.bsky.feed.post", &bsky.FeedPost{
		Text: text, Embed: embed, Langs: []string{"en"}, CreatedAt: datetime(time.Now()),
	})
}

func like(ctx context.Context, a *atp.Agent, subject *atproto.RepoStrongRef) (*atproto.RepoStrongRef, error) {
	return createRecord(ctx, a, "app.bsky.feed.like", &bsky.FeedLike{Subject: subject, CreatedAt: datetime(time.Now())})
}

func follow(ctx context.Context, a *atp.Agent, did string) (*atproto.RepoStrongRef, error) {
	return createRecord(ctx, a, "app.bsky.graph.follow", &bsky.GraphFollow{Subject: did, CreatedAt: datetime(time.Now())})
}

// rkey returns the record key of an at:// URI.
func rkey(t *testing.T, uri string) string {
	t.Helper()
	i := strings.LastIndexByte(uri, '/')
	if i < 0 || !strings.HasPrefix(uri, "at://") {
		t.Fatalf("not a record URI: %q", uri)
	}
	return uri[i+1:]
}

func deleteRecord(ctx context.Context, a *atp.Agent, collection, rk string) error {
	_, err := atproto.RepoDeleteRecord(ctx, a, &atproto.RepoDeleteRecordInput{
		Repo: a.DID(), Collection: collection, Rkey: rk,
	})
	return err
}

// testPNG returns a small PNG image.
func testPNG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(fmt.Sprint("encoding a PNG: ", err))
	}
	return b.Bytes()
}
