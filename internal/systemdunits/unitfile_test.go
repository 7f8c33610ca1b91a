package systemdunits

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// unit is a systemd unit file: section -> key -> every assignment, in
// order (an empty assignment is kept: it resets a list in systemd).
type unit struct {
	path     string
	sections map[string]map[string][]string
}

func readUnit(path string) (*unit, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	u := &unit{path: path, sections: map[string]map[string][]string{}}
	section := ""
	sc := bufio.NewScanner(f)
	n := 0
	var cont strings.Builder
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if cont.Len() == 0 && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if strings.HasSuffix(line, `\`) { // continuation: joined with a space
			cont.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		if cont.Len() > 0 {
			line = cont.String() + line
			cont.Reset()
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			if u.sections[section] == nil {
				u.sections[section] = map[string][]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			return nil, fmt.Errorf("%s:%d: not a key=value line in a section: %q", path, n, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		u.sections[section][k] = append(u.sections[section][k], v)
	}
	return u, sc.Err()
}

// all returns every assignment of key in section.
func (u *unit) all(section, key string) []string { return u.sections[section][key] }

// get returns the last assignment of key in section, and whether there is
// one.
func (u *unit) get(section, key string) (string, bool) {
	vs := u.all(section, key)
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// words returns the words of every assignment of key since the last empty
// one, as systemd builds a list setting.
func (u *unit) words(section, key string) []string {
	var ws []string
	for _, v := range u.all(section, key) {
		if v == "" {
			ws = nil
			continue
		}
		ws = append(ws, strings.Fields(v)...)
	}
	return ws
}

// parseTimespan reads a systemd time span: "300" (seconds), "5min",
// "1h 30min", "90s", "infinity".
func parseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "infinity" {
		return time.Duration(1<<63 - 1), nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	units := []struct {
		name string
		d    time.Duration
	}{ // longer names first: "min" before "m", "ms" before "s"
		{"hours", time.Hour}, {"hour", time.Hour}, {"hr", time.Hour}, {"h", time.Hour},
		{"minutes", time.Minute}, {"minute", time.Minute}, {"min", time.Minute}, {"ms", time.Millisecond}, {"m", time.Minute},
		{"seconds", time.Second}, {"second", time.Second}, {"sec", time.Second}, {"s", time.Second},
	}
	var total time.Duration
	rest := strings.ReplaceAll(s, " ", "")
	if rest == "" {
		return 0, fmt.Errorf("empty time span")
	}
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("time span %q: no number before %q", s, rest)
		}
		n, _ := strconv.Atoi(rest[:i])
		rest = rest[i:]
		found := false
		for _, un := range units {
			if strings.HasPrefix(rest, un.name) {
				total += time.Duration(n) * un.d
				rest = rest[len(un.name):]
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("time span %q: unknown unit at %q", s, rest)
		}
	}
	return total, nil
}
