// Package lexsync copies the atproto lexicons from the version of
// github.com/bluesky-social/indigo pinned in go.mod into a directory of this
// repository, and checks that such a directory still matches.
//
// A synced directory holds every *.json file of the module's lexicons/
// directory at the same relative path, the module's license notices
// (LICENSE-*) and a manifest.json recording the module, its version, the
// number of files and a digest over them (see Digest). Sync and Verify only
// ever touch those files: anything else in the directory (Go files, for
// instance) is left alone.
package lexsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// source is what a sync copies: the lexicon files and license notices of
// the upstream module, read into memory.
type source struct {
	mod      Module
	files    []File            // sorted by path
	data     map[string][]byte // by File.Path
	notices  map[string][]byte // by file name
	manifest Manifest
}

// isNotice reports whether a file at the top of a module is a license
// notice. A .json file never is: it would be taken for a lexicon.
func isNotice(name string) bool {
	if path.Ext(name) == ".json" {
		return false
	}
	u := strings.ToUpper(name)
	for _, p := range []string{"LICENSE", "LICENCE", "COPYING", "NOTICE"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// readSource reads the lexicons and license notices of mod.
func readSource(mod Module) (*source, error) {
	src := &source{mod: mod, data: map[string][]byte{}, notices: map[string][]byte{}}
	lexFS := os.DirFS(filepath.Join(mod.Dir, "lexicons"))
	paths, err := Paths(lexFS)
	if err != nil {
		return nil, fmt.Errorf("%w (module %s)", err, mod)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("lexsync: module %s has no lexicons/*.json files", mod)
	}
	for _, p := range paths {
		b, err := fs.ReadFile(lexFS, p)
		if err != nil {
			return nil, fmt.Errorf("lexsync: %w", err)
		}
		src.files = append(src.files, File{Path: p, Sum: sha256.Sum256(b)})
		src.data[p] = b
	}
	entries, err := os.ReadDir(mod.Dir)
	if err != nil {
		return nil, fmt.Errorf("lexsync: %w", err)
	}
	var notices []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !isNotice(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(mod.Dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("lexsync: %w", err)
		}
		src.notices[e.Name()] = b
		notices = append(notices, e.Name())
	}
	if len(notices) == 0 {
		return nil, fmt.Errorf("lexsync: module %s has no license notice (LICENSE*) at its root", mod)
	}
	slices.Sort(notices)
	src.manifest = Manifest{
		Module:  mod.Path,
		Version: mod.Version,
		Replace: mod.Replace,
		Files:   len(src.files),
		Digest:  Digest(src.files),
		Notices: notices,
	}
	return src, nil
}

// Sync makes dstDir an exact copy of the lexicons of the indigo module that
// the main module (the one containing the current directory) pins: see
// Locate and SyncFrom.
func Sync(ctx context.Context, dstDir string) (Manifest, error) {
	mod, err := Locate(ctx)
	if err != nil {
		return Manifest{}, err
	}
	return SyncFrom(ctx, mod, dstDir)
}

// SyncFrom makes dstDir an exact copy of the lexicons of mod: it copies
// every *.json file under mod.Dir/lexicons to the same relative path in
// dstDir, removes the lexicon files of dstDir that mod does not have, copies
// the license notices of mod's root directory into dstDir, and writes
// dstDir/manifest.json. Other files in dstDir are not touched. Files whose
// contents are already right are not rewritten.
//
// Everything is read, hashed and written to a staging directory inside
// dstDir before dstDir changes; the staged files are then renamed into place
// one by one and the manifest comes last, so a sync that fails half way
// leaves no manifest that claims a consistent tree. The manifest is
// byte-identical for identical input.
func SyncFrom(ctx context.Context, mod Module, dstDir string) (Manifest, error) {
	src, err := readSource(mod)
	if err != nil {
		return Manifest{}, err
	}
	mdata, err := MarshalManifest(src.manifest)
	if err != nil {
		return Manifest{}, err
	}
	if err := os.MkdirAll(dstDir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("lexsync: %w", err)
	}
	dstFS := os.DirFS(dstDir)
	oldPaths, err := Paths(dstFS)
	if err != nil {
		return Manifest{}, err
	}
	// Notices of the previous sync that upstream has since dropped. A
	// manifest that does not parse lists none: then nothing is removed.
	var oldNotices []string
	if old, _, err := ReadManifest(dstFS); err == nil {
		for _, n := range old.Notices {
			if isNotice(n) && n == filepath.Base(n) && src.notices[n] == nil {
				oldNotices = append(oldNotices, n)
			}
		}
	}

	stage, err := os.MkdirTemp(dstDir, ".lexsync-")
	if err != nil {
		return Manifest{}, fmt.Errorf("lexsync: %w", err)
	}
	defer os.RemoveAll(stage)

	// Stage every file whose contents differ from what dstDir holds.
	type move struct{ staged, final string }
	var moves []move
	stageFile := func(rel string, data []byte) error {
		final := filepath.Join(dstDir, filepath.FromSlash(rel))
		if cur, err := os.ReadFile(final); err == nil && bytes.Equal(cur, data) {
			return nil
		}
		staged := filepath.Join(stage, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(staged), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(staged, data, 0o644); err != nil {
			return err
		}
		moves = append(moves, move{staged, final})
		return nil
	}
	for _, f := range src.files {
		if err := stageFile(f.Path, src.data[f.Path]); err != nil {
			return Manifest{}, fmt.Errorf("lexsync: staging: %w", err)
		}
	}
	for _, n := range src.manifest.Notices {
		if err := stageFile(n, src.notices[n]); err != nil {
			return Manifest{}, fmt.Errorf("lexsync: staging: %w", err)
		}
	}
	stagedManifest := filepath.Join(stage, ManifestName)
	if err := os.WriteFile(stagedManifest, mdata, 0o644); err != nil {
		return Manifest{}, fmt.Errorf("lexsync: staging: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Manifest{}, fmt.Errorf("lexsync: %w", err)
	}

	// Commit. From here on dstDir changes.
	finalManifest := filepath.Join(dstDir, ManifestName)
	if err := os.Remove(finalManifest); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, fmt.Errorf("lexsync: %w", err)
	}
	for _, m := range moves {
		if err := os.MkdirAll(filepath.Dir(m.final), 0o755); err != nil {
			return Manifest{}, fmt.Errorf("lexsync: %w", err)
		}
		if err := os.Rename(m.staged, m.final); err != nil {
			return Manifest{}, fmt.Errorf("lexsync: %w", err)
		}
	}
	for _, p := range oldPaths {
		if src.data[p] != nil {
			continue
		}
		if err := removeAndPrune(dstDir, p); err != nil {
			return Manifest{}, err
		}
	}
	for _, n := range oldNotices {
		if err := os.Remove(filepath.Join(dstDir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Manifest{}, fmt.Errorf("lexsync: %w", err)
		}
	}
	if err := os.Rename(stagedManifest, finalManifest); err != nil {
		return Manifest{}, fmt.Errorf("lexsync: %w", err)
	}
	return src.manifest, nil
}

// removeAndPrune removes the file rel (slash-separated) from root and then
// each parent directory, up to but not including root, that is left empty.
func removeAndPrune(root, rel string) error {
	if err := os.Remove(filepath.Join(root, filepath.FromSlash(rel))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lexsync: %w", err)
	}
	for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
		entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(dir)))
		if err != nil || len(entries) > 0 {
			return nil
		}
		if err := os.Remove(filepath.Join(root, filepath.FromSlash(dir))); err != nil {
			return fmt.Errorf("lexsync: %w", err)
		}
	}
	return nil
}

// Verify checks that dir is an exact sync of the lexicons of the indigo
// module that the main module pins: see Locate and VerifyFrom.
func Verify(ctx context.Context, dir string) error {
	mod, err := Locate(ctx)
	if err != nil {
		return err
	}
	return VerifyFrom(mod, dir)
}

// VerifyFrom checks, without writing anything, that dir holds exactly what
// SyncFrom(ctx, mod, dir) would write. When it does not, the error is a
// *MismatchError (matching ErrOutOfSync) listing every missing, extra and
// differing file and every way the manifest is wrong; any other error means
// the check itself could not be made.
func VerifyFrom(mod Module, dir string) error {
	src, err := readSource(mod)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("lexsync: %w", err)
	}
	dirFS := os.DirFS(dir)
	local, err := Hash(dirFS)
	if err != nil {
		return err
	}
	mm := &MismatchError{Dir: dir}
	have := make(map[string][sha256.Size]byte, len(local))
	for _, f := range local {
		have[f.Path] = f.Sum
		if src.data[f.Path] == nil {
			mm.Extra = append(mm.Extra, f.Path)
		}
	}
	for _, f := range src.files {
		sum, ok := have[f.Path]
		switch {
		case !ok:
			mm.Missing = append(mm.Missing, f.Path)
		case sum != f.Sum:
			mm.Differing = append(mm.Differing, f.Path)
		}
	}
	for _, n := range src.manifest.Notices {
		b, err := fs.ReadFile(dirFS, n)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			mm.Missing = append(mm.Missing, n)
		case err != nil:
			return fmt.Errorf("lexsync: %w", err)
		case !bytes.Equal(b, src.notices[n]):
			mm.Differing = append(mm.Differing, n)
		}
	}
	mm.Manifest = manifestProblems(dirFS, src.manifest)
	if mm.empty() {
		return nil
	}
	return mm
}

// manifestProblems compares the manifest in fsys with want.
func manifestProblems(fsys fs.FS, want Manifest) []string {
	got, raw, err := ReadManifest(fsys)
	if err != nil {
		return []string{readProblem(err)}
	}
	var probs []string
	field := func(name, got, want string) {
		if got != want {
			probs = append(probs, fmt.Sprintf("%s is %q, want %q", name, got, want))
		}
	}
	field("module", got.Module, want.Module)
	field("version", got.Version, want.Version)
	field("replace", got.Replace, want.Replace)
	if got.Files != want.Files {
		probs = append(probs, fmt.Sprintf("files is %d, want %d", got.Files, want.Files))
	}
	field("digest", got.Digest, want.Digest)
	if !slices.Equal(got.Notices, want.Notices) {
		probs = append(probs, fmt.Sprintf("notices are %q, want %q", got.Notices, want.Notices))
	}
	if len(probs) == 0 {
		if wantRaw, err := MarshalManifest(want); err == nil && !bytes.Equal(raw, wantRaw) {
			probs = append(probs, "not in the form sync writes")
		}
	}
	return probs
}
