package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
)

// The first SIGINT/SIGTERM cancels the command; a second one, counted
// across the process, exits at once with the shell's code, unless a
// holder (answerInterrupts while servers change, the manager while it
// fails over) says the process must finish first.
func TestInterrupts(t *testing.T) {
	busy := func(msg string) func() (bool, string) { return func() (bool, string) { return true, msg } }
	idle := func() (bool, string) { return false, "" }
	tests := []struct {
		why      string
		sigs     []os.Signal
		hold     func() (bool, string) // held during every signal
		released int                   // the hold is released before this signal (0 = never)
		exit     int                   // -1: the process is not ended
		say      []string
	}{
		{"one SIGINT only cancels the command", []os.Signal{os.Interrupt}, nil, 0, -1, []string{"interrupt: stopping; send the signal again"}},
		{"a second SIGINT exits with 130", []os.Signal{os.Interrupt, os.Interrupt}, nil, 0, 130, []string{"interrupt again: exiting now"}},
		{"a second SIGTERM exits with 143", []os.Signal{syscall.SIGTERM, syscall.SIGTERM}, nil, 0, 143, []string{"terminated again"}},
		{"signals count together: SIGINT then SIGTERM is a second signal", []os.Signal{os.Interrupt, syscall.SIGTERM}, nil, 0, 143, nil},
		{"while answerInterrupts answers, no forced exit and no word from main", []os.Signal{os.Interrupt, os.Interrupt, os.Interrupt}, busy(""), 0, -1, nil},
		{"while the manager fails over, each signal says why it goes on", []os.Signal{syscall.SIGTERM, syscall.SIGTERM}, busy("a failover is running"), 0, -1, []string{"gomha: a failover is running"}},
		{"a holder that is not busy does not hold", []os.Signal{os.Interrupt, os.Interrupt}, idle, 0, 130, nil},
		{"the count survives the hold: a signal during it and one after it exit", []os.Signal{os.Interrupt, os.Interrupt}, busy(""), 2, 130, nil},
	}
	for _, tc := range tests {
		t.Run(tc.why, func(t *testing.T) {
			var out bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			exit := -1
			in := newInterrupts(&out, cancel, func(c int) { exit = c })
			release := func() {}
			if tc.hold != nil {
				release = in.hold(tc.hold)
			}
			for i, s := range tc.sigs {
				if i+1 == tc.released {
					release()
				}
				in.handle(s)
			}
			if ctx.Err() == nil {
				t.Error("the first signal did not cancel the command")
			}
			if exit != tc.exit {
				t.Errorf("exit %d, want %d\n%s", exit, tc.exit, out.String())
			}
			for _, s := range tc.say {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
			if tc.exit == -1 && strings.Contains(out.String(), "exiting") {
				t.Errorf("not ended, yet says so:\n%s", out.String())
			}
		})
	}
}

// answerInterrupts holds main's interrupts while it runs, and only then.
func TestAnswerInterruptsHolds(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := -1
	in := newInterrupts(&out, cancel, func(c int) { exit = c })
	stop := answerInterrupts(withInterrupts(ctx, in), &out, func() string { return "promoting" })
	in.handle(os.Interrupt)
	in.handle(os.Interrupt)
	if exit != -1 {
		t.Fatalf("exited %d while a failover changes servers", exit)
	}
	stop()
	in.handle(os.Interrupt)
	if exit != 130 {
		t.Fatalf("exit %d after answerInterrupts stopped, want 130", exit)
	}
}
