// Package manager is gomha's long-running side and the commands built on the
// same pieces: the health checks (check repl, check ssh), the monitor, the
// state files. manager/config reads MHA's files; manager/hook runs scripts.
package manager
