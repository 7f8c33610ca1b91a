// Package binlog reads MariaDB/MySQL binlogs and relay logs from raw bytes (a
// local file or a stream such as an SSH `cat`) for the failover engine.
//
//   - Scanner: a fast header-level reader with true file offsets, CRC32
//     verification done here (the FDE of a binlog that was not closed cleanly
//     carries LOG_EVENT_BINLOG_IN_USE_F and its CRC is computed with that flag
//     cleared; go-mysql's own verification rejects it), and truncated tails
//     reported instead of failing. ScanSource/ScanReader summarise a file.
//   - Splitter: transaction boundaries (MariaDB GTID events with standalone
//     flag, MySQL GTID/ANONYMOUS_GTID, and binlogs without GTIDs).
//   - FindRelayPos: MHA's mapping of a master coordinate into this replica's
//     relay logs, following the master's (fake) Rotate events.
//   - Extract: a valid binlog file of whole transactions from a start
//     position across files, headed by the (master's) FDE with the in-use
//     flag cleared.
//   - Apply: mariadb-binlog | mariadb --binary-mode into a target server,
//     credentials in a 0600 option file.
//
// Only the events that matter are decoded (FDE, Rotate, GTID, Gtid_list,
// Query text); everything else is carried as raw bytes.
package binlog
