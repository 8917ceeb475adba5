package oauthtransport

import "context"

// EventType says what happened to a session.
type EventType int

const (
	// SessionUpdated: a session was saved (new login or refreshed tokens).
	SessionUpdated EventType = iota + 1
	// SessionDeleted: a session was deleted; Event.Cause says why.
	SessionDeleted
)

// String returns "updated" or "deleted".
func (t EventType) String() string {
	switch t {
	case SessionUpdated:
		return "updated"
	case SessionDeleted:
		return "deleted"
	}
	return "unknown"
}

// Event reports a change to a stored session. Handlers run synchronously on
// the goroutine that made the change; they must not block for long.
type Event struct {
	// Type is what happened.
	Type EventType
	// DID is the session's account.
	DID string
	// Info describes the tokens after an update.
	Info TokenInfo
	// Cause says why a session was deleted. It wraps one of
	// ErrTokenRevoked (sign-out), ErrRefreshRejected, ErrTokenInvalid,
	// ErrAuthMethodUnsatisfiable, ErrIssuerMismatch or ErrSubjectMismatch.
	Cause error
}

func (c *Client) emit(ctx context.Context, e Event) {
	if c.onEvent != nil {
		c.onEvent(ctx, e)
	}
}
