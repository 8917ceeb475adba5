package oauthtransport

// The refresh storm across processes (issue 6): several OS processes, each
// a copy of this test binary, share one Redis (session store, encrypted at
// rest, and refresh lock) and one session whose access token has expired,
// and send requests at the same moment. The fake network (PLC, PDS and
// authorization server) runs in the parent test process, so that it sees
// every token request of every child.
//
// The authorization server here behaves like the reference one
// (@atproto/oauth-provider, TokenManager.consumeRefreshToken and
// rotateToken): a refresh token works once; presenting one that was already
// rotated away is a replay, which deletes the whole token (the session
// dies at the server: its live access and refresh tokens stop working) and
// answers invalid_grant "Refresh token replayed"; and a rotation retires the
// previous access token, whose token id no longer exists.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/redisstore"
)

// Environment of a storm child; stormChildEnv (the child's index) marks one.
const (
	stormChildEnv    = "ATP_STORM_CHILD"
	stormRedisEnv    = "ATP_STORM_REDIS"
	stormPLCEnv      = "ATP_STORM_PLC"
	stormKeyEnv      = "ATP_STORM_KEY"
	stormRequestsEnv = "ATP_STORM_REQUESTS"

	// stormChildHeader carries the child's index on every request it
	// sends, so that the fake servers know which process is talking.
	stormChildHeader = "X-Storm-Child"

	stormProcs    = 4
	stormRequests = 1000 // in total, per round

	// Bounds. A child's request may wait for a dead holder's lease
	// (refreshLockTTL, 30 s) and then refresh; the round allows for that.
	stormRequestTimeout = 50 * time.Second
	stormRoundTimeout   = 58 * time.Second
	stormStallLimit     = 40 * time.Second
)

// TestRefreshStormAcrossProcesses: 4 processes, 1,000 concurrent requests
// in total, an expired access token, twice in a row. Each expiry costs
// exactly one refresh; every request succeeds; no refresh token is ever
// presented twice; the store keeps the session with the server's live
// tokens.
func TestRefreshStormAcrossProcesses(t *testing.T) {
	if runStormChild(t) {
		return
	}
	s := newStormNet(t)
	children := s.startChildren(t, "TestRefreshStormAcrossProcesses")
	for round, offset := range []time.Duration{2 * time.Hour, 4 * time.Hour} {
		results := s.round(t, children, offset, nil)
		sum := sumResults(results)
		rotations, replays, dropped := s.as.counts()
		if sum.OK != stormRequests || sum.Failed != 0 {
			t.Errorf("round %d: %d/%d requests succeeded, %d failed: %s", round+1, sum.OK, stormRequests, sum.Failed, sum.describe())
		}
		if rotations != round+1 || replays != 0 || dropped != 0 {
			t.Errorf("round %d: %d refreshes reached the authorization server in total, want %d (one per expiry); %d replays, %d dropped",
				round+1, rotations, round+1, replays, dropped)
		}
		if sum.Deleted != 0 {
			t.Errorf("round %d: %d SessionDeleted events", round+1, sum.Deleted)
		}
		s.checkStoredLive(t)
		if t.Failed() {
			t.FailNow()
		}
	}
	if twice := s.as.presentedTwice(); len(twice) != 0 {
		t.Errorf("refresh tokens presented more than once: %v", twice)
	}
}

// TestRefreshStormLockHolderKilled: the same storm, but the process that
// holds the Redis refresh lock is killed (SIGKILL) in the middle of its
// refresh, while its token request is at the authorization server.
//
// "before-use": the server holds the request without acting on it, and
// drops it when the sender dies, so the refresh token is still good. The
// other processes must recover, after the dead holder's lease ends, with
// exactly one more refresh, and the session must survive.
//
// "after-use": the server has already rotated the tokens when the sender
// dies, and the new tokens die with it. The store can only hold the spent
// refresh token, and the reference server answers the first presentation
// of a spent token by deleting the whole token (its "Refresh token
// replayed"), which also kills the tokens the dead process received. No
// client can keep this session: holding on to the spent token only defers
// the same end, since the access token has expired. So the right outcome is
// a clean end, not a silent loss: exactly one replay reaches the server
// (not one per process or per request), the session is deleted from the
// store once, with a SessionDeleted event, and every request fails with a
// typed error (ErrRefreshRejected, or ErrSessionNotFound once it is gone)
// instead of hanging. The user has to sign in again.
func TestRefreshStormLockHolderKilled(t *testing.T) {
	if runStormChild(t) {
		return
	}
	t.Run("before-use", func(t *testing.T) {
		t.Parallel()
		s := newStormNet(t)
		children := s.startChildren(t, "TestRefreshStormLockHolderKilled")
		rt0 := s.as.live()
		s.as.armStall(stallBeforeUse)
		victim := -1
		first := sumResults(s.round(t, children, 2*time.Hour, func(idx int) { victim = idx; s.killHolder(t, children, idx) }))
		survivors := (stormProcs - 1) * (stormRequests / stormProcs)
		// The requests that were waiting for the dead holder should
		// succeed once its lease has ended.
		if first.OK != survivors || first.Failed != 0 {
			t.Errorf("lock holder (child %d) killed before its refresh was used: %d/%d requests of the other processes succeeded, %d failed (%s). "+
				"Waiters must wait for the lock longer than a lease (lockWaitTimeout > refreshLockTTL), so that they outlast a dead holder's lease, "+
				"and get a fresh refreshTimeout once they hold it",
				victim, first.OK, survivors, first.Failed, first.describe())
		}
		// Later requests work in any case, without another refresh if the
		// first round did it.
		second := sumResults(s.round(t, children, 2*time.Hour, nil))
		if second.OK != survivors || second.Failed != 0 {
			t.Errorf("after the holder's death, %d/%d requests succeeded, %d failed: %s", second.OK, survivors, second.Failed, second.describe())
		}
		rotations, replays, dropped := s.as.counts()
		if rotations != 1 || replays != 0 || dropped != 1 {
			t.Errorf("authorization server: %d refreshes, %d replays, %d requests dropped unused; want 1, 0, 1", rotations, replays, dropped)
		}
		if n := s.as.presented(rt0); n != 2 {
			t.Errorf("the expired session's refresh token was presented %d times, want 2 (the dead holder's, dropped unused, and one survivor's)", n)
		}
		if twice := s.as.presentedTwice(); len(twice) != 1 {
			t.Errorf("refresh tokens presented more than once: %d, want only the first one", len(twice))
		}
		if second.Deleted != 0 {
			t.Errorf("%d SessionDeleted events", second.Deleted)
		}
		s.checkStoredLive(t)
	})
	t.Run("after-use", func(t *testing.T) {
		t.Parallel()
		s := newStormNet(t)
		children := s.startChildren(t, "TestRefreshStormLockHolderKilled")
		rt0 := s.as.live()
		s.as.armStall(stallAfterUse)
		// The replay comes once the dead holder's lease has ended: in the
		// first round, or in the second if the first round's waiters gave
		// up on the lock (see before-use).
		first := sumResults(s.round(t, children, 2*time.Hour, func(idx int) { s.killHolder(t, children, idx) }))
		second := sumResults(s.round(t, children, 2*time.Hour, nil))
		if first.OK != 0 || second.OK != 0 {
			t.Errorf("%d then %d requests succeeded on a session whose only tokens died with their process", first.OK, second.OK)
		}
		for class, n := range second.Errors {
			if class != "refresh-rejected" && class != "session-not-found" {
				t.Errorf("after the replay, %d requests failed with %s (%s), want ErrRefreshRejected or ErrSessionNotFound", n, class, second.describe())
			}
		}
		rotations, replays, dropped := s.as.counts()
		if rotations != 1 || replays != 1 || dropped != 1 {
			t.Errorf("authorization server: %d refreshes, %d replays, %d responses dropped; want 1, 1, 1", rotations, replays, dropped)
		}
		if n := s.as.presented(rt0); n != 2 {
			t.Errorf("the spent refresh token was presented %d times, want 2 (the dead holder's refresh and one replay)", n)
		}
		if second.Deleted != 1 {
			t.Errorf("%d SessionDeleted events, want 1", second.Deleted)
		}
		if _, err := s.client.loadRecord(context.Background(), aliceDID); !errors.Is(err, ErrSessionNotFound) {
			t.Errorf("session still in the store after the server killed it: %v", err)
		}
	})
}

// stormNet is the parent's side: Redis, the fake network, the session.
type stormNet struct {
	f      *fakeNet
	as     *stormAS
	redis  string
	rdb    *redis.Client
	key    []byte
	client *Client // the parent's client: signs in, reads the store
}

func newStormNet(t *testing.T) *stormNet {
	s := &stormNet{redis: startStormRedis(t), key: store.NewKey()}
	s.rdb = redis.NewClient(&redis.Options{Addr: s.redis})
	t.Cleanup(func() { _ = s.rdb.Close() })
	s.f = newFakeNet(t)
	s.f.addAccount(aliceDID, "alice.test")
	s.as = &stormAS{f: s.f, spent: map[string]bool{}, seen: map[string]int{}, stalled: make(chan int, 1)}
	s.f.setASHook(s.as.serve)
	c, err := newStormClient(s.rdb, s.key, s.f.plc.URL, s.f.pds.URL, nil, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.client = c
	s.f.login(c, "alice.test", aliceDID)
	rec, err := c.loadRecord(context.Background(), aliceDID)
	if err != nil {
		t.Fatal(err)
	}
	s.as.setLive(rec.AccessToken, rec.RefreshToken)
	return s
}

// newStormClient builds the client every process uses: sessions in Redis,
// sealed with key; the refresh lock in Redis.
func newStormClient(rdb redis.UniversalClient, key []byte, plc, resolver string, hc *http.Client, now func() time.Time, onEvent func(context.Context, Event)) (*Client, error) {
	sessions, err := store.Encrypt(redisstore.New(rdb, redisstore.WithPrefix("storm:session:")), key)
	if err != nil {
		return nil, err
	}
	return NewClient(Config{
		Metadata:             ClientMetadata{ClientID: LoopbackClientID("atproto transition:generic", testRedirect())},
		StateStore:           redisstore.New(rdb, redisstore.WithPrefix("storm:state:")),
		SessionStore:         sessions,
		Lock:                 redisstore.NewLocker(rdb, redisstore.WithPrefix("storm:lock:")),
		HTTPClient:           hc,
		AllowHTTP:            true,
		AllowPrivateNetworks: true,
		PLCURL:               plc,
		HandleResolverURL:    resolver,
		Now:                  now,
		OnEvent:              onEvent,
	})
}

// checkStoredLive checks that the store holds the session with the tokens
// the authorization server considers live, sealed.
func (s *stormNet) checkStoredLive(t *testing.T) {
	t.Helper()
	rec, err := s.client.loadRecord(context.Background(), aliceDID)
	if err != nil {
		t.Errorf("session lost: %v", err)
		return
	}
	access, refresh := s.as.liveTokens()
	if rec.AccessToken != access || rec.RefreshToken != refresh {
		t.Errorf("the store holds other tokens than the authorization server's live ones")
	}
	raw, err := s.rdb.Get(context.Background(), "storm:session:"+sessionKeyPrefix+aliceDID).Bytes()
	if err != nil || bytes.Contains(raw, []byte(refresh)) {
		t.Errorf("session record in Redis not sealed (err %v)", err)
	}
}

// stormChild is a child process as the parent sees it.
type stormChild struct {
	idx    int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // its "storm: " lines
	exited chan struct{}
	killed bool

	mu  sync.Mutex
	out bytes.Buffer // everything else it printed, for failure messages
}

func (c *stormChild) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// startChildren re-executes the test binary stormProcs times, running test
// name as a child, and waits until each has restored the session.
func (s *stormNet) startChildren(t *testing.T, name string) []*stormChild {
	var children []*stormChild
	for i := range stormProcs {
		cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.timeout=3m")
		cmd.Env = append(os.Environ(),
			stormChildEnv+"="+strconv.Itoa(i),
			stormRedisEnv+"="+s.redis,
			stormPLCEnv+"="+s.f.plc.URL,
			stormKeyEnv+"="+hex.EncodeToString(s.key),
			stormRequestsEnv+"="+strconv.Itoa(stormRequests/stormProcs),
		)
		c := &stormChild{idx: i, cmd: cmd, lines: make(chan string, 16), exited: make(chan struct{})}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = writerFunc(func(p []byte) (int, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.out.Write(p)
		})
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c.stdin = stdin
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if line, ok := strings.CutPrefix(sc.Text(), "storm: "); ok {
					c.lines <- line
					continue
				}
				c.mu.Lock()
				c.out.WriteString(sc.Text() + "\n")
				c.mu.Unlock()
			}
			_, _ = io.Copy(io.Discard, stdout)
			_ = cmd.Wait()
			close(c.exited)
		}()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-c.exited
		})
		children = append(children, c)
	}
	deadline := time.After(stormRoundTimeout)
	for _, c := range children {
		if line := c.next(t, deadline); line != "ready" {
			t.Fatalf("child %d: %q instead of ready", c.idx, line)
		}
	}
	return children
}

// next returns the child's next line, failing the test if it exits or the
// deadline passes first.
func (c *stormChild) next(t *testing.T, deadline <-chan time.Time) string {
	t.Helper()
	select {
	case line := <-c.lines:
		return line
	case <-c.exited:
		select {
		case line := <-c.lines:
			return line
		default:
		}
		t.Fatalf("child %d exited (%v):\n%s", c.idx, c.cmd.ProcessState, c.output())
	case <-deadline:
		t.Fatalf("child %d did not answer in time:\n%s", c.idx, c.output())
	}
	return ""
}

// round has every living child send its share of requests with its clock
// moved offset ahead (so that the access token has expired), and returns
// their results. When onStall is set, the authorization server stalls the
// first refresh, and onStall gets the index of the child that sent it.
func (s *stormNet) round(t *testing.T, children []*stormChild, offset time.Duration, onStall func(idx int)) []stormResult {
	t.Helper()
	deadline := time.After(stormRoundTimeout)
	for _, c := range children {
		if !c.killed {
			if _, err := fmt.Fprintf(c.stdin, "go %d\n", int64(offset/time.Second)); err != nil {
				t.Fatalf("child %d: %v", c.idx, err)
			}
		}
	}
	if onStall != nil {
		select {
		case idx := <-s.as.stalled:
			onStall(idx)
		case <-deadline:
			t.Fatal("no refresh reached the authorization server")
		}
	}
	var results []stormResult
	for _, c := range children {
		if c.killed {
			continue
		}
		line, ok := strings.CutPrefix(c.next(t, deadline), "done ")
		var r stormResult
		if err := json.Unmarshal([]byte(line), &r); !ok || err != nil {
			t.Fatalf("child %d: bad report %q: %v", c.idx, line, err)
		}
		results = append(results, r)
	}
	return results
}

// killHolder kills child idx, whose refresh the authorization server is
// holding, after checking that it holds the Redis refresh lock.
func (s *stormNet) killHolder(t *testing.T, children []*stormChild, idx int) {
	t.Helper()
	if idx < 0 || idx >= len(children) {
		t.Fatalf("stalled refresh from unknown child %d", idx)
	}
	ttl, err := s.rdb.PTTL(context.Background(), "storm:lock:oauthtransport-refresh:"+aliceDID).Result()
	if err != nil || ttl <= 0 {
		t.Fatalf("the refreshing child does not hold the Redis lock (PTTL %v, %v)", ttl, err)
	}
	c := children[idx]
	c.killed = true
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-c.exited
}

type writerFunc func(p []byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

// stormResult is a child's report of one round.
type stormResult struct {
	OK      int            `json:"ok"`
	Failed  int            `json:"failed"`
	Errors  map[string]int `json:"errors,omitempty"` // failure class -> count
	First   string         `json:"first,omitempty"`  // one failure, in full
	Deleted int            `json:"deleted"`          // SessionDeleted events since the child started
}

func sumResults(rs []stormResult) stormResult {
	var sum stormResult
	sum.Errors = map[string]int{}
	for _, r := range rs {
		sum.OK += r.OK
		sum.Failed += r.Failed
		sum.Deleted += r.Deleted
		for k, v := range r.Errors {
			sum.Errors[k] += v
		}
		if sum.First == "" {
			sum.First = r.First
		}
	}
	return sum
}

func (r stormResult) describe() string {
	var parts []string
	for k, v := range r.Errors {
		parts = append(parts, fmt.Sprintf("%s: %d", k, v))
	}
	sort.Strings(parts)
	if r.First != "" {
		parts = append(parts, "e.g. "+r.First)
	}
	return strings.Join(parts, "; ")
}

// stall modes of the fake authorization server.
const (
	stallNone      = iota
	stallBeforeUse // hold the request unused until its sender is gone
	stallAfterUse  // rotate the tokens, then hold the response until the sender is gone
)

// stormAS wraps the fake authorization server's token endpoint with the
// reference server's refresh rules and counts what reaches it.
type stormAS struct {
	f       *fakeNet
	stalled chan int // the index of the child whose refresh is held

	mu        sync.Mutex
	access    string // the session's live tokens
	refresh   string
	spent     map[string]bool // refresh tokens rotated away
	seen      map[string]int  // refresh token -> times presented (with a valid nonce)
	rotations int
	replays   int
	dropped   int
	stall     int
}

func (a *stormAS) setLive(access, refresh string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.access, a.refresh = access, refresh
}

func (a *stormAS) live() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.refresh
}

func (a *stormAS) liveTokens() (access, refresh string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.access, a.refresh
}

func (a *stormAS) armStall(mode int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stall = mode
}

func (a *stormAS) counts() (rotations, replays, dropped int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rotations, a.replays, a.dropped
}

func (a *stormAS) presented(rt string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[rt]
}

// presentedTwice returns how often each refresh token presented more than
// once was presented (the tokens themselves stay out of test output). A
// request the fake turned away for its DPoP nonce, before looking at the
// grant, does not count: the client sends it again with the nonce.
func (a *stormAS) presentedTwice() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []int
	for _, n := range a.seen {
		if n > 1 {
			out = append(out, n)
		}
	}
	return out
}

// serve is the fake's AS hook: it takes the refresh requests that carry a
// valid nonce and leaves everything else to the fake.
func (a *stormAS) serve(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path != "/oauth/token" || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "refresh_token" {
		return false
	}
	if proofNonce(r.Header.Get("DPoP")) != a.f.currentNonce() {
		return false // the fake asks for the nonce, using nothing
	}
	rt := r.PostForm.Get("refresh_token")
	a.mu.Lock()
	a.seen[rt]++
	mode := a.stall
	a.stall = stallNone
	replay := a.spent[rt]
	a.mu.Unlock()

	if mode == stallBeforeUse {
		a.holdUntilGone(r)
		return true
	}
	if replay {
		a.kill()
		a.f.oauthError(w, http.StatusBadRequest, "invalid_grant", "Refresh token replayed")
		return true
	}
	rec := httptest.NewRecorder()
	a.f.serveToken(rec, r)
	if rec.Code == http.StatusOK {
		var tok struct {
			Access  string `json:"access_token"`
			Refresh string `json:"refresh_token"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &tok); err == nil {
			a.rotate(rt, tok.Access, tok.Refresh)
		}
	}
	if mode == stallAfterUse {
		a.holdUntilGone(r)
		return true
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	return true
}

// holdUntilGone reports the sender of r and holds r, unanswered, until the
// sender's connection is gone.
func (a *stormAS) holdUntilGone(r *http.Request) {
	idx, err := strconv.Atoi(r.Header.Get(stormChildHeader))
	if err != nil {
		idx = -1
	}
	a.stalled <- idx
	select {
	case <-r.Context().Done():
	case <-time.After(stormStallLimit):
	}
	a.mu.Lock()
	a.dropped++
	a.mu.Unlock()
}

// rotate records a refresh: rt is spent, the new tokens are live, and the
// previous access token no longer works.
func (a *stormAS) rotate(rt, access, refresh string) {
	a.mu.Lock()
	old := a.access
	a.spent[rt] = true
	a.access, a.refresh = access, refresh
	a.rotations++
	a.mu.Unlock()
	a.f.mu.Lock()
	if rec := a.f.access[old]; rec != nil {
		rec.invalid = true
	}
	a.f.mu.Unlock()
}

// kill answers a replay as the reference server does: the session's live
// tokens stop working.
func (a *stormAS) kill() {
	a.mu.Lock()
	access, refresh := a.access, a.refresh
	a.access, a.refresh = "", ""
	a.replays++
	a.mu.Unlock()
	a.f.mu.Lock()
	if rec := a.f.access[access]; rec != nil {
		rec.invalid = true
	}
	delete(a.f.refresh, refresh)
	a.f.mu.Unlock()
}

// proofNonce returns the nonce claim of a DPoP proof, unverified.
func proofNonce(proof string) string {
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Nonce string `json:"nonce"`
	}
	_ = json.Unmarshal(payload, &c)
	return c.Nonce
}

// startStormRedis starts redis-server on a free loopback port, without
// persistence, and stops it when t ends. Without the binary it skips,
// unless CI is set.
func startStormRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is not installed, and CI is set: install it (Debian: apt-get install redis-server): %v", err)
		}
		t.Skipf("redis-server is not installed (Debian: apt-get install redis-server); skipping the cross-process refresh storm: %v", err)
	}
	var lastErr error
	for range 5 { // another process may take the free port first
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", t.TempDir(), "--daemonize", "no", "--loglevel", "warning")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() { _ = cmd.Process.Kill(); <-exited }
		if lastErr = pingRedis(addr, exited); lastErr == nil {
			t.Cleanup(stop)
			return addr
		}
		stop()
		lastErr = fmt.Errorf("%v: %s", lastErr, out.String())
	}
	t.Fatalf("starting redis-server: %v", lastErr)
	return ""
}

// pingRedis waits up to 10 s for the Redis at addr to answer, or for its
// process to exit.
func pingRedis(addr string, exited <-chan struct{}) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.After(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited: %w", err)
		case <-deadline:
			return fmt.Errorf("redis-server did not answer within 10 s: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// runStormChild runs the child's side when this process is a storm child
// and reports whether it was one. A child restores the session by DID
// from Redis, says "ready", and then, for each "go <seconds>" line on its
// stdin, moves its clock that far ahead, sends its requests at once
// through the session's HTTP client, and reports "done <json>".
func runStormChild(t *testing.T) bool {
	idx := os.Getenv(stormChildEnv)
	if idx == "" {
		return false
	}
	n, err := strconv.Atoi(os.Getenv(stormRequestsEnv))
	if err != nil {
		t.Fatal(err)
	}
	key, err := hex.DecodeString(os.Getenv(stormKeyEnv))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv(stormRedisEnv)})
	defer rdb.Close()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = n
	hc := &http.Client{Transport: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set(stormChildHeader, idx)
		return tr.RoundTrip(r)
	})}
	var deleted atomic.Int32
	onEvent := func(_ context.Context, e Event) {
		if e.Type == SessionDeleted {
			deleted.Add(1)
		}
	}
	c, err := newStormClient(rdb, key, os.Getenv(stormPLCEnv), "", hc, now, onEvent)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	sess, err := c.Restore(ctx, aliceDID)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	target := sess.TokenInfo().Audience + "/xrpc/com.atproto.server.getSession"
	hcs := sess.HTTPClient()
	fmt.Println("storm: ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		secs, err := strconv.ParseInt(strings.TrimPrefix(sc.Text(), "go "), 10, 64)
		if err != nil {
			t.Fatalf("bad command %q", sc.Text())
		}
		offset.Store(int64(time.Duration(secs) * time.Second))
		r := stormSend(hcs, target, n)
		r.Deleted = int(deleted.Load())
		b, _ := json.Marshal(r)
		fmt.Printf("storm: done %s\n", b)
	}
	return true
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// stormSend sends n concurrent GETs to target and sorts the outcomes.
func stormSend(hc *http.Client, target string, n int) stormResult {
	var (
		mu  sync.Mutex
		res = stormResult{Errors: map[string]int{}}
		wg  sync.WaitGroup
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), stormRequestTimeout)
			defer cancel()
			class, detail := "", ""
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err == nil {
				var resp *http.Response
				if resp, err = hc.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						class, detail = "status-"+strconv.Itoa(resp.StatusCode), resp.Status
					}
				}
			}
			if err != nil {
				class, detail = stormErrorClass(err), err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			if class == "" {
				res.OK++
				return
			}
			res.Failed++
			res.Errors[class]++
			if res.First == "" {
				res.First = detail
			}
		})
	}
	close(start)
	wg.Wait()
	return res
}

func stormErrorClass(err error) string {
	switch {
	case errors.Is(err, store.ErrLockTimeout):
		return "lock-timeout"
	case errors.Is(err, ErrRefreshRejected):
		return "refresh-rejected"
	case errors.Is(err, ErrSessionNotFound):
		return "session-not-found"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	default:
		return "other"
	}
}
