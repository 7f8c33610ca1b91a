// Package sandbox deploys local MariaDB replication clusters for the demo and
// for integration tests.
//
// Host i of a sandbox owns the loopback address Subnet.(BaseOctet+i)
// (127.0.0.11, 127.0.0.12, ... by default) and runs there its own mariadbd on
// port 3306 and its own sshd on port 22, both as root and detached from the
// process that called Up, so a sandbox outlives the `gomha sandbox up`
// command. host1 is the master; every other host replicates from it, with
// GTID (MASTER_USE_GTID=slave_pos) or by file and position, and is read-only
// at runtime. The database gomha_test exists on every host.
//
// Every file lives under Dir:
//
//	sandbox.json           state read by Open: hosts, users, passwords, pids (mode 0600)
//	app1.cnf               MHA configuration of the cluster ([server default], [server1]...)
//	manager/               manager_workdir (and manager_log app1.log)
//	ssh/id_ed25519(.pub)   client key pair that may log in as root on every host
//	ssh/authorized_keys    the client public key, used by every sshd
//	ssh/known_hosts        one "<addr> ssh-ed25519 AAAA..." line per host
//	hostN/my.cnf           mariadbd options (started as mariadbd --defaults-file=hostN/my.cnf)
//	hostN/data/            datadir, also holding relay-bin.* and master.info
//	hostN/binlog/          mysql-bin.* (MHA master_binlog_dir)
//	hostN/error.log        mariadbd error log
//	hostN/mysqld.sock      unix socket: mariadb -S hostN/mysqld.sock -u root (no password)
//	hostN/mysqld.pid       written by mariadbd
//	hostN/mysqld.out       mariadbd stdout and stderr
//	hostN/sshd_config      sshd options (started as sshd -D -f hostN/sshd_config)
//	hostN/ssh_host_ed25519_key(.pub)  host key
//	hostN/sshd.log         sshd log (-E)
//
// Datadirs are copies of a template initialised once by mariadb-install-db
// with the sandbox users already in it (cached in
// /var/tmp/gomha-sandbox-template-<version>-<hash>, guarded by a lock file),
// so that no user creation is ever replicated.
//
// Users, identical on every host: AdminUser@'127.%' with all privileges (the
// manager's user; its password holds a space and a '#'), ReplUser@'127.%'
// with REPLICATION SLAVE, and root@localhost without password.
//
// Each host has its own identity on the network: its mariadbd and sshd are
// created inside the cgroup v2 group gomha_sandbox/<id>/hostN (Cluster.Cgroup,
// below the cgroup2 mount), which their children (ssh sessions) inherit, and
// an iptables nat rule (chain gomha_snat_<id>, matching that cgroup)
// source-NATs whatever they send to 127.0.0.0/8 to the host's address. So a
// replica's IO thread, or a probe run over a host's ssh, comes from that
// host's address rather than 127.0.0.1; the '127.%' accounts accept it.
// Without cgroup v2 or the iptables cgroup match, Up warns and the hosts dial
// from 127.0.0.1 as before; Cut then fails with ErrNoIdentity.
//
// Faults: KillMysqld (SIGKILL), StopMysqld (SIGTERM), StartMysqld, KillHost
// (mariadbd, sshd and its sessions), StartHost, Freeze/Thaw (SIGSTOP/SIGCONT
// of mariadbd: a hung server whose kernel still accepts connections), and
// packet drops in the input hook (nft table inet gomha_sandbox, one chain per
// sandbox; iptables INPUT rules where nft does not work), so connections time
// out rather than being refused: Isolate (every packet to or from a host),
// IsolateFrom (between a host and one address, e.g. a manager's) and Cut
// (between two hosts). Drops match both the packets' addresses and their
// connection's conntrack reply tuple, as a reply to a source-NATed process
// is de-NATed to 127.0.0.1 before the input hook. Heal and Join undo them.
//
// Processes are only ever signalled by their recorded pid, and only while
// /proc/PID/cmdline still names this sandbox's my.cnf or sshd_config. The one
// exception is Down: once those are gone, what is left in a host's cgroup
// (a daemon an ssh session left behind) is killed by cgroup.kill, so that
// the cgroups can be removed.
package sandbox
