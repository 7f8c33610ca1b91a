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
	"sync"
	"syscall"
	"time"
)

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
	Pressure   float64 // the machine's CPU pressure at the end (PSI some avg10, %)
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
	w.Pressure = cpuPressure()
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

// stallWatch measures how late a 10 ms timer fires in this process: the
// longest delay is how long the process could not run, whatever held it
// (the machine, or the Go scheduler), to tell a slow detection from a
// stalled process.
type stallWatch struct {
	mu   sync.Mutex
	max  time.Duration
	stop chan struct{}
	done chan struct{}
}

func startStallWatch() *stallWatch {
	s := &stallWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		const every = 10 * time.Millisecond
		last := time.Now()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case now := <-t.C:
				late := now.Sub(last) - every
				last = now
				s.mu.Lock()
				s.max = max(s.max, late)
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// reset returns the longest delay since the last reset.
func (s *stallWatch) reset() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.max
	s.max = 0
	return m
}

func (s *stallWatch) close() {
	close(s.stop)
	<-s.done
}

// cpuPressure is the machine's CPU pressure (PSI "some avg10", the share
// of the last 10 s in which some task waited for a CPU), -1 when unknown.
func cpuPressure() float64 {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return -1
	}
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, "avg10="); ok {
			p, _ := strconv.ParseFloat(v, 64)
			return p
		}
	}
	return -1
}
