package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

const (
	mariadbd       = "/usr/sbin/mariadbd"
	mariadbInstall = "/usr/bin/mariadb-install-db"
)

// innodbOpts are used both for the template and in every my.cnf, so that a
// copied datadir starts without resizing its redo log.
var innodbOpts = []string{
	"innodb_buffer_pool_size=32M",
	"innodb_log_file_size=16M",
}

// usersSQL creates the sandbox users in the template. Grant tables are not
// loaded in bootstrap mode, hence the FLUSH PRIVILEGES first. root keeps only
// root@localhost (unix socket or TCP from localhost, no password).
func usersSQL() string {
	return strings.Join([]string{
		"FLUSH PRIVILEGES;",
		"DELETE FROM mysql.global_priv WHERE User='root' AND Host<>'localhost';",
		"DELETE FROM mysql.proxies_priv WHERE User='root' AND Host<>'localhost';",
		"FLUSH PRIVILEGES;",
		fmt.Sprintf("CREATE USER %s@%s IDENTIFIED BY %s;", sqlQuote(AdminUser), sqlQuote(userHostMask), sqlQuote(AdminPass)),
		fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO %s@%s WITH GRANT OPTION;", sqlQuote(AdminUser), sqlQuote(userHostMask)),
		fmt.Sprintf("CREATE USER %s@%s IDENTIFIED BY %s;", sqlQuote(ReplUser), sqlQuote(userHostMask), sqlQuote(ReplPass)),
		fmt.Sprintf("GRANT REPLICATION SLAVE ON *.* TO %s@%s;", sqlQuote(ReplUser), sqlQuote(userHostMask)),
		"",
	}, "\n")
}

// sqlQuote quotes a string literal for MariaDB.
func sqlQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

var versionRE = regexp.MustCompile(`Ver\s+(\S+)`)

// mariadbdVersion returns e.g. "10.11.19-MariaDB-0+deb12u1".
func mariadbdVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, mariadbd, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("run %s --version: %w", mariadbd, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("parse %s --version output %q", mariadbd, out)
	}
	return string(m[1]), nil
}

// defaultTemplateDir names the cache by server version and by a hash of what
// is baked into the template, so a change of either makes a new one.
func defaultTemplateDir(version string) string {
	h := sha256.Sum256([]byte(usersSQL() + strings.Join(innodbOpts, "\n")))
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '_'
		}
		return r
	}, version)
	return filepath.Join("/var/tmp", "gomha-sandbox-template-"+safe+"-"+hex.EncodeToString(h[:4]))
}

// ensureTemplate returns an initialised datadir holding the sandbox users,
// creating it once under a lock file.
func ensureTemplate(ctx context.Context, dir string) (string, error) {
	if dir == "" {
		v, err := mariadbdVersion(ctx)
		if err != nil {
			return "", err
		}
		dir = defaultTemplateDir(v)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("create template parent of %s: %w", dir, err)
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, "mysql", "global_priv.MAI")); err == nil {
		return dir, nil
	}
	if err := buildTemplate(ctx, dir); err != nil {
		return "", err
	}
	return dir, nil
}

func buildTemplate(ctx context.Context, dir string) error {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove stale template %s: %w", tmp, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove incomplete template %s: %w", dir, err)
	}
	sqlFile := tmp + ".sql" // holds passwords: 0600, removed afterwards
	if err := os.WriteFile(sqlFile, []byte(usersSQL()), 0o600); err != nil {
		return fmt.Errorf("write template users file: %w", err)
	}
	defer os.Remove(sqlFile)
	args := []string{"--no-defaults", "--user=root", "--auth-root-authentication-method=normal",
		"--skip-test-db", "--datadir=" + tmp, "--extra-file=" + sqlFile}
	for _, o := range innodbOpts {
		args = append(args, "--"+strings.ReplaceAll(o, "_", "-"))
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, mariadbInstall, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("run %s into %s: %w: %s", mariadbInstall, tmp, err, firstLines(string(out), 6))
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("move template into place %s: %w", dir, err)
	}
	return nil
}

// lockFile takes an exclusive flock on path, polling so ctx is honoured.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func firstLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[:n]
	}
	return strings.Join(l, "\n")
}

// copyTree copies the template into a new datadir with cp -a.
func copyTree(ctx context.Context, src, dst string) error {
	out, err := exec.CommandContext(ctx, "cp", "-a", src+"/.", dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copy template %s to %s: %w: %s", src, dst, err, out)
	}
	return nil
}
