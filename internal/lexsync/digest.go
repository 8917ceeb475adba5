package lexsync

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// ManifestName is the name of the manifest Sync writes at the top of the
// lexicon directory. It is not a lexicon file.
const ManifestName = "manifest.json"

// DigestPrefix starts every digest string.
const DigestPrefix = "sha256:"

// File is one lexicon file and the SHA-256 of its contents.
type File struct {
	// Path is slash-separated and relative to the lexicon root,
	// e.g. "app/bsky/feed/post.json".
	Path string
	// Sum is the SHA-256 of the file's bytes.
	Sum [sha256.Size]byte
}

// Manifest describes a synced lexicon directory. Sync writes it as
// manifest.json; its encoding (see MarshalManifest) is deterministic.
type Manifest struct {
	// Module is the upstream module path.
	Module string `json:"module"`
	// Version is the upstream module version.
	Version string `json:"version"`
	// Replace is the replace directive that applied to the module during
	// the sync, as "path" or "path version"; empty when none did.
	Replace string `json:"replace,omitempty"`
	// Files is the number of lexicon JSON files.
	Files int `json:"files"`
	// Digest is Digest of the lexicon files.
	Digest string `json:"digest"`
	// Notices are the upstream license notices copied beside the
	// lexicons, sorted.
	Notices []string `json:"notices"`
}

// MarshalManifest returns the canonical encoding of m: indented JSON with
// fields in a fixed order and a trailing newline.
func MarshalManifest(m Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return nil, fmt.Errorf("lexsync: encoding manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// ReadManifest reads and decodes manifest.json from the top of fsys.
func ReadManifest(fsys fs.FS) (Manifest, []byte, error) {
	var m Manifest
	b, err := fs.ReadFile(fsys, ManifestName)
	if err != nil {
		return m, nil, fmt.Errorf("lexsync: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, b, fmt.Errorf("lexsync: decoding %s: %w", ManifestName, err)
	}
	return m, b, nil
}

// Digest returns the digest of a set of lexicon files: "sha256:" followed by
// the hex SHA-256 of one line per file, sorted by path, each line being the
// file's hex SHA-256, two spaces, its path and a newline. That is the output
// of `sha256sum` over the sorted paths, so the digest of a directory can be
// recomputed with
//
//	find . -name '*.json' ! -path ./manifest.json | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum
//
// (for a tree without paths that start with "." or "_" or contain testdata,
// which Hash skips). The order of files does not matter.
func Digest(files []File) string {
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	h := sha256.New()
	for _, f := range sorted {
		fmt.Fprintf(h, "%x  %s\n", f.Sum, f.Path)
	}
	return DigestPrefix + hex.EncodeToString(h.Sum(nil))
}

// Paths returns the slash-separated paths of the lexicon files in fsys,
// sorted: every regular file whose name ends in ".json", except
// manifest.json at the top, skipping directories whose name starts with "."
// or "_" or is "testdata" (as go:embed and the go command do). A .json entry
// that is not a regular file is an error, as is a path containing a newline.
func Paths(fsys fs.FS) ([]string, error) {
	var paths []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return fs.SkipDir
			}
			return nil
		}
		if path.Ext(name) != ".json" || p == ManifestName {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		if strings.ContainsAny(p, "\n\r") {
			return fmt.Errorf("%q: path contains a line break", p)
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lexsync: listing lexicons: %w", err)
	}
	slices.Sort(paths)
	return paths, nil
}

// Hash returns the lexicon files of fsys (as Paths lists them) with the
// SHA-256 of each, sorted by path.
func Hash(fsys fs.FS) ([]File, error) {
	paths, err := Paths(fsys)
	if err != nil {
		return nil, err
	}
	files := make([]File, len(paths))
	for i, p := range paths {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("lexsync: %w", err)
		}
		files[i] = File{Path: p, Sum: sha256.Sum256(b)}
	}
	return files, nil
}

// ErrOutOfSync matches (with errors.Is) every *MismatchError.
var ErrOutOfSync = errors.New("lexicons out of sync")

// MismatchError reports how a lexicon directory differs from what it should
// hold. Verify and CheckManifest return it.
type MismatchError struct {
	// Dir is the directory checked.
	Dir string
	// Missing lists upstream files (lexicons and license notices) absent
	// from Dir.
	Missing []string
	// Extra lists lexicon files in Dir that upstream does not have.
	Extra []string
	// Differing lists files present in both whose contents differ.
	Differing []string
	// Manifest lists the ways manifest.json is wrong, one sentence each.
	Manifest []string
}

// Error lists every problem, one per line after a summary line.
func (e *MismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lexsync: %s is out of sync; run `go run ./cmd/lexgen sync`", e.Dir)
	for _, p := range e.Missing {
		fmt.Fprintf(&b, "\n\tmissing: %s", p)
	}
	for _, p := range e.Extra {
		fmt.Fprintf(&b, "\n\textra: %s", p)
	}
	for _, p := range e.Differing {
		fmt.Fprintf(&b, "\n\tdiffers: %s", p)
	}
	for _, p := range e.Manifest {
		fmt.Fprintf(&b, "\n\t%s: %s", ManifestName, p)
	}
	return b.String()
}

// Is reports whether target is ErrOutOfSync.
func (e *MismatchError) Is(target error) bool { return target == ErrOutOfSync }

func (e *MismatchError) empty() bool {
	return len(e.Missing)+len(e.Extra)+len(e.Differing)+len(e.Manifest) == 0
}

// CheckManifest checks that manifest.json at the top of fsys agrees with the
// lexicon files of fsys: same file count and digest. It needs neither the
// network nor the module cache. name is used in the error only. A
// disagreement is a *MismatchError; an unreadable tree is another error.
func CheckManifest(fsys fs.FS, name string) error {
	files, err := Hash(fsys)
	if err != nil {
		return err
	}
	mm := &MismatchError{Dir: name}
	m, _, err := ReadManifest(fsys)
	if err != nil {
		mm.Manifest = append(mm.Manifest, readProblem(err))
		return mm
	}
	if m.Files != len(files) {
		mm.Manifest = append(mm.Manifest, fmt.Sprintf("says %d files, the directory has %d", m.Files, len(files)))
	}
	if d := Digest(files); m.Digest != d {
		mm.Manifest = append(mm.Manifest, fmt.Sprintf("says digest %s, the files hash to %s", m.Digest, d))
	}
	if mm.empty() {
		return nil
	}
	return mm
}

// readProblem describes a ReadManifest error for a MismatchError.
func readProblem(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "missing"
	}
	return strings.TrimPrefix(err.Error(), "lexsync: ")
}
