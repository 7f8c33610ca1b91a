package haproxy

import (
	"bytes"
	"fmt"
	"net"
	"os"
)

// Addrs are the addresses of one deployment of the example configuration.
type Addrs struct {
	// Servers are the cluster's servers (host:port), in the order of the
	// example's server lines.
	Servers []string
	// Manager is the manager's HTTP API (host:port of gomha manager --http).
	Manager string
	// Write and Read are HAProxy's frontends (host:port).
	Write, Read string
}

// ExampleAddrs are the addresses docs/haproxy.cfg is written with.
var ExampleAddrs = Addrs{
	Servers: []string{"10.0.0.11:3306", "10.0.0.12:3306", "10.0.0.13:3306"},
	Manager: "10.0.0.5:8080",
	Write:   "10.0.0.20:3306",
	Read:    "10.0.0.20:3307",
}

// ExamplePath is docs/haproxy.cfg from the repository's root.
const ExamplePath = "docs/haproxy.cfg"

// ReadExample reads the example configuration (ExamplePath from the
// repository's root).
func ReadExample(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the example HAProxy configuration: %w", err)
	}
	return data, nil
}

// Render puts the addresses of to in place of ExampleAddrs in example.
// Every address of the example must be found where it is expected (the
// server lines, the checks' "addr A port P", the binds): an example
// that changed its addresses fails here instead of testing something
// else.
func Render(example []byte, to Addrs) ([]byte, error) {
	from := ExampleAddrs
	if len(to.Servers) != len(from.Servers) {
		return nil, fmt.Errorf("render %s: %d servers, the example has %d", ExamplePath, len(to.Servers), len(from.Servers))
	}
	var pairs [][2]string
	for i, s := range from.Servers {
		pairs = append(pairs, [2]string{"server " + s + " " + s, "server " + to.Servers[i] + " " + to.Servers[i]})
	}
	mf, err := checkAddr(from.Manager)
	if err != nil {
		return nil, err
	}
	mt, err := checkAddr(to.Manager)
	if err != nil {
		return nil, err
	}
	pairs = append(pairs, [2]string{mf, mt},
		[2]string{"bind " + from.Write + "\n", "bind " + to.Write + "\n"},
		[2]string{"bind " + from.Read + "\n", "bind " + to.Read + "\n"})
	out := example
	for _, p := range pairs {
		if !bytes.Contains(out, []byte(p[0])) {
			return nil, fmt.Errorf("render %s: %q not found: update internal/haproxy's ExampleAddrs", ExamplePath, p[0])
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
