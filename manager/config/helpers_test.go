package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// stubHosts is the name service of the tests (the same names as in
// testdata/mha_dump.pl), so no test depends on DNS.
var stubHosts = map[string]string{
	"host1": "127.0.0.11", "host2": "127.0.0.12", "host3": "127.0.0.13",
	"binlog_host1": "127.0.0.20", "db3": "127.0.0.3", "h1": "127.0.0.1", "h2": "127.0.0.2",
}

func stubResolve(host string) (string, error) {
	if ip, ok := stubHosts[host]; ok {
		return ip, nil
	}
	return "", fmt.Errorf("no such host %s", host)
}

// testOptions never touches /etc, DNS or the OS user.
func testOptions() Options {
	return Options{NoGlobal: true, Resolve: stubResolve, CurrentUser: func() string { return "root" }}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, file string, opts Options) *Config {
	t.Helper()
	cfg, err := Load(context.Background(), file, opts)
	if err != nil {
		t.Fatalf("Load(%s): %v", file, err)
	}
	return cfg
}

func asConfigError(t *testing.T, err error) *Error {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	return ce
}

// mhaDump renders servers the way testdata/mha_dump.pl renders MHA's.
func mhaDump(cfg *Config) string {
	var b strings.Builder
	names := ParamNames()
	slices.Sort(names)
	for i := range cfg.Servers {
		s := &cfg.Servers[i]
		b.WriteString("[" + s.Name + "]\n")
		for _, name := range names {
			p, _ := lookupParam(name)
			v := p.get(s)
			switch name {
			case "ssh_options":
				continue
			case "password":
				v = s.Password.Reveal()
			case "repl_password":
				v = s.ReplPassword.Reveal()
			}
			if v != "" {
				b.WriteString(name + "=" + v + "\n")
			}
		}
	}
	return b.String()
}

// TestEveryFixtureUsed: each file in testdata is named by some test.
func TestEveryFixtureUsed(t *testing.T) {
	tests, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, f := range tests {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(data)
	}
	err = filepath.WalkDir("testdata", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		if name == "README.md" || name == "mha_dump.pl" || name == "mha_bools.pl" {
			return nil
		}
		if !strings.Contains(src.String(), `"`+name+`"`) {
			t.Errorf("fixture %s is not used by any test", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
