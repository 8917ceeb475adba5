package lex_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
)

func TestPathAt(t *testing.T) {
	doc := `{"cursor":"x","feed":[{"post":{"uri":"a"}},{"post":{"uri":"b","author":{"handle":7}}}]}`
	cases := map[string]string{
		`"x"`:    "cursor",
		`"a"`:    "feed[0].post.uri",
		`7`:      "feed[1].post.author.handle",
		`{"uri"`: "feed[0].post",
	}
	for needle, want := range cases {
		if got := lex.PathAt([]byte(doc), strings.Index(doc, needle)); got != want {
			t.Errorf("PathAt(%s) = %q, want %q", needle, got, want)
		}
	}
	if got := lex.PathAt([]byte(doc), 0); got != "" {
		t.Errorf("PathAt(0) = %q", got)
	}
}

func TestDecodeErrorNamesTheField(t *testing.T) {
	doc := `{"feed":[{"post":{"uri":"at://a","cid":"b","indexedAt":"c","author":{"did":"did:plc:x","handle":7},"record":{}}}]}`
	var out bsky.FeedGetTimelineOutput
	err := lex.Unmarshal([]byte(doc), &out)
	var se *lex.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a *lex.SyntaxError", err)
	}
	if se.Path != "feed[0].post.author.handle" || !strings.Contains(err.Error(), "feed[0].post.author.handle") {
		t.Errorf("error %q, path %q: want the path of the bad field", err, se.Path)
	}
}

func TestRateLimit(t *testing.T) {
	h := http.Header{}
	h.Set("RateLimit-Limit", "3000")
	h.Set("RateLimit-Remaining", "0")
	h.Set("RateLimit-Reset", "1764763200")
	h.Set("RateLimit-Policy", "3000;w=300")
	e := &lex.Error{StatusCode: 429, Name: "RateLimitExceeded", Header: h}
	rl, ok := e.RateLimit()
	want := lex.RateLimit{Limit: 3000, Remaining: 0, Reset: time.Unix(1764763200, 0), Policy: "3000;w=300"}
	if !ok || rl != want {
		t.Errorf("RateLimit() = %+v, %v; want %+v", rl, ok, want)
	}
	if _, ok := (&lex.Error{Header: http.Header{}}).RateLimit(); ok {
		t.Error("RateLimit reported on a response without the headers")
	}
}
