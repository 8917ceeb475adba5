package memstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return New() })
}

func TestConformanceZeroValue(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return new(Store) })
}

func TestLockerConformance(t *testing.T) {
	// An in-process Locker excludes only holders that share it, so every
	// call within one subtest (TwoLockers asks twice) gets the same one.
	var mu sync.Mutex
	lockers := map[*testing.T]*Locker{}
	storetest.RunLocker(t, func(t *testing.T) store.Locker {
		mu.Lock()
		defer mu.Unlock()
		if lockers[t] == nil {
			lockers[t] = new(Locker)
		}
		return lockers[t]
	})
}

// fakeClock is a manual clock for the eviction tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func has(t *testing.T, s *Store, key string) bool {
	t.Helper()
	_, err := s.Get(context.Background(), key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestEvictsExpiredFirst(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	s := New(WithMaxEntries(3))
	s.now = clock.now
	_ = s.Set(ctx, "old", []byte("1"), 0)             // oldest, never expires
	_ = s.Set(ctx, "state", []byte("2"), time.Minute) // expires
	_ = s.Set(ctx, "new", []byte("3"), 0)
	clock.advance(2 * time.Minute)
	if err := s.Set(ctx, "newest", []byte("4"), 0); err != nil {
		t.Fatal(err)
	}
	if !has(t, s, "old") || has(t, s, "state") || !has(t, s, "new") || !has(t, s, "newest") {
		t.Fatal("with an expired entry present, the oldest live entry was evicted instead")
	}
	if n := s.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
}

func TestEvictsOldestWhenNoneExpired(t *testing.T) {
	ctx := context.Background()
	s := New(WithMaxEntries(3))
	for _, k := range []string{"a", "b", "c"} {
		_ = s.Set(ctx, k, []byte(k), time.Hour)
	}
	_ = s.Set(ctx, "a", []byte("a2"), time.Hour) // "a" is now the most recently set
	_ = s.Set(ctx, "d", []byte("d"), time.Hour)
	if has(t, s, "b") {
		t.Fatal("b, the least recently set entry, survived")
	}
	for _, k := range []string{"a", "c", "d"} {
		if !has(t, s, k) {
			t.Fatalf("%s was evicted", k)
		}
	}
	// Many more Sets never exceed the bound.
	for i := range 100 {
		_ = s.Set(ctx, fmt.Sprint(i), nil, 0)
		if n := s.Len(); n > 3 {
			t.Fatalf("Len = %d after %d sets, want at most 3", n, i)
		}
	}
}

func TestExpiredEntriesAreDropped(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	s := New(WithMaxEntries(-1))
	s.now = clock.now
	for i := range 1000 {
		_ = s.Set(ctx, fmt.Sprint(i), []byte("x"), time.Second)
	}
	clock.advance(time.Second)
	_ = s.Set(ctx, "trigger", []byte("y"), 0)
	if n := s.Len(); n != 1 {
		t.Fatalf("Len = %d after all other entries expired, want 1", n)
	}
}

func TestDefaultBound(t *testing.T) {
	var s Store
	ctx := context.Background()
	for i := range DefaultMaxEntries + 10 {
		_ = s.Set(ctx, fmt.Sprint(i), nil, 0)
	}
	if n := s.Len(); n != DefaultMaxEntries {
		t.Fatalf("zero Store Len = %d, want DefaultMaxEntries (%d)", n, DefaultMaxEntries)
	}
}

func TestLockerExpiryWithClock(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	var mu sync.Mutex
	l := &Locker{clock: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock.now() }}
	ctx := context.Background()
	if _, err := l.Lock(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	clock.advance(time.Minute)
	mu.Unlock()
	unlock, err := l.Lock(ctx, "k", time.Minute)
	if err != nil {
		t.Fatalf("Lock after the holder's ttl: %v", err)
	}
	unlock()
}
