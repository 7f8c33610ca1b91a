package config

import (
	"fmt"
	"log/slog"
)

// Secret holds a password. Every way of printing it (fmt verbs, %#v,
// encoding/json, encoding.TextMarshaler, slog) shows "xxx", or "" when the
// secret is empty. Only Reveal returns the value.
type Secret string

// redacted is what a non-empty Secret prints as.
const redacted = "xxx"

// Reveal returns the password itself. Call it only where the value is handed
// to a MySQL driver or a CHANGE MASTER statement, never for output.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

// String returns "xxx" for a non-empty secret and "" for an empty one.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is used by %#v; it never shows the value.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// Format makes every fmt verb (%s, %v, %q, %x, %d...) print the redacted form.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
	case 'q':
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	fmt.Fprint(f, s.String())
}

// MarshalJSON encodes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return fmt.Appendf(nil, "%q", s.String()), nil }

// MarshalText encodes the redacted form (used by encoders other than JSON).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue makes slog print the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
