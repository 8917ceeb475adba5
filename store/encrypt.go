package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// KeySize is the size in bytes of the keys [Encrypt] takes (AES-256).
const KeySize = 32

// ErrUndecryptable is wrapped by every [*DecryptError].
var ErrUndecryptable = errors.New("store: value cannot be decrypted")

// DecryptError reports a stored value that an encrypting store cannot open:
// it was tampered with, sealed under a key that is not configured (a foreign
// or retired key), stored under another key name, or is not a sealed value at
// all. The value is left in the underlying store, so that it can be recovered
// by configuring the right key. DecryptError wraps [ErrUndecryptable].
type DecryptError struct {
	// KeyID is the hex id of the key the value claims to be sealed with, or
	// "" if the value is too short to carry one.
	KeyID string
	// Reason says what is wrong, for people.
	Reason string
}

// Error implements error.
func (e *DecryptError) Error() string {
	if e.KeyID == "" {
		return "store: value cannot be decrypted: " + e.Reason
	}
	return "store: value cannot be decrypted (key id " + e.KeyID + "): " + e.Reason
}

// Unwrap returns ErrUndecryptable.
func (e *DecryptError) Unwrap() error { return ErrUndecryptable }

// NewKey returns a new random key for [Encrypt].
func NewKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // never fails: crypto/rand.Read crashes the program rather than return an error
	return k
}

// KeyID returns the id [Encrypt] records with every value sealed under key: the
// first 4 bytes of a SHA-256 of the key, in hex. It does not reveal the key.
func KeyID(key []byte) string {
	id := keyID(key)
	return hex.EncodeToString(id[:])
}

func keyID(key []byte) [4]byte {
	h := sha256.Sum256(append([]byte("atp store key id\x00"), key...))
	return [4]byte(h[:4])
}

// Encrypt returns a Store that seals values with AES-256-GCM before passing
// them to inner, and opens them on the way back. Keys (the names) are stored
// as they are; values are sealed, and bound to their key name so that a value
// copied to another key does not open.
//
// keys must be one or more 32-byte keys ([NewKey]) from a secret the app
// keeps outside the store. The first key seals new values; every key opens
// the values it sealed. To rotate: put a new key first and keep the old ones
// until every value sealed with them has been rewritten or has expired.
//
// A value that does not open (tampered, sealed under a key that is not in
// keys, or not a sealed value) makes Get and GetDelete return a
// [*DecryptError], and stays in inner.
//
// A sealed value is 33 bytes longer than the plaintext: a format version
// byte, a 4-byte key id ([KeyID]), a 12-byte random nonce, and the 16-byte
// GCM tag. Random nonces keep each key safe for about 2³² values.
func Encrypt(inner Store, keys ...[]byte) (Store, error) {
	if inner == nil {
		return nil, errors.New("store: Encrypt: nil inner store")
	}
	if len(keys) == 0 {
		return nil, errors.New("store: Encrypt: no keys")
	}
	e := &encrypted{inner: inner, aeads: make(map[[4]byte]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("store: Encrypt: key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("store: Encrypt: key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("store: Encrypt: key %d: %w", i, err)
		}
		id := keyID(k)
		if _, dup := e.aeads[id]; dup {
			return nil, fmt.Errorf("store: Encrypt: key %d repeats an earlier key (id %x)", i, id)
		}
		e.aeads[id] = aead
		if i == 0 {
			e.sealID, e.seal = id, aead
		}
	}
	return e, nil
}

const (
	formatV1    = 1
	headerSize  = 1 + 4 // version, key id
	nonceSize   = 12
	sealedExtra = headerSize + nonceSize + 16
)

type encrypted struct {
	inner  Store
	sealID [4]byte
	seal   cipher.AEAD
	aeads  map[[4]byte]cipher.AEAD
}

// aad binds a sealed value to its header and to the key it is stored under.
func aad(header []byte, key string) []byte {
	a := make([]byte, 0, len(header)+8+len(key))
	a = append(a, header...)
	a = binary.BigEndian.AppendUint64(a, uint64(len(key)))
	return append(a, key...)
}

func (e *encrypted) sealValue(key string, value []byte) []byte {
	out := make([]byte, headerSize+nonceSize, sealedExtra+len(value))
	out[0] = formatV1
	copy(out[1:headerSize], e.sealID[:])
	nonce := out[headerSize : headerSize+nonceSize]
	_, _ = rand.Read(nonce)
	return e.seal.Seal(out, nonce, value, aad(out[:headerSize], key))
}

func (e *encrypted) open(key string, sealed []byte) ([]byte, error) {
	if len(sealed) < headerSize {
		return nil, &DecryptError{Reason: fmt.Sprintf("%d bytes is too short for a sealed value", len(sealed))}
	}
	id := [4]byte(sealed[1:headerSize])
	kid := hex.EncodeToString(id[:])
	if sealed[0] != formatV1 {
		return nil, &DecryptError{KeyID: kid, Reason: fmt.Sprintf("unknown format version %d", sealed[0])}
	}
	if len(sealed) < sealedExtra {
		return nil, &DecryptError{KeyID: kid, Reason: fmt.Sprintf("%d bytes is too short for a sealed value", len(sealed))}
	}
	aead, ok := e.aeads[id]
	if !ok {
		return nil, &DecryptError{KeyID: kid, Reason: "no configured key has this id"}
	}
	nonce := sealed[headerSize : headerSize+nonceSize]
	plain, err := aead.Open(nil, nonce, sealed[headerSize+nonceSize:], aad(sealed[:headerSize], key))
	if err != nil {
		return nil, &DecryptError{KeyID: kid, Reason: "authentication failed: the value was modified, or stored under another key"}
	}
	if plain == nil {
		plain = []byte{}
	}
	return plain, nil
}

func (e *encrypted) Get(ctx context.Context, key string) ([]byte, error) {
	sealed, err := e.inner.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return e.open(key, sealed)
}

func (e *encrypted) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: encrypted set: %w", err)
	}
	return e.inner.Set(ctx, key, e.sealValue(key, value), ttl)
}

func (e *encrypted) Delete(ctx context.Context, key string) error {
	return e.inner.Delete(ctx, key)
}

// GetDelete consumes the value only if it opens. It reads it first, and
// refuses without deleting if it does not open; the inner GetDelete then
// keeps the operation atomic. If the value was replaced in between by one
// that does not open, that value is written back (without an expiry, which
// the Store interface cannot read) before the error is returned.
func (e *encrypted) GetDelete(ctx context.Context, key string) ([]byte, error) {
	sealed, err := e.inner.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if _, err := e.open(key, sealed); err != nil {
		return nil, err
	}
	sealed, err = e.inner.GetDelete(ctx, key)
	if err != nil {
		return nil, err
	}
	plain, err := e.open(key, sealed)
	if err != nil {
		if perr := e.inner.Set(context.WithoutCancel(ctx), key, sealed, 0); perr != nil {
			return nil, errors.Join(err, fmt.Errorf("store: restoring the undecryptable value: %w", perr))
		}
		return nil, err
	}
	return plain, nil
}
