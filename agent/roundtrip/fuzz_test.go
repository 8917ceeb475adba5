package roundtrip

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
)

// checkReencodes is the fuzz property: input that decodes into a P must
// encode without error to valid JSON that decodes again, and whose second
// encoding is the same JSON value as the first.
func checkReencodes[T any, P interface {
	*T
	lex.Object
}](t *testing.T, data []byte) {
	v := P(new(T))
	if lex.Unmarshal(data, v) != nil {
		return
	}
	enc1, err := encode(v)
	if err != nil {
		t.Fatalf("decoded but does not encode: %v\ninput: %q", err, data)
	}
	if !json.Valid(enc1) {
		t.Fatalf("encoded invalid JSON %q\ninput: %q", enc1, data)
	}
	w := P(new(T))
	if err := lex.Unmarshal(enc1, w); err != nil {
		t.Fatalf("encoding does not decode again: %v\nencoding: %s\ninput: %q", err, enc1, data)
	}
	enc2, err := encode(w)
	if err != nil {
		t.Fatalf("second encode: %v", err)
	}
	if diff := cmp.Diff(toAny(t, enc1), toAny(t, enc2)); diff != "" {
		t.Fatalf("second encoding differs (-first +second):\n%s\ninput: %q", diff, data)
	}
	// What decoded into a generated type the first time must do so again:
	// an encoding that its own decoder rejects would otherwise hide behind
	// the *lex.Unknown fallback.
	if p1, p2 := failedMembers(reflect.ValueOf(v)), failedMembers(reflect.ValueOf(w)); p2 > p1 {
		t.Fatalf("%d members failed to decode from the encoding, %d from the input\nencoding: %s\ninput: %q", p2, p1, enc1, data)
	}
}

// failedMembers counts the *lex.Unknown values in v that hold a member of a
// known type that failed to decode.
func failedMembers(v reflect.Value) int {
	n := 0
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return 0
		}
		if u, ok := v.Interface().(*lex.Unknown); ok {
			if u.Err != nil {
				return 1
			}
			return 0
		}
		return failedMembers(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				n += failedMembers(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			n += failedMembers(v.Index(i))
		}
	}
	return n
}

// collect returns, re-encoded, every JSON object found under key in the
// fixture file (e.g. every "post" in a thread).
func collect(f *testing.F, file, key string, limit int) [][]byte {
	var root any
	if err := json.Unmarshal(readFixture(f, file), &root); err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	var walk func(v any)
	walk = func(v any) {
		if len(out) >= limit {
			return
		}
		switch v := v.(type) {
		case map[string]any:
			if m, ok := v[key].(map[string]any); ok {
				b, err := json.Marshal(m)
				if err != nil {
					f.Fatal(err)
				}
				out = append(out, b)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(root)
	return out
}

func addFiles(f *testing.F, glob string) {
	names, err := filepath.Glob(filepath.Join("testdata", glob))
	if err != nil || len(names) == 0 {
		f.Fatalf("no seeds for %s: %v", glob, err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzPost(f *testing.F) {
	addFiles(f, "post_*.json")
	for _, b := range collect(f, "getPostThread.json", "record", 10) {
		f.Add(b)
	}
	f.Add([]byte(`{"$type":"app.bsky.feed.post","text":"","createdAt":"","embed":{"$type":"app.bsky.embed.images#main","images":[]}}`))
	f.Add([]byte(`{"text":"x","embed":{"$type":"app.bsky.embed.record","record":{"uri":"at://a/b/c","cid":"bafy"},"extra":[1]},"facets":[{"index":{"byteStart":0,"byteEnd":1},"features":[{"$type":"x.y#z"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReencodes[bsky.FeedPost](t, data)
	})
}

func FuzzPostView(f *testing.F) {
	for _, b := range collect(f, "getPostThread.json", "post", 8) {
		f.Add(b)
	}
	for _, b := range collect(f, timelineFile, "post", 6) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReencodes[bsky.FeedDefsPostView](t, data)
	})
}

func FuzzThread(f *testing.F) {
	addFiles(f, "getPostThread.json")
	f.Add([]byte(`{"thread":{"$type":"app.bsky.feed.defs#notFoundPost","uri":"at://did:plc:x/app.bsky.feed.post/3l","notFound":true}}`))
	f.Add([]byte(`{"thread":{"$type":"app.bsky.feed.defs#threadViewPost","post":{"uri":"u","cid":"c","author":{"did":"d","handle":"h"},"record":{"$type":"app.bsky.feed.post","text":"t","createdAt":"x"},"indexedAt":"i"},` +
		`"replies":[{"$type":"app.bsky.feed.defs#blockedPost","uri":"u","blocked":true,"author":{"did":"d"}},null,{"$type":"a.b#c"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReencodes[bsky.FeedGetPostThreadOutput](t, data)
	})
}

func FuzzPreferences(f *testing.F) {
	addFiles(f, "getPreferences.json")
	f.Add([]byte(`{"preferences":[]}`))
	f.Add([]byte(`{"preferences":[{"$type":"app.bsky.actor.defs#adultContentPref","enabled":true},{"$type":"x.y#z","k":[{}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReencodes[bsky.ActorGetPreferencesOutput](t, data)
	})
}

// FuzzGetRecord feeds arbitrary values to an "unknown" field, which decodes
// any registered $type (every record and object of the imported packages)
// into its generated type.
func FuzzGetRecord(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, n := range names {
		if strings.HasSuffix(n, timelineFile) {
			continue
		}
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(`{"uri":"at://did:plc:oky5czdrnfjpqslsw2a5iclo/x.y.z/3l","value":` + string(b) + `}`))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReencodes[atproto.RepoGetRecordOutput](t, data)
	})
}
