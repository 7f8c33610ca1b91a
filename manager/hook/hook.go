// Package hook runs MHA's external scripts (master_ip_failover_script,
// shutdown_script, report_script, ...) with MHA's arguments, a deadline, and
// their output captured for the log and the failover report.
//
// A script setting is a shell command line as in MHA (it may carry its own
// arguments); gomha's arguments are appended as separate words, never
// interpolated into the shell text. Secrets (passwords) are not put on the
// command line: they are passed in the environment, under the MHA option name
// upper-cased, e.g. MHA_NEW_MASTER_PASSWORD. A Runner with PasswordArgs also
// puts them on the command line, as MHA does, for scripts that cannot be
// changed; the logged command line shows them masked.
package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Arg is one --name=value argument.
type Arg struct {
	Name   string
	Value  string
	Secret bool // passed as environment variable MHA_<NAME>, not on the command line
	Flag   bool // a bare --name with no value
}

// Result is what one hook run did.
type Result struct {
	Script   string        `json:"script"`
	Args     []string      `json:"args"`
	ExitCode int           `json:"exit_code"`
	Output   string        `json:"output"`
	Took     time.Duration `json:"took"`
	TimedOut bool          `json:"timed_out,omitempty"`
}

// Runner runs scripts with a deadline.
type Runner struct {
	Timeout time.Duration // default 60 s
	// PasswordArgs also passes secrets as --name=value words (MHA's way,
	// readable by every local user in ps); they stay in the environment.
	PasswordArgs bool
}

// masked replaces a secret's value in logged command lines.
const masked = "xxx"

// ErrTimeout is returned when a script outlives its deadline; it is killed
// with its whole process group.
var ErrTimeout = errors.New("hook timed out")

// Run executes script with args. A non-zero exit is not an error here: the
// caller reads Result.ExitCode (MHA gives 0, 10 and other codes different
// meanings). Errors are for scripts that could not run or timed out.
func (r Runner) Run(ctx context.Context, script string, args []Arg) (Result, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	words, logged, env := build(args, r.PasswordArgs)
	res := Result{Script: script, Args: logged}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", script + ` "$@"`, "sh"}, words...)...)
	cmd.Env = append(os.Environ(), env...)
	// Its own process group, killed whole on the deadline; and it dies
	// with the process that started it (Pdeathsig follows the OS thread
	// that forked, hence the lock), never running on after a killed manager.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	runtime.LockOSThread()
	err := cmd.Run()
	runtime.UnlockOSThread()
	res.Took = time.Since(start)
	res.Output = strings.TrimRight(out.String(), "\n")
	if ctx.Err() == context.DeadlineExceeded {
		res.TimedOut, res.ExitCode = true, -1
		return res, fmt.Errorf("%s: %w after %s", script, ErrTimeout, timeout)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
	default:
		res.ExitCode = -1
		return res, fmt.Errorf("run %s: %w", script, err)
	}
	return res, nil
}

// build returns the words to run the script with, the same words as
// logged (secrets masked) and the environment additions.
func build(args []Arg, passwordArgs bool) (words, logged, env []string) {
	for _, a := range args {
		switch {
		case a.Secret:
			env = append(env, "MHA_"+strings.ToUpper(a.Name)+"="+a.Value)
			if passwordArgs {
				words = append(words, "--"+a.Name+"="+a.Value)
				logged = append(logged, "--"+a.Name+"="+masked)
			}
		case a.Flag:
			words = append(words, "--"+a.Name)
			logged = append(logged, "--"+a.Name)
		default:
			words = append(words, "--"+a.Name+"="+a.Value)
			logged = append(logged, "--"+a.Name+"="+a.Value)
		}
	}
	return words, logged, env
}

// String renders the command line as logged: script and arguments; secrets
// are never part of it.
func (r Result) String() string {
	return strings.TrimSpace(r.Script + " " + strings.Join(r.Args, " "))
}
