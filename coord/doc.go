// Package coord makes sure that, per cluster ("app", the configuration
// file's base name), one actor acts at a time (the manager while it fails
// over, a manual failover, a switchover, conf-host), and that a failover
// killed half-way leaves a journal the next run reads (DESIGN.md,
// invariant 4 "One actor").
//
// # The lock
//
// Acquire takes two locks, without waiting for either:
//
//   - the local lock: an exclusive flock on <manager_workdir>/<app>.lock,
//     which holds a JSON description of the holder (Holder) written once
//     the flock is taken. flock belongs to the open file description, so a
//     second open of the file is refused even in the same process, and a
//     process that dies, however it dies, releases it. The file is never
//     removed: removing a lock file lets two processes lock two different
//     files of the same name. A description with no flock held means
//     nothing. ReadLocal says who holds it without taking it.
//
//   - a lock on every server of the cluster that answers within
//     Options.ServerTimeout, so that an operator on another machine, with
//     another manager_workdir, is refused too: GET_LOCK('gomha_actor_<app>', 0)
//     on a connection kept open while the lock is held, and a row in
//     gomha.actors (app, holder JSON, since in UTC) that names the holder.
//     Everything is written with sql_log_bin=0 on that connection: nothing
//     reaches a binlog and no GTID is created, on a master or a read_only
//     replica. A holder that dies closes its connections and the servers
//     free its locks; a row whose connection no longer holds the lock is
//     stale and ignored. Each lock connection is used every
//     Options.Keepalive and has a wait_timeout of three of them, so the
//     lock of a holder whose machine vanished is freed within that time
//     and that of a live one never is. Servers that do not answer are
//     skipped (Lock.Skipped); when none answers the lock is refused
//     (ErrNoServer).
//
// A lock already held gives a *HeldError (errors.Is(err, ErrHeld)) whose
// message is one line naming the holder:
//
//	app1: failover by pid 4242 on host mgr1 since 15:04:05 (2 m 10 s ago) holds the lock on 127.0.0.11:3306
//
// Before each irreversible step the actor calls Lock.Check, which proves
// every server lock is still held (ErrLost otherwise).
//
// # The journal
//
// A failover records each step in <manager_workdir>/<app>.failover.journal
// before performing it: one JSON line per Entry, fsynced (and the
// directory fsynced when the journal is created). OpenJournal refuses when
// a journal is already there (ErrJournalExists): a previous run did not
// finish, and its successor reads it (ReadJournal, Summary) and either
// resumes it (Resume) or sets it aside (Finish). Finish renames the journal
// to <app>.failover.journal.<UTC time>.done, keeping the 5 newest. A line
// torn by a crash mid-write is ignored and reported.
//
// coord knows nothing of failover, and failover does not import it: it
// declares the small interfaces it needs (check the right to act, record a
// step), which manager and cmd satisfy with a *Lock and a *Journal.
package coord
