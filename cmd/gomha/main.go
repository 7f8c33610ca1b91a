// Command gomha is a MySQL/MariaDB master failover manager. Invoked under one
// of MHA's command names (masterha_check_repl, masterha_check_ssh, ...) it
// behaves as that command, with MHA's options and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/node"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	in := newInterrupts(os.Stderr, cancel, os.Exit)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go in.watch(sigs)
	code := run(withInterrupts(ctx, in), os.Args, os.Stdout, os.Stderr)
	signal.Stop(sigs)
	cancel()
	os.Exit(code)
}

// exitError carries a specific exit code to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// silentError has already been reported to the user; main only exits.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run executes the command named by args[0] (an MHA name) or the gomha CLI,
// and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, stdout, stderr, defaultEnv())
}

func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, env cliEnv) int {
	node.QuietDriverLogs()
	name := filepath.Base(args[0])
	rest := args[1:]
	root := newRootCmd(stdout, stderr, env)
	if strings.HasPrefix(name, "masterha_") {
		if err := answersTo(root, name); err != nil {
			fmt.Fprintln(stderr, "gomha: "+err.Error())
			return 1
		}
		rest = append([]string{name}, rest...)
	}
	root.SetArgs(rest)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var se *silentError
	if errors.As(err, &se) {
		return se.code
	}
	fmt.Fprintln(stderr, "gomha: "+oneLine(err.Error()))
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// answersTo refuses an MHA name gomha has no command for
// (masterha_master_monitor, masterha_secondary_check).
func answersTo(root *cobra.Command, name string) error {
	var names []string
	for _, c := range root.Commands() {
		if c.Name() == name {
			return nil
		}
		if isMHA(c) {
			names = append(names, c.Name())
		}
	}
	return fmt.Errorf("gomha does not answer to %s; its MHA commands are %s", name, strings.Join(names, ", "))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
