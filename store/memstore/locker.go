package memstore

import (
	"context"
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
	held  map[string]*lease
	clock func() time.Time // for tests; nil means time.Now
}

var _ store.Locker = (*Locker)(nil)

// lease is one holding of a key. released is closed when the lease ends by
// unlock, or when a waiter takes over the expired lease.
type lease struct {
	expires  time.Time
	released chan struct{}
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
	if err := ctx.Err(); err != nil {
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
			l.held = make(map[string]*lease)
		}
		now := l.now()
		cur := l.held[key]
		if cur != nil && !now.Before(cur.expires) {
			// The holder outlived its ttl: wake everyone waiting on it.
			close(cur.released)
			delete(l.held, key)
			cur = nil
		}
		if cur == nil {
			mine := &lease{expires: now.Add(ttl), released: make(chan struct{})}
			l.held[key] = mine
			l.mu.Unlock()
			return l.unlocker(key, mine), nil
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

func (l *Locker) unlocker(key string, mine *lease) func() {
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.held[key] == mine { // otherwise already released, or expired and taken over
			close(mine.released)
			delete(l.held, key)
		}
	}
}
