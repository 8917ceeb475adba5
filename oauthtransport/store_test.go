package oauthtransport

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/atpgo/atp/store"
)

// memStore is a test-only store.Store that can be told to fail.
type memStore struct {
	mu      sync.Mutex
	m       map[string][]byte
	sets    int
	failSet error
	failGet error
}

func newMemStore() *memStore { return &memStore{m: map[string][]byte{}} }

func (s *memStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failGet != nil {
		return nil, s.failGet
	}
	v, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("%q: %w", key, store.ErrNotFound)
	}
	return append([]byte(nil), v...), nil
}

func (s *memStore) Set(_ context.Context, key string, value []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSet != nil {
		return s.failSet
	}
	s.sets++
	s.m[key] = append([]byte(nil), value...)
	return nil
}

func (s *memStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func (s *memStore) GetDelete(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("%q: %w", key, store.ErrNotFound)
	}
	delete(s.m, key)
	return v, nil
}

func (s *memStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
