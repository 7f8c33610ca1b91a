// Package etcdcoord lets several gomha managers, on different hosts, share
// the clusters they watch through etcd, so that the manager is no longer a
// single point of failure and two managers never act on one cluster.
//
// # Keys
//
// Everything of cluster app lives under <prefix><app>/ (prefix "/gomha/"):
//
//	leader/<lease>     the election (concurrency.Election): the oldest key leads
//	managers/<id>      every manager that campaigns, bound to its lease
//	journal/<seq>      the running failover's journal, one coord.Entry (JSON) per step
//	journal-done       the last finished journal (JSON array)
//	state/<name>       what the leader publishes: status, view, master, report
//
// # Leadership and the fencing token
//
// Lead campaigns for a cluster on the process's session (one lease of TTL
// seconds for all its clusters) and returns once this manager leads. The
// leadership is valid while the lease surely lives: the manager renews the
// lease itself every TTL/6 and counts it valid until 3/4 TTL after the
// last renewal was *sent* (the server cannot have started the TTL
// earlier); the last quarter is the margin for clock-rate drift. When that
// time passes without a renewal (etcd unreachable, this host cut off), the
// lead context ends before the lease can expire on the server, so a
// successor elected after the expiry never overlaps an acting predecessor.
//
// Every irreversible failover step is written to the journal in one etcd
// transaction whose condition is the fencing token: the leader key still
// has the create revision it had when this manager was elected. A deposed
// leader's write fails (ErrNotLeader) and its failover stops there; the
// successor reads the journal and finishes the failover from the last
// completed step (never repeating an apply: the steps are those of
// gomha failover --resume).
//
// # TLS and authentication
//
// Options.CACert verifies etcd's certificate (https:// endpoints without it
// trust the system's CAs); Cert and Key are the client certificate an etcd
// with --client-cert-auth requires. With Username and Password the client
// logs in first: a refused password fails New, no answer does not (the
// connection is made again when needed). The user needs readwrite on the
// keys under the prefix and nothing else (leases need no permission).
// A call that finds no connection says why gRPC could not make one (a TLS
// handshake refused, a certificate not trusted) and what in the options
// likely causes it, where the client alone would report a bare deadline.
//
// # Without a quorum
//
// With no etcd majority nothing can be written: the leader's renewals fail,
// it stops acting within TTL*2/3, and no manager can be elected until etcd
// answers again. No manager fails over without etcd; each says so in its
// log, and monitoring resumes when etcd answers.
package etcdcoord
