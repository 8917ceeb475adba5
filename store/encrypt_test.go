package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/atpgo/atp/store"
	"github.com/atpgo/atp/store/memstore"
	"github.com/atpgo/atp/store/storetest"
)

func mustEncrypt(t *testing.T, inner store.Store, keys ...[]byte) store.Store {
	t.Helper()
	s, err := store.Encrypt(inner, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEncryptConformance(t *testing.T) {
	key := store.NewKey()
	storetest.Run(t, func(t *testing.T) store.Store {
		return mustEncrypt(t, memstore.New(), key)
	})
}

func TestEncryptSealsAtRest(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	key := store.NewKey()
	s := mustEncrypt(t, inner, key)
	secret := []byte(`{"refresh_token":"ref-SECRET-123","dpopJwk":{"d":"private"}}`)
	if err := s.Set(ctx, "did:plc:alice", secret, 0); err != nil {
		t.Fatal(err)
	}
	raw, err := inner.Get(ctx, "did:plc:alice")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("SECRET")) || bytes.Contains(raw, []byte("private")) {
		t.Fatal("the stored value contains the plaintext")
	}
	if len(raw) != len(secret)+33 {
		t.Fatalf("sealed value is %d bytes, want %d", len(raw), len(secret)+33)
	}
	if got := store.KeyID(key); got != hexOf(raw[1:5]) {
		t.Fatalf("header key id %x, want %s", raw[1:5], got)
	}
	// A fresh nonce each time: the same value seals differently.
	if err := s.Set(ctx, "did:plc:alice", secret, 0); err != nil {
		t.Fatal(err)
	}
	raw2, _ := inner.Get(ctx, "did:plc:alice")
	if bytes.Equal(raw, raw2) {
		t.Fatal("sealing the same value twice gave the same bytes")
	}
	if got, err := s.Get(ctx, "did:plc:alice"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Get = %q, %v", got, err)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func wantDecryptError(t *testing.T, what string, err error) *store.DecryptError {
	t.Helper()
	var de *store.DecryptError
	if !errors.As(err, &de) || !errors.Is(err, store.ErrUndecryptable) {
		t.Fatalf("%s: %v, want a *store.DecryptError wrapping ErrUndecryptable", what, err)
	}
	if errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: %v wraps ErrNotFound", what, err)
	}
	return de
}

func TestEncryptTamper(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	s := mustEncrypt(t, inner, store.NewKey())
	if err := s.Set(ctx, "k", []byte("the session record"), time.Hour); err != nil {
		t.Fatal(err)
	}
	good, _ := inner.Get(ctx, "k")
	// Flip one bit anywhere: version, key id, nonce, ciphertext, tag.
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x01
		if err := inner.Set(ctx, "k", bad, time.Hour); err != nil {
			t.Fatal(err)
		}
		_, err := s.Get(ctx, "k")
		wantDecryptError(t, "Get of a value with a flipped bit", err)
		_, err = s.GetDelete(ctx, "k")
		wantDecryptError(t, "GetDelete of a value with a flipped bit", err)
		if still, err := inner.Get(ctx, "k"); err != nil || !bytes.Equal(still, bad) {
			t.Fatalf("byte %d: after a failed GetDelete the inner store holds %x, %v; want the value kept", i, still, err)
		}
	}
	for _, n := range []int{0, 1, 4, 5, 16, len(good) - 1} {
		if err := inner.Set(ctx, "k", good[:n], 0); err != nil {
			t.Fatal(err)
		}
		_, err := s.Get(ctx, "k")
		wantDecryptError(t, "Get of a truncated value", err)
	}
	// A value stored in plain text (before encryption was turned on).
	if err := inner.Set(ctx, "k", []byte(`{"plain":"json"}`), 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, "k")
	wantDecryptError(t, "Get of a plaintext value", err)
	// The original still opens.
	if err := inner.Set(ctx, "k", good, 0); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetDelete(ctx, "k"); err != nil || string(v) != "the session record" {
		t.Fatalf("GetDelete of the untouched value = %q, %v", v, err)
	}
}

func TestEncryptValueBoundToKeyName(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	s := mustEncrypt(t, inner, store.NewKey())
	if err := s.Set(ctx, "did:plc:alice", []byte("alice's tokens"), 0); err != nil {
		t.Fatal(err)
	}
	raw, _ := inner.Get(ctx, "did:plc:alice")
	if err := inner.Set(ctx, "did:plc:mallory", raw, 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, "did:plc:mallory")
	wantDecryptError(t, "Get of a value copied from another key", err)
}

func TestEncryptRotation(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	oldKey, newKey := store.NewKey(), store.NewKey()

	before := mustEncrypt(t, inner, oldKey)
	if err := before.Set(ctx, "old", []byte("sealed with the old key"), 0); err != nil {
		t.Fatal(err)
	}

	// Rotate: the new key first, the old one kept for reading.
	during := mustEncrypt(t, inner, newKey, oldKey)
	if v, err := during.Get(ctx, "old"); err != nil || string(v) != "sealed with the old key" {
		t.Fatalf("Get of an old value after rotation = %q, %v", v, err)
	}
	if err := during.Set(ctx, "new", []byte("sealed with the new key"), 0); err != nil {
		t.Fatal(err)
	}
	raw, _ := inner.Get(ctx, "new")
	if hexOf(raw[1:5]) != store.KeyID(newKey) {
		t.Fatalf("a new value was sealed with key id %x, want the first key's %s", raw[1:5], store.KeyID(newKey))
	}
	// Rewriting an old value moves it to the new key.
	v, _ := during.Get(ctx, "old")
	if err := during.Set(ctx, "old", v, 0); err != nil {
		t.Fatal(err)
	}

	// The old key retired: everything rewritten still opens.
	after := mustEncrypt(t, inner, newKey)
	for _, k := range []string{"old", "new"} {
		if _, err := after.Get(ctx, k); err != nil {
			t.Fatalf("Get(%q) with only the new key: %v", k, err)
		}
	}
	// A value left under the retired key reports which key it needs.
	if err := before.Set(ctx, "stale", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	_, err := after.Get(ctx, "stale")
	de := wantDecryptError(t, "Get of a value sealed with a retired key", err)
	if de.KeyID != store.KeyID(oldKey) {
		t.Fatalf("DecryptError.KeyID = %q, want %q", de.KeyID, store.KeyID(oldKey))
	}
	// A foreign key (another app's) is refused the same way.
	_, err = mustEncrypt(t, inner, store.NewKey()).Get(ctx, "new")
	wantDecryptError(t, "Get with a foreign key", err)
}

func TestEncryptRestoresOnRace(t *testing.T) {
	// The value is swapped for a bad one between GetDelete's check and its
	// inner GetDelete: the bad value is put back, not lost.
	ctx := context.Background()
	inner := &swapOnGet{Store: memstore.New()}
	s := mustEncrypt(t, inner, store.NewKey())
	if err := s.Set(ctx, "k", []byte("good"), 0); err != nil {
		t.Fatal(err)
	}
	inner.swap = []byte("garbage that is long enough to have a header and a tag")
	_, err := s.GetDelete(ctx, "k")
	wantDecryptError(t, "GetDelete racing a bad write", err)
	if v, err := inner.Store.Get(ctx, "k"); err != nil || !bytes.Equal(v, inner.swap) {
		t.Fatalf("inner value after the failed GetDelete = %q, %v; want the bad value kept", v, err)
	}
}

// swapOnGet replaces the value right after the first Get returns.
type swapOnGet struct {
	store.Store
	swap []byte
	done bool
}

func (s *swapOnGet) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Store.Get(ctx, key)
	if s.swap != nil && !s.done {
		s.done = true
		_ = s.Store.Set(ctx, key, s.swap, 0)
	}
	return v, err
}

func TestEncryptBadKeys(t *testing.T) {
	k := store.NewKey()
	for name, keys := range map[string][][]byte{
		"none":      nil,
		"short":     {make([]byte, 16)},
		"long":      {make([]byte, 33)},
		"duplicate": {k, store.NewKey(), bytes.Clone(k)},
	} {
		if _, err := store.Encrypt(memstore.New(), keys...); err == nil {
			t.Errorf("%s: Encrypt succeeded", name)
		}
	}
	if _, err := store.Encrypt(nil, k); err == nil {
		t.Error("Encrypt(nil) succeeded")
	}
}

func TestEncryptPassesErrorsThrough(t *testing.T) {
	ctx := context.Background()
	s := mustEncrypt(t, memstore.New(), store.NewKey())
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(missing): %v", err)
	}
	if _, err := s.GetDelete(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetDelete(missing): %v", err)
	}
}
