package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/memstore"
)

func Example() {
	ctx := context.Background()
	states := memstore.New(memstore.WithMaxEntries(10_000))

	// Authorization state lives for ten minutes and is consumed once.
	_ = states.Set(ctx, "state-abc", []byte(`{"iss":"https://bsky.social"}`), 10*time.Minute)
	v, err := states.GetDelete(ctx, "state-abc")
	fmt.Println(string(v), err)
	_, err = states.GetDelete(ctx, "state-abc")
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// {"iss":"https://bsky.social"} <nil>
	// true
}

func ExampleLocker() {
	var locks memstore.Locker // the zero value is ready to use
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	unlock, err := locks.Lock(ctx, "did:plc:ewvi7nxzyoun6zhxrhs64oiz", 30*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer unlock()
	fmt.Println("refreshing under the lock")
	// Output: refreshing under the lock
}
