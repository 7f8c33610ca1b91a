package topology

// Server is what the configuration says about one instance: how to reach it
// and the per-server flags that steer failover decisions.
type Server struct {
	Name      string // configuration block, e.g. "server1"
	Hostname  string // as configured; used in CHANGE MASTER TO
	IP        string // address gomha connects to
	Port      int
	NodeLabel string

	CandidateMaster bool
	NoMaster        bool
	IgnoreFail      bool
}

// Key returns the address gomha uses to reach the server.
func (s Server) Key() Key {
	host := s.IP
	if host == "" {
		host = s.Hostname
	}
	return Key{Host: host, Port: s.Port}
}

// Matches reports whether host:port names this server, either by its
// configured hostname or by its IP. Replicas report their master by whatever
// name was used in CHANGE MASTER TO.
func (s Server) Matches(host string, port int) bool {
	if port != s.Port {
		return false
	}
	return host != "" && (host == s.Hostname || host == s.IP)
}

// Label returns "hostname(ip:port)", MHA's way of naming a server in output.
func (s Server) Label() string {
	return s.Hostname + "(" + s.Key().String() + ")"
}
