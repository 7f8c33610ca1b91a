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

// scaleTable runs one process per cluster count (one cluster first, the
// baseline of detection), each with its own simulator helper, and prints
// the table. A process per count keeps each one's peak memory its own.
func scaleTable(ctx context.Context, sizes []int, sc scaleConfig, verbose bool) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if len(sizes) == 0 || sizes[0] != 1 {
		sizes = append([]int{1}, sizes...)
	}
	var results []scaleResult
	for _, n := range sizes {
		args := []string{"-scale-run", strconv.Itoa(n), "-simmysql", sc.Sim, "-dir", filepath.Join(sc.Dir, fmt.Sprintf("scale-%d", n)),
			"-scale-settle", sc.Settle.String(), "-scale-window", sc.Window.String(), "-scale-kills", strconv.Itoa(sc.Kills),
			"-scale-start-batch", strconv.Itoa(sc.StartBatch), "-scale-base-port", strconv.Itoa(sc.BasePort)}
		if verbose {
			args = append(args, "-v")
		}
		if sc.Profile != "" {
			dir := filepath.Join(sc.Profile, strconv.Itoa(n))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			args = append(args, "-scale-profile", dir)
		}
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("scale run with %d clusters: %w", n, err)
		}
		var r scaleResult
		lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
		if err := json.Unmarshal(lines[len(lines)-1], &r); err != nil {
			return fmt.Errorf("scale run with %d clusters: %w (%s)", n, err, out)
		}
		results = append(results, r)
	}
	printScale(results, sc)
	return nil
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

func printScale(rs []scaleResult, sc scaleConfig) {
	var base time.Duration
	if len(rs) > 0 && rs[0].Clusters == 1 {
		base = medianOf(rs[0].Detections)
	}
	fmt.Printf("\nmany clusters in one manager process (simulated MariaDB 10.11, 1 master + 2 replicas each, ping_interval=1, ssh refused):\n")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clusters\tstart-up\tCPU (cores)\tRSS\tpeak RSS\tgoroutines\topen files\tdetection (median; min-max)\ttarget met\t")
	for _, r := range rs {
		det := medianOf(r.Detections)
		met := "yes"
		switch {
		case len(r.Failed) > 0 || len(r.Unknown) > 0 || len(r.Detections) == 0:
			met = "NO (see below)"
		case r.CPU >= scaleCPUTarget || r.PeakRSS >= scaleRSSTarget:
			met = "NO"
		case det > base+scaleSameDetection:
			met = "NO (detection)"
		}
		lo, hi := minMax(r.Detections)
		fmt.Fprintf(tw, "%d\t%.1f s\t%.2f\t%d MiB\t%d MiB\t%d\t%d\t%s; %s-%s\t%s\t\n", r.Clusters, r.Startup.Seconds(), r.CPU,
			r.RSS>>20, r.PeakRSS>>20, r.Goroutines, r.Files, ms(det), ms(lo), ms(hi), met)
	}
	tw.Flush()
	fmt.Printf("\nCPU, RSS, goroutines and open files: the manager process over %s once every manager monitors (medians of\n", sc.Window)
	fmt.Println("per-second samples; CPU = CPU time / wall time); peak RSS includes the start-up. detection = a master killed")
	fmt.Printf("(port refused, connections reset) -> confirmed dead, over %d kills one after the other. Targets: < %.0f core and\n", sc.Kills, scaleCPUTarget)
	fmt.Printf("< %d MiB peak; detection within %s of the single cluster's.\n", scaleRSSTarget>>20, scaleSameDetection)
	for _, r := range rs {
		for app, err := range r.Failed {
			fmt.Printf("%d clusters: manager of %s stopped: %s\n", r.Clusters, app, err)
		}
		for q, n := range r.Unknown {
			fmt.Printf("%d clusters: the simulator was asked %d times a statement it does not know: %s\n", r.Clusters, n, q)
		}
	}
}

func ms(d time.Duration) string {
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
