package node

import (
	"strconv"
	"strings"

	"github.com/gomha/gomha/topology"
)

// sqlTerms are the statements whose spelling depends on flavour and version:
// MySQL 8.0.22+ says REPLICA/SOURCE, 8.4 removed the old words; MariaDB keeps
// SLAVE/MASTER (and accepts REPLICA since 10.5).
type sqlTerms struct {
	showReplicaStatus string
	showBinlogStatus  string
	stopReplica       string
	startReplica      string
	resetReplicaAll   string
	changeSource      string
}

var (
	classicTerms = sqlTerms{
		showReplicaStatus: "SHOW SLAVE STATUS",
		showBinlogStatus:  "SHOW MASTER STATUS",
		stopReplica:       "STOP SLAVE",
		startReplica:      "START SLAVE",
		resetReplicaAll:   "RESET SLAVE ALL",
		changeSource:      "CHANGE MASTER TO",
	}
	mysql8Terms = sqlTerms{
		showReplicaStatus: "SHOW REPLICA STATUS",
		showBinlogStatus:  "SHOW MASTER STATUS",
		stopReplica:       "STOP REPLICA",
		startReplica:      "START REPLICA",
		resetReplicaAll:   "RESET REPLICA ALL",
		changeSource:      "CHANGE REPLICATION SOURCE TO",
	}
)

func terms(f topology.Flavor, version string) sqlTerms {
	if f == topology.MariaDB {
		return classicTerms
	}
	maj, min, patch := parseVersion(version)
	if maj > 8 || (maj == 8 && (min > 0 || patch >= 22)) {
		t := mysql8Terms
		if maj > 8 || (maj == 8 && min >= 4) {
			t.showBinlogStatus = "SHOW BINARY LOG STATUS"
		}
		return t
	}
	return classicTerms
}

// parseVersion reads "8.0.36-log" as 8, 0, 36; missing parts are 0.
func parseVersion(v string) (int, int, int) {
	if i := strings.IndexAny(v, "-+ "); i >= 0 {
		v = v[:i]
	}
	parts := strings.SplitN(v, ".", 3)
	nums := [3]int{}
	for i, p := range parts {
		nums[i], _ = strconv.Atoi(p)
	}
	return nums[0], nums[1], nums[2]
}
