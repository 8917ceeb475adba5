// Package redistest starts a throwaway redis-server for tests.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Start starts redis-server on a free loopback port, with persistence off
// and its files in a temporary directory, and stops it when tb ends. It
// returns the server's address.
//
// If redis-server is not installed, Start skips tb, unless the CI
// environment variable is set: then it fails, so that CI cannot pass by
// skipping the Redis tests.
func Start(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("redis-server is not installed, and CI is set: install it (Debian: apt-get install redis-server): %v", err)
		}
		tb.Skipf("redis-server is not installed (Debian: apt-get install redis-server); skipping the Redis tests: %v", err)
	}
	var lastErr error
	for range 5 { // another process may take the free port before redis binds it
		addr, err := start(tb, bin)
		if err == nil {
			return addr
		}
		lastErr = err
	}
	tb.Fatalf("starting redis-server: %v", lastErr)
	return ""
}

func start(tb testing.TB, bin string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", tb.TempDir(),
		"--daemonize", "no",
		"--loglevel", "warning",
	)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(addr) == nil {
			tb.Cleanup(stop)
			return addr, nil
		}
		select {
		case err := <-exited:
			exited <- err // for stop
			return "", fmt.Errorf("redis-server on %s exited (%v): %s", addr, err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("redis-server on %s did not answer PING within 10s: %s", addr, out.String())
		}
	}
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
