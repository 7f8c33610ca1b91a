package manager

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gomha/gomha/coord"
	"github.com/gomha/gomha/failover"
)

// SharedView is what the cluster's managers share in etcd, as gomha show
// prints it on any host.
type SharedView struct {
	Leader   string   `json:"leader"`   // "pid 4242 on host mgr1"; empty: no manager leads
	Managers []string `json:"managers"` // every manager campaigning
	Status   string   `json:"status,omitempty"`
	View     string   `json:"view,omitempty"`
	Reason   string   `json:"view_reason,omitempty"`
	Master   string   `json:"master,omitempty"` // the master the leader watches
	// Journal says what a running or interrupted failover did last.
	Journal      string `json:"journal,omitempty"`
	LastFailover string `json:"last_failover,omitempty"`
	// LeftOut: old masters a failover replaced, which every leader leaves
	// out until they are rebuilt as replicas ("127.0.0.1:3306, replaced
	// by 127.0.0.2:3306 at 2026-12-01 15:04:05"), sorted.
	LeftOut []string `json:"left_out,omitempty"`
}

// NewSharedView reads what etcd holds: the leader and managers (described
// by the caller), the journal, and the state the leader published.
func NewSharedView(leader string, managers []string, journal []coord.Entry, state map[string][]byte) SharedView {
	v := SharedView{Leader: leader, Managers: managers, Master: string(state["master"])}
	if len(journal) > 0 {
		v.Journal = coord.Summary(journal)
	}
	var st statusRecord
	if json.Unmarshal(state["status"], &st) == nil && st.Name != "" {
		v.Status = fmt.Sprintf("%d:%s (pid %d on host %s, %s)", st.Code, st.Name, st.PID, st.Host, st.Updated.Local().Format("15:04:05"))
	}
	var view ManagerView
	if json.Unmarshal(state["view"], &view) == nil && view.State != "" {
		v.View, v.Reason = view.State, view.Reason
	}
	var rep failover.Report
	if json.Unmarshal(state["report"], &rep) == nil && rep.DeadMaster != "" {
		result := "succeeded"
		if rep.Error != "" {
			result = "failed: " + rep.Error
		}
		v.LastFailover = fmt.Sprintf("%s %s: %s -> %s, %s", rep.Kind, rep.Started.Local().Format(time.DateTime), rep.DeadMaster, dashIfEmpty(rep.NewMaster), result)
	}
	for name, data := range state {
		key, ok := strings.CutPrefix(name, "replaced/")
		if !ok {
			continue
		}
		var r replacedMaster
		if json.Unmarshal(data, &r) == nil && r.NewMaster != "" {
			key += fmt.Sprintf(", replaced by %s at %s", r.NewMaster, r.At.Local().Format(time.DateTime))
		}
		v.LeftOut = append(v.LeftOut, key)
	}
	sort.Strings(v.LeftOut)
	return v
}

// text is the shared view's lines in gomha show.
func (v *SharedView) text() string {
	var b strings.Builder
	leader := v.Leader
	if leader == "" {
		leader = "none (no manager leads: none runs, or etcd has no quorum)"
	}
	fmt.Fprintf(&b, "etcd: leader %s; %d manager(s): %s\n", leader, len(v.Managers), dashIfEmpty(strings.Join(v.Managers, ", ")))
	if v.Status != "" {
		fmt.Fprintf(&b, "  leader's status: %s; its view of %s: %s\n", v.Status, dashIfEmpty(v.Master), dashIfEmpty(v.View))
	}
	if v.Reason != "" && v.View != "healthy" {
		fmt.Fprintf(&b, "  %s\n", v.Reason)
	}
	if v.Journal != "" {
		fmt.Fprintf(&b, "  failover journal in etcd: %s\n", v.Journal)
	}
	if v.LastFailover != "" {
		fmt.Fprintf(&b, "  last failover: %s\n", v.LastFailover)
	}
	for _, l := range v.LeftOut {
		fmt.Fprintf(&b, "  left out until rebuilt as a replica of the master: %s\n", l)
	}
	return b.String()
}

// SetShared adds what the managers share in etcd. A manager that runs
// here says so itself; otherwise the leader's own status and view (from
// any host) replace "not running".
func (sh *Show) SetShared(v SharedView) {
	sh.Shared = &v
	if !strings.HasPrefix(sh.Manager, "not running") {
		return
	}
	switch {
	case v.Leader == "":
		sh.Manager = "none leads in etcd"
	default:
		sh.Manager = "leader " + v.Leader + " (from etcd)"
		if v.View != "" {
			sh.View, sh.ViewReason = v.View, v.Reason
		}
	}
}
