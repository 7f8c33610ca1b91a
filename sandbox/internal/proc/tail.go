package proc

import (
	"os"
	"strings"
)

// readTail reads the last n bytes of a file; cut says whether it holds more.
func readTail(path string, n int64) (b []byte, cut bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false
	}
	off := max(st.Size()-n, 0)
	b = make([]byte, st.Size()-off)
	_, _ = f.ReadAt(b, off)
	return b, off > 0
}

// Tail returns the last n bytes of a file, trimmed, for an error message
// ("" when it cannot be read).
func Tail(path string, n int64) string {
	b, _ := readTail(path, n)
	return strings.TrimSpace(string(b))
}

// TailLines returns the whole lines among the last n bytes of a file: a
// first line cut by the n bytes is left out when others follow.
func TailLines(path string, n int64) []string {
	b, cut := readTail(path, n)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if cut && len(lines) > 1 {
		lines = lines[1:]
	}
	return lines
}
