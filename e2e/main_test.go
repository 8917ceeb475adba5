package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atpgo/atp/oauthtransport"
	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/memstore"
	"github.com/atpgo/atp/store/sqlitestore"
)

// The network every test uses, started once by TestMain; when it could not
// be started, netErr says why (and netSkip whether that is a skip rather
// than a failure).
var (
	net0    *network
	netErr  error
	netSkip bool
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	inCI := os.Getenv("CI") != ""
	switch {
	case os.Getenv("ATP_E2E") == "0":
		netErr, netSkip = errors.New("ATP_E2E=0"), true
	case testing.Short():
		netErr, netSkip = errors.New("-short"), true
	default:
		net0, netErr = setUp()
		if errors.Is(netErr, errNoNode) && !inCI {
			netSkip = true
		}
	}
	if netErr != nil {
		fmt.Fprintf(os.Stderr, "e2e: the reference network is not running: %v\n", netErr)
	}
	code := m.Run()
	if avNet != nil {
		if code != 0 || os.Getenv("ATP_E2E_LOG") != "" {
			fmt.Fprintf(os.Stderr, "e2e: the AppView network's log (end):\n%s\n", avNet.logTail())
		}
		avNet.stop()
		_ = os.RemoveAll(avNet.tmp)
	}
	if net0 != nil {
		if code != 0 || os.Getenv("ATP_E2E_LOG") != "" {
			fmt.Fprintf(os.Stderr, "e2e: the network's log (end):\n%s\n", net0.logTail())
		}
		t0 := time.Now()
		net0.stop()
		fmt.Fprintf(os.Stderr, "e2e: network stopped in %v\n", time.Since(t0).Round(time.Millisecond))
		_ = os.RemoveAll(net0.tmp)
	}
	return code
}

// setUp installs (when needed) and starts the network.
func setUp() (*network, error) {
	t0 := time.Now()
	did, err := install(prefixWriter{os.Stderr})
	if err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	if did {
		fmt.Fprintf(os.Stderr, "e2e: installed Node %s and the npm dependencies in %v\n", nodeVersion, time.Since(t0).Round(time.Second))
	}
	tmp, err := os.MkdirTemp("", "atp-e2e-")
	if err != nil {
		return nil, err
	}
	ca, err := newTestCA()
	if err != nil {
		return nil, err
	}
	n, err := startNetwork(tmp, ca, nil)
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("start: %w", err)
	}
	fmt.Fprintf(os.Stderr, "e2e: network ready in %v: PDS %s, PLC %s (log: %s)\n",
		n.Startup.Round(time.Millisecond), n.PDS, n.PLC, filepath.Join(tmp, "network.log"))
	return n, nil
}

type prefixWriter struct{ w io.Writer }

func (p prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			fmt.Fprint(p.w, "e2e install | "+line)
		}
	}
	return len(b), nil
}

// requireNetwork returns the running network, or skips (no Node, -short,
// ATP_E2E=0) or fails (CI, or a broken install) the test.
func requireNetwork(t *testing.T) *network {
	t.Helper()
	if net0 != nil {
		return net0
	}
	if netSkip {
		t.Skipf("reference network not available: %v", netErr)
	}
	t.Fatalf("reference network not available: %v", netErr)
	return nil
}

// The AppView network (scenario 8), started on first use.
var (
	avOnce sync.Once
	avNet  *network
	avErr  error
)

// requireAppView returns a second network, with the Bluesky AppView on a
// private PostgreSQL, starting it the first time. Without PostgreSQL it
// skips the test, unless CI is set.
func requireAppView(t *testing.T) *network {
	t.Helper()
	requireNetwork(t) // the install, and the same skips
	avOnce.Do(func() {
		t0 := time.Now()
		tmp, err := os.MkdirTemp("", "atp-e2e-appview-")
		if err != nil {
			avErr = err
			return
		}
		pg, err := startPostgres(tmp)
		if err != nil {
			_ = os.RemoveAll(tmp)
			avErr = fmt.Errorf("postgres: %w", err)
			return
		}
		n, err := startNetwork(tmp, net0.ca, pg)
		if err != nil {
			pg.stop()
			_ = os.RemoveAll(tmp)
			avErr = fmt.Errorf("start with the AppView: %w", err)
			return
		}
		avNet = n
		fmt.Fprintf(os.Stderr, "e2e: AppView network ready in %v (PostgreSQL + network): PDS %s, AppView %s (%s)\n",
			time.Since(t0).Round(time.Millisecond), n.PDS, n.AppView, n.AppViewDID)
	})
	if avNet != nil {
		return avNet
	}
	if errors.Is(avErr, errNoPostgres) && os.Getenv("CI") == "" {
		t.Skipf("AppView network not available: %v", avErr)
	}
	t.Fatalf("AppView network not available: %v", avErr)
	return nil
}

// ctx returns a context bounded by two minutes and by the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// step wraps err with the name of the failed step, so that a failure names
// the scenario (the test) and the step.
func step(t *testing.T, name string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("step %q: %v", name, err)
	}
}

// env is one OAuth client set up against the network.
type env struct {
	n      *network
	client *oauthtransport.Client
	cfg    oauthtransport.Config
	wire   *wire
	clock  *clock
	states store.Store
}

// clientOpts configure newClient.
type clientOpts struct {
	scope    string                         // the loopback client_id's scope; default "atproto transition:generic"
	sessions store.Store                    // default: a new SQLite store in t.TempDir()
	lock     store.Locker                   // default: the SQLite store's locker, or none
	metadata *oauthtransport.ClientMetadata // default: a loopback (native) client
	keys     *oauthtransport.Keyset
}

// newSQLite opens a SQLite file in dir and returns its session store and
// locker.
func newSQLite(t *testing.T, path string) (store.Store, store.Locker) {
	t.Helper()
	db, err := sqlitestore.Open(t.Context(), path)
	step(t, "open SQLite store", err)
	t.Cleanup(func() { _ = db.Close() })
	return db.Store("sessions"), db.Locker()
}

// newClient returns a client of the network: a loopback (native, public)
// client by default.
func newClient(t *testing.T, n *network, o clientOpts) *env {
	t.Helper()
	if o.scope == "" {
		o.scope = "atproto transition:generic"
	}
	if o.sessions == nil {
		o.sessions, o.lock = newSQLite(t, filepath.Join(t.TempDir(), "atp.db"))
	}
	md := oauthtransport.ClientMetadata{
		ClientID: oauthtransport.LoopbackClientID(o.scope, "http://127.0.0.1/callback"),
	}
	if o.metadata != nil {
		md = *o.metadata
	}
	e := &env{n: n, wire: newWire(), clock: &clock{}, states: memstore.New()}
	e.cfg = oauthtransport.Config{
		Metadata:             md,
		Keys:                 o.keys,
		StateStore:           e.states,
		SessionStore:         o.sessions,
		Lock:                 o.lock,
		HTTPClient:           e.wire.client(),
		AllowHTTP:            true,
		AllowPrivateNetworks: true,
		PLCURL:               n.PLC,
		HandleResolverURL:    n.PDS,
		Now:                  e.clock.Now,
		UserAgent:            "atp-e2e",
	}
	c, err := oauthtransport.NewClient(e.cfg)
	step(t, "NewClient", err)
	e.client = c
	return e
}

// sibling returns a NEW client instance over the same configuration and
// stores (as another process of the same app would be).
func (e *env) sibling(t *testing.T) *env {
	t.Helper()
	f := *e
	f.wire = newWire()
	f.cfg.HTTPClient = f.wire.client()
	f.clock = &clock{}
	f.clock.set(time.Duration(e.clock.off.Load()))
	f.cfg.Now = f.clock.Now
	c, err := oauthtransport.NewClient(f.cfg)
	step(t, "NewClient (second instance)", err)
	f.client = c
	return &f
}

// authorize starts a login and returns the authorization URL.
func (e *env) authorize(t *testing.T, input string, opts oauthtransport.AuthorizeOptions) string {
	t.Helper()
	u, err := e.client.Authorize(ctx(t), input, opts)
	step(t, "Authorize "+input, err)
	if !strings.HasPrefix(u, e.n.PDS+"/oauth/authorize?") {
		t.Fatalf("step %q: authorization URL %q is not on the PDS %s", "Authorize", u, e.n.PDS)
	}
	return u
}

// redirectParams checks that the PDS sent the browser to one of the
// client's redirect URIs and returns the query.
func (e *env) redirectParams(t *testing.T, to *url.URL) url.Values {
	t.Helper()
	got := to.Scheme + "://" + to.Host + to.Path
	ok := false
	for _, r := range e.client.Metadata().RedirectURIs {
		ru, err := url.Parse(r)
		if err != nil {
			continue
		}
		// Loopback redirect URIs may be used with any port.
		if ru.Scheme+"://"+ru.Hostname()+ru.Path == to.Scheme+"://"+to.Hostname()+to.Path || r == got {
			ok = true
		}
	}
	if !ok {
		t.Fatalf("step %q: redirected to %s, not a registered redirect URI %v", "approve", to, e.client.Metadata().RedirectURIs)
	}
	return to.Query()
}

// login runs a full login of acct: Authorize, approve, Callback.
func (e *env) login(t *testing.T, acct account, opts oauthtransport.AuthorizeOptions) (*oauthtransport.Session, string) {
	t.Helper()
	u := e.authorize(t, acct.Handle, opts)
	to, err := approve(ctx(t), u, approval{Username: acct.Handle, Password: acct.Password})
	step(t, "approve (sign-in API)", err)
	q := e.redirectParams(t, to)
	if q.Get("code") == "" {
		t.Fatalf("step %q: redirect without a code: %s", "approve", to)
	}
	sess, state, err := e.client.Callback(ctx(t), q)
	step(t, "Callback", err)
	return sess, state
}
