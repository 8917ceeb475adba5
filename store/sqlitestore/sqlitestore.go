// Package sqlitestore keeps stores and locks in one SQLite file: the embedded
// default for apps that run on a single machine.
//
// One file holds any number of namespaced stores ([DB.Store]) and a lock
// table ([DB.Locker]). Several goroutines and several processes may use the
// same file at once: it is opened in WAL mode with a busy timeout, one-time
// values are consumed with a single DELETE ... RETURNING statement, and the
// lock is a lease row with an owner token and an expiry. The file must be on a
// local file system (SQLite's locking is unreliable on network file systems).
//
// The driver is modernc.org/sqlite, a translation of SQLite's C source to Go:
// it needs no cgo, so programs using this package cross-compile like any other
// Go program.
package sqlitestore

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultPurgeInterval is how often an open [DB] deletes expired rows unless
// [WithPurgeInterval] says otherwise.
const DefaultPurgeInterval = 10 * time.Minute

// DefaultBusyTimeout is how long a statement waits for another connection's
// write lock unless [WithBusyTimeout] says otherwise.
const DefaultBusyTimeout = 5 * time.Second

// ErrSchemaTooNew is returned by [Open] when the file was migrated by a newer
// version of this package than the running one.
var ErrSchemaTooNew = errors.New("sqlitestore: database schema is newer than this program")

// DB is an open SQLite file holding stores and locks. It is safe for
// concurrent use; Close it when done.
type DB struct {
	sql       *sql.DB
	locks     *sql.DB // the lock table, written without waiting for fsync
	stopPurge context.CancelFunc
	purgeDone chan struct{}
	closeOnce sync.Once
	closeErr  error
	locker    Locker
}

type options struct {
	purgeInterval time.Duration
	busyTimeout   time.Duration
}

// Option configures [Open].
type Option func(*options)

// WithPurgeInterval sets how often the DB deletes expired rows in the
// background. Zero or less disables the background purge; call [DB.Purge]
// yourself then. Expired values are never returned either way.
func WithPurgeInterval(d time.Duration) Option {
	return func(o *options) { o.purgeInterval = d }
}

// WithBusyTimeout sets how long a statement waits for another connection or
// process holding the write lock before it fails with SQLITE_BUSY (which the
// package then retries until the context ends).
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// Open opens or creates the SQLite file at path and migrates its schema.
// Several processes may open the same file.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	o := options{purgeInterval: DefaultPurgeInterval, busyTimeout: DefaultBusyTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlitestore: open %q: want the path of a file", path)
	}
	dsn := func(synchronous string) string {
		q := url.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", max(o.busyTimeout.Milliseconds(), 0)))
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+synchronous+")")
		q.Set("_txlock", "immediate") // transactions take the write lock up front
		return "file:" + escapePath(path) + "?" + q.Encode()
	}
	// Values: FULL, a commit is on disk when it returns. A refresh token
	// that was rotated but not persisted would log the user out after a
	// power loss.
	sdb, err := sql.Open("sqlite", dsn("FULL"))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	// Writers are serialised by SQLite anyway; a few connections let WAL
	// readers run alongside a writer, and queue the rest in Go rather than
	// in SQLite's busy handler.
	n := max(4, runtime.GOMAXPROCS(0))
	sdb.SetMaxOpenConns(n)
	sdb.SetMaxIdleConns(n)

	db := &DB{sql: sdb}
	db.locker.db = db
	if err := db.migrate(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	// Locks: NORMAL, still atomic and consistent across processes, but a
	// commit does not wait for fsync. A lease does not need to survive a
	// power loss (its holders do not either), and a lock round trip then
	// costs microseconds instead of two fsyncs.
	db.locks, err = sql.Open("sqlite", dsn("NORMAL"))
	if err != nil {
		sdb.Close()
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	db.locks.SetMaxOpenConns(2)
	db.locks.SetMaxIdleConns(2)
	if o.purgeInterval > 0 {
		pctx, cancel := context.WithCancel(context.Background())
		db.stopPurge, db.purgeDone = cancel, make(chan struct{})
		go db.purgeLoop(pctx, o.purgeInterval)
	}
	return db, nil
}

// escapePath makes path safe inside a file: URI.
func escapePath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// Close stops the background purge and closes the file. Stores and Lockers
// from db fail after Close.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		if db.stopPurge != nil {
			db.stopPurge()
			<-db.purgeDone
		}
		db.closeErr = errors.Join(db.locks.Close(), db.sql.Close())
	})
	return db.closeErr
}

// Store returns the store for namespace. Stores of different namespaces in
// one DB are independent: the same key may hold different values in each.
func (db *DB) Store(namespace string) *Store {
	return &Store{db: db, ns: namespace}
}

// Locker returns the DB's lock table as a [store.Locker]. Locks exclude
// each other across every process that opened the same file.
func (db *DB) Locker() *Locker { return &db.locker }

// Purge deletes expired values from every namespace, and expired locks. It
// returns the number of rows deleted.
func (db *DB) Purge(ctx context.Context) (int64, error) {
	const batch = 1000
	var total int64
	for _, stmt := range []string{
		`DELETE FROM kv WHERE (ns, key) IN (SELECT ns, key FROM kv WHERE expires_at <= ? LIMIT 1000)`,
		`DELETE FROM locks WHERE name IN (SELECT name FROM locks WHERE expires_at <= ? LIMIT 1000)`,
	} {
		for {
			var n int64
			conn := db.sql
			if strings.Contains(stmt, "locks") {
				conn = db.locks
			}
			err := retry(ctx, func() error {
				res, err := conn.ExecContext(ctx, stmt, nowMillis())
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return total, fmt.Errorf("sqlitestore: purge: %w", err)
			}
			total += n
			if n < batch {
				break
			}
		}
	}
	return total, nil
}

func (db *DB) purgeLoop(ctx context.Context, every time.Duration) {
	defer close(db.purgeDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Errors are not fatal: expired rows are never returned, and the
			// next round (or another process) deletes them.
			pctx, cancel := context.WithTimeout(ctx, time.Minute)
			_, _ = db.Purge(pctx)
			cancel()
		}
	}
}

// migrations are applied in order, each once; the index+1 is the schema
// version. Never edit one that has shipped: append a new one.
var migrations = [][]string{
	{
		`CREATE TABLE kv (
			ns         TEXT    NOT NULL,
			key        TEXT    NOT NULL,
			value      BLOB    NOT NULL,
			expires_at INTEGER,            -- unix milliseconds; NULL: never
			PRIMARY KEY (ns, key)
		) WITHOUT ROWID`,
		`CREATE INDEX kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL`,
		`CREATE TABLE locks (
			name       TEXT    NOT NULL PRIMARY KEY,
			owner      TEXT    NOT NULL,   -- random token of the holder
			expires_at INTEGER NOT NULL    -- unix milliseconds
		) WITHOUT ROWID`,
	},
}

func (db *DB) migrate(ctx context.Context) error {
	return retry(ctx, func() error {
		tx, err := db.sql.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one migrator at a time
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			applied_at INTEGER NOT NULL
		)`); err != nil {
			return err
		}
		var version int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
			return err
		}
		if version > len(migrations) {
			return fmt.Errorf("%w: file at version %d, this program knows %d", ErrSchemaTooNew, version, len(migrations))
		}
		for v := version + 1; v <= len(migrations); v++ {
			for _, stmt := range migrations[v-1] {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migration %d: %w", v, err)
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, nowMillis()); err != nil {
				return err
			}
		}
		return tx.Commit()
	})
}

func nowMillis() int64 { return time.Now().UnixMilli() }

// retry runs fn until it succeeds, fails with an error other than
// SQLITE_BUSY or SQLITE_LOCKED, or ctx ends. SQLite's busy handler covers most
// contention; this covers the cases it does not (a stale WAL snapshot, a busy
// checkpoint or recovery).
func retry(ctx context.Context, fn func() error) error {
	backoff := time.Millisecond
	for {
		err := fn()
		if err == nil || !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(backoff + rand.N(backoff)):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // the primary code of an extended result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// randomToken returns an owner token for a lease (128 bits or more).
func randomToken() string { return crand.Text() }
