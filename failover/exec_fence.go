package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// FenceMode is fence_old_master: how a dead master whose host still answers
// SSH is kept from taking writes again.
type FenceMode string

// Fence modes.
const (
	FenceKill     FenceMode = "kill"      // kill its mysqld over SSH (default)
	FenceReadOnly FenceMode = "read_only" // only read_only=ON if it answers MySQL
	FenceNone     FenceMode = "none"      // leave it to the hooks
)

// Fencing is how the old master was kept from taking writes, and whether
// that was verified.
type Fencing struct {
	Fenced  bool          `json:"fenced"` // some method was verified, or mysqld was verifiably down
	Methods []FenceMethod `json:"methods"`
	Why     string        `json:"why,omitempty"` // why it is not fenced
}

// FenceMethod is one way the old master was fenced.
type FenceMethod struct {
	Name     string `json:"name"` // "kill over SSH", "read_only", "master_ip_failover_script", "shutdown_script"
	Verified bool   `json:"verified"`
	Detail   string `json:"detail"`
}

func (f Fencing) String() string {
	var parts []string
	for _, m := range f.Methods {
		v := "not verified"
		if m.Verified {
			v = "verified"
		}
		parts = append(parts, fmt.Sprintf("%s (%s: %s)", m.Name, v, m.Detail))
	}
	if !f.Fenced {
		return "NOT fenced: " + f.Why + joinPrefix("; tried ", parts)
	}
	return "fenced: " + strings.Join(parts, "; ")
}

func joinPrefix(prefix string, xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return prefix + strings.Join(xs, "; ")
}

// fence stops every replica's IO thread (nothing more may arrive from the
// old master), fences the old master (kill over SSH, read_only=ON if it
// still answers, master_ip_failover_script stop, shutdown_script) and
// records how, and learns whether its host answers SSH.
func (r *run) fence(ctx context.Context) error {
	r.rep.phase(phaseFence)
	var wg sync.WaitGroup
	errs := make(chan error, len(r.order))
	for _, k := range r.order {
		s := r.surv[k]
		wg.Go(func() {
			if rp := s.status.Replica; rp != nil && !rp.SQLRunning && rp.LastSQLErrno == 0 && rp.IORunning != "No" {
				// Started while the IO thread still runs: MariaDB, by GTID,
				// drops the relay log of a replica whose threads both stop.
				if err := s.node.StartReplicaSQL(ctx); err != nil {
					r.rep.note(phaseFence, "%s: start its stopped SQL thread: %v", s.key, err)
				}
			}
			if err := s.node.StopReplicaIO(ctx); err != nil {
				errs <- err
			}
		})
	}
	var mu sync.Mutex
	var methods []FenceMethod
	add := func(m *FenceMethod) {
		if m != nil {
			mu.Lock()
			methods = append(methods, *m)
			mu.Unlock()
		}
	}
	// read_only on an old master that still answers (a second on one that
	// accepts connections and never greets) and the kill over SSH (a
	// session of its own, a third of a second on a slow sshd) only have to
	// be done before the promotion: they run beside the relay-log wait and
	// the recovery, and awaitFence waits for them.
	var bg sync.WaitGroup
	if r.opts.Fence != FenceNone {
		bg.Go(func() { add(r.readOnlyOldMaster(ctx)) })
	}
	r.ssh = r.sshReachable(ctx)
	hooks, err := r.runFenceHooks(ctx)
	wg.Wait()
	for _, m := range hooks {
		add(&m)
	}
	if r.ssh && r.opts.Fence == FenceKill && err == nil {
		bg.Go(func() { add(r.killOverSSH(ctx)) })
	}
	r.fenceDone = func() {
		bg.Wait()
		r.recordFencing(methods)
	}
	if err != nil {
		r.awaitFence()
		r.rep.endPhase(phaseFence, err)
		return err
	}
	close(errs)
	for err := range errs {
		r.awaitFence()
		r.rep.endPhase(phaseFence, err)
		return fmt.Errorf("stop IO thread: %w", err)
	}
	r.rep.endPhase(phaseFence, nil, fmt.Sprintf("IO threads stopped on %d replicas; dead master's host SSH reachable: %v", len(r.order), r.ssh))
	return nil
}

// awaitFence waits for the old master's fencing to end and records it;
// before the promotion, and before the report is closed.
func (r *run) awaitFence() {
	if r.fenceDone != nil {
		r.fenceDone()
		r.fenceDone = nil
	}
}

// recordFencing sums the methods up in the report.
func (r *run) recordFencing(methods []FenceMethod) {
	f := &Fencing{Methods: methods}
	for _, m := range methods {
		f.Fenced = f.Fenced || m.Verified
	}
	switch {
	case f.Fenced:
	case r.opts.Fence == FenceNone:
		f.Why = "fence_old_master=none and no hook fenced it"
	case !r.ssh:
		f.Why = "its host does not answer SSH, it does not answer MySQL, and no shutdown_script or master_ip_failover_script fenced it"
	default:
		f.Why = "no method could be verified"
	}
	r.rep.mu.Lock()
	r.rep.Fencing = f
	r.rep.mu.Unlock()
	if !f.Fenced {
		r.rep.warn("old master %s is NOT fenced: %s; it may take writes again if it comes back", r.dead, f.Why)
	}
}

// dialDead starts the SSH connection to the dead master's host at once:
// its handshake then overlaps the checks and the fencing.
func (r *run) dialDead(ctx context.Context) {
	f := &shellFuture{done: make(chan struct{})}
	r.deadShell = f
	if r.opts.SSHReachable != nil && !*r.opts.SSHReachable {
		f.err = errors.New("not tried")
		close(f.done)
		return
	}
	go func() {
		f.sh, f.err = r.env.Shell(ctx, r.dead)
		close(f.done)
	}()
}

func (r *run) sshReachable(ctx context.Context) bool {
	if _, err := r.deadShell.wait(); err != nil {
		if r.opts.SSHReachable == nil {
			r.rep.note(phaseFence, "dead master's host does not answer SSH: %v", err)
		}
		return false
	}
	return true
}

// readOnlyOldMaster: a master that answers again must not take writes while
// another is promoted: read_only=ON, read back. Bounded to a second; nil
// when it does not answer.
func (r *run) readOnlyOldMaster(ctx context.Context) *FenceMethod {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	n, err := r.env.Connect(cctx, r.dead)
	if err != nil {
		return nil
	}
	defer n.Close()
	m := &FenceMethod{Name: "read_only"}
	if err := n.SetReadOnly(cctx, true); err != nil {
		m.Detail = "it answered, but read_only=ON failed: " + err.Error()
		return m
	}
	v, err := n.Var(cctx, "read_only")
	m.Verified = err == nil && (v == "1" || strings.EqualFold(v, "ON"))
	m.Detail = fmt.Sprintf("it answered; read_only=ON set, read back %q", v)
	return m
}

// killOverSSH stops the old master's mysqld for good: a master declared
// dead whose host still runs commands may be hung, frozen or cut off only
// from MySQL clients, and would take writes again when it wakes up.
func (r *run) killOverSSH(ctx context.Context) *FenceMethod {
	sh, err := r.deadShell.wait()
	m := &FenceMethod{Name: "kill over SSH"}
	if err != nil {
		m.Detail = err.Error()
		return m
	}
	kctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, _, err := sh.Run(kctx, killScript(r.opts.DeadAddr, r.dead.Port, r.opts.DeadPIDFile))
	if err != nil {
		m.Detail = "the kill command failed: " + err.Error()
		return m
	}
	res := strings.Fields(strings.TrimSpace(string(out)))
	switch {
	case len(res) == 0:
		m.Detail = "the kill command said nothing"
	case res[0] == "none":
		m.Verified, m.Detail = true, fmt.Sprintf("no mysqld listens on %s:%d there: already down", r.opts.DeadAddr, r.dead.Port)
	case res[0] == "killed":
		m.Verified, m.Detail = true, fmt.Sprintf("mysqld (pid %s) killed with SIGKILL and gone", strings.Join(res[1:], ", "))
	case res[0] == "alive":
		m.Detail = fmt.Sprintf("SIGKILL sent, but process %s is still there (state %s): it dies when its I/O returns",
			strings.Join(res[1:len(res)-1], ", "), res[len(res)-1])
	default:
		m.Detail = "unexpected answer: " + strings.Join(res, " ")
	}
	return m
}

// killScript finds the mysqld listening on addr:port (or named in the pid
// file), checks it is mysqld or mariadbd, kills it with SIGKILL and waits up
// to 5 s for it to be gone. It prints "none", "killed PID..." or
// "alive PID... STATE".
func killScript(addr string, port int, pidFile string) string {
	return fmt.Sprintf(`pidfile=%s; pids=""
if [ -n "$pidfile" ] && [ -r "$pidfile" ]; then pids=$(cat "$pidfile"); fi
if [ -z "$pids" ] && command -v ss >/dev/null 2>&1; then
  pids=$(ss -Hltnp 2>/dev/null | awk -v a=%s -v p=%d '$4==a":"p || $4=="*:"p || $4=="0.0.0.0:"p || $4=="[::]:"p' | sed -n 's/.*pid=\([0-9][0-9]*\).*/\1/p' | sort -u)
fi
mine=""; for p in $pids; do case "$(cat /proc/$p/comm 2>/dev/null)" in mysqld|mariadbd) mine="$mine $p";; esac; done
[ -n "$mine" ] || { echo none; exit 0; }
for p in $mine; do kill -9 "$p" 2>/dev/null; done
i=0; while [ $i -lt 50 ]; do alive=""; for p in $mine; do [ -d /proc/$p ] && [ "$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null)" != Z ] && alive="$alive $p"; done
  [ -z "$alive" ] && { echo killed $mine; exit 0; }; sleep 0.1; i=$((i+1)); done
echo alive $alive $(for p in $alive; do cut -d' ' -f3 /proc/$p/stat; done | tr '\n' ,)`, shellQuote(pidFile), shellQuote(addr), port)
}

// runFenceHooks runs master_ip_failover_script stop and shutdown_script; a
// hook that exited 0 counts as verified by its own word.
func (r *run) runFenceHooks(ctx context.Context) ([]FenceMethod, error) {
	var methods []FenceMethod
	h, err := r.hooks.FailoverStop(ctx, r.dead, r.ssh)
	if h != nil && err == nil {
		methods = append(methods, FenceMethod{Name: "master_ip_failover_script stop", Verified: h.ExitCode == 0,
			Detail: fmt.Sprintf("exit %d", h.ExitCode)})
	}
	if err := r.hookVerdict("master_ip_failover_script stop", h, err); err != nil {
		return methods, err
	}
	h, err = r.hooks.Shutdown(ctx, r.dead, r.ssh)
	if h != nil && err == nil {
		methods = append(methods, FenceMethod{Name: "shutdown_script", Verified: h.ExitCode == 0, Detail: fmt.Sprintf("exit %d", h.ExitCode)})
		if h.ExitCode == 0 && r.ssh {
			// MHA: exit 0 means the host was powered off, so SSH is gone.
			r.ssh = false
			r.rep.note(phaseFence, "shutdown_script powered the host off: no binlog salvage")
		}
	}
	return methods, r.hookVerdict("shutdown_script", h, err)
}
