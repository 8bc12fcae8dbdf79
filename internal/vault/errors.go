package vault

import (
	"errors"
	"fmt"
)

// Kind classifies an Error. The API layer maps each kind to an HTTP status.
type Kind int

// Error kinds.
const (
	KindInvalid   Kind = iota + 1 // bad input: 400
	KindNotFound                  // no such object: 404
	KindForbidden                 // the operation is not allowed on the object: 403
	KindConflict                  // the object's state prevents the operation: 409
)

// Error is a failure the caller can act on. Code and Inner are Azure Key
// Vault error codes (BadParameter, SecretNotFound, Conflict, ...) and Message
// is safe to return to the client: it never holds a secret value.
type Error struct {
	Kind    Kind
	Code    string
	Inner   string // optional innererror code, such as SecretDisabled
	Message string
}

func (e *Error) Error() string {
	if e.Inner != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Inner, e.Message)
	}
	return e.Code + ": " + e.Message
}

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool {
	e := AsError(err)
	return e != nil && e.Kind == k
}

func badParameter(format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: "BadParameter", Message: fmt.Sprintf(format, args...)}
}
