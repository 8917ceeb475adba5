package redisstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/internal/redistest"
	"github.com/atpgo/atp/store/storetest"
)

func client(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

var prefixes atomic.Int64

func freshPrefix() string { return fmt.Sprintf("test%d:", prefixes.Add(1)) }

func TestConformance(t *testing.T) {
	addr := redistest.Start(t)
	c := client(t, addr)
	storetest.Run(t, func(t *testing.T) store.Store {
		return New(c, WithPrefix(freshPrefix()))
	})
}

func TestConformanceNoPrefix(t *testing.T) {
	addr := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		c := client(t, addr)
		if err := c.FlushDB(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		return New(c)
	})
}

func TestLockerConformance(t *testing.T) {
	addr := redistest.Start(t)
	var mu sync.Mutex
	prefix := map[*testing.T]string{}
	storetest.RunLocker(t, func(t *testing.T) store.Locker {
		// Each call gets its own client and Locker (another instance); calls
		// within one subtest share a prefix, so they contend.
		mu.Lock()
		defer mu.Unlock()
		if prefix[t] == "" {
			prefix[t] = freshPrefix()
		}
		return NewLocker(client(t, addr), WithPrefix(prefix[t]))
	})
}

func TestPrefix(t *testing.T) {
	ctx := context.Background()
	c := client(t, redistest.Start(t))
	a, b := New(c, WithPrefix("app:session:")), New(c, WithPrefix("app:state:"))
	if err := a.Set(ctx, "k", []byte("session"), 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "k", []byte("state"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "app:session:k").Result(); err != nil || v != "session" {
		t.Fatalf("raw key app:session:k = %q, %v", v, err)
	}
	if ttl, err := c.PTTL(ctx, "app:state:k").Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("PTTL of app:state:k = %v, %v; want a native expiry of at most a minute", ttl, err)
	}
	if ttl, err := c.PTTL(ctx, "app:session:k").Result(); err != nil || ttl != -1 {
		t.Fatalf("PTTL of app:session:k = %v, %v; want no expiry (-1)", ttl, err)
	}
	if v, err := b.GetDelete(ctx, "k"); err != nil || string(v) != "state" {
		t.Fatalf("GetDelete = %q, %v", v, err)
	}
	if v, err := a.Get(ctx, "k"); err != nil || string(v) != "session" {
		t.Fatalf("other prefix after GetDelete = %q, %v", v, err)
	}
}

func TestLockKeyAndTTL(t *testing.T) {
	ctx := context.Background()
	c := client(t, redistest.Start(t))
	l := NewLocker(c)
	lease, err := l.Acquire(ctx, "did:plc:alice", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	token := lease.(*Lease).Token()
	if v, err := c.Get(ctx, DefaultLockPrefix+"did:plc:alice").Result(); err != nil || v != token {
		t.Fatalf("lock key holds %q, %v; want the lease token %q", v, err, token)
	}
	if ttl, err := c.PTTL(ctx, DefaultLockPrefix+"did:plc:alice").Result(); err != nil || ttl <= 0 || ttl > 10*time.Second {
		t.Fatalf("lock key PTTL = %v, %v", ttl, err)
	}
	if err := lease.Extend(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := c.PTTL(ctx, DefaultLockPrefix+"did:plc:alice").Result(); ttl <= 10*time.Second {
		t.Fatalf("PTTL after Extend(1m) = %v", ttl)
	}
	lease.Release()
	if n, err := c.Exists(ctx, DefaultLockPrefix+"did:plc:alice").Result(); err != nil || n != 0 {
		t.Fatalf("lock key exists after Release: %d, %v", n, err)
	}
}

func TestStaleReleaseKeepsForeignToken(t *testing.T) {
	// Someone else's token is in the key (another instance took the lock
	// after ours expired): our Release and Extend must leave it alone.
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t), MaxRetries: -1})
	defer c.Close()
	l := NewLocker(c)
	lease, err := l.Acquire(ctx, "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, DefaultLockPrefix+"k", "other-owner", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := lease.Extend(ctx, time.Minute); !errors.Is(err, store.ErrLockLost) {
		t.Fatalf("Extend of a lease whose key holds another token: %v, want ErrLockLost", err)
	}
	lease.Release()
	if v, err := c.Get(ctx, DefaultLockPrefix+"k").Result(); err != nil || v != "other-owner" {
		t.Fatalf("after a stale Release the key holds %q, %v; want other-owner", v, err)
	}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestRedisUnavailable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: deadAddr(t), MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	s, l := New(c), NewLocker(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A session must never look deleted because Redis is down.
	_, err := s.Get(ctx, "did:plc:alice")
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get with Redis down: %v, want an error that is not ErrNotFound", err)
	}
	if _, err := s.GetDelete(ctx, "state"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetDelete with Redis down: %v, want an error that is not ErrNotFound", err)
	}
	if err := s.Set(ctx, "k", []byte("v"), 0); err == nil {
		t.Fatal("Set with Redis down succeeded")
	}
	if err := s.Delete(ctx, "k"); err == nil {
		t.Fatal("Delete with Redis down succeeded")
	}
	_, err = l.Lock(ctx, "did:plc:alice", time.Minute)
	if err == nil || errors.Is(err, store.ErrLockTimeout) {
		t.Fatalf("Lock with Redis down: %v, want the connection error, not a lock timeout", err)
	}
	// The in-process lock was given back.
	if _, err := l.local.Lock(ctx, "did:plc:alice", time.Minute); err != nil {
		t.Fatalf("the in-process lock is still held after a failed Lock: %v", err)
	}
}

func TestRedisGoesAway(t *testing.T) {
	// A lock holder whose Redis dies keeps working: Release does not hang
	// or panic, and a new server (a restart) starts with the lock free.
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t), MaxRetries: -1})
	defer c.Close()
	l := NewLocker(c)
	lease, err := l.Acquire(ctx, "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Shutdown(ctx).Err() // the server closes the connection: an error is expected
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("Redis still answers after SHUTDOWN")
	}
	ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := lease.Extend(ectx, time.Minute); err == nil || errors.Is(err, store.ErrLockLost) {
		t.Fatalf("Extend with Redis gone: %v, want the connection error", err)
	}
	lease.Release()
	lease.Release()
}

// The multi-process test re-executes the test binary; a child runs
// TestHelperProcess with ATP_REDISSTORE_HELPER naming its role.
const helperEnv = "ATP_REDISSTORE_HELPER"

func helper(t *testing.T, role, addr string, n int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+role, "ATP_REDIS="+addr, "ATP_N="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	return cmd
}

func TestHelperProcess(t *testing.T) {
	role := os.Getenv(helperEnv)
	if role == "" {
		t.Skip("run by the multi-process tests")
	}
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: os.Getenv("ATP_REDIS")})
	n, _ := strconv.Atoi(os.Getenv("ATP_N"))
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	l := NewLocker(c)
	switch role {
	case "counter":
		// A read-modify-write in plain GET and SET, safe only under the lock.
		for range n {
			unlock, err := l.Lock(ctx, "counter", time.Minute)
			if err != nil {
				fail(err)
			}
			v, err := c.Get(ctx, "counter").Int()
			if err != nil && !errors.Is(err, redis.Nil) {
				fail(err)
			}
			if err := c.Set(ctx, "counter", v+1, 0).Err(); err != nil {
				fail(err)
			}
			unlock()
		}
	case "hold":
		if _, err := l.Lock(ctx, "refresh", 2*time.Second); err != nil {
			fail(err)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
	}
	os.Exit(0)
}

func TestLockAcrossProcesses(t *testing.T) {
	addr := redistest.Start(t)
	const procs, each = 4, 25
	var cmds []*exec.Cmd
	for range procs {
		cmd := helper(t, "counter", addr, each)
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
	v, err := client(t, addr).Get(context.Background(), "counter").Int()
	if err != nil {
		t.Fatal(err)
	}
	if v != procs*each {
		t.Fatalf("counter = %d, want %d: the lock did not exclude across processes", v, procs*each)
	}
}

func TestLockHolderKilled(t *testing.T) {
	addr := redistest.Start(t)
	l := NewLocker(client(t, addr))
	cmd := helper(t, "hold", addr, 0)
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
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if unlock, err := l.Lock(short, "refresh", time.Minute); !errors.Is(err, store.ErrLockTimeout) {
		if err == nil {
			unlock()
		}
		t.Fatalf("Lock while another process holds it: %v, want ErrLockTimeout", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	ctx, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	unlock, err := l.Lock(ctx, "refresh", time.Minute)
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	unlock()
}
