package failover

import (
	"fmt"
	"strings"

	"github.com/gomha/gomha/binlog"
	"github.com/gomha/gomha/topology"
)

// holding is what one server has of the dead master's history, read from
// the server itself and moved forward by what the failover applies to it.
// Every range applied to a server is cut by its holding, so that nothing is
// applied twice, whatever overlaps between sources and whatever an earlier,
// interrupted run left behind.
type holding struct {
	key topology.Key
	// coord is the dead master's coordinate up to which the server executed
	// (Exec_Master_Log_Pos), then the end of what was applied to it; zero
	// when unknown.
	coord topology.BinlogCoord
	// gtids: MariaDB, the last GTID held per domain (topology.HeldGTIDs);
	// it sees what a client applied, even by an interrupted run.
	gtids topology.GTIDPos
	maria bool
	// mysql: MySQL, gtid_executed (when gtid_mode is on).
	mysql    topology.MySQLGTIDSet
	hasMySQL bool
}

// holdingOf reads what a replica of the dead master holds from its status.
func holdingOf(st *topology.Status) (*holding, error) {
	h := &holding{key: st.Key}
	if st.Replica != nil {
		h.coord = st.Replica.ExecCoord()
	}
	switch {
	case st.Flavor == topology.MariaDB:
		g, err := topology.HeldGTIDs(st)
		if err != nil {
			return nil, err
		}
		h.gtids, h.maria = g, true
	case st.GTIDEnabled():
		s, err := topology.ParseMySQLGTIDSet(st.GTIDExecuted)
		if err != nil {
			return nil, fmt.Errorf("gtid_executed of %s: %w", st.Key, err)
		}
		h.mysql, h.hasMySQL = s, true
	}
	return h, nil
}

// has reports whether the server already holds the transaction: its GTID
// is held, or it begins before the coordinate the server executed up to.
func (h *holding) has(t binlog.TrxStart) bool {
	if t.GTID != "" {
		if h.maria {
			if g, err := topology.ParseGTID(t.GTID); err == nil && h.gtids.Seq(g.Domain) >= g.Seq {
				return true
			}
		}
		if h.hasMySQL && strings.Contains(t.GTID, ":") && h.mysql.Has(t.GTID) {
			return true
		}
	}
	if h.coord.File == "" || t.Master.File == "" {
		return false
	}
	c, err := topology.CompareBinlogCoords(topology.BinlogCoord{File: t.Master.File, Pos: t.Master.Offset}, h.coord)
	return err == nil && c < 0
}

// applied moves the holding past the transactions just applied.
func (h *holding) applied(sum binlog.ExtractSummary) {
	for _, t := range sum.Trxs {
		h.advance(t)
	}
}

func (h *holding) advance(t binlog.TrxInfo) {
	if t.GTID != "" {
		if g, err := topology.ParseGTID(t.GTID); err == nil && h.maria {
			h.gtids = h.gtids.With(g)
		} else if h.hasMySQL {
			h.mysql = h.mysql.With(t.GTID)
		}
	}
	if t.Master.File == "" {
		return
	}
	end := topology.BinlogCoord{File: t.Master.File, Pos: t.Master.Offset}
	if c, err := topology.CompareBinlogCoords(end, h.coord); err == nil && c > 0 || h.coord.File == "" {
		h.coord = end
	}
}

// reach moves the coordinate to at when at is further: after all of the
// latest replica's relay log was applied, the server stands where that
// replica executed up to (which may be the start of the next binlog file
// while the last transaction applied ended in the previous one).
func (h *holding) reach(at topology.BinlogCoord) {
	if at.File == "" {
		return
	}
	if c, err := topology.CompareBinlogCoords(at, h.coord); h.coord.File == "" || (err == nil && c > 0) {
		h.coord = at
	}
}

// String describes the holding for reports.
func (h *holding) String() string {
	var parts []string
	if h.coord.File != "" {
		parts = append(parts, "executed "+h.coord.String())
	}
	if h.maria && len(h.gtids) > 0 {
		parts = append(parts, "GTIDs "+h.gtids.String())
	}
	if h.hasMySQL && !h.mysql.IsEmpty() {
		parts = append(parts, "GTIDs "+h.mysql.String())
	}
	if len(parts) == 0 {
		return "nothing known"
	}
	return strings.Join(parts, ", ")
}

// lacks says what of want the holding does not have, "" when nothing:
// the GTIDs per domain (MariaDB), the set difference (MySQL), else the
// coordinates.
func (h *holding) lacks(want *holding) string {
	switch {
	case h.maria && want.maria:
		var gaps []string
		for _, g := range want.gtids {
			if have := h.gtids.Seq(g.Domain); have < g.Seq {
				gaps = append(gaps, fmt.Sprintf("domain %d: %d-%d-%d to %s", g.Domain, g.Domain, g.ServerID, have+1, g))
			}
		}
		return strings.Join(gaps, "; ")
	case h.hasMySQL && want.hasMySQL:
		return want.mysql.Subtract(h.mysql).String()
	}
	if want.coord.File == "" || h.coord.File == "" {
		return ""
	}
	if c, err := topology.CompareBinlogCoords(h.coord, want.coord); err == nil && c < 0 {
		return fmt.Sprintf("%s to %s of the dead master's binlog", h.coord, want.coord)
	}
	return ""
}
