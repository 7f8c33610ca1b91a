package failover

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomha/gomha/topology"
)

// Report is the audit trail of one failover or switchover: every phase and
// hook with its duration, the new topology, and what was lost.
type Report struct {
	mu sync.Mutex

	Kind       string       `json:"kind"` // "failover" or "switchover"
	App        string       `json:"app"`
	DeadMaster string       `json:"dead_master,omitempty"`
	OldMaster  string       `json:"old_master,omitempty"`
	NewMaster  string       `json:"new_master,omitempty"`
	Reason     string       `json:"reason,omitempty"` // why this new master
	Mode       Mode         `json:"mode,omitempty"`
	Started    time.Time    `json:"started"`
	Finished   time.Time    `json:"finished"`
	Detection  *Detection   `json:"detection,omitempty"`
	Fencing    *Fencing     `json:"fencing,omitempty"` // how the old master was kept from taking writes
	Phases     []PhaseRun   `json:"phases"`
	Hooks      []HookRun    `json:"hooks"`
	Replicas   []ReplicaEnd `json:"replicas"`
	Salvaged   []string     `json:"salvaged"` // transactions recovered from the dead master's binlog (GTIDs or coordinates)
	Lost       Loss         `json:"lost"`
	Warnings   []string     `json:"warnings"`
	Succeeded  bool         `json:"succeeded"`
	Error      string       `json:"error,omitempty"`
	// Next is what an operator runs or checks to finish the job when the
	// procedure stopped half-way; "" when nothing is left to do.
	Next string `json:"next,omitempty"`
	Plan *Plan  `json:"plan,omitempty"`
}

// Detection is how the master's death was established.
type Detection struct {
	FirstFailure time.Time `json:"first_failure"`
	Confirmed    time.Time `json:"confirmed"`
	Reason       string    `json:"reason"`
	Evidence     []string  `json:"evidence"`
	SSHReachable bool      `json:"ssh_reachable"`
}

// PhaseRun is one phase of the procedure.
type PhaseRun struct {
	Name    string        `json:"name"`
	Started time.Time     `json:"started"`
	Took    time.Duration `json:"took_ns"`
	Error   string        `json:"error,omitempty"`
	Notes   []string      `json:"notes,omitempty"`
}

// HookRun is one external script run.
type HookRun struct {
	Name     string        `json:"name"`
	Command  string        `json:"command"` // without secrets
	ExitCode int           `json:"exit_code"`
	Output   string        `json:"output,omitempty"`
	Took     time.Duration `json:"took_ns"`
	Error    string        `json:"error,omitempty"`
}

// ReplicaEnd is where a surviving server ended up.
type ReplicaEnd struct {
	Server string `json:"server"`
	Role   string `json:"role"` // "new master", "replica", "failed", "halted" (nothing promoted)
	Source string `json:"source,omitempty"`
	Error  string `json:"error,omitempty"`
	// State is where the server stands (threads, positions) when the
	// procedure did not finish with it.
	State string `json:"state,omitempty"`
	// Next is what finishes this server's recovery by hand.
	Next string `json:"next,omitempty"`
}

// Loss says what could not be recovered, and why.
type Loss struct {
	Nothing      bool     `json:"nothing"`
	Transactions []string `json:"transactions,omitempty"` // GTIDs, or binlog coordinates
	Range        string   `json:"range,omitempty"`        // e.g. "mysql-bin.000003:1234 to the end of the dead master's binlog"
	Why          string   `json:"why,omitempty"`
	For          []string `json:"for,omitempty"` // the survivors that lack it ("" : all of them)
}

// loss records what could not be recovered; several losses are joined.
func (r *Report) loss(l Loss) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := &r.Lost
	switch {
	case cur.Nothing || cur.Range == "":
		*cur = l
	case cur.Range == l.Range:
		for _, f := range l.For {
			if !slices.Contains(cur.For, f) {
				cur.For = append(cur.For, f)
			}
		}
	default:
		cur.Range += "; " + l.Range
		cur.Why += "; " + l.Why
		cur.For = append(cur.For, l.For...)
	}
}

func (r *Report) phase(name string) *PhaseRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Phases = append(r.Phases, PhaseRun{Name: name, Started: time.Now()})
	return &r.Phases[len(r.Phases)-1]
}

// endPhase records the duration and error of the phase started last with
// that name.
func (r *Report) endPhase(name string, err error, notes ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.Phases) - 1; i >= 0; i-- {
		if r.Phases[i].Name == name {
			r.Phases[i].Took = time.Since(r.Phases[i].Started)
			if err != nil {
				r.Phases[i].Error = err.Error()
			}
			r.Phases[i].Notes = append(r.Phases[i].Notes, notes...)
			return
		}
	}
}

func (r *Report) note(name string, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.Phases) - 1; i >= 0; i-- {
		if r.Phases[i].Name == name {
			r.Phases[i].Notes = append(r.Phases[i].Notes, fmt.Sprintf(format, args...))
			return
		}
	}
}

func (r *Report) addHook(h HookRun) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Hooks = append(r.Hooks, h)
}

// hookVerdict records a hook run and applies MHA's exit code rules: 0 ok,
// 10 failed but proceed, anything else aborts.
func (r *Report) hookVerdict(name string, h *HookRun, err error) error {
	if h == nil && err == nil {
		return nil
	}
	if h != nil {
		h.Name = name
		r.addHook(*h)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	switch h.ExitCode {
	case 0:
		return nil
	case 10:
		r.warn("%s exited 10: failed, proceeding as MHA does", name)
		return nil
	}
	return fmt.Errorf("%w: %s exited %d", ErrHookAborted, name, h.ExitCode)
}

func (r *Report) warn(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...))
}

func (r *Report) replica(end ReplicaEnd) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Replicas = append(r.Replicas, end)
}

// JSON renders the report for machines.
func (r *Report) JSON() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return json.MarshalIndent(r, "", "  ")
}

// Subject is the one-line summary MHA puts in report_script's --subject.
// It reads fields without locking: call it when the run is over.
func (r *Report) Subject() string {
	master := r.DeadMaster
	if r.Kind == "switchover" {
		master = r.OldMaster
	}
	verdict := "succeeded"
	if !r.Succeeded {
		verdict = "failed"
	}
	to := ""
	if r.NewMaster != "" {
		to = " to " + r.NewMaster
	}
	kind := "failover"
	if r.Kind == "switchover" {
		kind = "online switch"
	}
	return fmt.Sprintf("%s: MySQL Master %s %s%s %s", r.App, kind, master, to, verdict)
}

// String renders the report for people.
func (r *Report) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "----- %s Report -----\n\n", strings.ToUpper(r.Kind[:1])+r.Kind[1:])
	fmt.Fprintf(&b, "%s\n\n", r.Subject())
	if d := r.Detection; d != nil {
		fmt.Fprintf(&b, "Detection: %s (first failure %s, confirmed %s later)\n", d.Reason,
			d.FirstFailure.Format("15:04:05.000"), d.Confirmed.Sub(d.FirstFailure).Round(time.Millisecond))
		for _, e := range d.Evidence {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	if r.NewMaster != "" {
		fmt.Fprintf(&b, "New master: %s (%s), %s mode\n", r.NewMaster, r.Reason, r.Mode)
	}
	if r.Fencing != nil {
		fmt.Fprintf(&b, "Old master %s\n", r.Fencing)
	}
	fmt.Fprintf(&b, "Total: %s\n\nPhases:\n", r.Finished.Sub(r.Started).Round(time.Millisecond))
	for _, p := range r.Phases {
		status := "ok"
		if p.Error != "" {
			status = "FAILED: " + p.Error
		}
		fmt.Fprintf(&b, "  %-32s %9s  %s\n", p.Name, p.Took.Round(time.Millisecond/10), status)
		for _, n := range p.Notes {
			fmt.Fprintf(&b, "      %s\n", n)
		}
	}
	if len(r.Hooks) > 0 {
		b.WriteString("\nHooks:\n")
		for _, h := range r.Hooks {
			fmt.Fprintf(&b, "  %-26s exit %d in %s: %s\n", h.Name, h.ExitCode, h.Took.Round(time.Millisecond), h.Command)
			if h.Output != "" {
				fmt.Fprintf(&b, "      %s\n", strings.ReplaceAll(h.Output, "\n", "\n      "))
			}
		}
	}
	b.WriteString("\nNew topology:\n")
	for _, e := range r.Replicas {
		line := fmt.Sprintf("  %s: %s", e.Server, e.Role)
		if e.Source != "" {
			line += " of " + e.Source
		}
		if e.Error != "" {
			line += " (" + e.Error + ")"
		}
		b.WriteString(line + "\n")
		if e.State != "" {
			fmt.Fprintf(&b, "      state: %s\n", e.State)
		}
		if e.Next != "" {
			fmt.Fprintf(&b, "      to finish: %s\n", e.Next)
		}
	}
	if len(r.Salvaged) > 0 {
		fmt.Fprintf(&b, "\nSalvaged from the dead master's binlog: %d transactions (%s)\n", len(r.Salvaged), summarizeList(r.Salvaged))
	}
	b.WriteString("\nLost: ")
	switch {
	case r.Lost.Nothing:
		b.WriteString("nothing\n")
	default:
		if len(r.Lost.Transactions) > 0 {
			b.WriteString(summarizeList(r.Lost.Transactions) + " ")
		}
		if r.Lost.Range != "" {
			b.WriteString(r.Lost.Range + " ")
		}
		b.WriteString("(" + r.Lost.Why + ")")
		if len(r.Lost.For) > 0 {
			b.WriteString(", on " + strings.Join(r.Lost.For, ", "))
		}
		b.WriteString("\n")
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "Warning: %s\n", w)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "\nError: %s\n", r.Error)
	}
	if r.Next != "" {
		fmt.Fprintf(&b, "Next: %s\n", r.Next)
	}
	return b.String()
}

func summarizeList(xs []string) string {
	if len(xs) <= 6 {
		return strings.Join(xs, ", ")
	}
	return strings.Join(xs[:3], ", ") + ", ..., " + strings.Join(xs[len(xs)-2:], ", ")
}

func keyStrings(ks []topology.Key) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.String()
	}
	return out
}
