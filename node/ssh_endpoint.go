package node

// Endpoint names where and as whom cfg connects: "user@host:port", plus
// " from <LocalAddr>" when a source address is set. Two configurations with
// the same endpoint reach the same account by the same route, so one
// connection can serve both.
func (cfg SSHConfig) Endpoint() (string, error) {
	addr, login, err := sshAddrUser(cfg)
	if err != nil {
		return "", err
	}
	ep := login + "@" + addr
	if cfg.LocalAddr != "" {
		ep += " from " + cfg.LocalAddr
	}
	return ep, nil
}
