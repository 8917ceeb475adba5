package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/atpgo/atp/store"
)

// Locker is an in-process [store.Locker]: a mutex per key whose waiters honour
// their context, and whose holder loses the lock after its ttl.
//
// It orders holders within one process only. Apps that run several processes
// or instances need a shared Locker as well (store/sqlitestore on one
// machine, store/redisstore across machines); those take a Locker like this one
// first, so that waiters in one process queue locally.
//
// The zero Locker is ready to use. A Locker must not be copied after first
// use.
type Locker struct {
	mu    sync.Mutex
	held  map[string]*Lease
	clock func() time.Time // for tests; nil means time.Now
}

var (
	_ store.Locker      = (*Locker)(nil)
	_ store.LeaseLocker = (*Locker)(nil)
	_ store.Lease       = (*Lease)(nil)
)

// Lease is one holding of a [Locker] lock.
type Lease struct {
	l        *Locker
	key      string
	expires  time.Time     // guarded by l.mu
	released chan struct{} // closed when the lease ends: released, or expired and taken over
}

// NewLocker returns a Locker. It is equivalent to new(Locker).
func NewLocker() *Locker { return new(Locker) }

func (l *Locker) now() time.Time {
	if l.clock != nil {
		return l.clock()
	}
	return time.Now()
}

// Lock implements [store.Locker].
func (l *Locker) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	lease, err := l.acquire(ctx, key, ttl)
	if err != nil {
		return nil, err
	}
	return lease.Release, nil
}

// Acquire implements [store.LeaseLocker].
func (l *Locker) Acquire(ctx context.Context, key string, ttl time.Duration) (store.Lease, error) {
	lease, err := l.acquire(ctx, key, ttl)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return lease, nil
}

func (l *Locker) acquire(ctx context.Context, key string, ttl time.Duration) (*Lease, error) {
	if ctx.Err() != nil {
		return nil, store.LockTimeoutError(ctx, key)
	}
	if ttl <= 0 {
		ttl = store.DefaultLockTTL
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		l.mu.Lock()
		if l.held == nil {
			l.held = make(map[string]*Lease)
		}
		now := l.now()
		cur := l.held[key]
		if cur != nil && !now.Before(cur.expires) {
			// The holder outlived its ttl: its lease ends now.
			close(cur.released)
			delete(l.held, key)
			cur = nil
		}
		if cur == nil {
			mine := &Lease{l: l, key: key, expires: now.Add(ttl), released: make(chan struct{})}
			l.held[key] = mine
			l.mu.Unlock()
			return mine, nil
		}
		wait := cur.expires.Sub(now)
		l.mu.Unlock()

		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-cur.released:
		case <-timer.C:
		case <-ctx.Done():
			return nil, store.LockTimeoutError(ctx, key)
		}
	}
}

// Release implements [store.Lease].
func (s *Lease) Release() {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[s.key] == s { // otherwise released already, or expired and taken over
		close(s.released)
		delete(l.held, s.key)
	}
}

// Extend implements [store.Lease].
func (s *Lease) Extend(ctx context.Context, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: extend lease: %w", err)
	}
	if ttl <= 0 {
		ttl = store.DefaultLockTTL
	}
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.held[s.key] != s || !now.Before(s.expires) {
		return fmt.Errorf("memstore: extend lease %q: %w", s.key, store.ErrLockLost)
	}
	s.expires = now.Add(ttl)
	return nil
}
