package config

import (
	"errors"
	"strings"
)

// Error is a configuration error. It names the file, the block (section) and
// the parameter (key) when they are known, and never contains a password.
// Test for it with errors.As.
type Error struct {
	File    string // the file as given to Load (or the global file)
	Section string // block name without brackets, e.g. "server2"; "" when not about one block
	Key     string // parameter name; "" when not about one parameter
	Msg     string // what is wrong
	Err     error  // underlying error, if any (for example a resolver error)
}

// Error renders "file: [section] key: msg", leaving out the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Section != "" {
		b.WriteString(": [" + e.Section + "]")
	}
	if e.Key != "" {
		if e.Section == "" {
			b.WriteString(":")
		}
		b.WriteString(" " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ErrBlockNotFound is returned by EditHost when the block to delete does not
// exist (masterha_conf_host only prints a message in that case and exits 0).
var ErrBlockNotFound = errors.New("block not found")

// ErrBlockExists is returned by EditHost when the block to add already exists.
var ErrBlockExists = errors.New("block already exists")
