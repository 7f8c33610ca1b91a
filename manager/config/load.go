package config

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultGlobalFile is where MHA looks for the global configuration.
const DefaultGlobalFile = "/etc/masterha_default.cnf"

// DefaultScriptTimeout bounds init_conf_load_script when the context has no
// earlier deadline (MHA waits forever; a hung script must not hang the manager).
const DefaultScriptTimeout = 60 * time.Second

// resolveTimeout bounds one host name lookup.
const resolveTimeout = 10 * time.Second

// scriptSection names init_conf_load_script's output in errors.
const scriptSection = "init_conf_load_script output"

var (
	serverBlock = regexp.MustCompile(`^server\S+`)
	binlogBlock = regexp.MustCompile(`^binlog\S+`)
	serverNum   = regexp.MustCompile(`^server\D*(\d+)`)
)

// Options tune Load. The zero value behaves like masterha_manager.
type Options struct {
	// GlobalFile is the global configuration. "" means DefaultGlobalFile.
	// As in MHA, a global file that does not exist is skipped (Config.GlobalFile
	// is then ""), while one that exists but is not a regular file, cannot be
	// read or parsed is an error (MHA skips one that is not a regular file).
	GlobalFile string
	// NoGlobal skips the global file entirely (for tests).
	NoGlobal bool
	// Resolve maps a host name to one IP address when `ip` is not set. The
	// default is the system resolver's first address. It is not called for
	// names that already are IP addresses.
	Resolve func(host string) (string, error)
	// CurrentUser gives the default ssh_user. The default is the OS user
	// running the process.
	CurrentUser func() string
	// RunScript runs init_conf_load_script and returns its standard output.
	// The default runs it with /bin/sh -c, bounded by DefaultScriptTimeout.
	RunScript func(ctx context.Context, script string) ([]byte, error)
}

func (o Options) withDefaults(ctx context.Context) Options {
	if o.GlobalFile == "" {
		o.GlobalFile = DefaultGlobalFile
	}
	if o.Resolve == nil {
		o.Resolve = func(host string) (string, error) { return lookupHost(ctx, host) }
	}
	if o.CurrentUser == nil {
		o.CurrentUser = currentUser
	}
	if o.RunScript == nil {
		o.RunScript = runShell
	}
	return o
}

// Load reads the application file and the global file and returns the
// validated configuration.
//
// Servers are ordered as MHA orders them: by block name, then, when every
// [server...] block name has a number after "server", numerically by that
// first number (this is the tie-break order among candidate masters).
// Binlog servers are ordered by block name. Every file read must be a
// regular file of at most MaxFileSize bytes. Every error is an *Error, except
// a failing system call on a file (missing, unreadable), which wraps the os
// error.
func Load(ctx context.Context, file string, opts Options) (*Config, error) {
	o := opts.withDefaults(ctx)
	app, err := readTiny(file)
	if err != nil {
		return nil, err
	}
	var warnings []string
	globalFile, defaults, err := readDefaults(ctx, file, app, o, &warnings)
	if err != nil {
		return nil, err
	}
	servers, binlogs, err := readBlocks(file, app, defaults, o, &warnings)
	if err != nil {
		return nil, err
	}
	if err := checkDuplicates(file, servers); err != nil {
		return nil, err
	}
	first := servers[0]
	return &Config{
		File: file, GlobalFile: globalFile,
		App:     strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)),
		Servers: servers, Binlogs: binlogs,
		ManagerWorkdir: first.ManagerWorkdir, ManagerLog: first.ManagerLog,
		LogLevel: first.LogLevel, CheckReplFilter: first.CheckReplFilter, PingType: first.PingType,
		Warnings: warnings,
	}, nil
}

// readDefaults layers the global [server default], the application
// [server default] and init_conf_load_script's output, adding to warnings.
func readDefaults(ctx context.Context, file string, app *tinyFile, o Options, warnings *[]string) (string, map[string]string, error) {
	defaults := map[string]string{}
	globalFile := ""
	if !o.NoGlobal {
		// A missing global file is skipped, as in MHA; one that exists must
		// be a regular file (MHA would skip a FIFO or a directory silently,
		// leaving out every default it was meant to give).
		if _, err := os.Stat(o.GlobalFile); !errors.Is(err, fs.ErrNotExist) {
			g, err := readTiny(o.GlobalFile)
			if err != nil {
				return "", nil, err
			}
			kv, err := cleanBlock(o.GlobalFile, "server default", g.blocks["server default"], true, warnings)
			if err != nil {
				return "", nil, err
			}
			globalFile = o.GlobalFile
			merge(defaults, kv)
		}
	}
	kv, err := cleanBlock(file, "server default", app.blocks["server default"], true, warnings)
	if err != nil {
		return "", nil, err
	}
	merge(defaults, kv)
	if script := defaults["init_conf_load_script"]; script != "" {
		kv, err := runInitScript(ctx, file, script, o, warnings)
		if err != nil {
			return "", nil, err
		}
		merge(defaults, kv)
	}
	return globalFile, defaults, nil
}

func runInitScript(ctx context.Context, file, script string, o Options, warnings *[]string) (map[string]string, error) {
	out, err := o.RunScript(ctx, script)
	if err != nil {
		return nil, &Error{File: file, Section: "server default", Key: "init_conf_load_script", Msg: "script failed", Err: err}
	}
	raw := map[string]string{}
	for i, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, &Error{File: file, Section: scriptSection,
				Msg: fmt.Sprintf("line %d: expected name=value", i+1)}
		}
		raw[strings.TrimSpace(name)] = value
	}
	return cleanBlock(file, scriptSection, raw, true, warnings)
}

// cleanBlock removes MHA's quotes from every value and checks every key and
// value, so that an error or a warning names the file and block where it was
// written. In a block of defaults ([server default], the script's output) a
// parameter MHA reads only in [server...] blocks is ignored, as MHA does,
// with a warning.
func cleanBlock(file, section string, raw map[string]string, defaults bool, warnings *[]string) (map[string]string, error) {
	kv := make(map[string]string, len(raw))
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		p, ok := lookupParam(key)
		if !ok {
			return nil, &Error{File: file, Section: section, Key: key, Msg: "unknown parameter"}
		}
		if defaults && p.local {
			*warnings = append(*warnings, warning(file, section, key,
				"read only in [server...] and [binlog...] blocks: ignored here, by MHA 0.58 as by gomha"))
			continue
		}
		v := stripQuotes(raw[key])
		var scratch Server
		if err := p.set(&scratch, v); err != nil {
			return nil, &Error{File: file, Section: section, Key: key, Msg: err.Error()}
		}
		if p.check != nil {
			note, err := p.check(v)
			if err != nil {
				return nil, &Error{File: file, Section: section, Key: key, Msg: err.Error()}
			}
			if note != "" {
				*warnings = append(*warnings, warning(file, section, key, note))
			}
		}
		kv[key] = v
	}
	return kv, nil
}

// warning renders a finding that does not stop Load the way *Error renders
// an error: "file: [section] key: msg", on one line.
func warning(file, section, key, msg string) string {
	return (&Error{File: file, Section: section, Key: key, Msg: msg}).Error()
}

func merge(dst, src map[string]string) {
	for k, v := range src {
		dst[k] = v
	}
}

// readBlocks validates every block of the application file and builds the
// servers (in MHA's order) and binlog servers, adding to warnings.
func readBlocks(file string, app *tinyFile, defaults map[string]string, o Options, warnings *[]string) ([]Server, []BinlogServer, error) {
	var serverNames, binlogNames []string
	blocks := map[string]map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(app.blocks)) {
		switch {
		case name == "server default":
			continue
		case name == rootBlock:
			return nil, nil, &Error{File: file, Msg: "parameters outside any [block]"}
		case serverBlock.MatchString(name):
			serverNames = append(serverNames, name)
		case binlogBlock.MatchString(name):
			binlogNames = append(binlogNames, name)
		default:
			return nil, nil, &Error{File: file, Section: name,
				Msg: `invalid block name (use "server default", server<name> or binlog<name>)`}
		}
		kv, err := cleanBlock(file, name, app.blocks[name], false, warnings)
		if err != nil {
			return nil, nil, err
		}
		blocks[name] = kv
	}
	if len(serverNames) == 0 {
		return nil, nil, &Error{File: file, Msg: "no [server...] block is defined"}
	}
	sortServerNames(serverNames)
	user := o.CurrentUser()
	servers := make([]Server, 0, len(serverNames))
	for _, name := range serverNames {
		s, err := buildServer(file, name, blocks[name], defaults, user, o.Resolve)
		if err != nil {
			return nil, nil, err
		}
		servers = append(servers, s)
	}
	var binlogs []BinlogServer
	for _, name := range binlogNames {
		s, err := buildServer(file, name, blocks[name], defaults, user, o.Resolve)
		if err != nil {
			return nil, nil, err
		}
		binlogs = append(binlogs, binlogFromServer(s))
	}
	return servers, binlogs, nil
}

// sortServerNames sorts block names as MHA does: by name, then (stably)
// by the first number after "server" when every name has one.
func sortServerNames(names []string) {
	slices.Sort(names)
	nums := make(map[string]string, len(names))
	for _, n := range names {
		m := serverNum.FindStringSubmatch(n)
		if m == nil {
			return
		}
		nums[n] = strings.TrimLeft(m[1], "0")
	}
	slices.SortStableFunc(names, func(a, b string) int {
		x, y := nums[a], nums[b]
		return cmp.Or(cmp.Compare(len(x), len(y)), strings.Compare(x, y))
	})
}

// buildServer layers defaults and block values over the built-in defaults,
// then resolves addresses.
func buildServer(file, name string, block, defaults map[string]string, user string, resolve func(string) (string, error)) (Server, error) {
	s := defaultServer(user)
	s.Name = name
	for _, p := range allParams() {
		v, ok := block[p.name]
		if !ok && !p.local {
			v, ok = defaults[p.name]
			ok = ok && !(v == "" && p.emptyIsDefault)
		}
		if ok {
			if err := p.set(&s, v); err != nil { // values were checked by cleanBlock
				return Server{}, &Error{File: file, Section: name, Key: p.name, Msg: err.Error()}
			}
		}
	}
	if s.Hostname == "" {
		return Server{}, &Error{File: file, Section: name, Msg: "hostname is required"}
	}
	if s.SSHHost == "" {
		s.SSHHost = s.Hostname
	}
	if s.IP == "" {
		ip, err := lookup(resolve, s.Hostname)
		if err != nil {
			return Server{}, &Error{File: file, Section: name, Key: "hostname", Msg: fmt.Sprintf("cannot resolve %q", s.Hostname), Err: err}
		}
		s.IP = ip
	}
	s.SSHIP = s.IP
	if s.SSHHost != s.Hostname {
		ip, err := lookup(resolve, s.SSHHost)
		if err != nil {
			return Server{}, &Error{File: file, Section: name, Key: "ssh_host", Msg: fmt.Sprintf("cannot resolve %q", s.SSHHost), Err: err}
		}
		s.SSHIP = ip
	}
	return s, nil
}

func lookup(resolve func(string) (string, error), host string) (string, error) {
	if net.ParseIP(host) != nil {
		return host, nil
	}
	return resolve(host)
}

// checkDuplicates rejects two servers with the same ip:port, as MHA does.
func checkDuplicates(file string, servers []Server) error {
	seen := map[string]string{}
	for _, s := range servers {
		key := s.IP + "\x00" + strconv.Itoa(s.Port)
		if prev, ok := seen[key]; ok {
			return &Error{File: file, Msg: fmt.Sprintf("[%s] and [%s] both use %s", prev, s.Name, s.Addr())}
		}
		seen[key] = s.Name
	}
	return nil
}

func lookupHost(ctx context.Context, host string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return "", err
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("no address for %s", host)
	}
	return addrs[0], nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}
