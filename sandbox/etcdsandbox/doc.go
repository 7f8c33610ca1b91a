// Package etcdsandbox runs a real etcd cluster on this machine for tests
// and demos: one /usr/bin/etcd process per member (Debian's etcd-server,
// 3.4), each on its own loopback address (127.0.2.1, .2, .3 by default)
// with its data dir and log under Dir, started from a static initial
// cluster with short raft timings. It records the pids it starts in
// Dir/etcd.json and only ever signals those, so another process (the
// gomha CLI) can stop exactly them.
//
// Faults: Kill (SIGKILL) and Stop a member, Start it again on its data;
// Cut a client's source address off every member with nft or iptables, as
// the MySQL sandbox does, and Join it back. ClientConfig makes a client
// that dials from a chosen address so that Cut applies to it alone.
//
// Security: with Options.TLS the members serve clients over https only,
// with a CA, server and client certificates Up makes in Dir/tls
// (Cluster.TLSFiles), and require a client certificate. EnableAuth turns
// etcd's authentication on with one user limited to a key prefix; the
// harness keeps root's password in Dir to reach its own cluster.
//
// Every call the harness makes to etcd has a deadline of its own.
package etcdsandbox
