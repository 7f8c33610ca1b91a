package topology

import (
	"errors"
	"testing"
)

// TestConnErrorMessage: the key and the kind are said once, even when Go's
// dial error repeats them.
func TestConnErrorMessage(t *testing.T) {
	k := Key{"10.0.0.1", 3306}
	cases := []struct {
		e    ConnError
		want string
	}{
		{ConnError{Key: k, Kind: ConnRefused, Err: errors.New("dial tcp 10.0.0.1:3306: connect: connection refused")},
			"10.0.0.1:3306: connection refused"},
		{ConnError{Key: k, Kind: ConnTimeout, Err: errors.New("dial tcp 10.0.0.1:3306: i/o timeout")},
			"10.0.0.1:3306: timed out: i/o timeout"},
		{ConnError{Key: k, Kind: ConnAccessDenied, Err: errors.New("Error 1045 (28000): Access denied for user 'x'")},
			"10.0.0.1:3306: access denied: Error 1045 (28000): Access denied for user 'x'"},
		{ConnError{Key: k, Kind: ConnUnreachable}, "10.0.0.1:3306: unreachable"},
	}
	for _, c := range cases {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
