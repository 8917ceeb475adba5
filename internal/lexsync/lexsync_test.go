package lexsync

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// writeTree creates the slash-separated files under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot returns every regular file under root with its contents.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeModule lays out a module root with the given files (paths relative to
// the module root) and returns it as a Module.
func fakeModule(t *testing.T, version string, files map[string]string) Module {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	return Module{Path: ModulePath, Version: version, Dir: dir}
}

var v1Files = map[string]string{
	"lexicons/app/bsky/feed/post.json":      `{"lexicon":1,"id":"app.bsky.feed.post"}`,
	"lexicons/app/bsky/feed/like.json":      `{"lexicon":1,"id":"app.bsky.feed.like"}`,
	"lexicons/com/atproto/repo/strong.json": `{"lexicon":1,"id":"com.atproto.repo.strongRef"}`,
	"lexicons/README.md":                    "not a lexicon",
	"LICENSE-MIT":                           "MIT text",
	"LICENSE-APACHE":                        "Apache text",
	"README.md":                             "not a notice",
	"go.mod":                                "module github.com/bluesky-social/indigo",
}

func TestSyncFromCopiesExactlyAndLeavesOtherFiles(t *testing.T) {
	ctx := context.Background()
	mod := fakeModule(t, "v1.0.0", v1Files)
	dst := t.TempDir()
	others := map[string]string{
		"embed.go":              "package lexicons",
		"lexicons_test.go":      "package lexicons",
		"testdata/fixture.json": `{"kept":true}`,
		".hidden/x.json":        `{}`,
		"_skip/y.json":          `{}`,
	}
	writeTree(t, dst, others)
	writeTree(t, dst, map[string]string{
		"app/bsky/feed/post.json":    "old contents",
		"app/bsky/feed/stale.json":   "gone upstream",
		"old/deep/dir/gone.json":     "gone upstream",
		"com/atproto/repo/notes.txt": "not a lexicon, kept",
	})

	m, err := SyncFrom(ctx, mod, dst)
	if err != nil {
		t.Fatal(err)
	}

	want := map[string]string{
		"app/bsky/feed/post.json":      v1Files["lexicons/app/bsky/feed/post.json"],
		"app/bsky/feed/like.json":      v1Files["lexicons/app/bsky/feed/like.json"],
		"com/atproto/repo/strong.json": v1Files["lexicons/com/atproto/repo/strong.json"],
		"com/atproto/repo/notes.txt":   "not a lexicon, kept",
		"LICENSE-MIT":                  "MIT text",
		"LICENSE-APACHE":               "Apache text",
	}
	for p, body := range others {
		want[p] = body
	}
	got := snapshot(t, dst)
	manifestBytes := got[ManifestName]
	delete(got, ManifestName)
	if len(got) != len(want) {
		t.Errorf("dst has %d files, want %d:\n got %v", len(got), len(want), slices.Sorted(mapKeys(got)))
	}
	for p, body := range want {
		if got[p] != body {
			t.Errorf("%s = %q, want %q", p, got[p], body)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "old")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("emptied directory old/ still there (err=%v)", err)
	}

	wantManifest := Manifest{
		Module:  ModulePath,
		Version: "v1.0.0",
		Files:   3,
		Notices: []string{"LICENSE-APACHE", "LICENSE-MIT"},
	}
	hashed, err := Hash(os.DirFS(dst))
	if err != nil {
		t.Fatal(err)
	}
	wantManifest.Digest = Digest(hashed)
	if m.Module != wantManifest.Module || m.Version != wantManifest.Version || m.Files != wantManifest.Files ||
		m.Digest != wantManifest.Digest || !slices.Equal(m.Notices, wantManifest.Notices) || m.Replace != "" {
		t.Errorf("manifest = %+v, want %+v", m, wantManifest)
	}
	wantBytes, err := MarshalManifest(wantManifest)
	if err != nil {
		t.Fatal(err)
	}
	if manifestBytes != string(wantBytes) {
		t.Errorf("manifest.json =\n%s\nwant\n%s", manifestBytes, wantBytes)
	}

	if err := VerifyFrom(mod, dst); err != nil {
		t.Errorf("VerifyFrom after sync: %v", err)
	}
	if err := CheckManifest(os.DirFS(dst), dst); err != nil {
		t.Errorf("CheckManifest after sync: %v", err)
	}
	assertNoStaging(t, dst)
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func assertNoStaging(t *testing.T, dst string) {
	t.Helper()
	entries, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".lexsync-") {
			t.Errorf("staging directory %s left behind", e.Name())
		}
	}
}

func TestSyncFromIsDeterministicAndIdempotent(t *testing.T) {
	ctx := context.Background()
	mod := fakeModule(t, "v1.0.0", v1Files)
	a, b := t.TempDir(), t.TempDir()
	if _, err := SyncFrom(ctx, mod, a); err != nil {
		t.Fatal(err)
	}
	if _, err := SyncFrom(ctx, mod, b); err != nil {
		t.Fatal(err)
	}
	sa, sb := snapshot(t, a), snapshot(t, b)
	if len(sa) != len(sb) {
		t.Fatalf("two syncs differ: %d vs %d files", len(sa), len(sb))
	}
	for p := range sa {
		if sa[p] != sb[p] {
			t.Errorf("%s differs between two syncs", p)
		}
	}

	// A second sync into the same directory rewrites nothing that was
	// already right.
	post := filepath.Join(a, "app", "bsky", "feed", "post.json")
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(post, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := SyncFrom(ctx, mod, a); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(post)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(old) {
		t.Errorf("unchanged file was rewritten (mtime %v)", fi.ModTime())
	}
	if again := snapshot(t, a); again[ManifestName] != sa[ManifestName] {
		t.Errorf("manifest changed on resync:\n%s\nvs\n%s", again[ManifestName], sa[ManifestName])
	}
}

func TestSyncFromNewVersionRemovesDroppedNotice(t *testing.T) {
	ctx := context.Background()
	dst := t.TempDir()
	v1 := fakeModule(t, "v1.0.0", v1Files)
	if _, err := SyncFrom(ctx, v1, dst); err != nil {
		t.Fatal(err)
	}
	writeTree(t, dst, map[string]string{"NOTICE-local": "ours, not upstream's"})

	v2files := map[string]string{}
	for p, b := range v1Files {
		v2files[p] = b
	}
	delete(v2files, "LICENSE-APACHE")
	delete(v2files, "lexicons/app/bsky/feed/like.json")
	v2files["lexicons/app/bsky/feed/post.json"] = `{"lexicon":1,"id":"app.bsky.feed.post","v":2}`
	v2files["lexicons/tools/ozone/new.json"] = `{"lexicon":1,"id":"tools.ozone.new"}`
	v2 := fakeModule(t, "v2.0.0", v2files)

	// The old directory no longer matches v2.
	var mm *MismatchError
	if err := VerifyFrom(v2, dst); !errors.As(err, &mm) {
		t.Fatalf("VerifyFrom(v2) before sync = %v, want *MismatchError", err)
	}
	m, err := SyncFrom(ctx, v2, dst)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "v2.0.0" || m.Files != 3 || !slices.Equal(m.Notices, []string{"LICENSE-MIT"}) {
		t.Errorf("manifest = %+v", m)
	}
	got := snapshot(t, dst)
	if _, ok := got["LICENSE-APACHE"]; ok {
		t.Error("notice dropped upstream is still there")
	}
	if _, ok := got["app/bsky/feed/like.json"]; ok {
		t.Error("lexicon dropped upstream is still there")
	}
	if got["NOTICE-local"] != "ours, not upstream's" {
		t.Error("a file the previous sync did not write was removed")
	}
	if got["tools/ozone/new.json"] != v2files["lexicons/tools/ozone/new.json"] {
		t.Error("new lexicon not copied")
	}
	if err := VerifyFrom(v2, dst); err != nil {
		t.Errorf("VerifyFrom(v2) after sync: %v", err)
	}
}

func TestVerifyFromListsEveryProblem(t *testing.T) {
	ctx := context.Background()
	mod := fakeModule(t, "v1.0.0", v1Files)
	dst := t.TempDir()
	if _, err := SyncFrom(ctx, mod, dst); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dst, "app", "bsky", "feed", "like.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dst, "LICENSE-MIT")); err != nil {
		t.Fatal(err)
	}
	writeTree(t, dst, map[string]string{
		"app/bsky/feed/post.json": "hand-edited",
		"LICENSE-APACHE":          "edited",
		"chat/bsky/extra.json":    "{}",
	})
	mf := filepath.Join(dst, ManifestName)
	b, err := os.ReadFile(mf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mf, []byte(strings.Replace(string(b), "v1.0.0", "v0.9.0", 1)), 0o644); err != nil {
		t.Fatal(err)
	}

	err = VerifyFrom(mod, dst)
	if !errors.Is(err, ErrOutOfSync) {
		t.Fatalf("VerifyFrom = %v, want ErrOutOfSync", err)
	}
	var mm *MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("VerifyFrom = %T, want *MismatchError", err)
	}
	check := func(name string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	check("Missing", mm.Missing, []string{"app/bsky/feed/like.json", "LICENSE-MIT"})
	check("Extra", mm.Extra, []string{"chat/bsky/extra.json"})
	check("Differing", mm.Differing, []string{"app/bsky/feed/post.json", "LICENSE-APACHE"})
	check("Manifest", mm.Manifest, []string{`version is "v0.9.0", want "v1.0.0"`})
	msg := err.Error()
	for _, s := range []string{"like.json", "LICENSE-MIT", "extra.json", "post.json", "LICENSE-APACHE", "v0.9.0"} {
		if !strings.Contains(msg, s) {
			t.Errorf("error does not mention %s:\n%s", s, msg)
		}
	}
	// Verify never writes.
	if after, err := os.ReadFile(filepath.Join(dst, "app", "bsky", "feed", "post.json")); err != nil || string(after) != "hand-edited" {
		t.Errorf("VerifyFrom changed the directory: %q, %v", after, err)
	}
}

func TestVerifyFromManifestProblems(t *testing.T) {
	ctx := context.Background()
	mod := fakeModule(t, "v1.0.0", v1Files)
	for _, tc := range []struct {
		name     string
		manifest *string // nil: remove it
		want     string
	}{
		{"missing", nil, "missing"},
		{"not json", ptr("nope"), "decoding manifest.json"},
		{"unknown field", ptr(`{"module":"x","bogus":1}`), "unknown field"},
		{"reformatted", ptr("reformat"), "not in the form sync writes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			m, err := SyncFrom(ctx, mod, dst)
			if err != nil {
				t.Fatal(err)
			}
			mf := filepath.Join(dst, ManifestName)
			switch {
			case tc.manifest == nil:
				err = os.Remove(mf)
			case *tc.manifest == "reformat":
				b, _ := MarshalManifest(m)
				err = os.WriteFile(mf, []byte(strings.ReplaceAll(string(b), "\t", "  ")), 0o644)
			default:
				err = os.WriteFile(mf, []byte(*tc.manifest), 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			err = VerifyFrom(mod, dst)
			var mm *MismatchError
			if !errors.As(err, &mm) || len(mm.Manifest) != 1 || !strings.Contains(mm.Manifest[0], tc.want) {
				t.Fatalf("VerifyFrom = %v, want one manifest problem containing %q", err, tc.want)
			}
			if len(mm.Missing)+len(mm.Extra)+len(mm.Differing) != 0 {
				t.Errorf("file problems reported for a manifest-only change: %v", err)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestVerifyFromMissingDir(t *testing.T) {
	mod := fakeModule(t, "v1.0.0", v1Files)
	err := VerifyFrom(mod, filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("VerifyFrom(missing dir) = %v, want fs.ErrNotExist", err)
	}
}

func TestSyncFromFailsWithoutWriting(t *testing.T) {
	ctx := context.Background()
	noNotice := map[string]string{}
	for p, b := range v1Files {
		if !strings.HasPrefix(p, "LICENSE") {
			noNotice[p] = b
		}
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) Module
		want  string
	}{
		{"no license notice", func(t *testing.T) Module { return fakeModule(t, "v1", noNotice) }, "no license notice"},
		{"no lexicons", func(t *testing.T) Module {
			return fakeModule(t, "v1", map[string]string{"LICENSE": "x", "lexicons/README.md": "x"})
		}, "no lexicons"},
		{"lexicon is a symlink", func(t *testing.T) Module {
			mod := fakeModule(t, "v1", v1Files)
			if err := os.Symlink("post.json", filepath.Join(mod.Dir, "lexicons", "app", "bsky", "feed", "link.json")); err != nil {
				t.Skip("symlinks unsupported:", err)
			}
			return mod
		}, "not a regular file"},
		{"unreadable module", func(t *testing.T) Module {
			return Module{Path: ModulePath, Version: "v1", Dir: filepath.Join(t.TempDir(), "absent")}
		}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := tc.setup(t)
			dst := t.TempDir()
			good := fakeModule(t, "v0", v1Files)
			if _, err := SyncFrom(ctx, good, dst); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dst)
			_, err := SyncFrom(ctx, mod, dst)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SyncFrom = %v, want an error containing %q", err, tc.want)
			}
			after := snapshot(t, dst)
			if len(before) != len(after) {
				t.Errorf("failed sync changed the file set: %d -> %d files", len(before), len(after))
			}
			for p := range before {
				if before[p] != after[p] {
					t.Errorf("failed sync changed %s", p)
				}
			}
			assertNoStaging(t, dst)
		})
	}
}

func TestSyncFromCanceledContext(t *testing.T) {
	mod := fakeModule(t, "v1.0.0", v1Files)
	dst := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := SyncFrom(ctx, mod, dst); !errors.Is(err, context.Canceled) {
		t.Fatalf("SyncFrom(canceled) = %v, want context.Canceled", err)
	}
	if got := snapshot(t, dst); len(got) != 0 {
		t.Errorf("canceled sync wrote %v", slices.Sorted(mapKeys(got)))
	}
}

func TestDigest(t *testing.T) {
	files := []File{
		{Path: "b/c.json", Sum: sha256.Sum256([]byte("[]"))},
		{Path: "a.json", Sum: sha256.Sum256([]byte("{\"a\":1}\n"))},
	}
	// Computed independently with:
	//   printf '{"a":1}\n' > a.json; printf '[]' > b/c.json
	//   find . -name '*.json' | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum
	const want = "sha256:6caa163fce54cdbc26b57df27b8f0d34482bdcb4051338806b6a56fc7a031305"
	if got := Digest(files); got != want {
		t.Errorf("Digest = %s, want %s", got, want)
	}
	if files[0].Path != "b/c.json" {
		t.Error("Digest reordered its argument")
	}
	slices.Reverse(files)
	if got := Digest(files); got != want {
		t.Errorf("Digest depends on order: %s", got)
	}
	files[0].Sum[0] ^= 1
	if got := Digest(files); got == want {
		t.Error("Digest ignores file contents")
	}
	files[0].Sum[0] ^= 1
	files[1].Path = "b/d.json"
	if got := Digest(files); got == want {
		t.Error("Digest ignores paths")
	}
}

func TestPathsAndHash(t *testing.T) {
	fsys := fstest.MapFS{
		"manifest.json":         {Data: []byte("{}")},
		"app/x.json":            {Data: []byte("x")},
		"app/sub/manifest.json": {Data: []byte("a lexicon despite its name")},
		"app/readme.md":         {Data: []byte("no")},
		"embed.go":              {Data: []byte("package lexicons")},
		"testdata/t.json":       {Data: []byte("no")},
		".lexsync-123/app.json": {Data: []byte("no")},
		"_old/y.json":           {Data: []byte("no")},
		"com/atproto/z.json":    {Data: []byte("z")},
		"com/atproto/link.json": {Data: []byte("sym"), Mode: fs.ModeSymlink},
	}
	if _, err := Paths(fsys); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Paths with a symlinked .json = %v, want an error", err)
	}
	delete(fsys, "com/atproto/link.json")
	got, err := Paths(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"app/sub/manifest.json", "app/x.json", "com/atproto/z.json"}
	if !slices.Equal(got, want) {
		t.Errorf("Paths = %q, want %q", got, want)
	}
	hashed, err := Hash(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(hashed) != 3 || hashed[1] != (File{Path: "app/x.json", Sum: sha256.Sum256([]byte("x"))}) {
		t.Errorf("Hash = %v", hashed)
	}

	fsys["bad\nname.json"] = &fstest.MapFile{Data: []byte("x")}
	if _, err := Paths(fsys); err == nil {
		t.Error("Paths accepted a path with a newline")
	}
}

func TestCheckManifest(t *testing.T) {
	files := fstest.MapFS{
		"app/a.json": {Data: []byte("a")},
		"com/b.json": {Data: []byte("b")},
	}
	hashed, err := Hash(files)
	if err != nil {
		t.Fatal(err)
	}
	good, err := MarshalManifest(Manifest{Module: ModulePath, Version: "v1", Files: 2, Digest: Digest(hashed), Notices: []string{"LICENSE"}})
	if err != nil {
		t.Fatal(err)
	}
	files[ManifestName] = &fstest.MapFile{Data: good}
	if err := CheckManifest(files, "mem"); err != nil {
		t.Fatalf("CheckManifest(consistent) = %v", err)
	}

	files["com/b.json"] = &fstest.MapFile{Data: []byte("B")}
	err = CheckManifest(files, "mem")
	var mm *MismatchError
	if !errors.As(err, &mm) || !errors.Is(err, ErrOutOfSync) || len(mm.Manifest) != 1 || !strings.Contains(mm.Manifest[0], "digest") {
		t.Errorf("CheckManifest(edited file) = %v, want a digest mismatch", err)
	}

	files["com/b.json"] = &fstest.MapFile{Data: []byte("b")}
	files["com/c.json"] = &fstest.MapFile{Data: []byte("c")}
	err = CheckManifest(files, "mem")
	if !errors.As(err, &mm) || len(mm.Manifest) != 2 || !strings.Contains(mm.Manifest[0], "says 2 files, the directory has 3") {
		t.Errorf("CheckManifest(added file) = %v, want count and digest mismatch", err)
	}

	delete(files, "com/c.json")
	delete(files, ManifestName)
	if err := CheckManifest(files, "mem"); !errors.Is(err, ErrOutOfSync) {
		t.Errorf("CheckManifest(no manifest) = %v, want ErrOutOfSync", err)
	}
}

// TestSyncPinnedModule syncs the real lexicons of the indigo version that
// this repository's go.mod pins.
func TestSyncPinnedModule(t *testing.T) {
	ctx := context.Background()
	mod, err := Locate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := pinnedVersion(t); mod.Path != ModulePath || mod.Version != want || mod.Replace != "" {
		t.Fatalf("Locate = %s, want %s@%s from go.mod", mod, ModulePath, want)
	}
	// Count the upstream lexicons independently of Paths.
	upstream := 0
	err = filepath.WalkDir(filepath.Join(mod.Dir, "lexicons"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			upstream++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if upstream < 100 {
		t.Fatalf("only %d lexicons found upstream in %s", upstream, mod.Dir)
	}

	dst := filepath.Join(t.TempDir(), "lexicons")
	m, err := Sync(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if m.Files != upstream || m.Version != mod.Version {
		t.Errorf("Sync manifest = %+v, want %d files of %s", m, upstream, mod.Version)
	}
	for _, n := range []string{"LICENSE-MIT", "LICENSE-APACHE", "app/bsky/feed/post.json"} {
		if _, err := os.Stat(filepath.Join(dst, filepath.FromSlash(n))); err != nil {
			t.Error(err)
		}
	}
	if err := Verify(ctx, dst); err != nil {
		t.Errorf("Verify after Sync: %v", err)
	}
}

// pinnedVersion reads the indigo version from the repository's go.mod.
func pinnedVersion(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == ModulePath {
			return fields[1]
		}
	}
	t.Fatalf("go.mod does not require %s", ModulePath)
	return ""
}

// TestLocateDownloads checks that Locate fetches the pinned module into an
// empty module cache.
func TestLocateDownloads(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads the indigo module")
	}
	if os.Getenv("GOPROXY") == "off" {
		t.Skip("GOPROXY=off")
	}
	cache := t.TempDir()
	t.Setenv("GOMODCACHE", cache)
	// -modcacherw lets t.TempDir's cleanup remove the cache.
	t.Setenv("GOFLAGS", strings.TrimSpace(os.Getenv("GOFLAGS")+" -modcacherw"))
	mod, err := Locate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mod.Dir, cache) {
		t.Fatalf("Locate dir %s is not in the fresh module cache %s", mod.Dir, cache)
	}
	if _, err := os.Stat(filepath.Join(mod.Dir, "lexicons", "app", "bsky", "feed", "post.json")); err != nil {
		t.Error(err)
	}
}
