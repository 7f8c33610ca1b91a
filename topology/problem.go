package topology

import "fmt"

// Severity ranks a Problem. Only SeverityError makes a health check fail.
type Severity int

// Severities.
const (
	SeverityInfo Severity = iota
	SeverityWarning
	SeverityError
)

func (s Severity) String() string {
	switch s {
	case SeverityWarning:
		return "warning"
	case SeverityError:
		return "error"
	}
	return "info"
}

// ProblemCode names one kind of finding, stable for scripts and tests.
type ProblemCode string

// Problem codes found by Analyze.
const (
	ProblemUnreachable         ProblemCode = "unreachable"
	ProblemAccessDenied        ProblemCode = "access_denied"
	ProblemMasterUnreachable   ProblemCode = "master_unreachable"
	ProblemNoMaster            ProblemCode = "no_master_found"
	ProblemMultipleWritable    ProblemCode = "multiple_writable_masters"
	ProblemNotReplicating      ProblemCode = "not_replicating"
	ProblemReplicatesElsewhere ProblemCode = "replicates_from_elsewhere"
	ProblemUnknownMaster       ProblemCode = "master_not_in_config"
	ProblemIOThread            ProblemCode = "io_thread_not_running"
	ProblemSQLThread           ProblemCode = "sql_thread_not_running"
	ProblemLag                 ProblemCode = "replication_lag"
	ProblemDuplicateServerID   ProblemCode = "duplicate_server_id"
	ProblemNoLogBin            ProblemCode = "log_bin_disabled"
	ProblemFilterMismatch      ProblemCode = "filter_mismatch"
	ProblemCandidateConflict   ProblemCode = "candidate_master_conflict"
	ProblemNoCandidate         ProblemCode = "no_candidate_master"
	ProblemRelayLogPurge       ProblemCode = "relay_log_purge_on"
	ProblemReplicaWritable     ProblemCode = "replica_writable"
	ProblemMasterReadOnly      ProblemCode = "master_read_only"
	ProblemMixedGTID           ProblemCode = "mixed_gtid_usage"
	ProblemFlavorMix           ProblemCode = "flavor_mix"
	ProblemErrantGTID          ProblemCode = "errant_gtid"
	ProblemHookStatus          ProblemCode = "hook_status_failed"
	ProblemHookPassword        ProblemCode = "hook_password"
	ProblemHeartbeatTooLong    ProblemCode = "heartbeat_too_long"
)

// Problem is one finding about the cluster.
type Problem struct {
	Code     ProblemCode
	Severity Severity
	Key      Key // the server concerned; zero for cluster-wide findings
	Msg      string
}

// String renders "host:port: message [code]", or "message [code]" for
// cluster-wide findings.
func (p Problem) String() string {
	if p.Key.IsZero() {
		return fmt.Sprintf("%s [%s]", p.Msg, p.Code)
	}
	return fmt.Sprintf("%s: %s [%s]", p.Key, p.Msg, p.Code)
}
