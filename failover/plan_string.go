package failover

import (
	"fmt"
	"strings"

	"github.com/gomha/gomha/topology"
)

// String renders the plan for --dry-run: the new master and why, what each
// replica lacks and where it comes from, the salvage, the servers left out
// and the warnings.
func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Failover plan: dead master %s, %s mode (%s)\n", p.DeadLabel, p.Mode, p.Flavor)
	fmt.Fprintf(&b, "New master: %s: %s\n", p.NewMaster.Label, p.NewMaster.Reason)
	fmt.Fprintf(&b, "Latest replicas: %s (base: %s)\n", keyList(p.Latest), p.Base)
	fmt.Fprintf(&b, "Oldest replicas: %s\n", keyList(p.Oldest))
	if s := p.Salvage; s != nil {
		to := "the end of its binlog"
		if !s.To.IsZero() {
			to = s.To.String()
		}
		fmt.Fprintf(&b, "Salvage: over SSH, read %s's binlog from %s to %s", s.Host, s.From, to)
		if s.AfterGTID != "" {
			fmt.Fprintf(&b, " (after GTID %s)", s.AfterGTID)
		}
		fmt.Fprintf(&b, "; apply to %s\n", keyList(s.ApplyTo))
	} else {
		b.WriteString("Salvage: none (the dead master's host is not reachable over SSH)\n")
	}
	b.WriteString("Recovery:\n")
	for _, r := range p.Recoveries {
		writeRecovery(&b, r, p.NewMaster.Label)
	}
	writeExcluded(&b, "Cannot become master", p.Rejected)
	writeExcluded(&b, "Left out", p.Excluded)
	if len(p.Warnings) > 0 {
		b.WriteString("Warnings:\n")
		for _, w := range p.Warnings {
			fmt.Fprintf(&b, "  - %s\n", w)
		}
	}
	return b.String()
}

func writeRecovery(b *strings.Builder, r Recovery, newMaster string) {
	role := ""
	if r.NewMaster {
		role = " [new master]"
	}
	fmt.Fprintf(b, "  %s%s: read %s, executed %s", r.Label, role, r.Read, r.Exec)
	if r.Received != "" {
		fmt.Fprintf(b, ", received GTIDs %s", r.Received)
	}
	b.WriteString("\n")
	if len(r.Gaps) == 0 {
		b.WriteString("    lacks nothing\n")
	}
	for _, g := range r.Gaps {
		fmt.Fprintf(b, "    - %s\n", gapText(g))
	}
	switch r.Repoint {
	case RepointNone:
		b.WriteString("    then: RESET SLAVE ALL, read_only=OFF\n")
	case RepointFile:
		fmt.Fprintf(b, "    then: CHANGE MASTER TO %s at its binlog position after recovery\n", newMaster)
	case RepointSlavePos:
		fmt.Fprintf(b, "    then: CHANGE MASTER TO %s, MASTER_USE_GTID=slave_pos\n", newMaster)
	case RepointAutoPosition:
		fmt.Fprintf(b, "    then: CHANGE MASTER TO %s, MASTER_AUTO_POSITION=1\n", newMaster)
	}
}

func gapText(g Gap) string {
	var what string
	switch {
	case len(g.GTIDs) > 0:
		parts := make([]string, len(g.GTIDs))
		for i, d := range g.GTIDs {
			parts[i] = d.String()
		}
		what = "GTIDs " + strings.Join(parts, ", ")
	case g.MySQLGTIDs != "":
		what = "GTIDs " + g.MySQLGTIDs
	default:
		to := "the end"
		if !g.To.IsZero() {
			to = g.To.String()
		}
		what = fmt.Sprintf("master binlog %s to %s", g.From, to)
	}
	return fmt.Sprintf("%s [%s, from %s]: %s", what, g.Kind, g.Holder, g.Note)
}

func writeExcluded(b *strings.Builder, title string, ex []Excluded) {
	if len(ex) == 0 {
		return
	}
	fmt.Fprintf(b, "%s:\n", title)
	for _, e := range ex {
		fmt.Fprintf(b, "  %s\n", e)
	}
}

func keyList(ks []topology.Key) string {
	if len(ks) == 0 {
		return "(none)"
	}
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = k.String()
	}
	return strings.Join(parts, ", ")
}
