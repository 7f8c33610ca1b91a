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
	out := &countingWriter{w: stdout}
	root := newRootCmd(out, stderr, env)
	if strings.HasPrefix(name, "masterha_") {
		if err := answersTo(root, name); err != nil {
			fmt.Fprintln(stderr, "gomha: "+err.Error())
			return 1
		}
		rest = append([]string{name}, rest...)
	}
	root.SetArgs(rest)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	code, msg := 1, oneLine(err.Error())
	var se *silentError
	var ee *exitError
	switch {
	case errors.As(err, &se):
		code, msg = se.code, ""
	case errors.As(err, &ee):
		code = ee.code
	}
	if msg != "" {
		fmt.Fprintln(stderr, "gomha: "+msg)
	}
	if out.n == 0 && wantsJSON(cmd, rest) {
		if msg == "" {
			msg = err.Error()
		}
		_ = writeJSON(stdout, map[string]any{"error": msg, "exit_code": code})
	}
	return code
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

// countingWriter tells whether a command already wrote its report.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// wantsJSON reports whether the command line asked cmd for -o json. An
// error is then also a JSON object on standard output, unless the command
// already wrote its JSON report there (which carries the outcome):
// standard output holds exactly one JSON document. The arguments are read
// too, since a usage error can stop parsing before --output.
func wantsJSON(cmd *cobra.Command, args []string) bool {
	if cmd == nil || cmd.Flags().Lookup("output") == nil {
		return false
	}
	if f := cmd.Flags().Lookup("output"); f.Changed {
		return f.Value.String() == "json"
	}
	for i, a := range args {
		if a == "--" {
			break
		}
		switch {
		case a == "-ojson", a == "-o=json", a == "--output=json":
			return true
		case (a == "-o" || a == "--output") && i+1 < len(args) && args[i+1] == "json":
			return true
		}
	}
	return false
}
