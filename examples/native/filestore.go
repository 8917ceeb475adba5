package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/atpgo/atp/store"
)

// fileStore is a store.Store in one JSON file that only its owner can read
// (mode 0600, in a 0700 directory): the session holds the refresh token and
// the DPoP private key. Every write replaces the file atomically (a new
// file, then rename).
//
// It is meant for one process at a time, as a desktop or CLI app is; for
// several processes sharing sessions use store/sqlitestore, whose lock
// works across processes.
type fileStore struct {
	path string
	now  func() time.Time
	mu   sync.Mutex
}

// fileEntry is one stored value.
type fileEntry struct {
	Value   []byte    `json:"value"`
	Expires time.Time `json:"expires,omitzero"`
}

// newFileStore returns the store at path, creating its directory (0700).
func newFileStore(path string) (*fileStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return &fileStore{path: path, now: time.Now}, nil
}

var _ store.Store = (*fileStore)(nil)

// load reads every unexpired entry; a missing file is an empty store.
func (s *fileStore) load() (map[string]fileEntry, error) {
	m := map[string]fileEntry{}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", s.path, err)
	}
	now := s.now()
	for k, e := range m {
		if !e.Expires.IsZero() && !now.Before(e.Expires) {
			delete(m, k)
		}
	}
	return m, nil
}

// save writes m to a temporary file (0600) and renames it over the store.
func (s *fileStore) save(m map[string]fileEntry) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".sessions-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

// Get implements store.Store.
func (s *fileStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return nil, err
	}
	e, ok := m[key]
	if !ok {
		return nil, fmt.Errorf("%w: %q", store.ErrNotFound, key)
	}
	return e.Value, nil
}

// Set implements store.Store.
func (s *fileStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return err
	}
	e := fileEntry{Value: append([]byte{}, value...)}
	if ttl > 0 {
		e.Expires = s.now().Add(ttl)
	}
	m[key] = e
	return s.save(m)
}

// Delete implements store.Store.
func (s *fileStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return err
	}
	if _, ok := m[key]; !ok {
		return nil
	}
	delete(m, key)
	return s.save(m)
}

// GetDelete implements store.Store.
func (s *fileStore) GetDelete(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load()
	if err != nil {
		return nil, err
	}
	e, ok := m[key]
	if !ok {
		return nil, fmt.Errorf("%w: %q", store.ErrNotFound, key)
	}
	delete(m, key)
	return e.Value, s.save(m)
}
