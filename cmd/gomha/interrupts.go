package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// answerInterrupts runs while a failover or a switchover changes servers.
// The first SIGINT or SIGTERM cancels the command's context (main's
// interrupts): the engine notes it and finishes what it began, since half
// a failover is worse than a late exit. Every further one prints what the
// command is doing and how it ends; while it answers, main's interrupts do
// not end the process. The returned func stops answering.
func answerInterrupts(ctx context.Context, w io.Writer, what func() string) func() {
	sigs := make(chan os.Signal, 4)
	done := make(chan struct{})
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	release := interruptsFrom(ctx).hold(func() (bool, string) { return true, "" })
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case <-sigs:
				if n++; n == 1 {
					fmt.Fprintln(w, "gomha: stop requested: once it has begun changing servers the command finishes first; send the signal again to see where it stands")
					continue
				}
				fmt.Fprintln(w, "gomha: still running: "+what())
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
		release()
	}
}
