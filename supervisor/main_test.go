package supervisor

import (
	"os"
	"testing"

	"github.com/gomha/gomha/node"
)

// TestMain keeps the MySQL driver's own log lines (a killed master's
// "unexpected EOF") out of the test output, as gomha's main does.
func TestMain(m *testing.M) {
	node.QuietDriverLogs()
	os.Exit(m.Run())
}
