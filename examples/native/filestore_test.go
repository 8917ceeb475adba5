package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/storetest"
)

func TestFileStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := newFileStore(filepath.Join(t.TempDir(), "sessions.json"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestFileStoreOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "atp")
	s, err := newFileStore(filepath.Join(dir, "sessions.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(context.Background(), "did:plc:abc", []byte("secret"), 0); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, s.path: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	// A second store on the same file (the next run) sees the value.
	s2, _ := newFileStore(s.path)
	if v, err := s2.Get(context.Background(), "did:plc:abc"); err != nil || string(v) != "secret" {
		t.Fatalf("reopened: %q, %v", v, err)
	}
}
