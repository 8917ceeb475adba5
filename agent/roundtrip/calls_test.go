package roundtrip

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
)

// TestGeneratedCalls drives generated calls through lex.HTTPClient against a
// fake PDS serving the fixtures: parameters (false and 0 included), JSON and
// binary bodies, declared errors, streamed output.
func TestGeneratedCalls(t *testing.T) {
	type seen struct {
		method, path, query, ctype, body string
	}
	var last seen
	timeline, prefs := readFixture(t, timelineFile), readFixture(t, "getPreferences.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		last = seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), string(b)}
		switch r.URL.Path {
		case "/xrpc/app.bsky.feed.getTimeline":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Write(timeline)
		case "/xrpc/app.bsky.actor.getPreferences":
			w.Write(prefs)
		case "/xrpc/com.atproto.repo.putRecord":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"InvalidSwap","message":"Record was at bafyreiabc"}`)
		case "/xrpc/com.atproto.repo.uploadBlob":
			io.WriteString(w, `{"blob":{"$type":"blob","ref":{"$link":"bafkreiq37i7latjpuu5xfmzkp2ec6uk3geqfng274loi25phssrrxqqm4p"},"mimeType":"image/png","size":8}}`)
		case "/xrpc/com.atproto.sync.getRepo":
			w.Header().Set("Content-Type", "application/vnd.ipld.car")
			io.WriteString(w, "\x3a\xa2car-bytes")
		default:
			w.WriteHeader(http.StatusNotImplemented)
			io.WriteString(w, `{"error":"MethodNotImplemented"}`)
		}
	}))
	defer srv.Close()
	c := &lex.HTTPClient{Host: srv.URL, Client: srv.Client()}
	ctx := context.Background()

	tl, err := bsky.FeedGetTimeline(ctx, c, &bsky.FeedGetTimelineParams{Limit: lex.Ptr[int64](0), Cursor: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	if last.method != http.MethodGet || last.query != "cursor=abc&limit=0" {
		t.Errorf("getTimeline request %+v", last)
	}
	if len(tl.Feed) != 100 {
		t.Errorf("%d posts", len(tl.Feed))
	}

	if _, err := bsky.FeedGetAuthorFeed(ctx, c, "bsky.app", &bsky.FeedGetAuthorFeedParams{IncludePins: lex.Ptr(false)}); err == nil {
		t.Error("501 not an error")
	}
	if last.query != "actor=bsky.app&includePins=false" {
		t.Errorf("getAuthorFeed query %q: false must be sent", last.query)
	}

	prefOut, err := bsky.ActorGetPreferences(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := prefOut.Preferences[17].(*lex.Unknown); !ok || u.Type != "app.graysky.actor.defs#translationPref" {
		t.Errorf("unknown preference lost: %T", prefOut.Preferences[17])
	}

	swap := lex.NullableOf("bafyrei4lajlj6hdu6gdpmrcg4be4umr46pqm4i2hz4uep3enthjxjqi5og")
	_, err = atproto.RepoPutRecord(ctx, c, &atproto.RepoPutRecordInput{
		Repo: "did:plc:oky5czdrnfjpqslsw2a5iclo", Collection: bsky.ActorProfileNSID, Rkey: "self",
		Record: &bsky.ActorProfile{DisplayName: lex.Ptr("Jay 🦋")}, SwapRecord: &swap,
	})
	if !errors.Is(err, atproto.ErrRepoPutRecordInvalidSwap) {
		t.Errorf("putRecord err = %v, want ErrRepoPutRecordInvalidSwap", err)
	}
	var xe *lex.Error
	if !errors.As(err, &xe) || xe.Message != "Record was at bafyreiabc" || xe.StatusCode != 400 {
		t.Errorf("putRecord err = %#v", err)
	}
	if last.method != http.MethodPost || last.ctype != "application/json" {
		t.Errorf("putRecord request %+v", last)
	}
	wantBody := `{"repo":"did:plc:oky5czdrnfjpqslsw2a5iclo","collection":"app.bsky.actor.profile","rkey":"self",` +
		`"record":{"$type":"app.bsky.actor.profile","displayName":"Jay 🦋"},` +
		`"swapRecord":"bafyrei4lajlj6hdu6gdpmrcg4be4umr46pqm4i2hz4uep3enthjxjqi5og"}`
	if diff := cmp.Diff(toAny(t, []byte(wantBody)), toAny(t, []byte(last.body))); diff != "" {
		t.Errorf("putRecord body (-want +got):\n%s", diff)
	}

	blob, err := atproto.RepoUploadBlob(ctx, c, strings.NewReader("\x89PNG\r\n\x1a\n"), "image/png")
	if err != nil {
		t.Fatal(err)
	}
	if last.ctype != "image/png" || last.body != "\x89PNG\r\n\x1a\n" || blob.Blob.Size != 8 {
		t.Errorf("uploadBlob request %+v, blob %+v", last, blob.Blob)
	}

	s, err := atproto.SyncGetRepo(ctx, c, "did:plc:oky5czdrnfjpqslsw2a5iclo", nil)
	if err != nil {
		t.Fatal(err)
	}
	car, _ := io.ReadAll(s)
	s.Close()
	if string(car) != "\x3a\xa2car-bytes" || s.ContentType != "application/vnd.ipld.car" {
		t.Errorf("getRepo %q %q", car, s.ContentType)
	}
}
