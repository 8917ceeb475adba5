package store_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log"

	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/memstore"
)

func ExampleEncrypt() {
	ctx := context.Background()

	// In a real app the key comes from a secret manager or the environment,
	// for example base64 in ATP_STORE_KEY; here it is made up on the spot.
	encoded := base64.StdEncoding.EncodeToString(store.NewKey())
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		log.Fatal(err)
	}

	raw := memstore.New() // any Store: sqlitestore, redisstore, ...
	sessions, err := store.Encrypt(raw, key)
	if err != nil {
		log.Fatal(err)
	}
	_ = sessions.Set(ctx, "did:plc:ewvi7nxzyoun6zhxrhs64oiz", []byte(`{"refresh_token":"..."}`), 0)

	v, _ := sessions.Get(ctx, "did:plc:ewvi7nxzyoun6zhxrhs64oiz")
	fmt.Println(string(v))

	sealed, _ := raw.Get(ctx, "did:plc:ewvi7nxzyoun6zhxrhs64oiz")
	fmt.Println("stored bytes:", len(sealed), "(plaintext + 33)")

	// Without the key, the record does not open, and is not lost.
	other, _ := store.Encrypt(raw, store.NewKey())
	_, err = other.Get(ctx, "did:plc:ewvi7nxzyoun6zhxrhs64oiz")
	fmt.Println(errors.Is(err, store.ErrUndecryptable))
	// Output:
	// {"refresh_token":"..."}
	// stored bytes: 56 (plaintext + 33)
	// true
}

func ExampleEncrypt_rotation() {
	ctx := context.Background()
	raw := memstore.New()
	oldKey, newKey := store.NewKey(), store.NewKey()

	before, _ := store.Encrypt(raw, oldKey)
	_ = before.Set(ctx, "k", []byte("sealed with the old key"), 0)

	// Put the new key first: it seals from now on, and the old key still
	// opens what it sealed.
	after, _ := store.Encrypt(raw, newKey, oldKey)
	v, err := after.Get(ctx, "k")
	fmt.Println(string(v), err)
	// Output: sealed with the old key <nil>
}
