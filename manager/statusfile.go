package manager

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gomha/gomha/coord"
)

// StatusCode is one of MHA's monitor states (ManagerConst.pm). The codes are
// also masterha_check_status's exit codes.
type StatusCode int

// MHA's status codes.
const (
	StatusPingOK              StatusCode = 0
	StatusNotRunning          StatusCode = 2
	StatusPartiallyRunning    StatusCode = 3
	StatusInitializingMonitor StatusCode = 10
	StatusPingFailing         StatusCode = 20
	StatusPingFailed          StatusCode = 21
	StatusRetryingMonitor     StatusCode = 30
	StatusConfigError         StatusCode = 31
	StatusTimestampOld        StatusCode = 32
	StatusFailoverRunning     StatusCode = 50
	StatusFailoverError       StatusCode = 51
)

var statusNames = map[StatusCode]string{
	StatusPingOK:              "PING_OK",
	StatusNotRunning:          "NOT_RUNNING",
	StatusPartiallyRunning:    "PARTIALLY_RUNNING",
	StatusInitializingMonitor: "INITIALIZING_MONITOR",
	StatusPingFailing:         "PING_FAILING",
	StatusPingFailed:          "PING_FAILED",
	StatusRetryingMonitor:     "RETRYING_MONITOR",
	StatusConfigError:         "CONFIG_ERROR",
	StatusTimestampOld:        "TIMESTAMP_OLD",
	StatusFailoverRunning:     "FAILOVER_RUNNING",
	StatusFailoverError:       "FAILOVER_ERROR",
}

// Name returns MHA's name of the code, e.g. "PING_OK".
func (c StatusCode) Name() string {
	if n, ok := statusNames[c]; ok {
		return n
	}
	return "UNKNOWN"
}

// String returns "<code>:<NAME>", as in the status file.
func (c StatusCode) String() string { return strconv.Itoa(int(c)) + ":" + c.Name() }

// ErrBadStatusFile is returned by ReadStatus for a file it cannot parse.
var ErrBadStatusFile = errors.New("malformed status file")

// defaultPingLimit is masterha_check_status's --ping_limit default.
const defaultPingLimit = 10 * time.Second

// StatusFilePath is <workdir>/<app>.master_status.health.
func StatusFilePath(workdir, app string) string {
	return filepath.Join(workdir, app+".master_status.health")
}

// StatusFile is MHA's <app>.master_status.health: one line
// "<pid>\t<code>:<NAME>\tmaster:<host>". It is rewritten atomically (temp
// file and rename) when the state changes; while PING_OK only its mtime is
// touched. Safe for concurrent use.
type StatusFile struct {
	path string
	pid  int

	mu      sync.Mutex
	code    StatusCode
	master  string
	wrote   bool
	view    ManagerView   // the monitor's last view
	deposed []DeposedView // old masters kept deposed
	mirror  *mirror       // copies to the cluster's coordination (nil: none)
}

// NewStatusFile returns the status file of app in workdir for this process.
func NewStatusFile(workdir, app string) *StatusFile {
	return &StatusFile{path: StatusFilePath(workdir, app), pid: os.Getpid()}
}

// Path returns the file's path.
func (s *StatusFile) Path() string { return s.path }

// Code returns the state last written and whether one was.
func (s *StatusFile) Code() (StatusCode, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code, s.wrote
}

// app is the application name the file belongs to.
func (s *StatusFile) app() string {
	return strings.TrimSuffix(filepath.Base(s.path), ".master_status.health")
}

// Set records the state: a changed state or master rewrites the file, an
// unchanged one touches its mtime.
func (s *StatusFile) Set(code StatusCode, master string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrote && s.code == code && s.master == master {
		now := time.Now()
		if err := os.Chtimes(s.path, now, now); err == nil {
			return nil
		}
		// The file vanished (someone removed it): write it again.
	}
	line := fmt.Sprintf("%d\t%s\tmaster:%s\n", s.pid, code, master)
	if err := writeAtomic(s.path, []byte(line)); err != nil {
		return fmt.Errorf("write status %s to %s: %w", code, s.path, err)
	}
	s.code, s.master, s.wrote = code, master, true
	s.mirror.put("status", statusJSON(s.pid, code, master))
	return nil
}

// Remove deletes the file (clean exit). A missing file is not an error.
func (s *StatusFile) Remove() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wrote = false
	s.mirror.put("status", statusJSON(s.pid, StatusNotRunning, s.master))
	removeView(filepath.Dir(s.path), s.app())
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove status file: %w", err)
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(name, 0o644)); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

// StatusInfo is what masterha_check_status learns from the status file.
type StatusInfo struct {
	Code   StatusCode // the effective state (NOT_RUNNING, TIMESTAMP_OLD... derived)
	PID    int        // 0 when there is no file
	Master string     // the host after "master:"
	Age    time.Duration
	// Standby: no manager watches app from here, but one waits to lead it
	// (several managers through etcd; another leads). Code is PING_OK and
	// PID that manager's.
	Standby bool
}

// ReadStatus implements masterha_check_status: no file or a dead pid is
// NOT_RUNNING; PING_OK with an mtime older than pingLimit (0 = 10 s) is
// TIMESTAMP_OLD; otherwise the code written in the file.
func ReadStatus(workdir, app string, pingLimit time.Duration) (StatusInfo, error) {
	if pingLimit <= 0 {
		pingLimit = defaultPingLimit
	}
	// A standby's presence says more than a status file its process may
	// have left from the time it led.
	if h, held, err := coord.ReadManager(workdir, app); err == nil && held && h.Action == coord.ActionStandby {
		return withActor(workdir, app, StatusInfo{Code: StatusPingOK, PID: h.PID, Standby: true, Age: time.Since(h.Since)}), nil
	}
	path := StatusFilePath(workdir, app)
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return withActor(workdir, app, StatusInfo{Code: StatusNotRunning}), nil
	}
	if err != nil {
		return StatusInfo{}, fmt.Errorf("read status of %s: %w", app, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return StatusInfo{}, fmt.Errorf("read status of %s: %w", app, err)
	}
	info, err := parseStatusLine(string(data))
	if err != nil {
		return StatusInfo{}, fmt.Errorf("read status of %s from %s: %w", app, path, err)
	}
	info.Age = time.Since(fi.ModTime())
	switch {
	case !managerRuns(workdir, app, info.PID):
		info.Code = StatusNotRunning
	case info.Code == StatusPingOK && info.Age > pingLimit:
		info.Code = StatusTimestampOld
	}
	return withActor(workdir, app, info), nil
}

// withActor makes a failover that runs, whoever runs it (a manual
// gomha failover, a manager), FAILOVER_RUNNING, and an interrupted one
// FAILOVER_ERROR until it is finished with --resume.
func withActor(workdir, app string, info StatusInfo) StatusInfo {
	if h, held, err := coord.ReadLocal(workdir, app); err == nil && held && h.Action == "failover" {
		info.Code, info.PID = StatusFailoverRunning, h.PID
		if info.Master == "" {
			info.Master = strings.TrimPrefix(h.Detail, "dead master ")
		}
		return info
	}
	if entries, _, err := coord.ReadJournal(workdir, app); err == nil && len(entries) > 0 {
		info.Code = StatusFailoverError
		if info.Master == "" {
			info.Master = entries[0].Server
		}
	}
	return info
}

func parseStatusLine(line string) (StatusInfo, error) {
	f := strings.Split(strings.TrimRight(line, "\r\n"), "\t")
	if len(f) < 2 {
		return StatusInfo{}, fmt.Errorf("%w: %q", ErrBadStatusFile, line)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return StatusInfo{}, fmt.Errorf("%w: pid %q", ErrBadStatusFile, f[0])
	}
	num, name, _ := strings.Cut(f[1], ":")
	n, err := strconv.Atoi(num)
	code := StatusCode(n)
	if err != nil || code.Name() != name {
		return StatusInfo{}, fmt.Errorf("%w: unknown status %q", ErrBadStatusFile, f[1])
	}
	info := StatusInfo{Code: code, PID: pid}
	if len(f) >= 3 {
		info.Master = strings.TrimPrefix(f[2], "master:")
	}
	return info, nil
}

// managerRuns reports whether pid is the manager of app that holds its
// presence lock: a live pid alone may be a recycled one, or a process that
// is no manager.
func managerRuns(workdir, app string, pid int) bool {
	h, held, err := coord.ReadManager(workdir, app)
	if err != nil || !held {
		return false
	}
	// Zero: the holder has not described itself yet.
	return h.Action != coord.ActionStandby && (h.PID == 0 || h.PID == pid)
}

// pidAlive is Perl's kill 0: EPERM still means the process exists.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Message renders masterha_check_status's line for app (without MHA's
// "Check <log> for details." follow-up line).
func (s StatusInfo) Message(app string) string {
	st, mi := s.Code.String(), "master:"+s.Master
	switch s.Code {
	case StatusPingOK:
		if s.Standby {
			return fmt.Sprintf("%s (pid:%d) is running(%s) as a standby: another manager leads %s, this one takes over when it goes.", app, s.PID, st, app)
		}
		return fmt.Sprintf("%s (pid:%d) is running(%s), %s", app, s.PID, st, mi)
	case StatusNotRunning:
		return fmt.Sprintf("%s is stopped(%s).", app, st)
	case StatusPartiallyRunning:
		return fmt.Sprintf("Main process is not running, but child process is running on %s (%s). Check ps output for details and kill it.", app, st)
	case StatusInitializingMonitor:
		return fmt.Sprintf("%s monitoring program is now on initialization phase(%s). Wait for a while and try checking again.", app, st)
	case StatusPingFailing, StatusPingFailed:
		return fmt.Sprintf("%s master maybe down(%s). %s", app, st, mi)
	case StatusRetryingMonitor:
		return fmt.Sprintf("%s monitoring waits for retrying to monitor master again(%s). Wait for a while and try checking again.", app, st)
	case StatusConfigError:
		return fmt.Sprintf("%s servers are not correctly configured(%s).", app, st)
	case StatusTimestampOld:
		msg := fmt.Sprintf("%s is running, but master_ping.health is too old(%s). Maybe process hangs?", app, st)
		if s.Master != "" {
			msg += " " + mi
		}
		return msg
	case StatusFailoverRunning:
		return fmt.Sprintf("%s master is down and failover is running(%s). %s", app, st, mi)
	case StatusFailoverError:
		return fmt.Sprintf("%s master is down and failover was not successful(%s). %s", app, st, mi)
	}
	return fmt.Sprintf("Unexpected error on %s.", app)
}
