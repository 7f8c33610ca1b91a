package haproxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/sandbox"
)

// StackOptions configure Up.
type StackOptions struct {
	// Cluster is the sandbox HAProxy routes to (3 hosts, as the example).
	Cluster *sandbox.Cluster
	// Example is docs/haproxy.cfg (ReadExample).
	Example []byte
	// Dir holds HAProxy's configuration and log.
	Dir string
	// ManagerListen is the API's address (port 0 picks one).
	ManagerListen string
	// Write and Read are HAProxy's frontends (host:port).
	Write, Read string
	Logger      *slog.Logger
	OnFailover  func(rep *failover.Report, err error)
}

// Stack is a sandbox cluster, its manager with the HTTP API (a bearer
// token required, as the example expects), and HAProxy configured by the
// example for their addresses.
type Stack struct {
	Cluster *sandbox.Cluster
	Manager *Manager
	Proxy   *Proxy
	Addrs   Addrs
}

// Up starts the manager, then HAProxy, and returns once HAProxy has
// checked the write backend's servers (the cluster healthy, its master
// UP, the others DOWN). Down stops both.
func Up(ctx context.Context, o StackOptions) (*Stack, error) {
	if len(o.Cluster.Hosts) != len(ExampleAddrs.Servers) {
		return nil, fmt.Errorf("the example routes to %d servers, the sandbox has %d", len(ExampleAddrs.Servers), len(o.Cluster.Hosts))
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	token := hex.EncodeToString(tok)
	m, err := StartManager(ManagerOptions{Conf: o.Cluster.ConfPath, Listen: o.ManagerListen, Token: token,
		Logger: o.Logger, OnFailover: o.OnFailover})
	if err != nil {
		return nil, err
	}
	s := &Stack{Cluster: o.Cluster, Manager: m, Addrs: Addrs{Managers: []string{m.Addr}, Write: o.Write, Read: o.Read}}
	for _, h := range o.Cluster.Hosts {
		s.Addrs.Servers = append(s.Addrs.Servers, net.JoinHostPort(h.Addr, strconv.Itoa(h.Port)))
	}
	cfg, err := Render(o.Example, ExampleAddrs, s.Addrs)
	if err != nil {
		return nil, errors.Join(err, m.Stop())
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, errors.Join(err, m.Stop())
	}
	s.Proxy, err = Start(ctx, Options{
		Dir:    filepath.Join(o.Dir),
		Config: append([]byte(Global+"\n"), cfg...),
		Env:    []string{"GOMHA_HTTP_TOKEN=" + token},
		Wait:   []string{o.Write, o.Read},
	})
	if err != nil {
		return nil, errors.Join(err, m.Stop())
	}
	if err := s.waitChecked(ctx); err != nil {
		return nil, errors.Join(err, s.Down())
	}
	return s, nil
}

// waitChecked waits until HAProxy has checked every server of the write
// backend: it counts a server UP until its first check, so a client
// could reach a replica before. All but the master go DOWN.
func (s *Stack) waitChecked(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		down := 0
		for _, srv := range s.Addrs.Servers {
			if len(s.Proxy.LogLines("app1_write/"+srv+" is DOWN")) > 0 {
				down++
			}
		}
		if down >= len(s.Addrs.Servers)-1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("HAProxy has not checked the servers of app1_write (%d DOWN): %w\n%s", down, ctx.Err(), s.Proxy.Log())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Down stops HAProxy, then the manager.
func (s *Stack) Down() error {
	var errs []error
	if s.Proxy != nil {
		errs = append(errs, s.Proxy.Stop())
	}
	return errors.Join(append(errs, s.Manager.Stop())...)
}

// Key is the host:port of a sandbox host (by name or address), as the
// routes and HAProxy's server names spell it.
func (s *Stack) Key(host string) (string, error) {
	h, err := s.Cluster.Host(host)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(h.Addr, strconv.Itoa(h.Port)), nil
}
