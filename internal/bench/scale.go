package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets of issue 12 for 1,000 clusters in one process, ping_interval=1.
const (
	scaleCPUTarget = 1.0       // cores
	scaleRSSTarget = 300 << 20 // bytes
	// scaleSameDetection is how much later than with one cluster a
	// detection still counts as "the same time": a crash is confirmed in
	// milliseconds, and a scheduling delay on a busy machine is not a
	// slower manager.
	scaleSameDetection = 50 * time.Millisecond
)

// scaleTable runs one process per cluster count and run (one cluster
// first, the baseline of detection), each with its own simulator helper,
// and prints the medians. A process per count keeps each one's peak memory
// its own; the counts take turns, so that a busy minute of the machine
// does not fall on one count only.
func scaleTable(ctx context.Context, sizes []int, sc scaleConfig, runs int, verbose bool) error {
	if len(sizes) == 0 || sizes[0] != 1 {
		sizes = append([]int{1}, sizes...)
	}
	results := make([][]scaleResult, len(sizes))
	var failures []string
	for run := range max(runs, 1) {
		for i, n := range sizes {
			r, err := scaleChild(ctx, n, run, sc, verbose)
			if err != nil {
				failures = append(failures, fmt.Sprintf("%d clusters, run %d: %v", n, run+1, err))
				fmt.Fprintf(os.Stderr, "bench: scale: %d clusters, run %d: %v\n", n, run+1, err)
				continue
			}
			results[i] = append(results[i], r)
		}
	}
	var rows []scaleRow
	for i, n := range sizes {
		rows = append(rows, aggregate(n, results[i]))
	}
	printScale(rows, sc, failures)
	if len(failures) > 0 {
		return fmt.Errorf("%d scale runs failed", len(failures))
	}
	return nil
}

// scaleChild runs the bench again with -scale-run n and reads its result.
func scaleChild(ctx context.Context, n, run int, sc scaleConfig, verbose bool) (scaleResult, error) {
	var r scaleResult
	exe, err := os.Executable()
	if err != nil {
		return r, err
	}
	args := []string{"-scale-run", strconv.Itoa(n), "-simmysql", sc.Sim, "-dir", filepath.Join(sc.Dir, fmt.Sprintf("scale-%d-%d", n, run)),
		"-scale-settle", sc.Settle.String(), "-scale-window", sc.Window.String(), "-scale-kills", strconv.Itoa(sc.Kills),
		"-scale-start-batch", strconv.Itoa(sc.StartBatch), "-scale-base-port", strconv.Itoa(sc.BasePort)}
	if verbose {
		args = append(args, "-v")
	}
	if sc.Profile != "" {
		dir := filepath.Join(sc.Profile, fmt.Sprintf("%d-%d", n, run))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return r, err
		}
		args = append(args, "-scale-profile", dir)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return r, err
	}
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], &r); err != nil {
		return r, fmt.Errorf("%w (%s)", err, out)
	}
	return r, nil
}

// scaleRow is the medians of one cluster count's runs.
type scaleRow struct {
	clusters, runs           int
	startup                  time.Duration
	cpu, load, pressure      float64
	rss, peakRSS             int64
	goroutines, files        int
	detections               []time.Duration // every kill of every run
	retries, failed, unknown []string
	slow                     []string // kills detected in more than slowDetection
}

// slowDetection is a detection listed below the table with how long the
// manager's process could not run meanwhile.
const slowDetection = 100 * time.Millisecond

func aggregate(n int, rs []scaleResult) scaleRow {
	row := scaleRow{clusters: n, runs: len(rs)}
	var startup []time.Duration
	var cpu, load, pressure []float64
	var rss, peak []int64
	var gs, fds []int
	for _, r := range rs {
		startup = append(startup, r.Startup)
		cpu, load, pressure = append(cpu, r.CPU), append(load, r.Load), append(pressure, r.Pressure)
		for k, d := range r.Detections {
			if d > slowDetection && k < len(r.Stalls) {
				row.slow = append(row.slow, fmt.Sprintf("%s (this process could not run for up to %s meanwhile)",
					d.Round(time.Millisecond), r.Stalls[k].Round(time.Millisecond)))
			}
		}
		rss, peak = append(rss, r.RSS), append(peak, r.PeakRSS)
		gs, fds = append(gs, r.Goroutines), append(fds, r.Files)
		row.detections = append(row.detections, r.Detections...)
		row.retries = append(row.retries, r.Retries...)
		for app, err := range r.Failed {
			row.failed = append(row.failed, app+": "+err)
		}
		for q, k := range r.Unknown {
			row.unknown = append(row.unknown, fmt.Sprintf("%s (%d times)", q, k))
		}
	}
	if len(rs) == 0 {
		return row
	}
	row.startup = medianOf(startup)
	row.cpu, row.load, row.pressure = medianF(cpu), medianF(load), medianF(pressure)
	row.rss, row.peakRSS = medianI(rss), medianI(peak)
	row.goroutines, row.files = int(medianI(ints64(gs))), int(medianI(ints64(fds)))
	return row
}

func medianF(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func medianI(xs []int64) int64 {
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ints64(xs []int) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = int64(x)
	}
	return out
}

// runScaleChild is the bench re-executed with -scale-run: one run, its
// result printed as JSON on stdout.
func runScaleChild(ctx context.Context, sc scaleConfig, verbose bool) error {
	if err := os.MkdirAll(sc.Dir, 0o700); err != nil {
		return err
	}
	logger := newLogger(verbose)
	res, err := runScale(ctx, sc, logger)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func printScale(rows []scaleRow, sc scaleConfig, failures []string) {
	var base time.Duration
	if len(rows) > 0 && rows[0].clusters == 1 {
		base = medianOf(rows[0].detections)
	}
	fmt.Printf("\nmany clusters in one manager process (simulated MariaDB 10.11, 1 master + 2 replicas each, ping_interval=1, ssh refused):\n")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clusters\truns\tstart-up\tCPU (cores)\tRSS\tpeak RSS\tgoroutines\topen files\tdetection (median; min-max)\tload\tcpu pressure\ttarget met\t")
	for _, r := range rows {
		det := medianOf(r.detections)
		met := "yes"
		switch {
		case r.runs == 0 || len(r.failed) > 0 || len(r.unknown) > 0 || len(r.detections) == 0:
			met = "NO (see below)"
		case r.cpu >= scaleCPUTarget || r.peakRSS >= scaleRSSTarget:
			met = "NO"
		case det > base+scaleSameDetection:
			met = "NO (detection)"
		}
		lo, hi := minMax(r.detections)
		fmt.Fprintf(tw, "%d\t%d\t%.1f s\t%.2f\t%d MiB\t%d MiB\t%d\t%d\t%s; %s-%s\t%.1f\t%.0f%%\t%s\t\n", r.clusters, r.runs, r.startup.Seconds(), r.cpu,
			r.rss>>20, r.peakRSS>>20, r.goroutines, r.files, millis(det), millis(lo), millis(hi), r.load, r.pressure, met)
	}
	tw.Flush()
	fmt.Printf("\nmedians of the runs. CPU, RSS, goroutines and open files: the manager process over %s once every manager\n", sc.Window)
	fmt.Println("monitors (per-second samples; CPU = CPU time / wall time); peak RSS includes the start-up, managers started")
	fmt.Printf("%d at a time. detection = a master killed (port refused, connections reset) -> confirmed dead, %d kills per run\n", sc.StartBatch, sc.Kills)
	fmt.Println("one after the other. load, cpu pressure = the machine's 1-minute load average and PSI cpu \"some avg10\" at")
	fmt.Println("the end of the window (this process and the simulator included).")
	fmt.Printf("Targets: < %.0f core and < %d MiB peak; median detection within %s of one cluster's.\n",
		scaleCPUTarget, scaleRSSTarget>>20, scaleSameDetection)
	for _, r := range rows {
		for _, why := range r.retries {
			fmt.Printf("%d clusters: a manager was started again after its start-up checks failed: %s\n", r.clusters, why)
		}
		for _, why := range r.failed {
			fmt.Printf("%d clusters: a manager stopped: %s\n", r.clusters, why)
		}
		for _, d := range r.slow {
			fmt.Printf("%d clusters: a detection took %s\n", r.clusters, d)
		}
		for _, q := range r.unknown {
			fmt.Printf("%d clusters: the simulator was asked a statement it does not know: %s\n", r.clusters, q)
		}
	}
	for _, f := range failures {
		fmt.Printf("scale run failed: %s\n", f)
	}
}

func millis(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}

func medianOf(xs []time.Duration) time.Duration {
	return median(append([]time.Duration(nil), xs...))
}

func minMax(xs []time.Duration) (time.Duration, time.Duration) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[0], s[len(s)-1]
}

// parseSizes reads "100,500,1000".
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-scale: %q is not a number of clusters", f)
		}
		out = append(out, n)
	}
	return out, nil
}
