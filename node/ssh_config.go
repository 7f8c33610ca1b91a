package node

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// sshConfigBlock is one "Host" block of an ssh_config file (-F). Lines before
// the first Host line form a block that matches every host.
type sshConfigBlock struct {
	patterns []string // as written; "!pat" negates
	entries  []sshConfigEntry
}

// sshConfigEntry is one "Keyword value" line.
type sshConfigEntry struct {
	key, value string
	line       int
}

// readSSHConfig reads a small ssh_config(5) subset: Host blocks and the
// keywords SSHOptions honours or ignores. Match, Include and the keywords
// gomha refuses are errors, wherever they appear, so a bad file fails when the
// configuration is loaded rather than when a host is dialled.
func readSSHConfig(path string) ([]sshConfigBlock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-F: %w", err)
	}
	defer f.Close()
	blocks := []sshConfigBlock{{patterns: []string{"*"}}}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, value, err := sshSplitKeyValue(line)
		if err != nil {
			return nil, fmt.Errorf("-F %s:%d: %w", path, n, err)
		}
		if strings.EqualFold(key, "Host") {
			pats, err := sshSplitWords(value, false)
			if err != nil || len(pats) == 0 {
				return nil, fmt.Errorf("-F %s:%d: bad Host line", path, n)
			}
			blocks = append(blocks, sshConfigBlock{patterns: pats})
			continue
		}
		if !strings.EqualFold(key, "UserKnownHostsFile") {
			if words, err := sshSplitWords(value, false); err == nil && len(words) == 1 {
				value = words[0]
			}
		}
		var check SSHOptions
		if err := check.applyKeyword(key, value); errors.Is(err, errSSHUnsupported) {
			return nil, fmt.Errorf("-F %s:%d: %s %w", path, n, key, err)
		} else if err != nil {
			return nil, fmt.Errorf("-F %s:%d: %s: %w", path, n, key, err)
		}
		b := &blocks[len(blocks)-1]
		b.entries = append(b.entries, sshConfigEntry{key: key, value: value, line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("-F %s: %w", path, err)
	}
	return blocks, nil
}

// ForHost returns the options for one host: those given in ssh_options, then
// the values of the -F file's blocks that match host, in file order (the
// first value obtained wins, identity files accumulate), as ssh(1) does.
func (o SSHOptions) ForHost(host string) SSHOptions {
	r := o
	r.IdentityFiles = slices.Clone(o.IdentityFiles)
	r.UserKnownHostsFiles = slices.Clone(o.UserKnownHostsFiles)
	r.Ignored = slices.Clone(o.Ignored)
	r.configBlocks = nil
	for _, b := range o.configBlocks {
		if !sshHostMatches(b.patterns, host) {
			continue
		}
		for _, e := range b.entries {
			_ = r.applyKeyword(e.key, e.value) // checked by readSSHConfig
		}
	}
	return r
}

// sshHostMatches reports whether host matches a Host line: at least one
// pattern matches and no negated pattern does.
func sshHostMatches(patterns []string, host string) bool {
	host = strings.ToLower(host)
	matched := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.ToLower(strings.TrimPrefix(p, "!"))
		if !sshWildcardMatch(p, host) {
			continue
		}
		if neg {
			return false
		}
		matched = true
	}
	return matched
}

// sshWildcardMatch matches s against a pattern with "*" (any run) and "?"
// (one character).
func sshWildcardMatch(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if sshWildcardMatch(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return s == ""
}
