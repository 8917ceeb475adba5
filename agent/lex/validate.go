package lex

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/rivo/uniseg"
)

// ValidationError reports a value that breaks a constraint of its lexicon:
// a text over its grapheme limit, too many images, a missing required field,
// a malformed DID. Generated Validate methods return them, joined with
// errors.Join when there are several; errors.As finds the first.
type ValidationError struct {
	// Type is the lexicon type checked ("app.bsky.feed.post").
	Type string
	// Path locates the value inside it ("embed.images[4]", "text").
	Path string
	// Msg says what is wrong.
	Msg string
}

func (e *ValidationError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("lex: invalid %s: %s", e.Type, e.Msg)
	}
	return fmt.Sprintf("lex: invalid %s: %s: %s", e.Type, e.Path, e.Msg)
}

// Validate checks v against its lexicon's constraints when v has them
// (every generated object and record does) and returns nil otherwise.
func Validate(v any) error {
	if x, ok := v.(interface{ ValidateLex(string) error }); ok {
		return x.ValidateLex("")
	}
	return nil
}

// GraphemeLen returns the number of user-perceived characters (extended
// grapheme clusters) in s, the unit of lexicon maxGraphemes limits.
func GraphemeLen(s string) int { return uniseg.GraphemeClusterCount(s) }

// Join returns the path of field inside parent.
func Join(parent, field string) string {
	if parent == "" {
		return field
	}
	return parent + "." + field
}

// Index returns the path of element i of the array at parent.
func Index(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

// StringRules are the lexicon constraints of a string. Zero fields are
// not checked.
type StringRules struct {
	MinLength, MaxLength       int // in UTF-8 bytes
	MinGraphemes, MaxGraphemes int
	Format                     string   // "did", "handle", "at-uri", "datetime", ...
	Enum                       []string // a closed set of values
	Const                      string
}

// IntRules are the lexicon constraints of an integer.
type IntRules struct {
	Min, Max       int64
	HasMin, HasMax bool
	Enum           []int64
}

// Checker collects the violations found while validating one value.
// Generated ValidateLex methods use it.
type Checker struct {
	// Type is the lexicon type being checked, for error messages.
	Type string
	errs []error
}

// Fail records a violation at path.
func (c *Checker) Fail(path, format string, args ...any) {
	c.errs = append(c.errs, &ValidationError{Type: c.Type, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Err returns the violations found, joined, or nil.
func (c *Checker) Err() error { return errors.Join(c.errs...) }

// Nested records the violations of a nested value (an object, a union
// member, a record in an "unknown" field) that implements ValidateLex.
func (c *Checker) Nested(path string, v any) {
	if x, ok := v.(interface{ ValidateLex(string) error }); ok {
		if err := x.ValidateLex(path); err != nil {
			c.errs = append(c.errs, err)
		}
	}
}

// Required records a violation when a required member is missing.
func (c *Checker) Required(path string, present bool) {
	if !present {
		c.Fail(path, "required")
	}
}

// String checks s against r.
func (c *Checker) String(path, s string, r StringRules) {
	if r.MaxLength > 0 && len(s) > r.MaxLength {
		c.Fail(path, "%d bytes, at most %d allowed", len(s), r.MaxLength)
	}
	if r.MinLength > 0 && len(s) < r.MinLength {
		c.Fail(path, "%d bytes, at least %d required", len(s), r.MinLength)
	}
	if r.MaxGraphemes > 0 || r.MinGraphemes > 0 {
		n := GraphemeLen(s)
		if r.MaxGraphemes > 0 && n > r.MaxGraphemes {
			c.Fail(path, "%d graphemes, at most %d allowed", n, r.MaxGraphemes)
		}
		if r.MinGraphemes > 0 && n < r.MinGraphemes {
			c.Fail(path, "%d graphemes, at least %d required", n, r.MinGraphemes)
		}
	}
	if len(r.Enum) > 0 && !slices.Contains(r.Enum, s) {
		c.Fail(path, "%q is not one of %s", s, strings.Join(r.Enum, ", "))
	}
	if r.Const != "" && s != r.Const {
		c.Fail(path, "%q must be %q", s, r.Const)
	}
	if r.Format != "" {
		if err := CheckFormat(r.Format, s); err != nil {
			c.Fail(path, "%v", err)
		}
	}
}

// Int checks n against r.
func (c *Checker) Int(path string, n int64, r IntRules) {
	if r.HasMin && n < r.Min {
		c.Fail(path, "%d is less than the minimum %d", n, r.Min)
	}
	if r.HasMax && n > r.Max {
		c.Fail(path, "%d is more than the maximum %d", n, r.Max)
	}
	if len(r.Enum) > 0 && !slices.Contains(r.Enum, n) {
		c.Fail(path, "%d is not an allowed value", n)
	}
}

// Len checks the length of an array (items) or bytes value; a zero bound is
// not checked.
func (c *Checker) Len(path string, n, minLen, maxLen int) {
	if maxLen > 0 && n > maxLen {
		c.Fail(path, "%d items, at most %d allowed", n, maxLen)
	}
	if minLen > 0 && n < minLen {
		c.Fail(path, "%d items, at least %d required", n, minLen)
	}
}

// Blob checks a blob's media type against accept (patterns such as
// "image/*" or "*/*"; empty accepts anything) and its size against maxSize
// (0: no limit).
func (c *Checker) Blob(path string, b *Blob, accept []string, maxSize int64) {
	if b == nil {
		return
	}
	if maxSize > 0 && b.Size > maxSize {
		c.Fail(path, "blob of %d bytes, at most %d allowed", b.Size, maxSize)
	}
	if len(accept) > 0 && !slices.ContainsFunc(accept, func(p string) bool { return mimeMatch(p, b.MimeType) }) {
		c.Fail(path, "blob type %q is not one of %s", b.MimeType, strings.Join(accept, ", "))
	}
}

func mimeMatch(pattern, mt string) bool {
	if pattern == "*/*" || pattern == mt {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "/*"); ok {
		return strings.HasPrefix(mt, prefix+"/")
	}
	return false
}

// CheckFormat reports whether s has the lexicon string format format
// (did, handle, at-identifier, at-uri, nsid, cid, datetime, tid,
// record-key, language, uri). Unknown formats are not checked.
func CheckFormat(format, s string) error {
	var err error
	switch format {
	case "did":
		_, err = syntax.ParseDID(s)
	case "handle":
		_, err = syntax.ParseHandle(s)
	case "at-identifier":
		_, err = syntax.ParseAtIdentifier(s)
	case "at-uri":
		_, err = syntax.ParseATURI(s)
	case "nsid":
		_, err = syntax.ParseNSID(s)
	case "cid":
		_, err = syntax.ParseCID(s)
	case "datetime":
		_, err = syntax.ParseDatetime(s)
	case "tid":
		_, err = syntax.ParseTID(s)
	case "record-key":
		_, err = syntax.ParseRecordKey(s)
	case "language":
		_, err = syntax.ParseLanguage(s)
	case "uri":
		_, err = syntax.ParseURI(s)
	}
	if err != nil {
		return fmt.Errorf("not a valid %s: %q", format, s)
	}
	return nil
}
