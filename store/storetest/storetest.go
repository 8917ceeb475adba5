// Package storetest holds conformance suites for implementations of
// [store.Store] and [store.Locker].
//
// An implementation's tests call [Run] and [RunLocker] with a constructor:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			return mystore.New(...) // an empty store, cleaned up with t.Cleanup
//		})
//	}
//
// The suites use real time with short TTLs (one to two seconds) and only check
// that values eventually expire and do not expire immediately; together they
// take a few seconds. Run them with -race: several subtests exist to expose
// data races.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atpgo/atp/store"
)

// eventually is how long the suites wait for something that must happen
// (an expiry, a lock acquisition after a release): long enough for a loaded
// CI machine, and only reached when an implementation is broken.
const eventually = 20 * time.Second

// Run runs the conformance suite for [store.Store]. newStore is called at the
// start of each subtest and must return an empty store, not shared with any
// other call; it may register cleanups with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"SetGet", testSetGet},
		{"Replace", testReplace},
		{"Delete", testDelete},
		{"Missing", testMissing},
		{"GetDelete", testGetDelete},
		{"GetDeleteConcurrent", testGetDeleteConcurrent},
		{"EmptyValue", testEmptyValue},
		{"BinaryValue", testBinaryValue},
		{"LargeValue", testLargeValue},
		{"OddKeys", testOddKeys},
		{"TTL", testTTL},
		{"ContextDone", testContextDone},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			tc.fn(t, s)
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	t.Cleanup(cancel)
	return ctx
}

func mustSet(t *testing.T, s store.Store, key string, value []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Set(ctxFor(t), key, value, ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func mustGet(t *testing.T, s store.Store, key string) []byte {
	t.Helper()
	v, err := s.Get(ctxFor(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v
}

func wantGet(t *testing.T, s store.Store, key string, want []byte) {
	t.Helper()
	if got := mustGet(t, s, key); !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %s, want %s", key, show(got), show(want))
	}
}

func wantNotFound(t *testing.T, op string, v []byte, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s = (%s, %v), want an error wrapping store.ErrNotFound", op, show(v), err)
	}
	if v != nil {
		t.Fatalf("%s returned value %s with ErrNotFound", op, show(v))
	}
}

func show(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q... (%d bytes)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func testSetGet(t *testing.T, s store.Store) {
	in := []byte("value-1")
	mustSet(t, s, "k1", in, 0)
	in[0] = 'X' // the store must have copied it
	got := mustGet(t, s, "k1")
	if string(got) != "value-1" {
		t.Fatalf("Get = %s, want \"value-1\" (did Set keep a reference to the caller's slice?)", show(got))
	}
	got[0] = 'Y' // and must not hand out its own copy
	wantGet(t, s, "k1", []byte("value-1"))

	mustSet(t, s, "k2", []byte("value-2"), time.Hour)
	wantGet(t, s, "k2", []byte("value-2"))
	wantGet(t, s, "k1", []byte("value-1"))
}

func testReplace(t *testing.T, s store.Store) {
	mustSet(t, s, "k", []byte("first, and longer than the second"), 0)
	mustSet(t, s, "k", []byte("second"), 0)
	wantGet(t, s, "k", []byte("second"))
	mustSet(t, s, "k", []byte("third"), time.Hour)
	wantGet(t, s, "k", []byte("third"))
}

func testDelete(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	mustSet(t, s, "k", []byte("v"), 0)
	mustSet(t, s, "other", []byte("o"), 0)
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	v, err := s.Get(ctx, "k")
	wantNotFound(t, "Get after Delete", v, err)
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete of a deleted key: %v, want nil", err)
	}
	if err := s.Delete(ctx, "never-set"); err != nil {
		t.Fatalf("Delete of a missing key: %v, want nil", err)
	}
	wantGet(t, s, "other", []byte("o"))
	mustSet(t, s, "k", []byte("again"), 0)
	wantGet(t, s, "k", []byte("again"))
}

func testMissing(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	v, err := s.Get(ctx, "missing")
	wantNotFound(t, "Get(missing)", v, err)
	v, err = s.GetDelete(ctx, "missing")
	wantNotFound(t, "GetDelete(missing)", v, err)
}

func testGetDelete(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	mustSet(t, s, "k", []byte("once"), time.Hour)
	mustSet(t, s, "other", []byte("o"), 0)
	v, err := s.GetDelete(ctx, "k")
	if err != nil || string(v) != "once" {
		t.Fatalf("GetDelete = (%s, %v), want \"once\"", show(v), err)
	}
	v, err = s.Get(ctx, "k")
	wantNotFound(t, "Get after GetDelete", v, err)
	v, err = s.GetDelete(ctx, "k")
	wantNotFound(t, "second GetDelete", v, err)
	wantGet(t, s, "other", []byte("o"))
}

func testGetDeleteConcurrent(t *testing.T, s store.Store) {
	const rounds, callers = 10, 32
	ctx := ctxFor(t)
	for round := range rounds {
		key := fmt.Sprintf("state-%d", round)
		want := fmt.Appendf(nil, "value-%d", round)
		mustSet(t, s, key, want, time.Minute)

		var (
			start   = make(chan struct{})
			wg      sync.WaitGroup
			winners atomic.Int32
			errs    = make(chan error, callers)
		)
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				v, err := s.GetDelete(ctx, key)
				switch {
				case err == nil:
					winners.Add(1)
					if !bytes.Equal(v, want) {
						errs <- fmt.Errorf("winner got %s, want %s", show(v), show(want))
					}
				case errors.Is(err, store.ErrNotFound):
				default:
					errs <- err
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: GetDelete: %v", round, err)
		}
		if n := winners.Load(); n != 1 {
			t.Fatalf("round %d: %d of %d concurrent GetDelete calls received the value, want exactly 1", round, n, callers)
		}
	}
}

func testEmptyValue(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	for _, in := range [][]byte{{}, nil} {
		mustSet(t, s, "empty", in, 0)
		v, err := s.Get(ctx, "empty")
		if err != nil {
			t.Fatalf("Get of an empty value: %v, want no error", err)
		}
		if len(v) != 0 {
			t.Fatalf("Get of an empty value = %s", show(v))
		}
		v, err = s.GetDelete(ctx, "empty")
		if err != nil || len(v) != 0 {
			t.Fatalf("GetDelete of an empty value = (%s, %v)", show(v), err)
		}
		v, err = s.Get(ctx, "empty")
		wantNotFound(t, "Get after GetDelete of an empty value", v, err)
	}
}

func testBinaryValue(t *testing.T, s store.Store) {
	all := make([]byte, 0, 512)
	for i := range 256 {
		all = append(all, byte(i))
	}
	for i := range 256 {
		all = append(all, byte(255-i))
	}
	values := map[string][]byte{
		"all-bytes":    all,
		"nul":          {0},
		"nuls":         {0, 0, 0, 'a', 0},
		"invalid-utf8": {0xff, 0xfe, 0xc3, 0x28},
		"random":       randomBytes(t, 4096),
		"trailing-nul": []byte("abc\x00"),
	}
	for k, v := range values {
		mustSet(t, s, k, v, 0)
	}
	for k, v := range values {
		wantGet(t, s, k, v)
	}
}

func testLargeValue(t *testing.T, s store.Store) {
	const size = 4 << 20
	big := randomBytes(t, size)
	mustSet(t, s, "big", big, time.Hour)
	wantGet(t, s, "big", big)
	v, err := s.GetDelete(ctxFor(t), "big")
	if err != nil || !bytes.Equal(v, big) {
		t.Fatalf("GetDelete of a %d-byte value = (%d bytes, %v)", size, len(v), err)
	}
}

func oddKeys() []string {
	return []string{
		"did:plc:ewvi7nxzyoun6zhxrhs64oiz",
		"did:web:example.com%3A8080",
		"a", "A", "a:", ":a", "a:b", "a/b", `a\b`,
		"with space", " leading", "trailing ", "tab\there", "new\nline", "cr\rlf",
		"%", "%%", "_", "a%", "a_", "*", "?", "[a]", "{}", "a*", "a?",
		"'", `"`, "';DROP TABLE kv;--", "`", "$1", "?1", ":name", "@p",
		"ключ", "キー", "🔑", "e\u0301", "\u00e9", "\u200b",
		strings.Repeat("k", 1000),
		"state\x01ctl\x7f",
	}
}

func testOddKeys(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	keys := oddKeys()
	for i, k := range keys {
		mustSet(t, s, k, fmt.Appendf(nil, "v%d", i), 0)
	}
	for i, k := range keys {
		wantGet(t, s, k, fmt.Appendf(nil, "v%d", i))
	}
	// Deleting one must not touch any other, including look-alikes.
	for i, k := range keys {
		if i%2 == 0 {
			if err := s.Delete(ctx, k); err != nil {
				t.Fatalf("Delete(%q): %v", k, err)
			}
		}
	}
	for i, k := range keys {
		if i%2 == 0 {
			v, err := s.Get(ctx, k)
			wantNotFound(t, fmt.Sprintf("Get(%q) after Delete", k), v, err)
			continue
		}
		v, err := s.GetDelete(ctx, k)
		if err != nil || string(v) != fmt.Sprintf("v%d", i) {
			t.Fatalf("GetDelete(%q) = (%s, %v), want v%d", k, show(v), err, i)
		}
	}
}

func testTTL(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const short = 2 * time.Second
	// "earlier" is set before "short" with the same ttl, so once "short" has
	// expired "earlier" must have expired too.
	mustSet(t, s, "earlier", []byte("e"), short)
	mustSet(t, s, "short", []byte("s"), short)
	mustSet(t, s, "forever", []byte("f"), 0)
	mustSet(t, s, "negative", []byte("n"), -time.Second)
	mustSet(t, s, "long", []byte("l"), time.Hour)
	mustSet(t, s, "replaced", []byte("r1"), short)
	mustSet(t, s, "replaced", []byte("r2"), 0) // replacing drops the expiry
	mustSet(t, s, "extended", []byte("x1"), short)
	mustSet(t, s, "extended", []byte("x2"), time.Hour)

	// Not expired immediately.
	wantGet(t, s, "short", []byte("s"))

	// Eventually expired.
	deadline := time.Now().Add(eventually)
	for {
		v, err := s.Get(ctx, "short")
		if errors.Is(err, store.ErrNotFound) {
			if v != nil {
				t.Fatalf("Get returned %s with ErrNotFound", show(v))
			}
			break
		}
		if err != nil {
			t.Fatalf("Get(short): %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("a value set with ttl %v was still there after %v", short, eventually)
		}
		time.Sleep(50 * time.Millisecond)
	}
	v, err := s.GetDelete(ctx, "earlier")
	wantNotFound(t, "GetDelete of an expired value", v, err)
	v, err = s.Get(ctx, "earlier")
	wantNotFound(t, "Get of an expired value", v, err)

	wantGet(t, s, "forever", []byte("f"))
	wantGet(t, s, "negative", []byte("n"))
	wantGet(t, s, "long", []byte("l"))
	wantGet(t, s, "replaced", []byte("r2"))
	wantGet(t, s, "extended", []byte("x2"))

	// An expired key can be set again.
	mustSet(t, s, "short", []byte("s2"), time.Hour)
	wantGet(t, s, "short", []byte("s2"))
}

func testContextDone(t *testing.T, s store.Store) {
	good := ctxFor(t)
	mustSet(t, s, "present", []byte("p"), 0)

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()

	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"canceled", canceled, context.Canceled},
		{"deadline", expired, context.DeadlineExceeded},
	} {
		if _, err := s.Get(c.ctx, "present"); !errors.Is(err, c.want) {
			t.Errorf("Get with a %s context: %v, want an error wrapping %v", c.name, err, c.want)
		}
		if err := s.Set(c.ctx, "new", []byte("n"), 0); !errors.Is(err, c.want) {
			t.Errorf("Set with a %s context: %v, want an error wrapping %v", c.name, err, c.want)
		}
		if err := s.Set(c.ctx, "present", []byte("changed"), 0); !errors.Is(err, c.want) {
			t.Errorf("Set (replace) with a %s context: %v, want an error wrapping %v", c.name, err, c.want)
		}
		if err := s.Delete(c.ctx, "present"); !errors.Is(err, c.want) {
			t.Errorf("Delete with a %s context: %v, want an error wrapping %v", c.name, err, c.want)
		}
		if _, err := s.GetDelete(c.ctx, "present"); !errors.Is(err, c.want) {
			t.Errorf("GetDelete with a %s context: %v, want an error wrapping %v", c.name, err, c.want)
		}
		if _, err := s.Get(c.ctx, "present"); errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get with a %s context wraps ErrNotFound: %v", c.name, err)
		}
	}
	// None of those calls took effect.
	wantGet(t, s, "present", []byte("p"))
	v, err := s.Get(good, "new")
	wantNotFound(t, "Get of a key set with a done context", v, err)
}

func testConcurrent(t *testing.T, s store.Store) {
	const workers, ops = 8, 40
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shared := "shared"
			for i := range ops {
				key := fmt.Sprintf("w%d-%d", w, i%5)
				val := fmt.Appendf(nil, "w%d-%d-v%d", w, i%5, i)
				if err := s.Set(ctx, key, val, time.Hour); err != nil {
					errs <- err
					return
				}
				got, err := s.Get(ctx, key)
				if err != nil || !bytes.Equal(got, val) {
					errs <- fmt.Errorf("Get(%q) = (%s, %v), want %s", key, show(got), err, show(val))
					return
				}
				// Everyone writes and reads one shared key: any complete
				// value is fine, a torn one is not.
				if err := s.Set(ctx, shared, fmt.Appendf(nil, "shared-from-%d", w), 0); err != nil {
					errs <- err
					return
				}
				got, err = s.Get(ctx, shared)
				if err != nil || !bytes.HasPrefix(got, []byte("shared-from-")) {
					errs <- fmt.Errorf("Get(shared) = (%s, %v)", show(got), err)
					return
				}
				if i%7 == 0 {
					if err := s.Delete(ctx, key); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
