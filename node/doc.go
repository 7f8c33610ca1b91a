// Package node holds every conversation gomha has with one host: a MySQL
// session (go-sql-driver, flavour detected once, SLAVE/REPLICA terms) and an
// SSH session (x/crypto/ssh, known_hosts verified, bounded by deadlines).
// It turns what it reads into topology values; it decides nothing.
package node
