package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atpgo/atp/store"
)

// held is the ttl of locks that must outlive a subtest: long enough never to
// expire on its own during the suite.
const held = time.Minute

// RunLocker runs the conformance suite for [store.Locker]. newLocker is called
// at the start of each subtest and must return a Locker that shares no locks
// with any other call; it may register cleanups with t.Cleanup.
//
// newLocker may be called more than once within a subtest: the suite then
// expects the returned Lockers to exclude each other (as two processes using
// the same backend would). Return the same Locker every time if the
// implementation is in-process only.
func RunLocker(t *testing.T, newLocker func(t *testing.T) store.Locker) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, l store.Locker)
	}{
		{"LockUnlock", testLockUnlock},
		{"IndependentKeys", testIndependentKeys},
		{"MutualExclusion", testMutualExclusion},
		{"ContextCanceledWhileWaiting", testCancelWhileWaiting},
		{"ContextDeadlineWhileWaiting", testDeadlineWhileWaiting},
		{"ContextDoneBeforeLock", testContextDoneBeforeLock},
		{"TTLReleasesCrashedHolder", testTTLRelease},
		{"UnlockIdempotent", testUnlockIdempotent},
		{"StaleUnlockKeepsNewHolder", testStaleUnlock},
		{"DefaultTTL", testDefaultTTL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLocker(t)
			if l == nil {
				t.Fatal("newLocker returned nil")
			}
			tc.fn(t, l)
		})
	}
	t.Run("Lease", func(t *testing.T) {
		l, ok := newLocker(t).(store.LeaseLocker)
		if !ok {
			t.Skip("the Locker does not implement store.LeaseLocker")
		}
		testLease(t, l)
	})
	t.Run("TwoLockers", func(t *testing.T) {
		a, b := newLocker(t), newLocker(t)
		testTwoLockers(t, a, b)
	})
}

// mustLock takes the lock, failing the test if that takes longer than
// eventually.
func mustLock(t *testing.T, l store.Locker, key string, ttl time.Duration) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	unlock, err := l.Lock(ctx, key, ttl)
	if err != nil {
		t.Fatalf("Lock(%q): %v", key, err)
	}
	if unlock == nil {
		t.Fatalf("Lock(%q) returned a nil unlock func", key)
	}
	return unlock
}

// wantHeld checks that key is held by someone else: a Lock with a short
// deadline must time out with an error wrapping ErrLockTimeout and
// DeadlineExceeded. This is a negative check, so it cannot pass by luck.
func wantHeld(t *testing.T, l store.Locker, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	unlock, err := l.Lock(ctx, key, held)
	if err == nil {
		unlock()
		t.Fatalf("Lock(%q) succeeded while the lock was held by another owner", key)
	}
	if !errors.Is(err, store.ErrLockTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock(%q) on a held lock: %v, want an error wrapping store.ErrLockTimeout and context.DeadlineExceeded", key, err)
	}
	if unlock != nil {
		t.Fatalf("Lock(%q) returned an unlock func with error %v", key, err)
	}
}

func testLockUnlock(t *testing.T, l store.Locker) {
	for range 3 {
		unlock := mustLock(t, l, "k", held)
		wantHeld(t, l, "k")
		unlock()
	}
	// Released: taking it again does not wait for the ttl.
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	unlock, err := l.Lock(ctx, "k", held)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock()
}

func testIndependentKeys(t *testing.T, l store.Locker) {
	ua := mustLock(t, l, "did:plc:a", held)
	defer ua()
	ub := mustLock(t, l, "did:plc:b", held)
	defer ub()
	uc := mustLock(t, l, "did:plc:a:", held) // a look-alike key
	defer uc()
	wantHeld(t, l, "did:plc:a")
}

func testMutualExclusion(t *testing.T, l store.Locker) {
	workers := max(4, 2*runtime.GOMAXPROCS(0))
	const iterations = 15
	var (
		counter int // protected only by the lock: -race reports any overlap
		inside  atomic.Int32
		wg      sync.WaitGroup
		errs    = make(chan error, workers)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), eventually)
			defer cancel()
			for range iterations {
				unlock, err := l.Lock(ctx, "counter", held)
				if err != nil {
					errs <- err
					return
				}
				if n := inside.Add(1); n != 1 {
					errs <- fmt.Errorf("%d holders inside the critical section", n)
				}
				c := counter
				runtime.Gosched()
				counter = c + 1
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if want := workers * iterations; counter != want {
		t.Fatalf("counter = %d, want %d: increments were lost, so the lock did not exclude", counter, want)
	}
}

func testCancelWhileWaiting(t *testing.T, l store.Locker) {
	unlock := mustLock(t, l, "k", held)
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	u, err := l.Lock(ctx, "k", held)
	if err == nil {
		u()
		t.Fatal("Lock succeeded while the lock was held")
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, store.ErrLockTimeout) {
		t.Fatalf("Lock canceled while waiting: %v, want an error wrapping context.Canceled and store.ErrLockTimeout", err)
	}
}

func testDeadlineWhileWaiting(t *testing.T, l store.Locker) {
	unlock := mustLock(t, l, "k", held)
	defer unlock()
	wantHeld(t, l, "k")
}

func testContextDoneBeforeLock(t *testing.T, l store.Locker) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	u, err := l.Lock(ctx, "free", held)
	if err == nil {
		u()
		t.Fatal("Lock with a canceled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock with a canceled context: %v, want an error wrapping context.Canceled", err)
	}
	// It did not take the lock.
	mustLock(t, l, "free", held)()
}

func testTTLRelease(t *testing.T, l store.Locker) {
	crashed := mustLock(t, l, "k", time.Second)
	_ = crashed // the holder "crashes": it never unlocks
	unlock := mustLock(t, l, "k", held)
	defer unlock()
	wantHeld(t, l, "k")
}

func testUnlockIdempotent(t *testing.T, l store.Locker) {
	first := mustLock(t, l, "k", held)
	first()
	first()
	second := mustLock(t, l, "k", held)
	first() // a stale unlock must not release the second holder
	wantHeld(t, l, "k")

	// Concurrent unlocks of the same lock are safe.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); second() }()
	}
	wg.Wait()
	mustLock(t, l, "k", held)()
}

func testStaleUnlock(t *testing.T, l store.Locker) {
	stale := mustLock(t, l, "k", time.Second)
	fresh := mustLock(t, l, "k", held) // waits for the first lease to expire
	stale()                            // the first holder wakes up late
	wantHeld(t, l, "k")
	fresh()
	mustLock(t, l, "k", held)()
}

func testDefaultTTL(t *testing.T, l store.Locker) {
	unlock := mustLock(t, l, "k", 0)
	wantHeld(t, l, "k") // a zero ttl does not mean "expire at once"
	unlock()
	unlock = mustLock(t, l, "k2", -time.Second)
	wantHeld(t, l, "k2")
	unlock()
}

func testTwoLockers(t *testing.T, a, b store.Locker) {
	ua := mustLock(t, a, "k", held)
	wantHeld(t, b, "k")
	ua()
	ub := mustLock(t, b, "k", held)
	wantHeld(t, a, "k")
	ub()

	// Contention from both sides.
	const iterations = 20
	var (
		// Two Lockers order their holders only through the shared backend,
		// which the race detector cannot see: load and store the counter
		// atomically, but separately, so lost updates still show.
		counter atomic.Int64
		inside  atomic.Int32
		wg      sync.WaitGroup
		errs    = make(chan error, 4)
	)
	for _, l := range []store.Locker{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), eventually)
			defer cancel()
			for range iterations {
				unlock, err := l.Lock(ctx, "shared", held)
				if err != nil {
					errs <- err
					return
				}
				if n := inside.Add(1); n != 1 {
					errs <- fmt.Errorf("%d holders inside the critical section", n)
				}
				c := counter.Load()
				runtime.Gosched()
				counter.Store(c + 1)
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := counter.Load(); n != 4*iterations {
		t.Fatalf("counter = %d, want %d: increments were lost, so the lock did not exclude", n, 4*iterations)
	}
}

func mustAcquire(t *testing.T, l store.LeaseLocker, key string, ttl time.Duration) store.Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	lease, err := l.Acquire(ctx, key, ttl)
	if err != nil {
		t.Fatalf("Acquire(%q): %v", key, err)
	}
	if lease == nil {
		t.Fatalf("Acquire(%q) returned a nil lease", key)
	}
	return lease
}

func testLease(t *testing.T, l store.LeaseLocker) {
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()

	// Extending a lease keeps it past its first ttl.
	lease := mustAcquire(t, l, "k", 2*time.Second)
	if err := lease.Extend(ctx, held); err != nil {
		t.Fatalf("Extend of a live lease: %v", err)
	}
	wantHeld(t, l, "k")
	time.Sleep(2500 * time.Millisecond) // past the first ttl
	wantHeld(t, l, "k")
	lease.Release()
	lease.Release()
	mustAcquire(t, l, "k", held).Release()

	// A released lease cannot be extended.
	if err := lease.Extend(ctx, held); !errors.Is(err, store.ErrLockLost) {
		t.Fatalf("Extend of a released lease: %v, want an error wrapping store.ErrLockLost", err)
	}
	wantFree(t, l, "k")

	// An expired lease that someone else took cannot be extended, and
	// releasing it leaves the new holder alone.
	old := mustAcquire(t, l, "k2", time.Second)
	next := mustAcquire(t, l, "k2", held) // waits for old to expire
	if err := old.Extend(ctx, held); !errors.Is(err, store.ErrLockLost) {
		t.Fatalf("Extend of an expired lease taken over by another owner: %v, want an error wrapping store.ErrLockLost", err)
	}
	old.Release()
	wantHeld(t, l, "k2")
	if err := next.Extend(ctx, held); err != nil {
		t.Fatalf("Extend by the current holder: %v", err)
	}
	next.Release()
	wantFree(t, l, "k2")

	// Lock and Acquire exclude each other.
	unlock := mustLock(t, l, "k3", held)
	wantHeldAcquire(t, l, "k3")
	unlock()
	mustAcquire(t, l, "k3", held).Release()
}

func wantHeldAcquire(t *testing.T, l store.LeaseLocker, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	lease, err := l.Acquire(ctx, key, held)
	if err == nil {
		lease.Release()
		t.Fatalf("Acquire(%q) succeeded while the lock was held", key)
	}
	if !errors.Is(err, store.ErrLockTimeout) {
		t.Fatalf("Acquire(%q) on a held lock: %v, want an error wrapping store.ErrLockTimeout", key, err)
	}
}

// wantFree checks that key is not held: Lock succeeds (within eventually).
func wantFree(t *testing.T, l store.Locker, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	unlock, err := l.Lock(ctx, key, held)
	if err != nil {
		t.Fatalf("Lock(%q) of a released lock: %v", key, err)
	}
	unlock()
}
