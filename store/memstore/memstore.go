// Package memstore provides an in-memory [store.Store] and an in-process
// [store.Locker].
//
// They are the defaults for tests and for apps that run as a single process:
// nothing survives a restart, and nothing is shared with other processes. Both
// types are ready to use as zero values.
package memstore

import (
	"container/heap"
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/atpgo/atp/store"
)

// DefaultMaxEntries bounds a [Store] that was not given [WithMaxEntries],
// including the zero Store.
const DefaultMaxEntries = 100_000

// Store is an in-memory [store.Store] with per-entry expiry and a bound on the
// number of entries. When a Set would exceed the bound, expired entries are
// dropped first, then the entries set longest ago.
//
// The zero Store is ready to use, bounded by DefaultMaxEntries. A Store is
// safe for concurrent use and must not be copied after first use.
type Store struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	entries map[string]*entry
	order   list.List // of *entry, least recently set first
	expiry  expiryHeap
}

type entry struct {
	key     string
	value   []byte
	expires time.Time // zero: never
	elem    *list.Element
	index   int // in the expiry heap, -1 when not there
}

var _ store.Store = (*Store)(nil)

// Option configures a [Store].
type Option func(*Store)

// WithMaxEntries bounds the store to n entries. Zero means DefaultMaxEntries;
// a negative n means unbounded.
func WithMaxEntries(n int) Option { return func(s *Store) { s.max = n } }

// New returns an empty Store.
func New(opts ...Option) *Store {
	s := &Store{}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Store) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

func (s *Store) init() {
	if s.entries == nil {
		s.entries = make(map[string]*entry)
	}
}

// Len returns the number of entries, including expired ones not yet dropped.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Get implements [store.Store].
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: get: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(key)
	if e == nil {
		return nil, fmt.Errorf("memstore: get: %w", store.ErrNotFound)
	}
	return clone(e.value), nil
}

// Set implements [store.Store].
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: set: %w", err)
	}
	value = clone(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	now := s.clock()
	s.dropExpired(now)
	var expires time.Time
	if ttl > 0 {
		expires = now.Add(ttl)
	}
	if e, ok := s.entries[key]; ok {
		e.value, e.expires = value, expires
		s.order.MoveToBack(e.elem)
		s.fixExpiry(e)
		return nil
	}
	if limit := s.limit(); limit > 0 {
		for len(s.entries) >= limit {
			s.remove(s.order.Front().Value.(*entry))
		}
	}
	e := &entry{key: key, value: value, expires: expires, index: -1}
	e.elem = s.order.PushBack(e)
	s.entries[key] = e
	s.fixExpiry(e)
	return nil
}

// Delete implements [store.Store].
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[key]; ok {
		s.remove(e)
	}
	return nil
}

// GetDelete implements [store.Store].
func (s *Store) GetDelete(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: getdelete: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(key)
	if e == nil {
		return nil, fmt.Errorf("memstore: getdelete: %w", store.ErrNotFound)
	}
	s.remove(e)
	return e.value, nil // no longer reachable from the store: no copy needed
}

// live returns the unexpired entry for key, dropping it if it has expired.
func (s *Store) live(key string) *entry {
	e, ok := s.entries[key]
	if !ok {
		return nil
	}
	if !e.expires.IsZero() && !s.clock().Before(e.expires) {
		s.remove(e)
		return nil
	}
	return e
}

func (s *Store) limit() int {
	switch {
	case s.max == 0:
		return DefaultMaxEntries
	case s.max < 0:
		return 0
	}
	return s.max
}

// dropExpired removes every entry that has expired by now. Each entry is
// removed once, so the cost is amortised over the Sets that created them.
func (s *Store) dropExpired(now time.Time) {
	for len(s.expiry) > 0 && !now.Before(s.expiry[0].expires) {
		s.remove(s.expiry[0])
	}
}

func (s *Store) fixExpiry(e *entry) {
	switch {
	case e.expires.IsZero() && e.index >= 0:
		heap.Remove(&s.expiry, e.index)
	case e.expires.IsZero():
	case e.index >= 0:
		heap.Fix(&s.expiry, e.index)
	default:
		heap.Push(&s.expiry, e)
	}
}

func (s *Store) remove(e *entry) {
	delete(s.entries, e.key)
	s.order.Remove(e.elem)
	if e.index >= 0 {
		heap.Remove(&s.expiry, e.index)
	}
}

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append(make([]byte, 0, len(b)), b...)
}

// expiryHeap orders entries that expire, soonest first.
type expiryHeap []*entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	return e
}
