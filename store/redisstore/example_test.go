package redisstore_test

import (
	"context"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/redisstore"
)

// Sessions, one-time state and the refresh lock for an app that runs as many
// instances. (No output: it needs a Redis server.)
func Example() {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer client.Close()

	sessionKey := store.NewKey() // in a real app: from a secret, the same on every instance
	sessions, err := store.Encrypt(redisstore.New(client, redisstore.WithPrefix("myapp:session:")), sessionKey)
	if err != nil {
		log.Fatal(err)
	}
	states := redisstore.New(client, redisstore.WithPrefix("myapp:state:"))
	locks := redisstore.NewLocker(client)

	_ = states.Set(ctx, "state-abc", []byte("{...}"), 10*time.Minute)
	if _, err := states.GetDelete(ctx, "state-abc"); err != nil {
		log.Print(err)
	}

	// Refresh a session at most once across all instances.
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	unlock, err := locks.Lock(lctx, "did:plc:ewvi7nxzyoun6zhxrhs64oiz", 30*time.Second)
	if err != nil {
		log.Print(err) // wraps store.ErrLockTimeout if another instance held it too long
		return
	}
	defer unlock()
	_, _ = sessions.Get(ctx, "did:plc:ewvi7nxzyoun6zhxrhs64oiz")
	// ... re-read the session, refresh it if still needed, Set it back ...
}
