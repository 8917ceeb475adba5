package sqlitestore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/storetest"
)

func openTemp(t testing.TB, opts ...Option) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "atp.db")
	db := openPath(t, path, opts...)
	return db, path
}

func openPath(t testing.TB, path string, opts ...Option) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, _ := openTemp(t)
		return db.Store("sessions")
	})
}

func TestConformanceSharedFile(t *testing.T) {
	// Every subtest gets its own namespace in one file that two DBs share,
	// and reads go through the other DB than writes would.
	db, path := openTemp(t)
	other := openPath(t, path)
	n := 0
	storetest.Run(t, func(t *testing.T) store.Store {
		n++
		if n%2 == 0 {
			return other.Store(fmt.Sprint("ns-", n))
		}
		return db.Store(fmt.Sprint("ns-", n))
	})
}

func TestLockerConformance(t *testing.T) {
	var mu sync.Mutex
	files := map[*testing.T]string{}
	storetest.RunLocker(t, func(t *testing.T) store.Locker {
		// The first call in a subtest creates the file; a second one (the
		// TwoLockers subtest) opens it again as a separate DB, as another
		// process would.
		mu.Lock()
		defer mu.Unlock()
		if path, ok := files[t]; ok {
			return openPath(t, path).Locker()
		}
		db, path := openTemp(t)
		files[t] = path
		return db.Locker()
	})
}

func TestNamespacesAreIndependent(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	sessions, states := db.Store("sessions"), db.Store("state")
	if err := sessions.Set(ctx, "k", []byte("session"), 0); err != nil {
		t.Fatal(err)
	}
	if err := states.Set(ctx, "k", []byte("state"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, err := states.GetDelete(ctx, "k"); err != nil || string(v) != "state" {
		t.Fatalf("state GetDelete = %q, %v", v, err)
	}
	if v, err := sessions.Get(ctx, "k"); err != nil || string(v) != "session" {
		t.Fatalf("sessions Get after deleting the state = %q, %v", v, err)
	}
}

func TestGetDeleteAcrossDBs(t *testing.T) {
	// Two DBs on one file behave like two processes: separate connection
	// pools, coordinated only by SQLite's file locks.
	ctx := context.Background()
	a, path := openTemp(t)
	b := openPath(t, path)
	sa, sb := a.Store("state"), b.Store("state")
	const rounds, callers = 20, 16
	for round := range rounds {
		key := fmt.Sprint("state-", round)
		if err := sa.Set(ctx, key, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
		var winners atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range callers {
			s := sa
			if i%2 == 1 {
				s = sb
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := s.GetDelete(ctx, key)
				switch {
				case err == nil:
					winners.Add(1)
				case !errors.Is(err, store.ErrNotFound):
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if n := winners.Load(); n != 1 {
			t.Fatalf("round %d: %d winners, want 1", round, n)
		}
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Store("s").Set(ctx, "k", []byte("kept"), 0); err != nil {
		t.Fatal(err)
	}
	var version int
	if err := db.sql.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != len(migrations) {
		t.Fatalf("schema version %d, want %d", version, len(migrations))
	}
	var mode string
	if err := db.sql.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	db.Close()

	// Reopening applies nothing and keeps the data.
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.Store("s").Get(ctx, "k"); err != nil || string(v) != "kept" {
		t.Fatalf("after reopening: %q, %v", v, err)
	}
	var rows int
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != len(migrations) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", rows, err, len(migrations))
	}
	// A file from the future is refused, not silently used.
	if _, err := db.sql.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 0)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(ctx, path); !errors.Is(err, ErrSchemaTooNew) {
		if err == nil {
			db.Close()
		}
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestConcurrentOpen(t *testing.T) {
	// Many processes may start at once on a fresh file: every Open must
	// succeed and the migration must run exactly once.
	path := filepath.Join(t.TempDir(), "race.db")
	var wg sync.WaitGroup
	dbs := make([]*DB, 6)
	errs := make([]error, len(dbs))
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = Open(context.Background(), path)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	var rows int
	if err := dbs[0].sql.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != len(migrations) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", rows, err, len(migrations))
	}
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t, WithPurgeInterval(0))
	s := db.Store("state")
	// More than one purge batch, inserted in one statement.
	if _, err := db.sql.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 1499)
		INSERT INTO kv (ns, key, value, expires_at) SELECT 'state', 'old-' || i, x'00', ? FROM c`, nowMillis()-1); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "live", []byte("y"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "forever", []byte("z"), 0); err != nil {
		t.Fatal(err)
	}
	crashed, err := db.Locker().Lock(ctx, "lock", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	_ = crashed
	time.Sleep(20 * time.Millisecond) // let the 1 ms ttls pass
	n, err := db.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1501 {
		t.Fatalf("Purge deleted %d rows, want 1501 (1500 values and 1 lock)", n)
	}
	var left int
	if err := db.sql.QueryRow(`SELECT COUNT(*) FROM kv`).Scan(&left); err != nil || left != 2 {
		t.Fatalf("%d rows left (%v), want 2", left, err)
	}
}

func TestBackgroundPurge(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t, WithPurgeInterval(50*time.Millisecond))
	if err := db.Store("state").Set(ctx, "old", []byte("x"), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var rows int
		if err := db.sql.QueryRow(`SELECT COUNT(*) FROM kv`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the background purge never removed the expired row")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLazyDeleteOnRead(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t, WithPurgeInterval(0))
	s := db.Store("state")
	if err := s.Set(ctx, "k", []byte("x"), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of an expired value: %v", err)
	}
	var rows int
	if err := db.sql.QueryRow(`SELECT COUNT(*) FROM kv`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("%d rows after reading an expired value (%v), want 0", rows, err)
	}
}

func TestBusyIsRetried(t *testing.T) {
	// Another connection holds the write lock for longer than the busy
	// timeout: the write fails with SQLITE_BUSY inside SQLite, and the
	// package retries it until the lock is free.
	ctx := context.Background()
	db, path := openTemp(t, WithBusyTimeout(10*time.Millisecond))
	other := openPath(t, path)
	conn, err := other.sql.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- db.Store("s").Set(ctx, "k", []byte("v"), 0) }()
	time.Sleep(300 * time.Millisecond) // 30 times the busy timeout
	select {
	case err := <-done:
		t.Fatalf("Set returned while another connection held the write lock: %v", err)
	default:
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Set after the write lock was freed: %v", err)
	}

	// With a deadline, a write blocked for good fails with a clear error.
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, `ROLLBACK`)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = db.Store("s").Set(short, "k", []byte("v2"), 0)
	if !errors.Is(err, context.DeadlineExceeded) || !isBusy(err) {
		t.Fatalf("Set blocked past its deadline: %v, want SQLITE_BUSY and context.DeadlineExceeded", err)
	}
}

func TestClosedDBIsNotNotFound(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	s := db.Store("sessions")
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := s.Get(ctx, "k"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get on a closed DB: %v, want an error that is not ErrNotFound", err)
	}
	if _, err := s.GetDelete(ctx, "k"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetDelete on a closed DB: %v, want an error that is not ErrNotFound", err)
	}
	if _, err := db.Locker().Lock(ctx, "k", time.Second); err == nil || errors.Is(err, store.ErrLockTimeout) {
		t.Fatalf("Lock on a closed DB: %v, want an error that is not ErrLockTimeout", err)
	}
}

func TestOpenRejectsNonFiles(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file::memory:"} {
		if db, err := Open(context.Background(), p); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "db?x=1#y")
	db := openPath(t, path)
	if err := db.Store("s").Set(context.Background(), "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the file was not created at the given path: %v", err)
	}
}

// The multi-process tests re-execute the test binary. A child runs
// TestHelperProcess with ATP_SQLITESTORE_HELPER naming its role.
const helperEnv = "ATP_SQLITESTORE_HELPER"

func helper(t *testing.T, role, path string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+role, "ATP_DB="+path, "ATP_ARGS="+strings.Join(args, ","))
	cmd.Stderr = os.Stderr
	return cmd
}

func TestHelperProcess(t *testing.T) {
	role := os.Getenv(helperEnv)
	if role == "" {
		t.Skip("run by the multi-process tests")
	}
	ctx := context.Background()
	db, err := Open(ctx, os.Getenv("ATP_DB"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	args := strings.Split(os.Getenv("ATP_ARGS"), ",")
	switch role {
	case "getdelete":
		// Wait for the parent's go, then consume every key, printing wins.
		n, _ := strconv.Atoi(args[0])
		bufio.NewReader(os.Stdin).ReadString('\n')
		s := db.Store("state")
		for i := range n {
			if _, err := s.GetDelete(ctx, fmt.Sprint("k", i)); err == nil {
				fmt.Println("won", i)
			} else if !errors.Is(err, store.ErrNotFound) {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
		}
	case "counter":
		// Increment a counter kept in the store, under the lock.
		n, _ := strconv.Atoi(args[0])
		s, l := db.Store("counter"), db.Locker()
		for range n {
			unlock, err := l.Lock(ctx, "counter", time.Minute)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			v, err := s.Get(ctx, "n")
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			c, _ := strconv.Atoi(string(v))
			if err := s.Set(ctx, "n", []byte(strconv.Itoa(c+1)), 0); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			unlock()
		}
	case "hold":
		// Take the lock, say so, and wait to be killed.
		if _, err := db.Locker().Lock(ctx, "refresh", 2*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
	}
	db.Close()
	os.Exit(0)
}

func TestGetDeleteAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	db, path := openTemp(t)
	const keys, procs = 200, 4
	s := db.Store("state")
	for i := range keys {
		if err := s.Set(ctx, fmt.Sprint("k", i), []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	type child struct {
		cmd *exec.Cmd
		out *strings.Builder
		in  interface{ Close() error }
	}
	var children []child
	for range procs {
		cmd := helper(t, "getdelete", path, strconv.Itoa(keys))
		out := new(strings.Builder)
		cmd.Stdout = out
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, child{cmd, out, in})
	}
	for _, c := range children {
		c.in.Close() // go
	}
	wins := make(map[string]int)
	for _, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
		for _, line := range strings.Fields(strings.ReplaceAll(c.out.String(), "won ", "won:")) {
			wins[line]++
		}
	}
	for i := range keys {
		if n := wins[fmt.Sprint("won:", i)]; n != 1 {
			t.Errorf("key %d was consumed by %d processes, want 1", i, n)
		}
	}
}

func TestLockAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	db, path := openTemp(t)
	const procs, each = 4, 25
	var cmds []*exec.Cmd
	for range procs {
		cmd := helper(t, "counter", path, strconv.Itoa(each))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	v, err := db.Store("counter").Get(ctx, "n")
	if err != nil {
		t.Fatal(err)
	}
	if string(v) != strconv.Itoa(procs*each) {
		t.Fatalf("counter = %s, want %d: the lock did not exclude across processes", v, procs*each)
	}
}

func TestLockHolderKilled(t *testing.T) {
	db, path := openTemp(t)
	cmd := helper(t, "hold", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	// While the child lives, its lock excludes us.
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if unlock, err := db.Locker().Lock(short, "refresh", time.Minute); !errors.Is(err, store.ErrLockTimeout) {
		if err == nil {
			unlock()
		}
		t.Fatalf("Lock while another process holds it: %v, want ErrLockTimeout", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	// The dead holder's lease blocks us until its ttl ends, then frees.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	unlock, err := db.Locker().Lock(ctx, "refresh", time.Minute)
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	unlock()
}
