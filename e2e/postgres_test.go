package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// errNoPostgres reports that Debian's PostgreSQL server is not installed:
// the AppView scenario is skipped, unless CI is set (.ci/run installs it).
var errNoPostgres = errors.New("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (apt-get install postgresql): the AppView scenario needs them")

// postgres is a private, throw-away PostgreSQL server for the AppView:
// its own cluster in a temporary directory, on a free port of 127.0.0.1,
// trust authentication, no durability. It is a child process of the tests
// (killed with them) and is never a system service.
type postgres struct {
	URL  string // postgresql://postgres@127.0.0.1:<port>/postgres
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errNoPostgres
}

// startPostgres creates a cluster in dir/pg and starts the server. The
// server refuses to run as root, so as root it runs as the "postgres" user
// (which Debian's package creates).
func startPostgres(dir string) (*postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, and no postgres user to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The postgres user must reach the cluster's directory.
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "pg")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	if cred != nil {
		for _, p := range []string{data, logPath} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, err
			}
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
	initdb.Dir = dir
	initdb.Stdout, initdb.Stderr = logf, logf
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := initdb.Run(); err != nil {
		b, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("initdb: %w\n%s", err, b)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-k", data, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pg := &postgres{URL: fmt.Sprintf("postgresql://postgres@127.0.0.1:%d/postgres", port), cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		_ = cmd.Wait()
		close(pg.done)
	}()
	isReady := filepath.Join(bin, "pg_isready")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if exec.Command(isReady, "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres").Run() == nil {
			return pg, nil
		}
		select {
		case <-pg.done:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres exited: %v\n%s", cmd.ProcessState, b)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			pg.stop()
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres not ready after 60 s\n%s", b)
		}
	}
}

// stop shuts the server down (fast shutdown: SIGINT), killing it after 20 s.
func (pg *postgres) stop() {
	_ = pg.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-pg.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-pg.cmd.Process.Pid, syscall.SIGKILL)
		<-pg.done
	}
}
