package manager

import (
	"time"

	"github.com/gomha/gomha/manager/config"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/topology"
)

// TopologyServer turns a configured server into the topology model.
func TopologyServer(s config.Server) topology.Server {
	return topology.Server{
		Name: s.Name, Hostname: s.Hostname, IP: s.IP, Port: s.Port, NodeLabel: s.NodeLabel,
		CandidateMaster: s.CandidateMaster, NoMaster: s.NoMaster, IgnoreFail: s.IgnoreFail,
	}
}

// MySQLConfig returns how to reach s with its admin credentials.
func MySQLConfig(s config.Server, connectTimeout time.Duration) node.MySQLConfig {
	return node.MySQLConfig{
		Key:            TopologyServer(s).Key(),
		User:           s.User,
		Password:       s.Password.Reveal(),
		ConnectTimeout: connectTimeout,
	}
}

// Targets lists every configured server with credentials, for GatherSnapshot.
func Targets(cfg *config.Config, connectTimeout time.Duration) []node.Target {
	ts := make([]node.Target, len(cfg.Servers))
	for i, s := range cfg.Servers {
		ts[i] = node.Target{Server: TopologyServer(s), MySQL: MySQLConfig(s, connectTimeout)}
	}
	return ts
}

// CheckOptions derives the analysis options from the configuration.
func CheckOptions(cfg *config.Config, secondsBehindMaster int64) topology.CheckOptions {
	o := topology.CheckOptions{SecondsBehindMaster: secondsBehindMaster, CheckReplFilter: cfg.CheckReplFilter,
		PingIntervals: map[topology.Key]time.Duration{}}
	if len(cfg.Servers) > 0 {
		o.MultiTierSlave = cfg.Servers[0].MultiTierSlave
	}
	for _, s := range cfg.Servers {
		// The master's ping_interval bounds its replicas' heartbeat period
		// (gomha sets half of it: HeartbeatPeriod).
		o.PingIntervals[TopologyServer(s).Key()] = time.Duration(s.PingInterval) * time.Second
	}
	return o
}
