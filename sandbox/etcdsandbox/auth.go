package etcdsandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// rootPasswordFile holds, once EnableAuth ran, the password of etcd's root
// user (0600): the harness's own writes need it from then on.
const rootPasswordFile = "root-password"

// EnableAuth turns etcd's authentication on with one user: user, with
// password, and a role of the same name that may read and write the keys
// under prefix and nothing else (RoleGrantPermission on the prefix's
// range). etcd refuses to enable auth without a root user: root gets a
// random password that only the harness uses.
func (c *Cluster) EnableAuth(ctx context.Context, user, password, prefix string) error {
	if user == "" || user == "root" || password == "" || prefix == "" {
		return fmt.Errorf("etcd sandbox auth: need a user other than root, a password and a key prefix (user %q, prefix %q)", user, prefix)
	}
	if c.rootPassword() != "" {
		return errors.New("etcd sandbox auth: already enabled")
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("etcd sandbox auth: %w", err)
	}
	rootPW := hex.EncodeToString(b)
	cli, err := c.client(false)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*callTimeout)
	defer cancel()
	steps := []struct {
		what string
		do   func() error
	}{
		{"add user root", func() error { _, err := cli.UserAdd(ctx, "root", rootPW); return err }},
		{"grant role root to root", func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err }},
		{"add role " + user, func() error { _, err := cli.RoleAdd(ctx, user); return err }},
		{fmt.Sprintf("grant role %s readwrite on prefix %s", user, prefix), func() error {
			_, err := cli.RoleGrantPermission(ctx, user, prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		}},
		{"add user " + user, func() error { _, err := cli.UserAdd(ctx, user, password); return err }},
		{fmt.Sprintf("grant role %s to %s", user, user), func() error { _, err := cli.UserGrantRole(ctx, user, user); return err }},
		// Written before auth is on: a harness that lost it could not
		// reach its own cluster any more.
		{"save the root password", func() error {
			return os.WriteFile(filepath.Join(c.Dir, rootPasswordFile), []byte(rootPW), 0o600)
		}},
		{"enable auth", func() error { _, err := cli.AuthEnable(ctx); return err }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("etcd sandbox auth: %s: %w", s.what, err)
		}
	}
	c.logger.Info("etcd auth enabled", "user", user, "readwrite_prefix", prefix)
	return nil
}

// rootPassword is root's password once EnableAuth ran, else "".
func (c *Cluster) rootPassword() string {
	b, err := os.ReadFile(filepath.Join(c.Dir, rootPasswordFile))
	if err != nil {
		return ""
	}
	return string(b)
}
