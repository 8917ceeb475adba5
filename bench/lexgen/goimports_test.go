package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bluesky-social/indigo/lex/lexgen"
	"golang.org/x/tools/imports"
)

// TestGoimportsMatchesImportsProcess checks, on the whole corpus, that the
// shortcut the benchmark times for indigo's formatting step gives exactly
// what indigo's cmd/lexgen would write: imports.Process(filename, src,
// nil).
func TestGoimportsMatchesImportsProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs `go env` once per lexicon file")
	}
	files, cat, err := loadIndigo(filepath.Join("..", "..", "lexicons"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 300 {
		t.Fatalf("loaded %d lexicon files, want the whole corpus", len(files))
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	outDir := t.TempDir()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, sf := range files {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			fl, err := lexgen.FlattenSchemaFile(sf)
			if err != nil {
				t.Error(err)
				return
			}
			var buf bytes.Buffer
			cg := lexgen.CodeGenerator{Config: lexgen.LegacyConfig(), Lex: fl, Cat: cat, Out: &buf}
			if err := cg.WriteLexicon(); err != nil {
				t.Error(err)
				return
			}
			fname := filepath.Join(outDir, cg.PkgName(), cg.FileName())
			want, err := imports.Process(fname, buf.Bytes(), nil)
			if err != nil {
				t.Errorf("%s: imports.Process: %v", sf.ID, err)
				return
			}
			got, err := goimports(fname, buf.Bytes(), fl)
			if err != nil {
				t.Errorf("%s: goimports: %v", sf.ID, err)
				return
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: goimports differs from imports.Process", sf.ID)
				if testing.Verbose() {
					os.WriteFile(filepath.Join(os.TempDir(), cg.FileName()+".got"), got, 0o644)
					os.WriteFile(filepath.Join(os.TempDir(), cg.FileName()+".want"), want, 0o644)
				}
			}
		})
	}
	wg.Wait()
}
