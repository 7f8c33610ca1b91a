// Package sshpool keeps one SSH connection open per host while the manager
// watches a cluster, so that a probe, a command or a binlog read during a
// failover costs a channel on a live connection, not a TCP connect and an
// SSH handshake, and a file read goes through one long-lived SFTP client
// instead of starting a remote shell.
//
// A background loop per connection sends an OpenSSH keepalive every
// Options.KeepaliveEvery and re-dials when a keepalive goes unanswered for
// Options.KeepaliveTimeout or the connection breaks. A host that does not
// let it in is re-dialled with a jittered exponential backoff up to
// Options.RedialMax (30 s), holding a timer and no goroutine meanwhile, so
// that thousands of hosts whose sshd is down cost little; a caller that
// finds such a host down brings its next dial forward. What the keepalives
// say is available without I/O (State), so the monitor can tell "the
// host's sshd answers" from "it went silent" at once.
//
// Callers never wait for a dial beyond their context: Shell, Files and
// DialTCP return the live connection, wait for a first dial in progress
// within ctx, or return at once why the host is not connected.
package sshpool
