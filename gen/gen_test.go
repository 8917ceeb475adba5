package gen_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/atpgo/atp/gen"
	"github.com/atpgo/atp/lexicons"
	"github.com/google/go-cmp/cmp"
)

const importPath = "github.com/atpgo/atp/agent"

func generateCorpus(t testing.TB, fsys fs.FS) []gen.File {
	t.Helper()
	set, err := gen.Load(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	files, err := gen.Generate(set, nil, gen.Config{ImportPath: importPath})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// corpusFS copies the embedded lexicons into a MapFS that tests can edit.
func corpusFS(t testing.TB) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(lexicons.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") || p == "manifest.json" {
			return err
		}
		b, err := fs.ReadFile(lexicons.FS, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var headerRE = regexp.MustCompile(`^// Code generated .* DO NOT EDIT\.$`)

func TestCorpusGeneratesEveryEndpoint(t *testing.T) {
	files := generateCorpus(t, lexicons.FS)
	funcs := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		first, _, _ := strings.Cut(string(f.Content), "\n")
		if !headerRE.MatchString(first) {
			t.Errorf("%s: first line %q does not match %s", f.Path, first, headerRE)
		}
		af, err := parser.ParseFile(fset, f.Path, f.Content, parser.ParseComments)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.IsExported() {
				funcs[filepath.Dir(f.Path)+"."+fd.Name.Name] = true
			}
		}
	}
	// Every query and procedure of the corpus has its call.
	set, err := gen.Load(lexicons.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, sc := range set.Schemas() {
		raw, err := fs.ReadFile(lexicons.FS, sc.Path)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Defs map[string]struct {
				Type string `json:"type"`
			} `json:"defs"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		switch doc.Defs["main"].Type {
		case "query", "procedure":
			n++
			name := gen.PackageName(gen.Authority(sc.ID)) + "." + gen.GoName(sc.ID, "main")
			if !funcs[name] {
				t.Errorf("%s: no call %s", sc.ID, name)
			}
		}
	}
	if n < 300 {
		t.Errorf("found only %d endpoints in the corpus", n)
	}
	t.Logf("%d files, %d endpoints, every one with its call", len(files), n)
}

func TestDeterministic(t *testing.T) {
	a := generateCorpus(t, lexicons.FS)
	b := generateCorpus(t, lexicons.FS)
	if len(a) != len(b) {
		t.Fatalf("runs made %d and %d files", len(a), len(b))
	}
	for i := range a {
		if a[i].Path != b[i].Path || !bytes.Equal(a[i].Content, b[i].Content) {
			t.Fatalf("%s differs between two runs", a[i].Path)
		}
	}
}

// TestCommittedCodeIsCurrent is `lexgen -check` as a test: the packages
// under agent/ are what the generator makes from lexicons/.
func TestCommittedCodeIsCurrent(t *testing.T) {
	files := generateCorpus(t, lexicons.FS)
	stale, extra, err := gen.Diff("../agent", files)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale)+len(extra) > 0 {
		t.Fatalf("generated code is out of date; run go run ./cmd/lexgen\nstale: %v\nextra: %v", stale, extra)
	}
}

func writeLexicon(m fstest.MapFS, path string, doc any) {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err)
	}
	m[path] = &fstest.MapFile{Data: b}
}

func readLexicon(t *testing.T, m fstest.MapFS, path string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(m[path].Data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestSchemaErrorsNameFileAndDef(t *testing.T) {
	cases := []struct {
		name   string
		files  map[string]string
		want   []string // substrings of the error
		target any
	}{
		{
			name:  "malformed JSON",
			files: map[string]string{"com/example/bad.json": `{"lexicon": 1, "id": "com.example.bad", "defs": {`},
			want:  []string{"com/example/bad.json"},
		},
		{
			name: "dangling ref",
			files: map[string]string{"com/example/thing.json": `{"lexicon": 1, "id": "com.example.thing", "defs": {
				"main": {"type": "record", "key": "tid", "record": {"type": "object", "properties": {
					"subject": {"type": "ref", "ref": "com.example.missing#view"}}}}}}`},
			want: []string{"com/example/thing.json", "main.record.properties.subject", "com.example.missing"},
		},
		{
			name: "dangling local ref in a union",
			files: map[string]string{"com/example/thing.json": `{"lexicon": 1, "id": "com.example.thing", "defs": {
				"view": {"type": "object", "properties": {
					"embed": {"type": "union", "refs": ["#nope"]}}}}}`},
			want: []string{"com/example/thing.json", "view.properties.embed", "#nope"},
		},
		{
			name: "fails CheckSchema",
			files: map[string]string{"com/example/thing.json": `{"lexicon": 1, "id": "com.example.thing", "defs": {
				"main": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 1}}}}}`},
			want: []string{"com/example/thing.json", "main"},
		},
		{
			name: "record not named main",
			files: map[string]string{"com/example/thing.json": `{"lexicon": 1, "id": "com.example.thing", "defs": {
				"other": {"type": "record", "key": "tid", "record": {"type": "object", "properties": {}}}}}`},
			want: []string{"com/example/thing.json", "other"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := fstest.MapFS{}
			for p, s := range tc.files {
				m[p] = &fstest.MapFile{Data: []byte(s)}
			}
			_, err := gen.Load(m, ".")
			if err == nil {
				t.Fatal("Load succeeded")
			}
			var se *gen.SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *gen.SchemaError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// api maps every exported identifier of the generated files ("bsky.FeedPost",
// "bsky.FeedPost.Text", "bsky.(*FeedPost).GetText") to its declaration.
func api(t *testing.T, files []gen.File) map[string]string {
	t.Helper()
	out := map[string]string{}
	fset := token.NewFileSet()
	str := func(n any) string {
		var b bytes.Buffer
		if err := printer.Fprint(&b, fset, n); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for _, f := range files {
		pkg := filepath.Dir(f.Path)
		af, err := parser.ParseFile(fset, f.Path, f.Content, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				key := pkg + "." + d.Name.Name
				if d.Recv != nil {
					key = pkg + ".(" + str(d.Recv.List[0].Type) + ")." + d.Name.Name
				}
				out[key] = str(d.Type)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						key := pkg + "." + s.Name.Name
						if st, ok := s.Type.(*ast.StructType); ok {
							out[key] = "struct"
							for _, fl := range st.Fields.List {
								for _, n := range fl.Names {
									out[key+"."+n.Name] = str(fl.Type)
								}
							}
						} else {
							out[key] = str(s.Type)
						}
					case *ast.ValueSpec:
						for i, n := range s.Names {
							if !n.IsExported() {
								continue
							}
							v := ""
							if s.Type != nil {
								v = str(s.Type)
							}
							if i < len(s.Values) {
								v += " = " + str(s.Values[i])
							}
							out[pkg+"."+n.Name] = d.Tok.String() + " " + v
						}
					}
				}
			}
		}
	}
	return out
}

// TestStableNames generates the corpus, then the corpus with a def, a
// union member, a parameter, a field, a known value and a whole lexicon
// added, and checks that every exported identifier of the first run
// survives, unchanged, in the second.
func TestStableNames(t *testing.T) {
	base := corpusFS(t)
	before := api(t, generateCorpus(t, base))

	m := corpusFS(t)
	// A new def in a lexicon with many defs, sorted first alphabetically.
	defs := readLexicon(t, m, "app/bsky/feed/defs.json")
	d := defs["defs"].(map[string]any)
	d["aaaNewView"] = map[string]any{"type": "object", "required": []any{"uri"}, "properties": map[string]any{
		"uri":   map[string]any{"type": "string", "format": "at-uri"},
		"count": map[string]any{"type": "integer"},
	}}
	// A new field on an existing object, first in order.
	pv := d["postView"].(map[string]any)["properties"].(map[string]any)
	pv["aaaNewField"] = map[string]any{"type": "boolean"}
	writeLexicon(m, "app/bsky/feed/defs.json", defs)

	// A new union member on the post embed union.
	post := readLexicon(t, m, "app/bsky/feed/post.json")
	embed := post["defs"].(map[string]any)["main"].(map[string]any)["record"].(map[string]any)["properties"].(map[string]any)["embed"].(map[string]any)
	embed["refs"] = append([]any{"app.bsky.feed.defs#aaaNewView"}, embed["refs"].([]any)...)
	writeLexicon(m, "app/bsky/feed/post.json", post)

	// A new parameter, optional, on a query.
	tl := readLexicon(t, m, "app/bsky/feed/getTimeline.json")
	params := tl["defs"].(map[string]any)["main"].(map[string]any)["parameters"].(map[string]any)["properties"].(map[string]any)
	params["aaaFilter"] = map[string]any{"type": "string", "knownValues": []any{"a", "b"}}
	writeLexicon(m, "app/bsky/feed/getTimeline.json", tl)

	// A new known value.
	lv := readLexicon(t, m, "com/atproto/label/defs.json")
	vals := lv["defs"].(map[string]any)["labelValue"].(map[string]any)
	vals["knownValues"] = append([]any{"!aaa-new"}, vals["knownValues"].([]any)...)
	writeLexicon(m, "com/atproto/label/defs.json", lv)

	// A new lexicon.
	writeLexicon(m, "app/bsky/feed/aaaNewQuery.json", map[string]any{
		"lexicon": 1, "id": "app.bsky.feed.aaaNewQuery",
		"defs": map[string]any{"main": map[string]any{
			"type": "query",
			"parameters": map[string]any{"type": "params", "properties": map[string]any{
				"limit": map[string]any{"type": "integer"}}},
			"output": map[string]any{"encoding": "application/json", "schema": map[string]any{
				"type": "object", "properties": map[string]any{
					"items": map[string]any{"type": "array", "items": map[string]any{"type": "ref", "ref": "app.bsky.feed.defs#aaaNewView"}}}}},
		}},
	})
	after := api(t, generateCorpus(t, m))

	var changed []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			changed = append(changed, fmt.Sprintf("removed %s (%s)", k, v))
		} else if w != v {
			changed = append(changed, fmt.Sprintf("changed %s: %s → %s", k, v, w))
		}
	}
	slices.Sort(changed)
	if len(changed) > 0 {
		t.Fatalf("%d identifiers changed:\n%s", len(changed), strings.Join(changed, "\n"))
	}
	// The additions are really there.
	for _, k := range []string{
		"bsky.FeedDefsAaaNewView", "bsky.FeedDefsPostView.AaaNewField",
		"bsky.FeedGetTimelineParams.AaaFilter", "bsky.FeedAaaNewQuery",
		"atproto.LabelDefsLabelValueBangAaaNew",
	} {
		if _, ok := after[k]; !ok {
			t.Errorf("%s was not generated", k)
		}
	}
	if len(after) <= len(before) {
		t.Errorf("API grew from %d to %d identifiers", len(before), len(after))
	}
}

func TestNameCollisionIsAnError(t *testing.T) {
	m := fstest.MapFS{
		// feed.defs#postView and feed.defsPost#view would both be
		// FeedDefsPostView.
		"com/example/feed/defs.json": {Data: []byte(`{"lexicon":1,"id":"com.example.feed.defs","defs":{
			"postView":{"type":"object","properties":{}}}}`)},
		"com/example/feed/defsPost.json": {Data: []byte(`{"lexicon":1,"id":"com.example.feed.defsPost","defs":{
			"view":{"type":"object","properties":{}}}}`)},
	}
	set, err := gen.Load(m, ".")
	if err != nil {
		t.Fatal(err)
	}
	_, err = gen.Generate(set, nil, gen.Config{ImportPath: "example.com/x"})
	if err == nil || !strings.Contains(err.Error(), "FeedDefsPostView") {
		t.Fatalf("want a collision error naming FeedDefsPostView, got %v", err)
	}
	var se *gen.SchemaError
	if !errors.As(err, &se) || se.File == "" {
		t.Fatalf("collision error %v is not a *gen.SchemaError naming the file", err)
	}
}

func TestKnownValueNames(t *testing.T) {
	files := generateCorpus(t, lexicons.FS)
	a := api(t, files)
	for _, k := range []string{
		"atproto.LabelDefsLabelValueBangHide",            // "!hide"
		"atproto.LabelDefsLabelValueGraphicMedia",        // "graphic-media"
		"chat.ConvoDefsConvoLockStatusLockedPermanently", // "locked-permanently"
		"bsky.GraphDefsListPurposeModlist",               // token "app.bsky.graph.defs#modlist"
		"bsky.GraphDefsModlist",                          // the token itself
	} {
		if _, ok := a[k]; !ok {
			t.Errorf("%s is missing", k)
		}
	}
	// reasonType mixes com.atproto and tools.ozone tokens with the same
	// names; each gets its own constant.
	var reasons []string
	for k := range a {
		if strings.HasPrefix(k, "atproto.ModerationDefsReasonType") && strings.HasSuffix(k, "ReasonOther") {
			reasons = append(reasons, k)
		}
	}
	slices.Sort(reasons)
	want := []string{"atproto.ModerationDefsReasonTypeReasonOther", "atproto.ModerationDefsReasonTypeToolsOzoneReportDefsReasonOther"}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Errorf("reasonType constants (-want +got):\n%s", diff)
	}
}

func TestWriteFilesRemovesStaleKeepsHandWritten(t *testing.T) {
	dir := t.TempDir()
	files := []gen.File{{Path: "p/a.go", Content: []byte("// Code generated by x. DO NOT EDIT.\n\npackage p\n")}}
	if err := os.MkdirAll(filepath.Join(dir, "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := []byte("// Code generated by x. DO NOT EDIT.\n\npackage p\n\nconst Old = 1\n")
	hand := []byte("package p\n\nfunc helper() {}\n")
	os.WriteFile(filepath.Join(dir, "p/old.go"), old, 0o644)
	os.WriteFile(filepath.Join(dir, "p/hand_test.go"), hand, 0o644)

	stale, extra, err := gen.Diff(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"p/a.go"}, stale); diff != "" {
		t.Errorf("stale (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"p/old.go"}, extra); diff != "" {
		t.Errorf("extra (-want +got):\n%s", diff)
	}
	if err := gen.WriteFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "p/old.go")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old generated file kept: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "p/hand_test.go")); err != nil || !bytes.Equal(b, hand) {
		t.Errorf("hand-written file changed: %v", err)
	}
	if stale, extra, _ := gen.Diff(dir, files); len(stale)+len(extra) != 0 {
		t.Errorf("after writing: stale %v extra %v", stale, extra)
	}
}

func TestKnownValueCollisionIsAnError(t *testing.T) {
	m := fstest.MapFS{"com/example/x.json": {Data: []byte(`{"lexicon":1,"id":"com.example.x","defs":{
		"mode":{"type":"string","knownValues":["read-only","read_only"]}}}`)}}
	set, err := gen.Load(m, ".")
	if err != nil {
		t.Fatal(err)
	}
	_, err = gen.Generate(set, nil, gen.Config{ImportPath: "example.com/x"})
	if err == nil || !strings.Contains(err.Error(), "XModeReadOnly") {
		t.Fatalf("want an error naming XModeReadOnly, got %v", err)
	}
}
