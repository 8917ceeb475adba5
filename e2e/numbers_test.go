package e2e

import (
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/atpgo/atp"
	"github.com/atpgo/atp/agent/atproto"
	"github.com/atpgo/atp/oauthtransport"
)

// TestNumbers reports, on the same run and the same PDS, what the issue
// asks to measure. It asserts nothing about time: the numbers go to the
// test log (go test -v -run Numbers ./e2e).
func TestNumbers(t *testing.T) {
	n := requireNetwork(t)
	if testing.Short() {
		t.Skip("-short")
	}
	const calls, logins = 200, 10

	// A full login: Authorize → approve (sign-in API) → Callback.
	e := newClient(t, n, clientOpts{})
	var sess *oauthtransport.Session
	var loginTimes []time.Duration
	for range logins {
		t0 := time.Now()
		sess, _ = e.login(t, n.Alice, oauthtransport.AuthorizeOptions{})
		loginTimes = append(loginTimes, time.Since(t0))
	}

	// 200 sequential getSession calls through the session's RoundTripper
	// (DPoP proof per request, via the Agent) ...
	agent := atp.NewAgent(atp.OAuth(sess))
	getSession(t, agent, n.Alice) // nonce learnt, connection open
	var authed []time.Duration
	for range calls {
		t0 := time.Now()
		_, err := atproto.ServerGetSession(ctx(t), agent, nil)
		authed = append(authed, time.Since(t0))
		step(t, "getSession", err)
	}
	// ... and a plain unauthenticated call (describeServer) as the baseline.
	plain := &http.Client{Transport: loopbackTransport()}
	var bare []time.Duration
	for i := range calls + 1 {
		t0 := time.Now()
		resp, err := plain.Get(n.PDS + "/xrpc/com.atproto.server.describeServer")
		step(t, "describeServer", err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("describeServer: HTTP %d", resp.StatusCode)
		}
		if i > 0 { // the first one opens the connection
			bare = append(bare, time.Since(t0))
		}
	}
	// 200 concurrent authenticated calls, for scale.
	t0 := time.Now()
	done := make(chan error, calls)
	for range calls {
		go func() {
			_, err := atproto.ServerGetSession(ctx(t), agent, nil)
			done <- err
		}()
	}
	for range calls {
		step(t, "concurrent getSession", <-done)
	}
	burst := time.Since(t0)

	t.Logf("startup of the network: %v", n.Startup.Round(time.Millisecond))
	t.Logf("full login (authorize → approve → callback), n=%d: %s", logins, summary(loginTimes))
	t.Logf("getSession through the OAuth RoundTripper (Agent), sequential, n=%d: %s", calls, summary(authed))
	t.Logf("describeServer, plain unauthenticated http.Client, sequential, n=%d: %s", calls, summary(bare))
	t.Logf("%d concurrent getSession through one session: %v in all", calls, burst.Round(time.Millisecond))
}

// summary gives the median, p90 and max of ds.
func summary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[int(p*float64(len(s)-1))].Round(10 * time.Microsecond) }
	return "median " + q(0.5).String() + ", p90 " + q(0.9).String() + ", max " + s[len(s)-1].Round(10*time.Microsecond).String()
}
