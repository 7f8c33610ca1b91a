package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
)

// interrupts answers SIGINT and SIGTERM for the whole process. The first
// cancels the command's context: the command stops cleanly. A second one,
// counted across the process, ends it at once (130 for SIGINT, 143 for
// SIGTERM), unless a holder says the process is changing servers: then it
// is answered by the holder (answerInterrupts prints where a failover
// stands) and the command finishes first.
type interrupts struct {
	w      io.Writer
	cancel context.CancelFunc
	exit   func(int)

	mu    sync.Mutex
	n     int
	next  int
	holds map[int]func() (busy bool, msg string)
}

func newInterrupts(w io.Writer, cancel context.CancelFunc, exit func(int)) *interrupts {
	return &interrupts{w: w, cancel: cancel, exit: exit, holds: map[int]func() (bool, string){}}
}

type interruptsKey struct{}

func withInterrupts(ctx context.Context, in *interrupts) context.Context {
	return context.WithValue(ctx, interruptsKey{}, in)
}

// interruptsFrom returns the process's interrupts, nil when the command
// runs without them (in tests).
func interruptsFrom(ctx context.Context) *interrupts {
	in, _ := ctx.Value(interruptsKey{}).(*interrupts)
	return in
}

// hold keeps further signals from ending the process while busy reports
// true; busy's msg is printed on each signal ("" when the holder answers
// signals itself). The returned func releases the hold.
func (in *interrupts) hold(busy func() (bool, string)) func() {
	if in == nil {
		return func() {}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	id := in.next
	in.next++
	in.holds[id] = busy
	return func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		delete(in.holds, id)
	}
}

// watch handles every signal of sigs until it is closed.
func (in *interrupts) watch(sigs <-chan os.Signal) {
	for sig := range sigs {
		in.handle(sig)
	}
}

func (in *interrupts) handle(sig os.Signal) {
	in.mu.Lock()
	in.n++
	n := in.n
	holds := make([]func() (bool, string), 0, len(in.holds))
	for _, h := range in.holds {
		holds = append(holds, h)
	}
	in.mu.Unlock()
	if n == 1 {
		in.cancel()
	}
	for _, busy := range holds {
		if ok, msg := busy(); ok {
			if msg != "" {
				fmt.Fprintln(in.w, "gomha: "+msg)
			}
			return
		}
	}
	if n == 1 {
		fmt.Fprintf(in.w, "gomha: %s: stopping; send the signal again to exit at once\n", sig)
		return
	}
	fmt.Fprintf(in.w, "gomha: %s again: exiting now\n", sig)
	in.exit(signalExitCode(sig))
}

// signalExitCode is the shell's code for a process ended by sig.
func signalExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}
