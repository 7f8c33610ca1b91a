// Package supervisor runs the managers of many clusters in one process
// (DESIGN.md, "Coordination": the monitor of one cluster is a unit; a
// supervisor runs many of them).
//
// # Units
//
// Each configuration file is one unit: a goroutine that runs
// manager.RunManager for its cluster with its own logger (attribute
// app=<name>), its own console (the cluster's manager_log when set, else
// the shared output with every line prefixed by "[app] "), its own status
// files, reports and failovers. Nothing is shared between units but the
// output writers, so a failover in one cluster never delays detection in
// another.
//
// A unit whose manager returns an error does not stop the process. The
// error is reported in one line and, while the unit waits, it keeps the
// cluster's presence lock so that check status reads the state its
// status file gives (CONFIG_ERROR, FAILOVER_ERROR...) rather than
// NOT_RUNNING:
//
//   - a start-up error (a check failed, another manager runs, the
//     workdir is not writable) is retried after Options.Retry (10 s);
//   - a failover that failed or was refused (ErrInterrupted, a recent
//     failover, no candidate...) is not retried: the unit waits for an
//     operator, that is the next Reload (SIGHUP) or a change to its file.
//
// # Leadership
//
// Before it runs the manager, a unit asks its Gate for the right to lead
// the cluster; see Gate. Without one, LocalGate grants it at once.
//
// # Reload
//
// Reload takes the complete list of configuration files: a new file
// starts a unit, a file no longer listed stops its unit, a changed file
// (its bytes or the global file's) restarts only its unit; the others are
// not touched. A file that cannot be loaded, or that names an application
// or a server another file already watches, is reported in one line and
// changes nothing: a unit already running for it keeps its previous
// configuration. Units stop cleanly: never in the middle of a failover
// (RunManager never lets a cancelled context interrupt one).
//
// # Stopping one cluster
//
// While a unit runs it writes <manager_workdir>/<app>.supervised (the
// process id). gomha stop --conf F finds it and, instead of signalling
// the whole process, writes <app>.stop_request beside it; the unit sees
// it within Options.StopPoll, stops its manager cleanly, removes its
// status file and stays stopped until the next Reload. See RequestStop.
package supervisor
