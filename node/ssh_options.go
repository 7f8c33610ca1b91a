package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// SSHOptions is what gomha honours from MHA's ssh_options string: the ssh(1)
// arguments that choose keys, user, port, known_hosts and timeouts.
//
// Within one ssh_options string the first value given for a setting wins, as
// in ssh(1); identity files accumulate. Values given here override ssh_user,
// ssh_port and ssh_connection_timeout from the MHA configuration, and values
// from the -F file apply only where neither gives one.
type SSHOptions struct {
	IdentityFiles       []string // -i FILE, IdentityFile; "~" expanded
	Port                int      // -p PORT, Port; 0 = not given
	User                string   // -l USER, User
	ConfigFile          string   // -F FILE, read by ParseSSHOptions
	UserKnownHostsFiles []string // UserKnownHostsFile; "~" expanded
	// StrictHostKeyChecking is "" (not given), "yes", "accept-new" or "no".
	// "ask" is stored as "yes" (gomha never prompts). "no" is honoured as
	// "accept-new": a changed host key is never accepted.
	StrictHostKeyChecking string
	ConnectTimeout        time.Duration // ConnectTimeout; 0 = not given
	// Ignored lists the options that were accepted but have no effect in
	// gomha (output, prompts, keepalives, multiplexing), for a debug log.
	Ignored []string

	configBlocks []sshConfigBlock // parsed ConfigFile
}

// errSSHUnsupported marks an ssh option gomha refuses.
var errSSHUnsupported = errors.New("is not supported by gomha")

// sshIgnoredOptions are ssh(1) -o keywords (lower case) that only shape the
// client's output, prompts, keepalives or connection reuse, or that gomha
// decides itself (HostKeyAlgorithms comes from known_hosts).
var sshIgnoredOptions = map[string]bool{
	"loglevel": true, "batchmode": true, "passwordauthentication": true,
	"serveraliveinterval": true, "serveralivecountmax": true, "connectionattempts": true,
	"compression": true, "controlmaster": true, "controlpath": true, "controlpersist": true,
	"gssapiauthentication": true, "gssapidelegatecredentials": true,
	"preferredauthentications": true, "kbdinteractiveauthentication": true,
	"challengeresponseauthentication": true, "tcpkeepalive": true, "checkhostip": true,
	"hashknownhosts": true, "sendenv": true, "identitiesonly": true, "addkeystoagent": true,
	"forwardx11": true, "forwardx11trusted": true, "updatehostkeys": true, "visualhostkey": true,
	"escapechar": true, "requesttty": true, "numberofpasswordprompts": true,
	"hostkeyalgorithms": true, "pubkeyacceptedkeytypes": true, "pubkeyacceptedalgorithms": true,
	"pubkeyauthentication": true, "hostbasedauthentication": true, "addressfamily": true,
	"usekeychain": true, "globalknownhostsfile": true,
}

// sshRefusedOptions are ssh(1) keywords gomha cannot honour safely: they run
// local commands or route or forward the connection.
var sshRefusedOptions = map[string]bool{
	"proxycommand": true, "proxyjump": true, "localcommand": true, "permitlocalcommand": true,
	"localforward": true, "remoteforward": true, "dynamicforward": true,
	"tunnel": true, "tunneldevice": true, "match": true, "include": true, "setenv": true,
}

// sshIgnoredFlags are ssh(1) flags without argument that only shape output or
// the local terminal; sshIgnoredArgFlags take an argument that is ignored.
const (
	sshIgnoredFlags    = "46CTaknqvxy"
	sshIgnoredArgFlags = "ESe"
	sshArgFlags        = "BDEFIJLOPQRSWbceilmopw" // every ssh(1) flag that takes an argument
)

// SSHOptionsError is the error of ParseSSHOptions. Err says what is wrong
// with the string, without naming the parameter, for callers that name it
// themselves (the configuration reader names file, block and key).
type SSHOptionsError struct {
	Err error
}

// Error renders "ssh_options: " and Err.
func (e *SSHOptionsError) Error() string { return "ssh_options: " + e.Err.Error() }

// Unwrap returns Err.
func (e *SSHOptionsError) Unwrap() error { return e.Err }

// ParseSSHOptions splits s as a POSIX shell would (single and double quotes,
// backslash escapes) and interprets the ssh(1) arguments. Shell expansions
// ($VAR, `cmd`) and operators (; | & < >) are refused rather than passed on
// literally. A -F file is read and checked here; it must be a regular file
// of at most 16 MiB. It never dials. Every error is an *SSHOptionsError.
func ParseSSHOptions(s string) (SSHOptions, error) {
	o, err := parseSSHOptions(s)
	if err != nil {
		return o, &SSHOptionsError{Err: err}
	}
	return o, nil
}

func parseSSHOptions(s string) (SSHOptions, error) {
	var o SSHOptions
	args, err := sshSplitWords(s, true)
	if err != nil {
		return o, err
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' {
			return o, fmt.Errorf("unexpected argument %q (only options are allowed)", a)
		}
		for j := 1; j < len(a); j++ {
			flag := a[j]
			if !strings.ContainsRune(sshArgFlags, rune(flag)) {
				if !strings.ContainsRune(sshIgnoredFlags, rune(flag)) {
					return o, fmt.Errorf("-%c is not supported by gomha", flag)
				}
				o.Ignored = append(o.Ignored, "-"+string(flag))
				continue
			}
			val := a[j+1:]
			if val == "" {
				if i+1 >= len(args) {
					return o, fmt.Errorf("-%c needs an argument", flag)
				}
				i++
				val = args[i]
			}
			if err := o.applyFlag(flag, val); err != nil {
				return o, err
			}
			break
		}
	}
	return o, nil
}

// applyFlag applies one ssh(1) flag that takes an argument.
func (o *SSHOptions) applyFlag(flag byte, val string) error {
	switch flag {
	case 'i':
		return o.set("identityfile", val)
	case 'p':
		return o.set("port", val)
	case 'l':
		return o.set("user", val)
	case 'o':
		key, value, err := sshSplitKeyValue(val)
		if err != nil {
			return fmt.Errorf("-o %q: %w", val, err)
		}
		if err := o.applyKeyword(key, value); errors.Is(err, errSSHUnsupported) {
			return fmt.Errorf("-o %s %w", key, err)
		} else if err != nil {
			return fmt.Errorf("-o %s: %w", key, err)
		}
		return nil
	case 'F':
		if o.ConfigFile != "" {
			return nil // first -F wins
		}
		path, err := sshExpandPath(val)
		if err != nil {
			return fmt.Errorf("-F %s: %w", val, err)
		}
		if err := sshCheckConfigFile(path); err != nil {
			return fmt.Errorf("-F %s: %w", val, err)
		}
		blocks, err := readSSHConfig(path)
		if err != nil {
			return err
		}
		o.ConfigFile, o.configBlocks = path, blocks
		return nil
	}
	if strings.ContainsRune(sshIgnoredArgFlags, rune(flag)) {
		o.Ignored = append(o.Ignored, "-"+string(flag))
		return nil
	}
	return fmt.Errorf("-%c is not supported by gomha", flag)
}

// applyKeyword applies an ssh_config keyword from -o or a -F file: honoured,
// ignored (recorded in Ignored) or refused.
func (o *SSHOptions) applyKeyword(key, value string) error {
	lk := strings.ToLower(key)
	switch {
	case lk == "forwardagent" && strings.EqualFold(value, "no"):
		o.Ignored = append(o.Ignored, key)
		return nil
	case sshRefusedOptions[lk] || lk == "forwardagent":
		return errSSHUnsupported
	case sshIgnoredOptions[lk]:
		o.Ignored = append(o.Ignored, key)
		return nil
	}
	return o.set(lk, value)
}

// set applies one honoured keyword (lower case) if it has no value yet.
func (o *SSHOptions) set(key, value string) error {
	switch key {
	case "identityfile":
		p, err := sshExpandPath(value)
		if err != nil {
			return err
		}
		o.IdentityFiles = append(o.IdentityFiles, p)
	case "userknownhostsfile":
		if o.UserKnownHostsFiles != nil {
			return nil
		}
		words, err := sshSplitWords(value, false)
		if err != nil || len(words) == 0 {
			return fmt.Errorf("bad file list %q", value)
		}
		for _, w := range words {
			p, err := sshExpandPath(w)
			if err != nil {
				return err
			}
			o.UserKnownHostsFiles = append(o.UserKnownHostsFiles, p)
		}
	case "port":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("bad port %q", value)
		}
		if o.Port == 0 {
			o.Port = n
		}
	case "user":
		if value == "" {
			return errors.New("empty user")
		}
		if o.User == "" {
			o.User = value
		}
	case "connecttimeout":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			return fmt.Errorf("bad ConnectTimeout %q (want whole seconds > 0)", value)
		}
		if o.ConnectTimeout == 0 {
			o.ConnectTimeout = time.Duration(n) * time.Second
		}
	case "stricthostkeychecking":
		mode, err := sshStrictMode(value)
		if err != nil {
			return err
		}
		if o.StrictHostKeyChecking == "" {
			o.StrictHostKeyChecking = mode
		}
	default:
		return errSSHUnsupported
	}
	return nil
}

// sshMaxConfigFile bounds a -F file, as the configuration reader bounds
// MHA's own files.
const sshMaxConfigFile = 16 << 20

// sshCheckConfigFile refuses a -F file that is not a regular file of sane
// size before it is opened: a FIFO would block the open until a writer came,
// and a device such as /dev/zero would be read without end. A symbolic link
// is followed.
func sshCheckConfigFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	m := st.Mode()
	if !m.IsRegular() {
		what := "a special file"
		switch {
		case m.IsDir():
			what = "a directory"
		case m&fs.ModeNamedPipe != 0:
			what = "a named pipe (FIFO)"
		case m&fs.ModeCharDevice != 0:
			what = "a character device"
		case m&fs.ModeDevice != 0:
			what = "a block device"
		case m&fs.ModeSocket != 0:
			what = "a socket"
		}
		return fmt.Errorf("is %s, not a regular file", what)
	}
	if st.Size() > sshMaxConfigFile {
		return fmt.Errorf("is %d bytes, larger than the %d MiB an ssh config file may have", st.Size(), sshMaxConfigFile>>20)
	}
	return nil
}

// sshStrictMode normalises a StrictHostKeyChecking value.
func sshStrictMode(v string) (string, error) {
	switch strings.ToLower(v) {
	case "yes", "true", "ask":
		return "yes", nil
	case "accept-new":
		return "accept-new", nil
	case "no", "off", "false":
		return "no", nil
	}
	return "", fmt.Errorf("bad StrictHostKeyChecking %q", v)
}

// sshSplitKeyValue splits "Key=Value", "Key Value" or "Key = Value".
func sshSplitKeyValue(s string) (key, value string, err error) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, "= \t")
	if i <= 0 {
		return "", "", errors.New("want Key=Value")
	}
	key, value = s[:i], strings.TrimSpace(s[i:])
	value = strings.TrimSpace(strings.TrimPrefix(value, "="))
	if value == "" {
		return "", "", errors.New("want Key=Value")
	}
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	return key, value, nil
}

// sshExpandPath expands a leading "~" or "~/" and the ssh_config tokens %d
// (home directory), %u (local user) and %%. Other tokens are refused.
func sshExpandPath(p string) (string, error) {
	needHome := p == "~" || strings.HasPrefix(p, "~/") || strings.Contains(p, "%d")
	home := ""
	if needHome {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("expand %q: %w", p, err)
		}
		home = h
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = home + p[1:]
	} else if strings.HasPrefix(p, "~") {
		return "", fmt.Errorf("expand %q: ~user is not supported", p)
	}
	if !strings.Contains(p, "%") {
		return p, nil
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		if i+1 >= len(p) {
			return "", fmt.Errorf("expand %q: trailing %%", p)
		}
		i++
		switch p[i] {
		case '%':
			b.WriteByte('%')
		case 'd':
			b.WriteString(home)
		case 'u':
			u, err := user.Current()
			if err != nil {
				return "", fmt.Errorf("expand %q: %w", p, err)
			}
			b.WriteString(u.Username)
		default:
			return "", fmt.Errorf("expand %q: token %%%c is not supported", p, p[i])
		}
	}
	return b.String(), nil
}

// sshSplitWords splits s into words as a POSIX shell would: single quotes
// keep everything, double quotes honour \ before $ ` " \ and newline, and a
// backslash outside quotes escapes the next character. With strict set, the
// shell expansions and operators that MHA's shell would have interpreted are
// refused.
func sshSplitWords(s string, strict bool) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			inWord = true
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
			}
		case c == '\'':
			inWord = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			inWord = true
			n, err := sshDoubleQuoted(s[i+1:], &cur, strict)
			if err != nil {
				return nil, err
			}
			i += n + 1
		case strict && (strings.IndexByte("$`;|&<>(){}*?[", c) >= 0 || c == '#' && !inWord):
			return nil, fmt.Errorf("shell syntax %q is not supported; escape it with a backslash", c)
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// sshDoubleQuoted copies the inside of a double-quoted string from s (which
// starts after the opening quote) to cur and returns the index of the closing
// quote in s.
func sshDoubleQuoted(s string, cur *strings.Builder, strict bool) (int, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i, nil
		case c == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0:
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
			}
		case strict && (c == '$' || c == '`'):
			return 0, fmt.Errorf("shell expansion %q is not supported; escape it with a backslash", c)
		default:
			cur.WriteByte(c)
		}
	}
	return 0, errors.New("unterminated double quote")
}

// ShellQuote quotes s for a remote POSIX shell: s is wrapped in single
// quotes, and each single quote inside it is closed, backslash-escaped and
// reopened. The result is one shell word whatever s holds.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
