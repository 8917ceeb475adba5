package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atpgo/atp/oauthtransport"
	"github.com/atpgo/atp/store/memstore"
)

func TestBrowserCommand(t *testing.T) {
	const u = "https://bsky.social/oauth/authorize?client_id=x&request_uri=y"
	for goos, want := range map[string]string{
		"linux":   "xdg-open " + u,
		"freebsd": "xdg-open " + u,
		"darwin":  "open " + u,
		"windows": "rundll32 url.dll,FileProtocolHandler " + u,
	} {
		name, args := browserCommand(goos, u)
		if got := name + " " + strings.Join(args, " "); got != want {
			t.Errorf("%s: %q, want %q", goos, got, want)
		}
	}
}

func TestAccountFile(t *testing.T) {
	f := accountFile(filepath.Join(t.TempDir(), "account"))
	if did, err := f.read(); did != "" || err != nil {
		t.Fatalf("missing file: %q, %v", did, err)
	}
	if err := f.write("did:plc:abc"); err != nil {
		t.Fatal(err)
	}
	if did, _ := f.read(); did != "did:plc:abc" {
		t.Fatalf("read %q", did)
	}
	if fi, _ := os.Stat(string(f)); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	if err := f.remove(); err != nil {
		t.Fatal(err)
	}
	if err := f.remove(); err != nil {
		t.Fatal("removing twice:", err)
	}
}

func TestCallbackIgnoresForeignRequests(t *testing.T) {
	client, err := oauthtransport.NewClient(oauthtransport.Config{
		Metadata:     oauthtransport.ClientMetadata{ClientID: oauthtransport.LoopbackClientID(scope, "http://127.0.0.1/callback")},
		StateStore:   memstore.New(),
		SessionStore: memstore.New(),
	})
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan callbackResult, 1)
	h := callbackHandler(context.Background(), client, results)

	// A request with a state this program never issued (a stale tab, a
	// scan of the port) fails in the browser and does not end the wait.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/callback?state=unknown&code=x", nil))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Sign-in failed") {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	select {
	case res := <-results:
		t.Fatalf("foreign callback delivered: %v", res.err)
	default:
	}
	// Error messages are escaped.
	if strings.Contains(rec.Body.String(), "<script") {
		t.Error("unescaped")
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/favicon.ico", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("other path: %d", rec.Code)
	}
}

func TestRunSignedOut(t *testing.T) {
	dir := t.TempDir()
	noBrowser := func(string) error { return errors.New("no browser in tests") }
	for _, args := range [][]string{{"-dir", dir}, {"-dir", dir, "-logout"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out, &out, noBrowser); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if !strings.Contains(out.String(), "Not signed in") {
			t.Errorf("%q: %s", args, out.String())
		}
	}
	// A remembered account whose session is gone is forgotten.
	if err := accountFile(filepath.Join(dir, "account")).write("did:plc:ewvi7nxzyoun6zhxrhs64oiz"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-dir", dir}, &out, &out, noBrowser); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "has ended") {
		t.Errorf("output: %s", out.String())
	}
	if did, _ := accountFile(filepath.Join(dir, "account")).read(); did != "" {
		t.Error("account not forgotten")
	}
	if err := run(context.Background(), []string{"-dir", dir, "a", "b"}, &out, &out, noBrowser); err == nil {
		t.Error("two handles accepted")
	}
}

func TestLoginBadHandleFailsBeforeListening(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-dir", t.TempDir(), "not a handle"}, &out, &out, func(string) error {
		t.Error("browser opened")
		return nil
	})
	if !errors.Is(err, oauthtransport.ErrUnresolved) {
		t.Fatalf("err = %v", err)
	}
}
