package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// raiseFileLimit lifts the soft limit on open files to the hard one: a
// thousand managers hold two connections each, and more while they start.
func raiseFileLimit() error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	l.Cur = l.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memStatus returns VmRSS and VmHWM of this process, in bytes.
func memStatus() (rss, hwm int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	kib := func(v string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		return n << 10
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss = kib(v)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm = kib(v)
		}
	}
	return rss, hwm
}

// openFiles counts this process's file descriptors.
func openFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// window is what the process used over a measuring window.
type window struct {
	CPU        float64 // cores: CPU time / wall time
	RSS        int64   // median of the per-second VmRSS samples
	Goroutines int     // median of the samples
	Files      int     // median of the samples
	Load       float64 // the machine's 1-minute load average at the end
	HeapInuse  uint64  // Go heap in use at the end (runtime.MemStats)
	StackInuse uint64  // goroutine stacks at the end
}

// measure samples the process every second for d.
func measure(d time.Duration) window {
	var rss []int64
	var gs, fds []int
	start, cpu0 := time.Now(), cpuTime()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Since(start) < d {
		<-tick.C
		r, _ := memStatus()
		rss = append(rss, r)
		gs = append(gs, runtime.NumGoroutine())
		fds = append(fds, openFiles())
	}
	w := window{CPU: (cpuTime() - cpu0).Seconds() / time.Since(start).Seconds()}
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	sort.Ints(gs)
	sort.Ints(fds)
	w.RSS, w.Goroutines, w.Files = rss[len(rss)/2], gs[len(gs)/2], fds[len(fds)/2]
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.HeapInuse, w.StackInuse = ms.HeapInuse, ms.StackInuse
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			w.Load, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	return w
}

// startCPUProfile writes a CPU profile to dir/name.cpu.pprof until the
// returned function is called; without dir it does nothing.
func startCPUProfile(dir, name string) func() {
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".cpu.pprof"))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: cpu profile:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// writeHeapProfile writes dir/heap.pprof; without dir it does nothing.
func writeHeapProfile(dir string) {
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, "heap.pprof"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: heap profile:", err)
		return
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "bench: heap profile:", err)
	}
	g, err := os.Create(filepath.Join(dir, "goroutine.pprof"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: goroutine profile:", err)
		return
	}
	defer g.Close()
	if err := pprof.Lookup("goroutine").WriteTo(g, 0); err != nil {
		fmt.Fprintln(os.Stderr, "bench: heap profile:", err)
	}
}
