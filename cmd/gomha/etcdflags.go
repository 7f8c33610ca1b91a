package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/coord/etcdcoord"
)

// etcdFlags are the options of the commands that share a cluster with
// other managers through etcd.
type etcdFlags struct {
	endpoints          string
	cacert, cert, key  string
	user, passwordFile string
	prefix             string
	ttl                time.Duration
	sourceAddr         *string // the command's --source-addr, when it has one
}

func (e *etcdFlags) register(cmd *cobra.Command, withTTL bool) {
	fl := cmd.Flags()
	fl.StringVar(&e.endpoints, "etcd", "", "etcd `endpoints` (comma-separated): coordinate with the cluster's other managers there")
	fl.StringVar(&e.cacert, "etcd-cacert", "", "CA certificate `file` (PEM) that verifies etcd's TLS certificate")
	fl.StringVar(&e.cert, "etcd-cert", "", "client certificate `file` (PEM) for etcd")
	fl.StringVar(&e.key, "etcd-key", "", "client key `file` (PEM) for etcd")
	fl.StringVar(&e.user, "etcd-user", "", "etcd user `name` (its password from --etcd-password-file)")
	fl.StringVar(&e.passwordFile, "etcd-password-file", "", "`file` holding the etcd user's password (never on the command line)")
	fl.StringVar(&e.prefix, "etcd-prefix", "/gomha/", "key `prefix` of gomha's keys in etcd")
	if withTTL {
		fl.DurationVar(&e.ttl, "etcd-lease-ttl", 6*time.Second, "leadership lease: a dead leader is replaced within it; one cut off from etcd stops acting within 3/4 of it")
	}
}

// set reports whether --etcd was given.
func (e *etcdFlags) set() bool { return strings.TrimSpace(e.endpoints) != "" }

// open connects to etcd (without waiting for it to answer).
func (e *etcdFlags) open(log *slog.Logger) (*etcdcoord.Coordinator, error) {
	o := etcdcoord.Options{CACert: e.cacert, Cert: e.cert, Key: e.key, Username: e.user, Prefix: e.prefix, TTL: e.ttl, Logger: log}
	for _, ep := range strings.Split(e.endpoints, ",") {
		o.Endpoints = append(o.Endpoints, strings.TrimSpace(ep))
	}
	if e.sourceAddr != nil {
		o.LocalAddr = *e.sourceAddr
	}
	switch {
	case e.user != "" && e.passwordFile == "":
		return nil, withCode(1, errors.New("--etcd-user needs --etcd-password-file"))
	case e.passwordFile != "":
		if e.user == "" {
			return nil, withCode(1, errors.New("--etcd-password-file needs --etcd-user"))
		}
		data, err := os.ReadFile(e.passwordFile)
		if err != nil {
			return nil, withCode(1, fmt.Errorf("--etcd-password-file: %w", err))
		}
		// The file's line end (echo, an editor) is not part of the password.
		o.Password = strings.TrimRight(string(data), "\r\n")
		if o.Password == "" {
			return nil, withCode(1, fmt.Errorf("--etcd-password-file %s is empty", e.passwordFile))
		}
	}
	c, err := etcdcoord.New(o)
	return c, withCode(1, err)
}

// leadNow takes the leadership of app for a command run by a person: it
// waits one lease TTL at most (a leader that just died), and otherwise
// names the manager that leads.
func leadNow(ctx context.Context, c *etcdcoord.Coordinator, app string) (context.Context, func(), error) {
	lctx, cancel := context.WithTimeout(ctx, c.TTL()+2*time.Second)
	defer cancel()
	l, resign, err := c.Lead(lctx, app)
	if err == nil {
		return l, resign, nil
	}
	if snap, rerr := c.Read(ctx, app); rerr == nil && snap.Leader != nil {
		return nil, nil, fmt.Errorf("%s: %s leads the cluster's managers in etcd: only the leader acts; stop it (gomha stop) or let it act", app, snap.Leader)
	}
	// Nobody leads: etcd did not let this one (not reached, no quorum,
	// a permission denied), and Lead's error says why.
	return nil, nil, fmt.Errorf("%s: cannot lead the cluster's managers in etcd: %w", app, err)
}
