package expr

import "fmt"

// Error is a syntax or evaluation error in an expression. Offset is the
// 0-based byte offset in the source the error concerns (for errors from
// ExpandTemplate, in the whole string), so callers can turn it into a
// line and column of their file.
type Error struct {
	Offset int
	Msg    string
	Err    error // the underlying error, if any (from a Func)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Error returns the message followed by the 1-based column.
func (e *Error) Error() string {
	return fmt.Sprintf("%s (column %d)", e.Msg, e.Offset+1)
}

func errorf(off int, format string, args ...any) *Error {
	return &Error{Offset: off, Msg: fmt.Sprintf(format, args...)}
}
