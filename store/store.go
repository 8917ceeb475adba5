// Package store defines the storage contracts the OAuth client uses for its
// short-lived authorization state and its long-lived sessions, and the lock it
// takes around a token refresh.
//
// The contracts are deliberately small so that any key-value engine can back
// them (Postgres, DynamoDB, ...). Built-in implementations live in the
// sub-packages:
//
//   - store/memstore: in memory, for tests and one-process apps;
//   - store/sqlitestore: one SQLite file, the embedded default for a single
//     machine (several processes may share the file);
//   - store/redisstore: Redis, for many instances, with a distributed lock.
//
// [Encrypt] wraps any Store so that values are sealed at rest. The package
// store/storetest holds conformance suites that every implementation, built-in
// or not, should pass.
//
// # Implementing a Store or a Locker
//
// A Store needs four operations with the semantics documented on [Store]; the
// conformance suite (storetest.Run) checks them. On a SQL database, for
// example Postgres: a table (key TEXT PRIMARY KEY, value BYTEA NOT NULL,
// expires_at TIMESTAMPTZ NULL); Set as a single INSERT ... ON CONFLICT (key)
// DO UPDATE (never INSERT then UPDATE, which loses writes under races); Get
// filtering out rows whose expires_at has passed; GetDelete as a single DELETE
// ... RETURNING; and a periodic DELETE of expired rows. On DynamoDB: PutItem,
// GetItem with a consistent read, DeleteItem with ReturnValues ALL_OLD for
// GetDelete, and a TTL attribute (filtered on read, since DynamoDB deletes
// expired items late).
//
// A Locker (storetest.RunLocker) is a lease: a row or key holding a random
// owner token and an expiry, taken only if absent or expired, and deleted or
// extended only by a statement that checks the token. Implement [LeaseLocker]
// too, so that a holder can renew its lease. Take an in-process lock first
// (memstore.Locker) so that waiters in one process queue locally and the Go
// memory model orders them.
//
// Why a lock matters: atproto refresh tokens are single-use. If two processes
// refresh the same session at once, the authorization server sees the second
// use as a replay ("Refresh token replayed") and revokes the session. The
// client therefore holds a [Locker] lock for the session's key while it
// refreshes, and reads the session again once it holds the lock.
package store

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// ErrNotFound is returned by [Store.Get] and [Store.GetDelete] when the key
// holds no value (it was never set, was deleted, or has expired).
var ErrNotFound = errors.New("store: not found")

// ErrLockTimeout is wrapped by the error [Locker.Lock] returns when its
// context ends before the lock could be acquired. The same error also wraps
// the context's error, so errors.Is(err, context.DeadlineExceeded) and
// errors.Is(err, context.Canceled) work as well.
var ErrLockTimeout = errors.New("store: timed out waiting for lock")

// ErrLockLost is returned when renewing (extending) a lock lease that is no
// longer held: it expired and may have been taken by another owner.
// Implementations that offer lease renewal return it.
var ErrLockLost = errors.New("store: lock lease lost")

// DefaultLockTTL is the lease duration a [Locker] uses when Lock is called with
// a ttl of zero or less.
const DefaultLockTTL = 30 * time.Second

// Store is a key-value store of opaque values.
//
// Implementations must be safe for concurrent use. Values are opaque bytes:
// the OAuth client serialises its records itself. Keys are non-empty UTF-8
// strings without NUL characters, and may contain any other character
// (':', '/', '%', '*', spaces, quotes, non-ASCII text); values are arbitrary bytes, including empty and binary values, and
// may be several megabytes long. An implementation does not keep a reference
// to a value passed to Set, nor return one it still uses: callers may modify
// the slices they pass and receive.
//
// Every method honours its context. If ctx is already done when a method is
// called, the method has no effect and returns an error wrapping ctx.Err().
//
// Errors other than ErrNotFound (for example an unreachable server) must not
// wrap ErrNotFound: a caller that sees ErrNotFound may conclude that a session
// is gone, so a transient failure must never look like one.
type Store interface {
	// Get returns the value stored under key, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key, replacing any previous value and its
	// expiry. A ttl of zero or less means the value does not expire.
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
//
// Implementations must be safe for concurrent use. Locks on different keys are
// independent.
type Locker interface {
	// Lock blocks until it holds the lock for key or ctx is done. The lock is
	// released by calling unlock, or automatically after ttl so that a crashed
	// holder cannot block others forever. A ttl of zero or less means
	// DefaultLockTTL.
	//
	// If ctx is already done, Lock fails without taking the lock. If ctx
	// ends while Lock waits, it returns an error wrapping both ErrLockTimeout
	// and ctx.Err(). Other errors (for example an unreachable server) wrap the
	// underlying cause.
	//
	// unlock is safe to call more than once and from any goroutine. Once the
	// ttl has passed, the lock may belong to someone else: calling unlock
	// then must not release the new holder's lock.
	//
	// Within one Locker value, an unlock happens before (in the sense of the
	// Go memory model) the next Lock of the same key returns, as with
	// sync.Mutex.
	Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(), err error)
}

// LeaseLocker is a [Locker] whose locks are leases that can be renewed, for
// holders that may need the lock for longer than they first asked. All the
// built-in Lockers implement it.
type LeaseLocker interface {
	Locker
	// Acquire is like Lock, but returns the lease itself.
	Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, error)
}

// Lease is a held lock.
type Lease interface {
	// Extend makes the lease expire ttl from now (DefaultLockTTL if ttl is
	// zero or less). If the lease has already expired or been released, it
	// returns an error wrapping ErrLockLost: another owner may hold the lock,
	// and the work it protected must not be committed.
	Extend(ctx context.Context, ttl time.Duration) error
	// Release releases the lock. It is safe to call more than once and from
	// any goroutine, and never releases a lock another owner took after this
	// lease expired. If the backend cannot be reached, the lock is freed
	// when its ttl ends.
	Release()
}

// LockTimeoutError returns the error a Locker returns when ctx ends while it
// waits for the lock for key: it wraps ErrLockTimeout, ctx.Err() and, when it
// differs, context.Cause(ctx). Implementations outside this module may use it
// to follow the contract. It must only be called once ctx is done.
func LockTimeoutError(ctx context.Context, key string) error {
	errs := []error{ErrLockTimeout}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
		if cause := context.Cause(ctx); cause != nil && cause != err {
			errs = append(errs, cause)
		}
	}
	return &lockTimeoutError{key: key, errs: errs}
}

type lockTimeoutError struct {
	key  string
	errs []error
}

func (e *lockTimeoutError) Error() string {
	key := e.key
	if len(key) > 64 {
		key = key[:64] + "..."
	}
	msg := "store: timed out waiting for lock " + strconv.Quote(key)
	if len(e.errs) > 1 {
		msg += ": " + e.errs[len(e.errs)-1].Error()
	}
	return msg
}

func (e *lockTimeoutError) Unwrap() []error { return e.errs }
