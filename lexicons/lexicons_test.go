package lexicons

import (
	"context"
	"io/fs"
	"os"
	"slices"
	"testing"

	"github.com/atpgo/atp/internal/lexsync"
)

// TestMatchesPinnedModule fails when this directory differs from the lexicons
// of the indigo version pinned in go.mod: a missing, extra or edited file, a
// license notice, or a manifest that does not describe that module.
func TestMatchesPinnedModule(t *testing.T) {
	if err := lexsync.Verify(context.Background(), "."); err != nil {
		t.Fatal(err)
	}
}

// TestManifestMatchesFiles checks manifest.json against the files on disk and
// against the embedded files, without the module cache.
func TestManifestMatchesFiles(t *testing.T) {
	if err := lexsync.CheckManifest(os.DirFS("."), "lexicons"); err != nil {
		t.Error(err)
	}
	if err := lexsync.CheckManifest(FS, "lexicons.FS"); err != nil {
		t.Error(err)
	}
}

// TestFSEmbedsEveryLexicon fails when a lexicon file in this directory is not
// in FS, e.g. because upstream added an authority directory that the go:embed
// line does not name.
func TestFSEmbedsEveryLexicon(t *testing.T) {
	onDisk, err := lexsync.Paths(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := lexsync.Paths(FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range onDisk {
		if _, found := slices.BinarySearch(embedded, p); !found {
			t.Errorf("%s is not embedded: add its top directory to the go:embed line in embed.go", p)
		}
	}
	if len(embedded) != len(onDisk) {
		t.Errorf("FS embeds %d lexicons, the directory has %d", len(embedded), len(onDisk))
	}
	if _, err := fs.Stat(FS, lexsync.ManifestName); err != nil {
		t.Error(err)
	}
}
