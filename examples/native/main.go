// Command native signs in to an atproto (Bluesky) account from a desktop or
// command-line program: the OAuth flow of a native app.
//
//	go run ./examples/native alice.bsky.social   # sign in (opens the browser)
//	go run ./examples/native                     # who is signed in
//	go run ./examples/native -logout             # sign out
//
// It is a loopback client: it needs no server and no registration. To sign
// in it listens on 127.0.0.1 on a random port, opens the system browser at
// the account's authorization server, and waits for the browser to come back
// to http://127.0.0.1:PORT/callback. The session (tokens and DPoP key) is
// kept in a file only the user can read, in the user's configuration
// directory, and later runs restore it, refreshing the tokens as needed.
//
// For a PDS on your own machine add -dev -plc-url URL -handle-resolver URL,
// as for examples/webapp.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/atpgo/atp"
	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/oauthtransport"
	"github.com/atpgo/atp/store/memstore"
)

// scope asks for the account's repository and the Bluesky app.
const scope = "atproto transition:generic"

// loginTimeout bounds how long the program waits for the browser.
const loginTimeout = 5 * time.Minute

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, openBrowser); err != nil {
		fmt.Fprintln(os.Stderr, "native:", err)
		os.Exit(1)
	}
}

// run is the program; openURL opens the system browser.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, openURL func(string) error) error {
	fset := flag.NewFlagSet("native", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.Usage = func() {
		fmt.Fprintf(stderr, "Usage: native [flags] [handle]\n\nWith a handle, signs in; without, says who is signed in.\n\n")
		fset.PrintDefaults()
	}
	defaultDir := "atp-native"
	if d, err := os.UserConfigDir(); err == nil {
		defaultDir = filepath.Join(d, "atp-example-native")
	}
	var (
		dir            = fset.String("dir", defaultDir, "where the session is kept")
		logout         = fset.Bool("logout", false, "sign out")
		noBrowser      = fset.Bool("no-browser", false, "print the sign-in URL instead of opening the browser")
		dev            = fset.Bool("dev", false, "development: allow plain http and loopback addresses for the PDS, PLC and resolver")
		plcURL         = fset.String("plc-url", "", "did:plc directory (default https://plc.directory)")
		handleResolver = fset.String("handle-resolver", "", "resolve handles through this service's com.atproto.identity.resolveHandle")
	)
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() > 1 || (*logout && fset.NArg() > 0) {
		fset.Usage()
		return errors.New("too many arguments")
	}

	sessions, err := newFileStore(filepath.Join(*dir, "sessions.json"))
	if err != nil {
		return err
	}
	client, err := oauthtransport.NewClient(oauthtransport.Config{
		// The redirect URI has no port: any port of 127.0.0.1 is then
		// allowed (RFC 8252), and each sign-in uses a new random one.
		Metadata: oauthtransport.ClientMetadata{ClientID: oauthtransport.LoopbackClientID(scope, "http://127.0.0.1/callback")},
		// The authorization state lives only as long as this process.
		StateStore:           memstore.New(),
		SessionStore:         sessions,
		AllowHTTP:            *dev,
		AllowPrivateNetworks: *dev,
		PLCURL:               *plcURL,
		HandleResolverURL:    *handleResolver,
		UserAgent:            "atp-example-native",
	})
	if err != nil {
		return err
	}
	acct := accountFile(filepath.Join(*dir, "account"))

	switch {
	case *logout:
		return signOut(ctx, client, acct, stdout)
	case fset.NArg() == 1:
		open := openURL
		if *noBrowser {
			open = func(string) error { return errors.New("-no-browser") }
		}
		lctx, cancel := context.WithTimeout(ctx, loginTimeout)
		defer cancel()
		prev, err := acct.read()
		if err != nil {
			return err
		}
		sess, err := login(lctx, client, fset.Arg(0), open, stdout)
		if err != nil {
			return err
		}
		if err := acct.write(sess.DID()); err != nil {
			return err
		}
		if prev != "" && prev != sess.DID() {
			// One account at a time: sign the previous one out.
			if err := client.Revoke(ctx, prev); err != nil {
				fmt.Fprintf(stdout, "warning: the previous account %s could not be signed out: %v\n", prev, err)
			}
		}
	}
	return whoami(ctx, client, acct, stdout)
}

// login runs the loopback flow: a one-request server on 127.0.0.1 with a
// random port, the browser sent to the authorization server, and the
// callback turned into a session.
func login(ctx context.Context, client *oauthtransport.Client, handle string, openURL func(string) error, stdout io.Writer) (*oauthtransport.Session, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", ln.Addr().(*net.TCPAddr).Port)

	u, err := client.Authorize(ctx, handle, oauthtransport.AuthorizeOptions{RedirectURI: redirect})
	if err != nil {
		return nil, err
	}
	results := make(chan callbackResult, 1)
	srv := &http.Server{Handler: callbackHandler(ctx, client, results), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		// Shutdown, not Close: let the callback page reach the browser.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	if err := openURL(u); err != nil {
		fmt.Fprintf(stdout, "Open this URL in your browser to sign in:\n\n  %s\n\n", u)
	} else {
		fmt.Fprintf(stdout, "Your browser is open to sign in. If it is not, open:\n\n  %s\n\n", u)
	}
	fmt.Fprintln(stdout, "Waiting for the browser...")
	select {
	case res := <-results:
		return res.sess, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer from the browser: %w", context.Cause(ctx))
	}
}

// callbackResult is what the browser brought back.
type callbackResult struct {
	sess *oauthtransport.Session
	err  error
}

// callbackHandler serves GET /callback: it finishes the sign-in (with ctx,
// so that closing the tab does not abort the token exchange), tells the
// user in the browser, and sends the result on results. Requests that do
// not belong to this sign-in (unknown state) are answered and ignored.
func callbackHandler(ctx context.Context, client *oauthtransport.Client, results chan<- callbackResult) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		sess, _, err := client.Callback(ctx, r.URL.Query())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<!doctype html><title>Sign-in failed</title><h1>Sign-in failed</h1><p>%s</p><p>Return to the terminal.</p>", html.EscapeString(err.Error()))
			if errors.Is(err, oauthtransport.ErrInvalidState) {
				return // not our sign-in
			}
		} else {
			fmt.Fprint(w, "<!doctype html><title>Signed in</title><h1>Signed in</h1><p>You can close this window and return to the terminal.</p>")
		}
		select {
		case results <- callbackResult{sess, err}:
		default: // a result was already sent
		}
	})
	return mux
}

// whoami prints the signed-in account, asking its PDS.
func whoami(ctx context.Context, client *oauthtransport.Client, acct accountFile, stdout io.Writer) error {
	did, err := acct.read()
	if err != nil {
		return err
	}
	if did == "" {
		fmt.Fprintln(stdout, "Not signed in. Sign in with: native <handle>")
		return nil
	}
	sess, err := client.Restore(ctx, did)
	if err != nil {
		if sessionGone(err) {
			_ = acct.remove()
			fmt.Fprintf(stdout, "The session of %s has ended (%v). Sign in again with: native <handle>\n", did, err)
			return nil
		}
		return fmt.Errorf("restoring the session of %s: %w", did, err)
	}
	me, err := atproto.ServerGetSession(ctx, atp.NewAgent(atp.OAuth(sess)), nil)
	if err != nil {
		return fmt.Errorf("asking the PDS who is signed in: %w", err)
	}
	fmt.Fprintf(stdout, "Signed in as @%s (%s) on %s\n", me.Handle, me.DID, sess.TokenInfo().Audience)
	return nil
}

// signOut revokes the session's tokens and deletes it.
func signOut(ctx context.Context, client *oauthtransport.Client, acct accountFile, stdout io.Writer) error {
	did, err := acct.read()
	if err != nil {
		return err
	}
	if did == "" {
		fmt.Fprintln(stdout, "Not signed in.")
		return nil
	}
	sess, err := client.Restore(ctx, did)
	switch {
	case err == nil:
		if err := sess.SignOut(ctx); err != nil {
			// The local session is deleted all the same.
			fmt.Fprintf(stdout, "warning: the server could not be told (%v)\n", err)
		}
	case sessionGone(err):
	default:
		// Restore failed (network): Revoke still deletes the local session.
		if err := client.Revoke(ctx, did); err != nil {
			return err
		}
	}
	if err := acct.remove(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Signed out of %s.\n", did)
	return nil
}

// sessionGone reports whether err means the stored session no longer exists.
func sessionGone(err error) bool {
	var re *oauthtransport.RefreshError
	return errors.Is(err, oauthtransport.ErrSessionNotFound) ||
		errors.Is(err, oauthtransport.ErrTokenRevoked) ||
		errors.Is(err, oauthtransport.ErrRefreshRejected) ||
		errors.Is(err, oauthtransport.ErrAuthMethodUnsatisfiable) ||
		(errors.As(err, &re) && re.Deleted)
}

// accountFile remembers which account is signed in (its DID).
type accountFile string

func (f accountFile) read() (string, error) {
	b, err := os.ReadFile(string(f))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return strings.TrimSpace(string(b)), err
}

func (f accountFile) write(did string) error {
	return os.WriteFile(string(f), []byte(did+"\n"), 0o600)
}

func (f accountFile) remove() error {
	if err := os.Remove(string(f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// browserCommand is the command that opens url in the system browser.
func browserCommand(goos, url string) (string, []string) {
	switch goos {
	case "darwin":
		return "open", []string{url}
	case "windows":
		return "rundll32", []string{"url.dll,FileProtocolHandler", url}
	default:
		return "xdg-open", []string{url}
	}
}

// openBrowser opens url in the system browser.
func openBrowser(url string) error {
	name, args := browserCommand(runtime.GOOS, url)
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
