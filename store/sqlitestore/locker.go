package sqlitestore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/memstore"
)

// Locker is a [store.Locker] backed by a lease table in the [DB]'s file: a
// lock held by one process excludes every other process that opened the same
// file. Get one from [DB.Locker].
//
// A lease is a row holding a random owner token and an expiry. Taking a lock
// inserts the row, or takes over a row whose lease has expired; releasing it
// deletes the row only if it still holds the caller's token. Expiry uses the
// machine's wall clock, which all processes on it share.
//
// Within a process, waiters first queue on an in-process lock, so only one of
// them polls the file at a time.
type Locker struct {
	db    *DB
	local memstore.Locker

	mu       sync.Mutex
	released chan struct{} // closed and replaced whenever a lease of this Locker ends
}

var (
	_ store.Locker      = (*Locker)(nil)
	_ store.LeaseLocker = (*Locker)(nil)
)

// Lease is a held [Locker] lock.
type Lease struct {
	l     *Locker
	key   string
	token string
	local store.Lease
	once  sync.Once
}

var _ store.Lease = (*Lease)(nil)

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
		return nil, err
	}
	return lease, nil
}

func (l *Locker) acquire(ctx context.Context, key string, ttl time.Duration) (*Lease, error) {
	if ttl <= 0 {
		ttl = store.DefaultLockTTL
	}
	local, err := l.local.Acquire(ctx, key, ttl)
	if err != nil {
		return nil, err
	}
	lease := &Lease{l: l, key: key, token: randomToken(), local: local}
	backoff := 2 * time.Millisecond
	for {
		notify := l.releasedChan()
		ok, err := lease.try(ctx, ttl)
		if err != nil {
			// If ctx ended as the statement committed, the row may be ours:
			// delete it if so.
			lease.releaseRemote()
			local.Release()
			if ctx.Err() != nil {
				return nil, store.LockTimeoutError(ctx, key)
			}
			return nil, fmt.Errorf("sqlitestore: lock %q: %w", key, err)
		}
		if ok {
			return lease, nil
		}
		// Held by another process. Poll with backoff; a release by this
		// process wakes us at once.
		select {
		case <-ctx.Done():
			local.Release()
			return nil, store.LockTimeoutError(ctx, key)
		case <-notify:
		case <-time.After(backoff + rand.N(backoff)):
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// try takes the lease row if it is free or expired.
func (s *Lease) try(ctx context.Context, ttl time.Duration) (bool, error) {
	var n int64
	err := retry(ctx, func() error {
		now := nowMillis()
		res, err := s.l.db.locks.ExecContext(ctx,
			`INSERT INTO locks (name, owner, expires_at) VALUES (?, ?, ?)
			 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
			 WHERE locks.expires_at <= ?`,
			s.key, s.token, now+max(ttl.Milliseconds(), 1), now)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

func (l *Locker) releasedChan() chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released == nil {
		l.released = make(chan struct{})
	}
	return l.released
}

func (l *Locker) notifyReleased() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released != nil {
		close(l.released)
		l.released = nil
	}
}

// Release implements [store.Lease]. If the file cannot be written, the lock
// is freed when its ttl ends.
func (s *Lease) Release() {
	s.once.Do(func() {
		s.releaseRemote()
		s.local.Release()
		s.l.notifyReleased()
	})
}

// releaseRemote deletes the lease row if it still holds our token.
func (s *Lease) releaseRemote() {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultBusyTimeout)
	defer cancel()
	_ = retry(ctx, func() error {
		_, err := s.l.db.locks.ExecContext(ctx,
			`DELETE FROM locks WHERE name = ? AND owner = ?`, s.key, s.token)
		return err
	})
}

// Extend implements [store.Lease].
func (s *Lease) Extend(ctx context.Context, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlitestore: extend lease: %w", err)
	}
	if ttl <= 0 {
		ttl = store.DefaultLockTTL
	}
	var n int64
	err := retry(ctx, func() error {
		now := nowMillis()
		res, err := s.l.db.locks.ExecContext(ctx,
			`UPDATE locks SET expires_at = ? WHERE name = ? AND owner = ? AND expires_at > ?`,
			now+max(ttl.Milliseconds(), 1), s.key, s.token, now)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: extend lease %q: %w", s.key, err)
	}
	if n != 1 {
		return fmt.Errorf("sqlitestore: extend lease %q: %w", s.key, store.ErrLockLost)
	}
	// The in-process lease follows; if it lapsed, another goroutine here may
	// be queued on the file, which still excludes it.
	_ = s.local.Extend(ctx, ttl)
	return nil
}
