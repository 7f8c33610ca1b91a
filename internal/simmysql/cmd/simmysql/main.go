// Command simmysql runs simulated MariaDB clusters (package simmysql) on
// 127.0.4.x for gomha's scale benchmark, driven by JSON lines on stdin
// (one response per line on stdout; see simmysql.Request):
//
//	{"op":"start","clusters":1000}
//	{"op":"kill","cluster":17}
//	{"op":"stats"}
//	{"op":"quit"}
//
// Statements it does not simulate are logged on stderr.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/gomha/gomha/internal/simmysql"
)

func main() {
	user := flag.String("user", "gomha", "account the servers accept")
	password := flag.String("password", "gomha", "its password")
	basePort := flag.Int("base-port", 0, "first port (server j: 127.0.4.(1+j%250), port base+j/250); 0: ports the kernel picks")
	heartbeat := flag.Duration("heartbeat", 500*time.Millisecond, "replicas' MASTER_HEARTBEAT_PERIOD")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "simmysql:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	// The Go runtime has raised the soft limit on open files to the hard
	// one: a thousand clusters are three thousand listeners.
	sim := simmysql.New(simmysql.Options{User: *user, Password: *password, BasePort: *basePort, Heartbeat: *heartbeat,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	err := simmysql.Serve(sim, os.Stdin, os.Stdout)
	sim.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "simmysql:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}
