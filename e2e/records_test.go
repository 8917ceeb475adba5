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

	"github.com/atpgo/atp"
	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
)

// Small helpers over the Agent's record methods.

func post(ctx context.Context, a *atp.Agent, text string, embed bsky.FeedPost_Embed) (*atproto.RepoStrongRef, error) {
	return a.Post(ctx, atp.PostInput{Text: text, Embed: embed, Langs: []string{"en"}})
}

func like(ctx context.Context, a *atp.Agent, subject *atproto.RepoStrongRef) (*atproto.RepoStrongRef, error) {
	return a.Like(ctx, subject.URI, subject.CID)
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
