// Package topology is gomha's pure model of a replication cluster: server
// identities (Key), what the configuration says of each server (Server), what
// was observed on it (Status, Replica), GTID positions, and the analysis of a
// Snapshot into a current master, a tree and a list of Problems.
//
// Nothing in this package performs I/O; everything here is a value that the
// node package fills and the check, failover and switchover code reads.
package topology
