package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/atpgo/atp/store"
)

// Store is one namespace of a [DB], as a [store.Store]. Get one from
// [DB.Store].
type Store struct {
	db *DB
	ns string
}

var _ store.Store = (*Store)(nil)

// Get implements [store.Store]. An expired value is deleted as it is found.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: get: %w", err)
	}
	var (
		value   []byte
		expires sql.NullInt64
		now     = nowMillis()
	)
	err := retry(ctx, func() error {
		return s.db.sql.QueryRowContext(ctx,
			`SELECT value, expires_at FROM kv WHERE ns = ? AND key = ?`, s.ns, key,
		).Scan(&value, &expires)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: get: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get: %w", err)
	}
	if expires.Valid && expires.Int64 <= now {
		// Lazily drop it, unless it was replaced meanwhile. A failure here is
		// harmless: expired rows are never returned, and Purge removes them.
		_, _ = s.db.sql.ExecContext(ctx,
			`DELETE FROM kv WHERE ns = ? AND key = ? AND expires_at <= ?`, s.ns, key, now)
		return nil, fmt.Errorf("sqlitestore: get: %w", store.ErrNotFound)
	}
	return nonNil(value), nil
}

// Set implements [store.Store].
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlitestore: set: %w", err)
	}
	var expires sql.NullInt64
	if ttl > 0 {
		expires = sql.NullInt64{Int64: nowMillis() + max(ttl.Milliseconds(), 1), Valid: true}
	}
	err := retry(ctx, func() error {
		// An upsert, never INSERT then UPDATE: a rotated refresh token must
		// replace the old one in a single statement.
		_, err := s.db.sql.ExecContext(ctx,
			`INSERT INTO kv (ns, key, value, expires_at) VALUES (?, ?, ?, ?)
			 ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
			s.ns, key, nonNil(value), expires)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: set: %w", err)
	}
	return nil
}

// Delete implements [store.Store].
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlitestore: delete: %w", err)
	}
	err := retry(ctx, func() error {
		_, err := s.db.sql.ExecContext(ctx, `DELETE FROM kv WHERE ns = ? AND key = ?`, s.ns, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: delete: %w", err)
	}
	return nil
}

// GetDelete implements [store.Store] with a single DELETE ... RETURNING
// statement, so that of several connections or processes at most one
// receives the value.
func (s *Store) GetDelete(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: getdelete: %w", err)
	}
	var (
		value   []byte
		expires sql.NullInt64
	)
	err := retry(ctx, func() error {
		return s.db.sql.QueryRowContext(ctx,
			`DELETE FROM kv WHERE ns = ? AND key = ? RETURNING value, expires_at`, s.ns, key,
		).Scan(&value, &expires)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: getdelete: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: getdelete: %w", err)
	}
	if expires.Valid && expires.Int64 <= nowMillis() {
		return nil, fmt.Errorf("sqlitestore: getdelete: %w", store.ErrNotFound)
	}
	return nonNil(value), nil
}

// nonNil maps nil to an empty slice: database/sql binds a nil []byte as NULL,
// and a stored empty value must read back as empty, not missing.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
