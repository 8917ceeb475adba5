package e2e

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumPath returns Debian's Chromium (or CHROMIUM_PATH), or "".
func chromiumPath() string {
	for _, p := range []string{os.Getenv("CHROMIUM_PATH"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// approveInBrowser drives the PDS's real sign-in and consent UI in headless
// Chromium (approve-browser.mjs, with playwright-core; no browser is ever
// downloaded) and returns the URL the browser was sent back to.
func approveInBrowser(t *testing.T, authURL, user, password string) *url.URL {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	shots := filepath.Join(t.TempDir(), "screenshots")
	cmd := exec.CommandContext(c, nodeBinary(), "approve-browser.mjs", authURL, user, password,
		"--timeout", "60000", "--screenshots", shots)
	cmd.Env = append(os.Environ(), "CHROMIUM_PATH="+chromiumPath())
	// Its own process group: on a timeout, Chromium goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		t.Fatalf("step %q: %v\nstderr: %s\nscreenshots: %s", "approve in Chromium", err, stderr.String(), shots)
	}
	lines := strings.Fields(strings.TrimSpace(stdout.String()))
	if len(lines) == 0 {
		t.Fatalf("step %q: no redirect URL printed; stderr: %s", "approve in Chromium", stderr.String())
	}
	u, err := url.Parse(lines[len(lines)-1])
	step(t, "parse the redirect URL", err)
	return u
}
