// Package dirstate is what the two kinds of sandbox (MySQL hosts, etcd
// members) keep of their directory: an id derived from its path, which names
// their cgroups and firewall chains, and a JSON state file written
// atomically, from which another process (a CLI's `down`) finds exactly the
// pids to stop.
package dirstate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// ID names a sandbox after its directory, so two sandboxes never share a
// cgroup or a firewall chain: 8 hex digits.
func ID(dir string) string {
	h := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(h[:4])
}

// Save writes v as indented JSON to dir/name atomically (a temporary file,
// mode 0600 as it may hold passwords, renamed over the old one). what names
// the state in errors: "encode <what> of <dir>", "write <what> <path>".
func Save(dir, name, what string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s of %s: %w", what, dir, err)
	}
	path := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s %s: %w", what, path, err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(append(b, '\n'))
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s %s: %w", what, path, err)
	}
	return nil
}

// Load decodes dir/name into v. what names the sandbox in errors, "open
// <what>: ..."; a missing file is an error that matches os.ErrNotExist.
func Load(dir, name, what string, v any) error {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", what, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("open %s: decode %s: %w", what, path, err)
	}
	return nil
}
