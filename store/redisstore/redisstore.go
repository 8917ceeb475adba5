// Package redisstore keeps stores and locks in Redis, for apps that run as
// many instances.
//
// [Store] keeps values under a key prefix with Redis's own expiry (SET PX) and
// consumes one-time values with GETDEL (Redis 6.2 or later). [Locker] is a
// distributed lock for the token-refresh path: a lease taken with SET NX PX
// and a random owner token, released and renewed by Lua scripts that first
// check the token, so that a holder whose lease expired can never release or
// extend the next holder's lock.
//
// Both take any go-redis client (a *redis.Client, a cluster or a failover
// client). The lock runs against one Redis deployment, the usual setup; it is
// not the multi-master Redlock algorithm, whose extra guarantees need several
// independent Redis servers.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atpgo/atp/store"
)

// Store is a [store.Store] in Redis. Every key is stored as prefix+key.
type Store struct {
	c      redis.UniversalClient
	prefix string
}

var _ store.Store = (*Store)(nil)

// Option configures a [Store] or a [Locker].
type Option func(*config)

type config struct {
	prefix    string
	prefixSet bool
}

// WithPrefix sets the prefix of every Redis key the Store or Locker uses, for
// example "myapp:session:". Stores that share a Redis database need distinct
// prefixes, and must not share one with a Locker.
func WithPrefix(prefix string) Option {
	return func(c *config) { c.prefix, c.prefixSet = prefix, true }
}

// New returns a Store using client. Without [WithPrefix], keys are used as
// they are.
func New(client redis.UniversalClient, opts ...Option) *Store {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return &Store{c: client, prefix: c.prefix}
}

func (s *Store) wrap(op string, err error) error {
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrNotFound)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// Get implements [store.Store].
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.wrap("get", err)
	}
	v, err := s.c.Get(ctx, s.prefix+key).Bytes()
	if err != nil {
		return nil, s.wrap("get", err)
	}
	return nonNil(v), nil
}

// Set implements [store.Store]. A ttl below a millisecond is rounded up to
// one.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return s.wrap("set", err)
	}
	switch {
	case ttl <= 0:
		ttl = 0 // SET without an expiry; it also clears a previous one
	case ttl < time.Millisecond:
		ttl = time.Millisecond
	default:
		ttl = ttl.Truncate(time.Millisecond)
	}
	if err := s.c.Set(ctx, s.prefix+key, nonNil(value), ttl).Err(); err != nil {
		return s.wrap("set", err)
	}
	return nil
}

// Delete implements [store.Store].
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return s.wrap("delete", err)
	}
	if err := s.c.Del(ctx, s.prefix+key).Err(); err != nil {
		return s.wrap("delete", err)
	}
	return nil
}

// GetDelete implements [store.Store] with GETDEL, which Redis runs
// atomically.
func (s *Store) GetDelete(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.wrap("getdelete", err)
	}
	v, err := s.c.GetDel(ctx, s.prefix+key).Bytes()
	if err != nil {
		return nil, s.wrap("getdelete", err)
	}
	return nonNil(v), nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
