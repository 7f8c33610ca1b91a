package httpapi

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/gomha/gomha/failover"
)

// reportStamp is the time in a report's file name, as manager writes it:
// <workdir>/<app>.<kind>.<20060102-150405.000>.json (local time).
const reportStamp = "20060102-150405.000"

var reportName = regexp.MustCompile(`^(.+)\.(failover|switchover)\.(\d{8}-\d{6}\.\d{3})\.json$`)

// reportFile is one report written by a failover or a switchover of the
// cluster, by this process or any other (gomha switch, gomha failover).
type reportFile struct {
	Path  string
	App   string
	Kind  string // failover or switchover
	Stamp string
	Time  time.Time
}

// listReports lists app's reports in workdir, newest first.
func listReports(workdir, app string) ([]reportFile, error) {
	entries, err := os.ReadDir(workdir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read reports of %s in %s: %w", app, workdir, err)
	}
	var out []reportFile
	for _, e := range entries {
		m := reportName.FindStringSubmatch(e.Name())
		if m == nil || m[1] != app || !e.Type().IsRegular() {
			continue
		}
		t, err := time.ParseInLocation(reportStamp, m[3], time.Local)
		if err != nil {
			continue
		}
		out = append(out, reportFile{Path: filepath.Join(workdir, e.Name()), App: app, Kind: m[2], Stamp: m[3], Time: t})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.After(out[j].Time)
		}
		return out[i].Path > out[j].Path
	})
	return out, nil
}

// reportSummary is what the metrics need of one report.
type reportSummary struct {
	Result    string // success, partial, failure
	Started   time.Time
	Took      time.Duration
	Detection time.Duration // 0 without detection (a manual failover)
	Detected  bool
}

func summarize(rep *failover.Report) reportSummary {
	s := reportSummary{Result: resultOf(rep), Started: rep.Started}
	if !rep.Finished.IsZero() {
		s.Took = rep.Finished.Sub(rep.Started)
	}
	if d := rep.Detection; d != nil && !d.FirstFailure.IsZero() && !d.Confirmed.IsZero() {
		s.Detection, s.Detected = d.Confirmed.Sub(d.FirstFailure), true
	}
	return s
}

// resultOf is a report's outcome as the metrics' result label says it.
func resultOf(rep *failover.Report) string {
	switch {
	case rep.Succeeded && rep.Error == "":
		return "success"
	case rep.Succeeded:
		return "partial" // master switched, some replica not recovered (exit 10)
	}
	return "failure"
}

// reportCache remembers what each report file said: report files are
// written once and never changed, so each is read once. It forgets
// nothing, so that a count made from it never goes down when a file is
// removed.
type reportCache struct {
	mu   sync.Mutex
	seen map[string]seenReport // by path
}

type seenReport struct {
	file reportFile
	sum  reportSummary
}

func newReportCache() *reportCache { return &reportCache{seen: map[string]seenReport{}} }

// count counts the reports of app's kind seen so far, started at since or
// later, by result.
func (c *reportCache) count(app, kind string, since time.Time) map[string]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := map[string]float64{}
	for _, r := range c.seen {
		if r.file.App == app && r.file.Kind == kind && !r.file.Time.Before(since) {
			n[r.sum.Result]++
		}
	}
	return n
}

func (c *reportCache) summary(f reportFile) (reportSummary, error) {
	c.mu.Lock()
	r, ok := c.seen[f.Path]
	c.mu.Unlock()
	if ok {
		return r.sum, nil
	}
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return reportSummary{}, err
	}
	var rep failover.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return reportSummary{}, fmt.Errorf("report %s: %w", f.Path, err)
	}
	s := summarize(&rep)
	c.mu.Lock()
	c.seen[f.Path] = seenReport{file: f, sum: s}
	c.mu.Unlock()
	return s, nil
}
