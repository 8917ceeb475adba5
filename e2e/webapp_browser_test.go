package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// webappArtifacts is where TestWebappInBrowser leaves its screenshots
// (relative to e2e/, git-ignored).
const webappArtifacts = "artifacts/webapp"

// webappSummary is what webapp-browser.mjs prints.
type webappSummary struct {
	OK             bool     `json:"ok"`
	Error          string   `json:"error"`
	URL            string   `json:"url"`
	App            string   `json:"app"`
	PDSOrigin      string   `json:"pdsOrigin"`
	Steps          []string `json:"steps"`
	Screenshots    []string `json:"screenshots"`
	SignedOutTitle string   `json:"signedOutTitle"`
	HomeURL        string   `json:"homeUrl"`
	Profile        string   `json:"profile"`
	ProfileHandle  string   `json:"profileHandle"`
	DID            string   `json:"did"`
	FeedTitle      string   `json:"feedTitle"`
	MeSignedIn     apiMe    `json:"meSignedIn"`
	Cookies        []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"cookies"`
	PostText              string `json:"postText"`
	PostNotice            string `json:"postNotice"`
	PostInFeed            bool   `json:"postInFeed"`
	SignedOutURL          string `json:"signedOutUrl"`
	SignedOutProfileShown bool   `json:"signedOutProfileShown"`
	SignedOutContinue     string `json:"signedOutContinue"`
	SignedOutAlert        string `json:"signedOutAlert"`
	MeAfterLogout         apiMe  `json:"meAfterLogout"`
}

// apiMe is one answer of the webapp's GET /api/me.
type apiMe struct {
	Status int `json:"status"`
	Body   struct {
		DID    string `json:"did"`
		Handle string `json:"handle"`
		Error  string `json:"error"`
	} `json:"body"`
}

// TestWebappInBrowser runs examples/webapp against the reference network and
// uses it in headless Chromium as a person would (webapp-browser.mjs): type
// the handle, sign in and consent on the PDS's UI, see the profile on the
// home page, post, sign out. The screenshots are kept in e2e/artifacts/webapp.
func TestWebappInBrowser(t *testing.T) {
	n := requireNetwork(t)
	if chromiumPath() == "" {
		if os.Getenv("CI") == "" {
			t.Skip("Chromium not installed (apt-get install chromium, or set CHROMIUM_PATH)")
		}
		t.Fatal(errors.New("CI: Chromium not installed (.ci/run installs Debian's chromium)"))
	}
	t0 := time.Now()
	c, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()

	// Build the example.
	bin := filepath.Join(t.TempDir(), "webapp")
	build := exec.CommandContext(c, "go", "build", "-o", bin, "github.com/atpgo/atp/examples/webapp")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("step %q: %v\n%s", "go build ./examples/webapp", err, out)
	}
	t.Logf("built examples/webapp in %v", time.Since(t0).Round(time.Millisecond))

	// Start it: a loopback client on a free port, the network's PLC, the PDS
	// as the handle resolver, sessions in a fresh SQLite file.
	app, appLog := startWebapp(t, bin, n)
	t.Logf("webapp serving at %s", app)

	// Use it in Chromium.
	shots := filepath.Join(t.TempDir(), "screenshots")
	t.Cleanup(func() { keepScreenshots(t, shots) })
	text := fmt.Sprintf("Posted from examples/webapp in headless Chromium (%s)", time.Now().UTC().Format(time.RFC3339Nano))
	sum := runWebappBrowser(t, c, app, n.Alice, text, shots, appLog)
	t.Logf("browser steps:\n  %s", strings.Join(sum.Steps, "\n  "))

	// The signed-in home page and /api/me.
	if sum.PDSOrigin != n.PDS {
		t.Errorf("the sign-in page was on %q, not the PDS %s", sum.PDSOrigin, n.PDS)
	}
	if sum.HomeURL != app+"/" {
		t.Errorf("after the sign-in the browser is on %s, want the home page %s/", sum.HomeURL, app)
	}
	if sum.DID != n.Alice.DID || sum.ProfileHandle != "@"+n.Alice.Handle || !strings.Contains(sum.Profile, n.Alice.Handle) {
		t.Errorf("home page shows #profile %q (#handle %q), #did %q; want %s, %s", sum.Profile, sum.ProfileHandle, sum.DID, n.Alice.Handle, n.Alice.DID)
	}
	if m := sum.MeSignedIn; m.Status != http.StatusOK || m.Body.DID != n.Alice.DID || m.Body.Handle != n.Alice.Handle {
		t.Errorf("GET /api/me signed in: %d %+v; want 200 with %s %s", m.Status, m.Body, n.Alice.DID, n.Alice.Handle)
	}

	// The post: shown by the app, and really in alice's repository.
	if sum.PostText != text || sum.PostNotice != "Posted." || !sum.PostInFeed {
		t.Errorf("after posting: text %q, notice %q, in the feed %v; want %q, %q, true", sum.PostText, sum.PostNotice, sum.PostInFeed, text, "Posted.")
	}
	uri := findPost(t, c, n, text)
	t.Logf("the post is on the PDS: %s", uri)

	// Signed out: the sign-in form, /api/me 401, and the old cookie is dead.
	if sum.SignedOutURL != app+"/" || sum.SignedOutProfileShown || sum.SignedOutAlert != "" {
		t.Errorf("after sign-out: on %s, profile shown %v, alert %q; want the sign-in form on %s/", sum.SignedOutURL, sum.SignedOutProfileShown, sum.SignedOutAlert, app)
	}
	if sum.SignedOutContinue != "Continue as @"+n.Alice.Handle {
		t.Logf("signed-out page: #continue %q (the handle cookie)", sum.SignedOutContinue)
	}
	if m := sum.MeAfterLogout; m.Status != http.StatusUnauthorized {
		t.Errorf("GET /api/me after sign-out (the browser's cookies): %d %+v, want 401", m.Status, m.Body)
	}
	if st := getMe(t, c, app, nil); st != http.StatusUnauthorized {
		t.Errorf("GET /api/me without a cookie: %d, want 401", st)
	}
	var session []*http.Cookie
	for _, ck := range sum.Cookies {
		if ck.Name == "atp_session" {
			session = append(session, &http.Cookie{Name: ck.Name, Value: ck.Value})
		}
	}
	if len(session) == 0 {
		t.Errorf("no atp_session cookie while signed in (cookies: %d)", len(sum.Cookies))
	} else if st := getMe(t, c, app, session); st != http.StatusUnauthorized {
		t.Errorf("GET /api/me with the signed-in cookie replayed after sign-out: %d, want 401 (the OAuth session is deleted)", st)
	}

	// The app's own account of it (slog).
	logText := appLog.String()
	for _, want := range []string{`msg="signed in"`, `msg="session updated"`, "msg=posted", `msg="signed out"`, `msg="session deleted"`} {
		if !strings.Contains(logText, want) {
			t.Errorf("webapp log has no %s line", want)
		}
	}
	if t.Failed() {
		t.Logf("webapp log:\n%s", logText)
	}
	t.Logf("whole visit in %v", time.Since(t0).Round(time.Millisecond))
}

// logBuffer collects a process's output, safe for concurrent use; it sends
// the value of url= from the first line containing msg=serving on ready.
type logBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	line  []byte
	ready chan string
	sent  bool
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if l.sent {
		return len(p), nil
	}
	l.line = append(l.line, p...)
	for {
		i := bytes.IndexByte(l.line, '\n')
		if i < 0 {
			break
		}
		line := string(l.line[:i])
		l.line = l.line[i+1:]
		if !strings.Contains(line, "msg=serving") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if u, ok := strings.CutPrefix(f, "url="); ok {
				l.sent = true
				l.line = nil
				l.ready <- u
				return len(p), nil
			}
		}
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startWebapp starts the built webapp against n and returns its URL (as it
// logs it) and its log. It stops in t.Cleanup: SIGTERM to its process group,
// SIGKILL after 10 s.
func startWebapp(t *testing.T, bin string, n *network) (string, *logBuffer) {
	t.Helper()
	cmd := exec.Command(bin,
		"-addr", "127.0.0.1:0",
		"-dev",
		"-plc-url", n.PLC,
		"-handle-resolver", n.PDS,
		"-data", filepath.Join(t.TempDir(), "data"),
	)
	// Nothing from this environment may turn it into another kind of app
	// (hosted client, Redis, keys).
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "ADDR", "CLIENT_ID", "SCOPE", "DATA_DIR", "REDIS_URL", "ATP_DEV", "PLC_URL", "HANDLE_RESOLVER",
			"TLS_CERT_FILE", "TLS_KEY_FILE", "VERBOSE", "COOKIE_SECRET", "SESSION_STORE_KEY",
			"PRIVATE_KEY_1", "PRIVATE_KEY_2", "PRIVATE_KEY_3":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	logs := &logBuffer{ready: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	step(t, "start the webapp", cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("the webapp did not stop within 10 s of SIGTERM: killed")
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	select {
	case u := <-logs.ready:
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Fatalf("step %q: the webapp serves at %q, want http://127.0.0.1:<port>\n%s", "start the webapp", u, logs.String())
		}
		return strings.TrimSuffix(u, "/"), logs
	case err := <-exited:
		exited <- err // for the cleanup
		t.Fatalf("step %q: the webapp exited: %v\n%s", "start the webapp", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("step %q: no msg=serving line within 30 s\n%s", "start the webapp", logs.String())
	}
	return "", nil
}

// runWebappBrowser runs webapp-browser.mjs in its own process group (on a
// timeout, Chromium goes with it) and returns its summary.
func runWebappBrowser(t *testing.T, c context.Context, app string, acct account, text, shots string, appLog *logBuffer) *webappSummary {
	t.Helper()
	c, cancel := context.WithTimeout(c, 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(c, nodeBinary(), "webapp-browser.mjs", app, acct.Handle, acct.Password,
		"--text", text, "--screenshots", shots, "--timeout", "90000")
	cmd.Env = append(os.Environ(), "CHROMIUM_PATH="+chromiumPath())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	runErr := cmd.Run()
	// Whatever happened, nothing of the group may outlive it.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	var sum webappSummary
	jsonErr := json.Unmarshal(stdout.Bytes(), &sum)
	if runErr != nil || jsonErr != nil || !sum.OK {
		t.Fatalf("step %q: %v (summary: %v)\nerror: %s\non: %s\nsteps:\n  %s\nstderr: %s\nwebapp log:\n%s",
			"webapp in Chromium", runErr, jsonErr, sum.Error, sum.URL, strings.Join(sum.Steps, "\n  "), stderr.String(), appLog.String())
	}
	t.Logf("webapp-browser.mjs ran in %v", time.Since(t0).Round(time.Millisecond))
	return &sum
}

// getMe asks the webapp's GET /api/me with cookies and returns the status.
func getMe(t *testing.T, c context.Context, app string, cookies []*http.Cookie) int {
	t.Helper()
	req, err := http.NewRequestWithContext(c, http.MethodGet, app+"/api/me", nil)
	step(t, "GET /api/me", err)
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	res, err := http.DefaultClient.Do(req)
	step(t, "GET /api/me", err)
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// findPost lists alice's posts on the PDS (a public read) and returns the URI
// of the one with text.
func findPost(t *testing.T, c context.Context, n *network, text string) string {
	t.Helper()
	q := url.Values{"repo": {n.Alice.DID}, "collection": {"app.bsky.feed.post"}, "limit": {"100"}}
	req, err := http.NewRequestWithContext(c, http.MethodGet, n.PDS+"/xrpc/com.atproto.repo.listRecords?"+q.Encode(), nil)
	step(t, "listRecords on the PDS", err)
	res, err := http.DefaultClient.Do(req)
	step(t, "listRecords on the PDS", err)
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	step(t, "listRecords on the PDS", err)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("step %q: %s: %s", "listRecords on the PDS", res.Status, body)
	}
	var out struct {
		Records []struct {
			URI   string `json:"uri"`
			Value struct {
				Type string `json:"$type"`
				Text string `json:"text"`
			} `json:"value"`
		} `json:"records"`
	}
	step(t, "decode listRecords", json.Unmarshal(body, &out))
	for _, r := range out.Records {
		if r.Value.Text == text && r.Value.Type == "app.bsky.feed.post" {
			return r.URI
		}
	}
	t.Fatalf("step %q: no post with text %q among alice's %d latest posts on the PDS", "listRecords on the PDS", text, len(out.Records))
	return ""
}

// keepScreenshots copies the screenshots in dir to e2e/artifacts/webapp
// (replacing the previous run's) and logs where they are.
func keepScreenshots(t *testing.T, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Logf("no screenshots: %v", err)
		return
	}
	if err := os.RemoveAll(webappArtifacts); err != nil {
		t.Logf("screenshots: %v", err)
		return
	}
	if err := os.MkdirAll(webappArtifacts, 0o755); err != nil {
		t.Logf("screenshots: %v", err)
		return
	}
	var kept int
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".png") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(webappArtifacts, e.Name()), b, 0o644)
		}
		if err != nil {
			t.Logf("screenshots: %v", err)
			return
		}
		kept++
	}
	abs, _ := filepath.Abs(webappArtifacts)
	t.Logf("%d screenshots in %s", kept, abs)
}
