package atp_test

import (
	"context"
	"log"
	"net/http"

	"github.com/atpgo/atp"
	"github.com/atpgo/atp/oauthtransport"
	"github.com/atpgo/atp/store/sqlitestore"
)

// The README's quickstart: sign a person in with a loopback (development)
// client whose state and sessions live in SQLite, then post as them.
func Example_quickstart() {
	ctx := context.Background()
	db, err := sqlitestore.Open(ctx, "atp.db")
	if err != nil {
		log.Fatal(err)
	}
	client, err := oauthtransport.NewClient(oauthtransport.Config{
		// A loopback client needs no hosting: for development and native apps.
		Metadata:     oauthtransport.ClientMetadata{ClientID: oauthtransport.LoopbackClientID("atproto transition:generic", "http://127.0.0.1:8080/callback")},
		StateStore:   db.Store("state"),
		SessionStore: db.Store("sessions"),
		Lock:         db.Locker(),
	})
	if err != nil {
		log.Fatal(err)
	}

	http.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		u, err := client.Authorize(r.Context(), r.FormValue("handle"), oauthtransport.AuthorizeOptions{})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, u, http.StatusFound)
	})
	http.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		sess, _, err := client.Callback(r.Context(), r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		agent := atp.NewAgent(sess)
		profile, err := agent.GetProfile(r.Context(), sess.DID())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if _, err := agent.Post(r.Context(), atp.PostInput{Text: "hello from Go, @" + profile.Handle, DetectFacets: true}); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}
