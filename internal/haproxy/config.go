package haproxy

import (
	"bytes"
	"fmt"
	"net"
	"os"
)

// Addrs are the addresses of one deployment of an example configuration.
type Addrs struct {
	// Servers are the cluster's servers (host:port), in the order of the
	// example's server lines.
	Servers []string
	// Managers are the managers' HTTP APIs (host:port of gomha manager
	// --http): one, or one per manager in TwoManagersPath.
	Managers []string
	// Write and Read are HAProxy's frontends (host:port).
	Write, Read string
}

// The examples, from the repository's root, and the addresses they are
// written with.
const (
	ExamplePath     = "docs/haproxy.cfg"
	TwoManagersPath = "docs/haproxy-two-managers.cfg"
)

var (
	ExampleAddrs = Addrs{
		Servers:  []string{"10.0.0.11:3306", "10.0.0.12:3306", "10.0.0.13:3306"},
		Managers: []string{"10.0.0.5:8080"},
		Write:    "10.0.0.20:3306",
		Read:     "10.0.0.20:3307",
	}
	TwoManagersAddrs = Addrs{
		Servers:  ExampleAddrs.Servers,
		Managers: []string{"10.0.0.5:8080", "10.0.0.6:8080"},
		Write:    ExampleAddrs.Write,
		Read:     ExampleAddrs.Read,
	}
)

// ReadExample reads an example configuration.
func ReadExample(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the example HAProxy configuration: %w", err)
	}
	return data, nil
}

// Render puts the addresses of to in place of from (the addresses the
// example is written with) everywhere in example: the servers' host:port
// (their names, addresses and URIs), the checks' "addr A port P", the
// binds. Each must be found: an example that changed its addresses fails
// here instead of testing something else.
func Render(example []byte, from, to Addrs) ([]byte, error) {
	if len(to.Servers) != len(from.Servers) || len(to.Managers) != len(from.Managers) {
		return nil, fmt.Errorf("render: %d servers and %d managers, the example has %d and %d",
			len(to.Servers), len(to.Managers), len(from.Servers), len(from.Managers))
	}
	var pairs [][2]string
	for i, s := range from.Servers {
		pairs = append(pairs, [2]string{s, to.Servers[i]})
	}
	for i, m := range from.Managers {
		mf, err := checkAddr(m)
		if err != nil {
			return nil, err
		}
		mt, err := checkAddr(to.Managers[i])
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, [2]string{mf, mt})
	}
	pairs = append(pairs,
		[2]string{"bind " + from.Write + "\n", "bind " + to.Write + "\n"},
		[2]string{"bind " + from.Read + "\n", "bind " + to.Read + "\n"})
	out := example
	for _, p := range pairs {
		if !bytes.Contains(out, []byte(p[0])) {
			return nil, fmt.Errorf("render: %q not found in the example: update internal/haproxy's addresses", p[0])
		}
		out = bytes.ReplaceAll(out, []byte(p[0]), []byte(p[1]))
	}
	return out, nil
}

// checkAddr is the "addr HOST port PORT" of a check sent to the manager.
func checkAddr(hostport string) (string, error) {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("manager address %q: %w", hostport, err)
	}
	return "addr " + h + " port " + p, nil
}

// Global is the global section HAProxy runs the example with here: its
// log on standard error (Proxy keeps it in a file), one thread (a 2-core
// machine runs the sandbox too). Debian's global section (chroot, user,
// daemon, admin socket) needs the system's service.
const Global = `global
    log stderr format raw local0 info
    nbthread 1
`
