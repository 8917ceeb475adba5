package lex

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
)

// Object is implemented by every generated object and record type, and by
// [*Unknown]. Open unions and lexicon "unknown" fields hold Objects.
type Object interface {
	// LexiconType returns the value of "$type" that identifies the type:
	// the NSID for a lexicon's main definition ("app.bsky.feed.post"), or
	// NSID#name for another ("app.bsky.feed.defs#postView").
	LexiconType() string
	// EncodeLex writes the value as JSON. When typed is true, "$type" is
	// written even if the value was not decoded with one (union members and
	// records always carry it). The receiver is never modified.
	EncodeLex(e *Encoder, typed bool)
	// DecodeLex reads the value from JSON, replacing the receiver's
	// contents.
	DecodeLex(d *Decoder)
}

// Marshal encodes v as JSON, with "$type".
func Marshal(v Object) ([]byte, error) {
	var e Encoder
	EncodeObject(&e, v)
	return e.Bytes()
}

// Unmarshal decodes data into v. It fails if data holds more than one value.
func Unmarshal(data []byte, v Object) error {
	d := NewDecoder(data)
	v.DecodeLex(d)
	return withPath(d.Finish(), data)
}

// EncodeObject writes a union member or "unknown" value, with "$type". A nil
// Object (or a nil pointer in one) is written as null.
func EncodeObject(e *Encoder, v Object) {
	if v == nil {
		e.Null()
		return
	}
	v.EncodeLex(e, true)
}

var registry sync.Map // $type string → func() Object

// Register makes DecodeAny decode objects whose "$type" is typ into the
// type returned by newObject. Generated packages register their records and
// objects from init functions, so importing a package is enough.
// Registering a type twice keeps the first registration.
func Register(typ string, newObject func() Object) {
	registry.LoadOrStore(typ, newObject)
}

// New returns a new zero value of the type registered for the given "$type"
// ("app.bsky.feed.post", or NSID#name; NSID#main is the same as NSID), or nil.
func New(typ string) Object {
	f, ok := registry.Load(typ)
	if !ok {
		base, frag, found := strings.Cut(typ, "#")
		if !found || frag != "main" {
			return nil
		}
		if f, ok = registry.Load(base); !ok {
			return nil
		}
	}
	return f.(func() Object)()
}

// DecodeAny reads a lexicon "unknown" value: an object whose "$type" is
// registered decodes to that type, anything else to an [*Unknown] that keeps
// its bytes. A JSON null yields nil.
func DecodeAny(d *Decoder) Object {
	if d.Null() {
		return nil
	}
	if v := New(d.PeekType()); v != nil {
		return DecodeMember(d, v)
	}
	return DecodeUnknown(d)
}

// DecodeUnknown reads the next value into an [*Unknown] without looking up
// its type. A JSON null yields nil.
func DecodeUnknown(d *Decoder) Object {
	if d.Null() {
		return nil
	}
	u := new(Unknown)
	u.DecodeLex(d)
	if d.Err() != nil {
		return nil
	}
	return u
}

// Unknown holds a value that this program has no type for: an open-union
// member or "unknown" field whose "$type" is not one the lexicons it was
// generated from know, or an untyped object (a DID document, a PLC
// operation). It re-encodes byte for byte.
type Unknown struct {
	// Type is the value's "$type", or "" if it has none.
	Type string
	// Raw is the value's JSON.
	Raw json.RawMessage
	// Err, when not nil, says why a value whose "$type" is known could not
	// be decoded into its type; Raw still holds it unchanged.
	Err error
}

// LexiconType returns u.Type.
func (u *Unknown) LexiconType() string { return u.Type }

// EncodeLex writes u.Raw unchanged.
func (u *Unknown) EncodeLex(e *Encoder, typed bool) {
	if u == nil {
		e.Null()
		return
	}
	e.Raw(u.Raw)
}

// DecodeLex reads any JSON value into u.
func (u *Unknown) DecodeLex(d *Decoder) {
	u.Type = d.PeekType()
	u.Raw = bytes.Clone(d.Raw())
}

// Decode unmarshals u.Raw into v with encoding/json, for untyped objects
// such as DID documents.
func (u *Unknown) Decode(v any) error { return json.Unmarshal(u.Raw, v) }

// MarshalJSON returns u.Raw.
func (u *Unknown) MarshalJSON() ([]byte, error) { return Marshal(u) }

// UnmarshalJSON keeps a copy of data.
func (u *Unknown) UnmarshalJSON(data []byte) error { return Unmarshal(data, u) }

// UnionError reports a "$type" that a closed union does not allow, or a
// member value of a type the union does not list.
type UnionError struct {
	Union string // the union, as "NSID#def.field"
	Type  string // the offending "$type"
}

func (e *UnionError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("lex: closed union %s: member has no $type", e.Union)
	}
	return fmt.Sprintf("lex: closed union %s does not allow $type %q", e.Union, e.Type)
}

// Extra holds what a decoded object carried beyond its lexicon definition:
// members the lexicon (or the version of it this code was generated from)
// does not define, in their original order and bytes, and the literal
// "$type" if there was one. Encoding writes them back, so decoding then
// encoding loses nothing. The zero value is empty.
type Extra struct {
	typ    string
	fields []extraField
}

type extraField struct {
	name string
	raw  []byte
	set  bool // added with Set rather than decoded
}

// Type returns the "$type" the object was decoded with, or "".
func (x *Extra) Type() string { return x.typ }

// SetType sets the "$type" written when the object is encoded, replacing
// the one it was decoded with ("" writes the canonical one where a $type is
// required, and none elsewhere).
func (x *Extra) SetType(typ string) { x.typ = typ }

// DecodeType reads the value of a "$type" member; generated decoders call
// it. A second "$type" in one object is an error: unions dispatch on the
// first, so keeping either would change what the object is.
func (x *Extra) DecodeType(d *Decoder, canonical string) {
	if x.typ != "" {
		d.syntax(`duplicate "$type" member`)
		return
	}
	x.typ = d.StringIntern(canonical)
}

// Capture reads the value of the member named name from d and keeps a copy.
func (x *Extra) Capture(d *Decoder, name []byte) {
	raw := d.Raw()
	if d.Err() != nil {
		return
	}
	x.fields = append(x.fields, extraField{name: string(name), raw: bytes.Clone(raw)})
}

// Len returns the number of extra members.
func (x *Extra) Len() int { return len(x.fields) }

// Get returns the JSON of the extra member name.
func (x *Extra) Get(name string) (json.RawMessage, bool) {
	for _, f := range x.fields {
		if f.name == name {
			return f.raw, true
		}
	}
	return nil, false
}

// Set adds or replaces the extra member name. raw must be one well-formed
// JSON value. Setting a member the lexicon defines has no effect on
// encoding: the typed field wins. "$type" is set with [Extra.SetType].
func (x *Extra) Set(name string, raw json.RawMessage) error {
	if name == "$type" {
		return errors.New(`lex: Extra.Set: "$type" is set with SetType`)
	}
	d := NewDecoder(raw)
	d.Skip()
	if err := d.Finish(); err != nil {
		return err
	}
	raw = bytes.Clone(raw)
	for i, f := range x.fields {
		if f.name == name {
			x.fields[i].raw, x.fields[i].set = raw, true
			return nil
		}
	}
	x.fields = append(x.fields, extraField{name: name, raw: raw, set: true})
	return nil
}

// Delete removes the extra member name.
func (x *Extra) Delete(name string) {
	x.fields = slices.DeleteFunc(x.fields, func(f extraField) bool { return f.name == name })
}

// All iterates over the extra members in their original order.
func (x *Extra) All() iter.Seq2[string, json.RawMessage] {
	return func(yield func(string, json.RawMessage) bool) {
		for _, f := range x.fields {
			if !yield(f.name, f.raw) {
				return
			}
		}
	}
}

// Encode writes the extra members into the object being encoded. defined
// lists the members the lexicon defines, each followed by a NUL byte
// ("text\x00createdAt\x00"): a member added with Set under one of those
// names is skipped, since the typed field was written.
func (x *Extra) Encode(e *Encoder, defined string) {
	for _, f := range x.fields {
		if f.set && definesMember(defined, f.name) {
			continue
		}
		e.Field(f.name)
		e.Raw(f.raw)
	}
}

func definesMember(defined, name string) bool {
	for defined != "" {
		var m string
		m, defined, _ = strings.Cut(defined, "\x00")
		if m == name {
			return true
		}
	}
	return false
}

// EncodeType writes the "$type" member when typed is set or the object was
// decoded with one; it writes the decoded literal when there was one, and
// canonical otherwise.
func (x *Extra) EncodeType(e *Encoder, canonical string, typed bool) {
	switch {
	case x.typ != "":
		e.Field("$type")
		e.String(x.typ)
	case typed:
		e.Field("$type")
		e.String(canonical)
	}
}

// Equal reports whether x and y hold the same "$type" and members; it lets
// go-cmp compare generated types.
func (x Extra) Equal(y Extra) bool {
	return x.typ == y.typ && slices.EqualFunc(x.fields, y.fields, func(a, b extraField) bool {
		return a.name == b.name && bytes.Equal(a.raw, b.raw)
	})
}

// Ptr returns a pointer to v, for optional fields and parameters:
// Limit: lex.Ptr[int64](50).
func Ptr[T any](v T) *T { return &v }

// Nullable is a value that may be JSON null, for the few lexicon fields
// declared nullable. The zero value is null. An optional nullable field is
// a *Nullable: nil means absent.
type Nullable[T any] struct {
	Value T
	Valid bool // false means null
}

// NullableOf returns a non-null Nullable holding v.
func NullableOf[T any](v T) Nullable[T] { return Nullable[T]{Value: v, Valid: true} }

// CIDLink is a link to content by CID, written in JSON as {"$link": "bafy..."}.
type CIDLink string

// String returns the CID in its string form.
func (c CIDLink) String() string { return string(c) }

// EncodeLex writes {"$link": c}.
func (c CIDLink) EncodeLex(e *Encoder) {
	e.BeginObject()
	e.Field("$link")
	e.String(string(c))
	e.EndObject()
}

// DecodeLex reads {"$link": "..."}.
func (c *CIDLink) DecodeLex(d *Decoder) {
	*c = ""
	if !d.BeginObject() {
		return
	}
	for d.More() {
		if string(d.Key()) == "$link" {
			*c = CIDLink(d.String())
		} else {
			d.Fail(&SyntaxError{Offset: d.pos, Msg: "unexpected member in cid-link"})
		}
	}
}

// MarshalJSON implements [json.Marshaler].
func (c CIDLink) MarshalJSON() ([]byte, error) {
	var e Encoder
	c.EncodeLex(&e)
	return e.Bytes()
}

// UnmarshalJSON implements [json.Unmarshaler].
func (c *CIDLink) UnmarshalJSON(data []byte) error {
	d := NewDecoder(data)
	c.DecodeLex(d)
	return d.Finish()
}

// Bytes is binary data, written in JSON as {"$bytes": "<base64>"}.
type Bytes []byte

// EncodeLex writes {"$bytes": base64}.
func (b Bytes) EncodeLex(e *Encoder) {
	e.BeginObject()
	e.Field("$bytes")
	e.String(base64.RawStdEncoding.EncodeToString(b))
	e.EndObject()
}

// DecodeLex reads {"$bytes": "..."}; padded and unpadded base64 are accepted.
func (b *Bytes) DecodeLex(d *Decoder) {
	*b = nil
	if !d.BeginObject() {
		return
	}
	for d.More() {
		if string(d.Key()) != "$bytes" {
			d.Fail(&SyntaxError{Offset: d.pos, Msg: "unexpected member in bytes"})
			return
		}
		s := d.String()
		v, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			d.Fail(&SyntaxError{Offset: d.pos, Msg: "invalid base64 in bytes"})
			return
		}
		*b = v
	}
}

// MarshalJSON implements [json.Marshaler].
func (b Bytes) MarshalJSON() ([]byte, error) {
	var e Encoder
	b.EncodeLex(&e)
	return e.Bytes()
}

// UnmarshalJSON implements [json.Unmarshaler].
func (b *Bytes) UnmarshalJSON(data []byte) error {
	d := NewDecoder(data)
	b.DecodeLex(d)
	return d.Finish()
}

// Blob is a reference to a blob (an image, a video) stored in a repository.
// Both JSON forms are read: the current
// {"$type":"blob","ref":{"$link":…},"mimeType":…,"size":…} and the legacy
// {"cid":…,"mimeType":…}; a blob is written back in the form it was read.
type Blob struct {
	Ref      CIDLink
	MimeType string
	// Size in bytes; unknown (0) for a legacy blob.
	Size int64
	// Legacy marks a blob read in the legacy form.
	Legacy bool
}

// EncodeLex writes the blob; a nil Blob is written as null.
func (b *Blob) EncodeLex(e *Encoder) {
	if b == nil {
		e.Null()
		return
	}
	e.BeginObject()
	if b.Legacy {
		e.Field("cid")
		e.String(string(b.Ref))
		e.Field("mimeType")
		e.String(b.MimeType)
		e.EndObject()
		return
	}
	e.Field("$type")
	e.String("blob")
	e.Field("ref")
	b.Ref.EncodeLex(e)
	e.Field("mimeType")
	e.String(b.MimeType)
	e.Field("size")
	e.Int(b.Size)
	e.EndObject()
}

// DecodeLex reads either blob form.
func (b *Blob) DecodeLex(d *Decoder) {
	*b = Blob{}
	if !d.BeginObject() {
		return
	}
	typed := false
	for d.More() {
		switch string(d.Key()) {
		case "$type":
			typed = d.String() == "blob"
		case "ref":
			b.Ref.DecodeLex(d)
		case "cid":
			b.Ref = CIDLink(d.String())
			b.Legacy = true
		case "mimeType":
			b.MimeType = d.String()
		case "size":
			b.Size = d.Int()
		default:
			d.Skip()
		}
	}
	if b.Legacy && typed {
		b.Legacy = false
	}
}

// MarshalJSON implements [json.Marshaler].
func (b Blob) MarshalJSON() ([]byte, error) {
	var e Encoder
	b.EncodeLex(&e)
	return e.Bytes()
}

// UnmarshalJSON implements [json.Unmarshaler].
func (b *Blob) UnmarshalJSON(data []byte) error {
	d := NewDecoder(data)
	b.DecodeLex(d)
	return d.Finish()
}
