package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// SupervisedPath is <workdir>/<app>.supervised: while a unit runs app, it
// holds the process id of the supervisor.
func SupervisedPath(workdir, app string) string {
	return filepath.Join(workdir, app+".supervised")
}

// StopRequestPath is <workdir>/<app>.stop_request: written by gomha stop,
// removed by the unit once it has seen it.
func StopRequestPath(workdir, app string) string {
	return filepath.Join(workdir, app+".stop_request")
}

// Supervised reports whether the manager of app with process id pid (the
// pid of its status file) is a unit of a supervisor: that process watches
// other clusters too, and a stop request stops the unit alone.
func Supervised(workdir, app string, pid int) bool {
	data, err := os.ReadFile(SupervisedPath(workdir, app))
	if err != nil || pid <= 0 {
		return false
	}
	got, err := strconv.Atoi(strings.TrimSpace(string(data)))
	return err == nil && got == pid
}

// RequestStop asks the unit of app to stop its manager: it does within its
// StopPoll, cleanly (after a failover it has begun), then removes its
// status file and stays stopped until the supervisor's next Reload.
// Whether the unit has stopped is read from the status file.
func RequestStop(workdir, app string) error {
	path := StopRequestPath(workdir, app)
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return fmt.Errorf("request the stop of %s: %w", app, err)
	}
	return nil
}

// stopRequested reports whether a stop request for app is there.
func stopRequested(workdir, app string) bool {
	_, err := os.Stat(StopRequestPath(workdir, app))
	return err == nil
}

// clearStopRequest removes a stop request (seen, or left by a process that
// is gone).
func clearStopRequest(workdir, app string) {
	_ = os.Remove(StopRequestPath(workdir, app))
}

// markSupervised writes app's .supervised file.
func markSupervised(workdir, app string) error {
	if err := os.MkdirAll(workdir, 0o700); err != nil {
		return fmt.Errorf("manager_workdir %s: %w", workdir, err)
	}
	return os.WriteFile(SupervisedPath(workdir, app), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

// unmarkSupervised removes app's .supervised file when it is this
// process's.
func unmarkSupervised(workdir, app string) {
	if Supervised(workdir, app, os.Getpid()) {
		_ = os.Remove(SupervisedPath(workdir, app))
	}
}
