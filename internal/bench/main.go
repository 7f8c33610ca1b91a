// Command bench runs gomha's failover scenarios repeatedly on real 3-host
// sandbox clusters and prints the medians of detection time, recovery time,
// write downtime seen by a writer, and lost writes; then, with -scale, runs
// many simulated clusters under one manager process and measures its CPU,
// memory and detection time. Run it with `make bench`.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gomha/gomha/internal/haproxy"
	"github.com/gomha/gomha/node"
)

func main() {
	runs := flag.Int("runs", 5, "runs per scenario")
	only := flag.String("only", "", "comma-separated scenario names to run (default all)")
	dir := flag.String("dir", "", "work directory (default a temporary one)")
	verbose := flag.Bool("v", false, "log each run")
	gomha := flag.String("gomha", "bin/gomha", "the gomha binary, run for the big-transaction figure")
	big := flag.Int("big", 1024, "MiB of the single transaction salvaged once at the end (0: skip)")
	example := flag.String("haproxy-example", haproxy.ExamplePath, "the HAProxy configuration the \"proxy\" rows run (/usr/sbin/haproxy)")
	scale := flag.String("scale", "100,500,1000", "cluster counts of the scale table (\"\": skip)")
	scaleRuns := flag.Int("scale-runs", 3, "scale: runs per cluster count (medians)")
	var sc scaleConfig
	flag.StringVar(&sc.Sim, "simmysql", "bin/simmysql", "the simulator binary (go build ./internal/simmysql/cmd/simmysql)")
	flag.DurationVar(&sc.Settle, "scale-settle", 10*time.Second, "scale: wait after every manager monitors, before measuring")
	flag.DurationVar(&sc.Window, "scale-window", 20*time.Second, "scale: measuring window")
	flag.IntVar(&sc.Kills, "scale-kills", 5, "scale: masters killed one after the other for the detection figure")
	flag.IntVar(&sc.StartBatch, "scale-start-batch", 100, "scale: managers started at once, the next ones when these monitor (0: all at once)")
	flag.IntVar(&sc.BasePort, "scale-base-port", 0, "scale: first port of the simulated servers on 127.0.4.x (0: ports the kernel picks)")
	flag.StringVar(&sc.Profile, "scale-profile", "", "scale: write CPU and heap profiles of each run in this directory (DIR/N/)")
	flag.IntVar(&sc.Clusters, "scale-run", 0, "internal: run one scale measurement with this many clusters, print it as JSON")
	flag.Parse()
	work := *dir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "gomha-bench-"); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(work)
	}
	node.QuietDriverLogs()
	logger := newLogger(*verbose)
	ctx := context.Background()
	sc.Dir = work
	if sc.Clusters > 0 {
		if err := runScaleChild(ctx, sc, *verbose); err != nil {
			fmt.Fprintln(os.Stderr, "bench: scale:", err)
			os.Exit(1)
		}
		return
	}
	var rows []row
	var notes []string
	failed := false
	for _, sc := range scenarios() {
		if *only != "" && !contains(strings.Split(*only, ","), sc.name) {
			continue
		}
		var res []result
		for i := 0; i < *runs; i++ {
			r, err := runOnce(ctx, sc, filepath.Join(work, fmt.Sprintf("%s-%d", sc.name, i)), logger)
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: %s run %d: %v\n", sc.name, i+1, err)
				failed = true
				continue
			}
			if sc.noFailover {
				verdict := fmt.Sprintf("no failover within %s after the fault", quietWindow)
				if r.failedOver {
					verdict = "FAILED OVER"
				}
				fmt.Fprintf(os.Stderr, "bench: %-22s run %d: %s, write downtime %s, lost %d\n",
					sc.name, i+1, verdict, r.downtime.Round(time.Millisecond), r.lost)
			} else {
				fmt.Fprintf(os.Stderr, "bench: %-22s run %d: detection %s, recovery %s, write downtime %s, lost %d %s\n",
					sc.name, i+1, r.detection.Round(time.Millisecond), r.recovery.Round(time.Millisecond), r.downtime.Round(time.Millisecond), r.lost, r.note)
			}
			res = append(res, r)
			if r.note != "" {
				notes = append(notes, fmt.Sprintf("%s, run %d: %s", sc.name, i+1, r.note))
			}
		}
		rows = append(rows, summarize(sc, res))
	}
	if len(rows) > 0 {
		printTable(rows)
	}
	for _, n := range notes {
		fmt.Println(n)
	}
	if *only == "" || contains(strings.Split(*only, ","), "proxy") {
		if err := benchProxy(ctx, *runs, *example, filepath.Join(work, "proxy"), logger); err != nil {
			fmt.Fprintln(os.Stderr, "bench: proxy:", err)
			failed = true
		}
	}
	if *big > 0 && (*only == "" || contains(strings.Split(*only, ","), "big")) {
		if err := printBig(ctx, *gomha, *big, filepath.Join(work, "big"), logger); err != nil {
			fmt.Fprintln(os.Stderr, "bench: big transaction:", err)
			failed = true
		}
	}
	if *scale != "" && (*only == "" || contains(strings.Split(*only, ","), "scale")) {
		sizes, err := parseSizes(*scale)
		if err == nil {
			err = scaleTable(ctx, sizes, sc, *scaleRuns, *verbose)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: scale:", err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func newLogger(verbose bool) *slog.Logger {
	if verbose {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

func printBig(ctx context.Context, gomha string, mib int, dir string, logger *slog.Logger) error {
	r, err := bigTransaction(ctx, gomha, mib, dir, logger)
	if err != nil {
		return err
	}
	met := "yes"
	if r.peakRSS >= 200<<20 {
		met = "NO"
	}
	fmt.Printf("\none transaction of %.2f GiB (%d rows, ROW format) salvaged from the dead master and applied to the new master:\n",
		float64(r.trxBytes)/(1<<30), r.rows)
	fmt.Printf("  failover %.1f s, peak RSS of the gomha process %d MiB (target < 200 MiB): %s; rows lost: 0\n",
		r.took.Seconds(), r.peakRSS>>20, met)
	fmt.Printf("  (largest peak in its process tree, mariadb-binlog | mariadb included: %d MiB)\n", r.treeRSS>>20)
	return nil
}

type result struct {
	detection, recovery, downtime time.Duration
	lost                          int
	inFlight                      int    // of lost: acknowledged just before the fault, never sent (asynchronous replication)
	note                          string // what happened to the old master, or the manager's view, for some scenarios
	failedOver                    bool   // a "no failover expected" scenario failed over
}

type row struct {
	sc                            scenario
	n                             int
	detection, recovery, downtime time.Duration
	lost, inFlight                int
	failovers                     int // runs of a "no failover expected" scenario that failed over
}

func summarize(sc scenario, rs []result) row {
	r := row{sc: sc, n: len(rs)}
	var d, rec, down []time.Duration
	for _, x := range rs {
		d, rec, down = append(d, x.detection), append(rec, x.recovery), append(down, x.downtime)
		r.lost += x.lost
		r.inFlight += x.inFlight
		if x.failedOver {
			r.failovers++
		}
	}
	r.detection, r.recovery, r.downtime = median(d), median(rec), median(down)
	return r
}

func median(xs []time.Duration) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	return xs[len(xs)/2]
}

func printTable(rows []row) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\truns\tdetection\trecovery\twrite downtime\tlost writes\ttarget (downtime)\tMHA 0.58\tmet\t")
	for _, r := range rows {
		det, rec, target := secs(r.detection), secs(r.recovery), "<= "+secs(r.sc.target)
		met := "yes"
		if r.n == 0 || r.downtime > r.sc.target || r.lost > r.inFlight {
			met = "NO"
		}
		lost := fmt.Sprint(r.lost)
		if r.inFlight > 0 {
			lost = fmt.Sprintf("%d (%d in flight)", r.lost, r.inFlight)
		}
		if r.sc.noFailover {
			det, rec, target, met, lost = "-", "-", "no failover", noFailoverMet(r), fmt.Sprint(r.lost)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.sc.title, r.n, det, rec,
			secs(r.downtime), lost, target, r.sc.mha, met)
	}
	tw.Flush()
	fmt.Println("\nmedians over the runs; ping_interval=1; detection = fault -> master confirmed dead;")
	fmt.Println("recovery = confirmed dead -> failover finished; write downtime = longest gap between two acknowledged commits;")
	fmt.Println("lost writes = acknowledged commits missing on the new master (sum over all runs); \"in flight\": acknowledged less than")
	fmt.Println("20 ms before the fault and lost with the master's host (asynchronous replication: nothing can bring them back).")
	for _, r := range rows {
		if r.sc.noFailover {
			fmt.Printf("\"no failover\" rows: met when the manager did not fail over within %s after the fault (after the\n", quietWindow)
			fmt.Println("heal, for the blip) and no acknowledged commit is missing on the master; the write downtime is as the writer saw it.")
			break
		}
	}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
