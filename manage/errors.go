package manage

import (
	"errors"
	"fmt"
)

// Kind says why an operation refused.
type Kind int

// The kinds of refusal; the web layer maps each to an HTTP status.
const (
	// Invalid input: the request's fault (400).
	Invalid Kind = iota + 1
	// Forbidden to the caller's role (403).
	Forbidden
	// NotFound: the thing acted on does not exist (404).
	NotFound
	// Conflict with what is stored: a name taken, a row still in use (409).
	Conflict
	// Unavailable: a dependency (Temporal) did not take the change; trying
	// again later may work (503).
	Unavailable
)

// Error is a refusal meant for the client. Field names the input field at
// fault ("" when the refusal concerns none); Msg is the whole message, and
// begins with the field ("targets[3]: ...") when there is one.
type Error struct {
	Kind  Kind
	Field string
	Msg   string
}

func (e *Error) Error() string { return e.Msg }

// refuse makes an *Error whose message is format applied to args.
func refuse(kind Kind, field, format string, args ...any) *Error {
	return &Error{Kind: kind, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// invalid is a refusal of field's value; the message starts with field.
func invalid(field, format string, args ...any) *Error {
	return refuse(Invalid, field, "%s: %s", field, fmt.Sprintf(format, args...))
}

// storeErr turns a store sentinel (target) in err into a refusal, and
// leaves any other error alone: unexpected failures stay internal.
func storeErr(err, target error, kind Kind, field, format string, args ...any) error {
	if err != nil && errors.Is(err, target) {
		return refuse(kind, field, format, args...)
	}
	return err
}
