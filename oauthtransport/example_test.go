package oauthtransport_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/atpgo/atp/oauthtransport"
	"github.com/atpgo/atp/store/memstore"
)

// A loopback client needs no hosting: its client_id carries its redirect
// URIs and scope. Use it for development and native apps.
func ExampleLoopbackClientID() {
	id := oauthtransport.LoopbackClientID("atproto transition:generic", "http://127.0.0.1:8765/callback")
	fmt.Println(id)
	client, err := oauthtransport.NewClient(oauthtransport.Config{
		Metadata:     oauthtransport.ClientMetadata{ClientID: id},
		StateStore:   memstore.New(),
		SessionStore: memstore.New(),
	})
	if err != nil {
		log.Fatal(err)
	}
	m := client.Metadata()
	fmt.Println(m.ApplicationType, m.TokenEndpointAuthMethod, m.RedirectURIs, m.Scope)
	// Output:
	// http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback&scope=atproto+transition%3Ageneric
	// native none [http://127.0.0.1:8765/callback] atproto transition:generic
}

// A confidential web client publishes its metadata and public keys.
func ExampleClient_MetadataHandler() {
	key, err := oauthtransport.GenerateKey("key-2026") // or ParseKey(os.Getenv("PRIVATE_KEY_1"), "")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := oauthtransport.NewKeyset(key)
	if err != nil {
		log.Fatal(err)
	}
	client, err := oauthtransport.NewClient(oauthtransport.Config{
		Metadata: oauthtransport.ClientMetadata{
			ClientID:     "https://app.example.com/client-metadata.json",
			ClientName:   "Example",
			RedirectURIs: []string{"https://app.example.com/oauth/callback"},
			Scope:        "atproto transition:generic",
		},
		Keys:         keys,
		StateStore:   memstore.New(),
		SessionStore: memstore.New(),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /client-metadata.json", client.MetadataHandler())
	mux.Handle("GET /jwks.json", client.JWKSHandler())

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/client-metadata.json", nil))
	var doc oauthtransport.ClientMetadata
	_ = json.Unmarshal(rec.Body.Bytes(), &doc)
	fmt.Println(doc.TokenEndpointAuthMethod, doc.TokenEndpointAuthSigningAlg, doc.DPoPBoundAccessTokens, len(doc.JWKS.Keys))
	// Output: private_key_jwt ES256 true 1
}

// The web-app flow: Authorize sends the browser to the user's server,
// Callback finishes the login, Restore brings the session back later, and
// the session's http.Client talks to the PDS.
func ExampleClient_Authorize() {
	client, err := oauthtransport.NewClient(oauthtransport.Config{
		Metadata:     oauthtransport.ClientMetadata{ClientID: oauthtransport.LoopbackClientID("", "http://127.0.0.1:8765/callback")},
		StateStore:   memstore.New(),
		SessionStore: memstore.New(),
	})
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		u, err := client.Authorize(r.Context(), r.FormValue("handle"), oauthtransport.AuthorizeOptions{State: "/home"})
		if err != nil {
			http.Error(w, "cannot sign in", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, u, http.StatusFound)
	})
	http.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		sess, next, err := client.Callback(r.Context(), r.URL.Query())
		var ce *oauthtransport.CallbackError
		if errors.As(err, &ce) && ce.Code == "login_required" {
			// A silent sign-in (Prompt "none", which the reference server
			// allows confidential clients only) needs the user: ask again.
			http.Redirect(w, r, "/login?state="+ce.AppState, http.StatusFound)
			return
		}
		if err != nil {
			http.Error(w, "sign-in failed", http.StatusForbidden)
			return
		}
		// Remember sess.DID() in the app's own session cookie.
		_ = sess
		http.Redirect(w, r, next, http.StatusFound)
	})
	http.HandleFunc("GET /home", func(w http.ResponseWriter, r *http.Request) {
		sess, err := client.Restore(r.Context(), "did:plc:...") // from the app's cookie
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusFound)
			return
		}
		resp, err := sess.HTTPClient().Get(sess.TokenInfo().Audience + "/xrpc/com.atproto.server.getSession")
		if err == nil {
			resp.Body.Close()
		}
	})
}

// Restore may fail for good (the session is gone) or for now (the network).
func ExampleClient_Restore() {
	client, err := oauthtransport.NewClient(oauthtransport.Config{
		Metadata:     oauthtransport.ClientMetadata{ClientID: "http://localhost"},
		StateStore:   memstore.New(),
		SessionStore: memstore.New(),
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = client.Restore(context.Background(), "did:plc:ewvi7nxzyoun6zhxrhs64oiz")
	switch {
	case errors.Is(err, oauthtransport.ErrSessionNotFound):
		fmt.Println("not signed in")
	case err != nil:
		fmt.Println("try again later")
	}
	// Output: not signed in
}

// Granted scopes tell which calls a session may make.
func ExampleParseScope() {
	scopes, err := oauthtransport.ParseScope("atproto repo:app.bsky.feed.post?action=create blob:image/*")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(scopes.AllowsRepo("app.bsky.feed.post", "create"), scopes.AllowsRepo("app.bsky.feed.post", "delete"))
	fmt.Println(scopes.AllowsBlob("image/jpeg"), scopes.AllowsBlob("video/mp4"))
	// Output:
	// true false
	// true false
}

func ExampleParseChallenges() {
	h := http.Header{"Www-Authenticate": {`DPoP algs="ES256", error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`}}
	for _, c := range oauthtransport.ParseChallenges(h) {
		fmt.Println(c.Scheme, c.Params["error"])
	}
	// Output: DPoP use_dpop_nonce
}
