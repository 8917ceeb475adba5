// Package lex is the small runtime that the generated lexicon packages
// (agent/bsky, agent/atproto, agent/chat, agent/ozone, ... and any package a
// user generates with lexgen) are built on.
//
// It holds three things:
//
//   - The data model of atproto lexicons that is not a plain Go type: [Blob],
//     [CIDLink], [Bytes], [Nullable], [Unknown] (an object whose $type this
//     program does not know), and [Extra] (the members of an object that its
//     lexicon does not define, kept so that decoding then encoding loses
//     nothing).
//   - A streaming JSON [Decoder] and [Encoder] that the generated
//     UnmarshalJSON and MarshalJSON methods use. Each value is read once: a
//     union reads its "$type" without decoding its subtree twice.
//   - The XRPC transport contract, [Client], with a plain HTTP
//     implementation, [HTTPClient], the error type [Error] and the lexicon's
//     declared errors as [KnownError] values that work with [errors.Is].
//
// Every generated object and record type implements [Object].
package lex
