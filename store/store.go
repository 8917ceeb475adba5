// Package store defines the storage contracts the OAuth client uses for its
// short-lived authorization state and its long-lived sessions, and the lock it
// takes around a token refresh.
//
// The contracts are deliberately small so that any key-value engine can back
// them (Postgres, DynamoDB, ...). Built-in implementations live in the
// sub-packages; store/storetest holds a conformance suite for implementers.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by [Store.Get] and [Store.GetDelete] when the key
// holds no value (it was never set, was deleted, or has expired).
var ErrNotFound = errors.New("store: not found")

// Store is a key-value store of opaque values.
//
// Implementations must be safe for concurrent use. Values are opaque bytes:
// the OAuth client serialises its records itself.
type Store interface {
	// Get returns the value stored under key, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key, replacing any previous value. A ttl of
	// zero or less means the value does not expire.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// GetDelete atomically returns and removes the value under key: of two
	// concurrent callers, at most one receives the value. It returns an
	// error wrapping ErrNotFound when there is none. One-time values (OAuth
	// authorization state) are consumed with it.
	GetDelete(ctx context.Context, key string) ([]byte, error)
}

// Locker provides mutual exclusion by key, within one process or across
// many. The OAuth client holds the lock for a session's DID while it refreshes
// that session, so that a single-use refresh token is never sent twice.
type Locker interface {
	// Lock blocks until it holds the lock for key or ctx is done. The lock is
	// released by calling unlock, or automatically after ttl so that a crashed
	// holder cannot block others forever.
	Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(), err error)
}
