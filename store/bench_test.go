package store_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/internal/redistest"
	"github.com/atpgo/atp/store/memstore"
	"github.com/atpgo/atp/store/redisstore"
	"github.com/atpgo/atp/store/sqlitestore"
)

// The benchmarks run every backend in one process, so their figures can be
// read side by side:
//
//	go test -run '^$' -bench . -benchmem ./store/
//
// The value is a 2 KiB record keyed by DID, the size of a session with its
// DPoP key and tokens; Get is what restoring a session by DID costs.

type backend struct {
	name   string
	store  func(b *testing.B) store.Store
	locker func(b *testing.B) store.Locker
}

func backends() []backend {
	sqlite := func(b *testing.B) *sqlitestore.DB {
		db, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}
	rclient := func(b *testing.B) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: redistest.Start(b)})
		b.Cleanup(func() { c.Close() })
		return c
	}
	return []backend{
		{
			name:   "memstore",
			store:  func(b *testing.B) store.Store { return memstore.New(memstore.WithMaxEntries(-1)) },
			locker: func(b *testing.B) store.Locker { return memstore.NewLocker() },
		},
		{
			name:   "sqlitestore",
			store:  func(b *testing.B) store.Store { return sqlite(b).Store("sessions") },
			locker: func(b *testing.B) store.Locker { return sqlite(b).Locker() },
		},
		{
			name:   "redisstore",
			store:  func(b *testing.B) store.Store { return redisstore.New(rclient(b), redisstore.WithPrefix("bench:")) },
			locker: func(b *testing.B) store.Locker { return redisstore.NewLocker(rclient(b)) },
		},
	}
}

func record(b *testing.B) []byte {
	v := make([]byte, 2048)
	if _, err := rand.Read(v); err != nil {
		b.Fatal(err)
	}
	return v
}

func benchStores(b *testing.B, wrap func(*testing.B, store.Store) store.Store) {
	ctx := context.Background()
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			s := wrap(b, be.store(b))
			value := record(b)
			const did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"

			b.Run("Get", func(b *testing.B) {
				if err := s.Set(ctx, did, value, 0); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Get(ctx, did); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Set", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := s.Set(ctx, did, value, time.Hour); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("GetDelete", func(b *testing.B) {
				// Consume keys set before the timer starts.
				keys := make([]string, 0, 1024)
				for i := range cap(keys) {
					keys = append(keys, fmt.Sprint("state-", i))
				}
				i := len(keys)
				b.ReportAllocs()
				for b.Loop() {
					if i == len(keys) {
						b.StopTimer()
						for _, k := range keys {
							if err := s.Set(ctx, k, value[:512], time.Hour); err != nil {
								b.Fatal(err)
							}
						}
						i = 0
						b.StartTimer()
					}
					if _, err := s.GetDelete(ctx, keys[i]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}

func BenchmarkStore(b *testing.B) {
	benchStores(b, func(_ *testing.B, s store.Store) store.Store { return s })
}

func BenchmarkEncryptedStore(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) store.Store {
		e, err := store.Encrypt(s, store.NewKey())
		if err != nil {
			b.Fatal(err)
		}
		return e
	})
}

func BenchmarkLockUnlock(b *testing.B) {
	ctx := context.Background()
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			l := be.locker(b)
			b.ReportAllocs()
			for b.Loop() {
				unlock, err := l.Lock(ctx, "did:plc:ewvi7nxzyoun6zhxrhs64oiz", 30*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				unlock()
			}
		})
	}
}
