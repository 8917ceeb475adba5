package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/memstore"
)

// DefaultLockPrefix is the key prefix of a [Locker] made without
// [WithPrefix].
const DefaultLockPrefix = "atp:lock:"

// Locker is a distributed [store.Locker] on Redis: every instance that uses
// the same Redis and prefix shares its locks.
//
// A lock is the Redis key prefix+key holding a random owner token, set with
// SET NX PX so that it frees itself after the ttl if the holder dies. Waiters
// poll with jittered exponential backoff (capped at 100 ms) until ctx ends.
// Release and Extend run a Lua script that acts only if the key still holds
// the caller's token.
//
// Within one process, waiters first queue on an in-process lock, so that one
// instance sends at most one waiter's commands per key to Redis.
//
// This is written here rather than taken from a library: the two candidates
// were github.com/bsm/redislock (the same design, but another dependency) and
// github.com/go-redsync/redsync (Redlock over several masters, which a single
// Redis deployment does not need); the lock is short, and the conformance
// suite tests it hard.
type Locker struct {
	c      redis.UniversalClient
	prefix string
	local  memstore.Locker
}

var (
	_ store.Locker      = (*Locker)(nil)
	_ store.LeaseLocker = (*Locker)(nil)
)

// NewLocker returns a Locker using client, with keys under
// DefaultLockPrefix unless [WithPrefix] says otherwise.
func NewLocker(client redis.UniversalClient, opts ...Option) *Locker {
	c := config{prefix: DefaultLockPrefix}
	for _, o := range opts {
		o(&c)
	}
	return &Locker{c: client, prefix: c.prefix}
}

// releaseScript deletes the lock only if it still holds our token.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// extendScript resets the lock's expiry only if it still holds our token.
var extendScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

// Lease is a held [Locker] lock.
type Lease struct {
	l     *Locker
	key   string
	token string
	local store.Lease
	once  sync.Once
}

var _ store.Lease = (*Lease)(nil)

// Token returns the lease's random owner token, the value of its Redis key.
func (s *Lease) Token() string { return s.token }

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

func pttl(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return store.DefaultLockTTL
	}
	return max(ttl.Truncate(time.Millisecond), time.Millisecond)
}

func (l *Locker) acquire(ctx context.Context, key string, ttl time.Duration) (*Lease, error) {
	ttl = pttl(ttl)
	local, err := l.local.Acquire(ctx, key, ttl)
	if err != nil {
		return nil, err
	}
	lease := &Lease{l: l, key: key, token: rand.Text(), local: local}
	backoff := 5 * time.Millisecond
	for {
		ok, err := l.c.SetNX(ctx, l.prefix+key, lease.token, ttl).Result()
		if err != nil {
			// The command may have reached Redis before the connection
			// failed or ctx ended: free the lock if it is ours, then report.
			lease.releaseRemote()
			local.Release()
			if ctx.Err() != nil {
				return nil, store.LockTimeoutError(ctx, key)
			}
			return nil, fmt.Errorf("redisstore: lock %q: %w", key, err)
		}
		if ok {
			return lease, nil
		}
		select {
		case <-ctx.Done():
			local.Release()
			return nil, store.LockTimeoutError(ctx, key)
		case <-time.After(backoff + mrand.N(backoff)):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

func (s *Lease) releaseRemote() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = releaseScript.Run(ctx, s.l.c, []string{s.l.prefix + s.key}, s.token).Err()
}

// Release implements [store.Lease]. If Redis cannot be reached, the lock
// frees itself when its ttl ends.
func (s *Lease) Release() {
	s.once.Do(func() {
		s.releaseRemote()
		s.local.Release()
	})
}

// Extend implements [store.Lease].
func (s *Lease) Extend(ctx context.Context, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: extend lease: %w", err)
	}
	ttl = pttl(ttl)
	n, err := extendScript.Run(ctx, s.l.c, []string{s.l.prefix + s.key}, s.token, ttl.Milliseconds()).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: extend lease %q: %w", s.key, err)
	}
	if n != 1 {
		return fmt.Errorf("redisstore: extend lease %q: %w", s.key, store.ErrLockLost)
	}
	_ = s.local.Extend(ctx, ttl) // see sqlitestore: the Redis lease is the one that counts
	return nil
}
