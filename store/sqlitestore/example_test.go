package sqlitestore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/sqlitestore"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "atp-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// One file for everything; every process of the app may open it.
	db, err := sqlitestore.Open(ctx, filepath.Join(dir, "atp.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	states := db.Store("state")
	sessionKey := store.NewKey() // in a real app: from a secret
	sessions, err := store.Encrypt(db.Store("sessions"), sessionKey)
	if err != nil {
		log.Fatal(err)
	}

	// One-time authorization state.
	_ = states.Set(ctx, "state-abc", []byte(`{"verifier":"..."}`), 10*time.Minute)
	v, err := states.GetDelete(ctx, "state-abc")
	fmt.Println(string(v), err)

	// A session, refreshed under the lock that every process shares.
	const did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
	_ = sessions.Set(ctx, did, []byte(`{"refresh_token":"r1"}`), 0)
	unlock, err := db.Locker().Lock(ctx, did, 30*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	_ = sessions.Set(ctx, did, []byte(`{"refresh_token":"r2"}`), 0)
	unlock()

	v, _ = sessions.Get(ctx, did)
	fmt.Println(string(v))
	// Output:
	// {"verifier":"..."} <nil>
	// {"refresh_token":"r2"}
}
