// Package roundtrip holds the round-trip and fuzz tests of the generated
// lexicon packages (agent/bsky, agent/atproto and the rest): real-shaped
// AppView and PDS JSON in testdata/ is decoded into the generated types and
// encoded again, and must come back as the same JSON value — unknown union
// members, unknown fields, empty arrays, both blob forms and nullable fields
// included — while fuzz targets feed arbitrary input to records, views and
// unions and check that whatever decodes re-encodes to JSON that decodes
// again to an equal value. The package has no non-test code.
package roundtrip
