package failover

import (
	"errors"
	"strings"
	"testing"

	"github.com/gomha/gomha/topology"
)

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
		why  string
	}{
		{a: "10.11", b: "10.6", want: 1, why: "numeric, not string: 11 > 6"},
		{a: "10.6", b: "10.11", want: -1, why: "the reverse"},
		{a: "8.0", b: "8.0", want: 0, why: "equal"},
		{a: "11.4", b: "10.11", want: 1, why: "major first"},
		{a: "", b: "10.6", want: 0, why: "an unknown version never rejects a server"},
		{a: "10.x", b: "10.6", want: 0, why: "an unparsable part never rejects a server"},
	}
	for _, tc := range tests {
		if got := compareVersions(tc.a, tc.b); (got > 0) != (tc.want > 0) || (got < 0) != (tc.want < 0) {
			t.Errorf("compareVersions(%q, %q) = %d, want sign of %d (%s)", tc.a, tc.b, got, tc.want, tc.why)
		}
	}
}

func TestSelectNewMaster(t *testing.T) {
	r2 := replica(2, bin, 500)
	r3 := replica(3, bin, 300, candidate)
	r4 := replica(4, bin, 500, candidate, noMaster)
	tests := []struct {
		name     string
		why      string
		sel      selection
		want     int
		reasonIn string
		rejected int
	}{
		{name: "candidate over latest", why: "step 4: a candidate_master in config order beats a non-candidate latest",
			sel: selection{replicas: []*topology.Node{r2, r3}, latest: []*topology.Node{r2}, latestPriority: true}, want: 3, reasonIn: "candidate_master"},
		{name: "bad candidate skipped", why: "candidate_master with no_master=1 is bad; the next rule applies",
			sel: selection{replicas: []*topology.Node{r4, r2}, latest: []*topology.Node{r4, r2}, latestPriority: true}, want: 2, reasonIn: "latest replica", rejected: 1},
		{name: "forced latest", why: "the forced reason says whether the server is also the latest",
			sel: selection{replicas: []*topology.Node{r2, r3}, latest: []*topology.Node{r2}, forced: key(2)}, want: 2, reasonIn: "forced by --new_master_host, latest replica"},
	}
	for _, tc := range tests {
		c, rej, err := selectNewMaster(tc.sel)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.Key != key(tc.want) || !strings.Contains(c.Reason, tc.reasonIn) || len(rej) != tc.rejected {
			t.Errorf("%s (%s): got %v %q, %d rejected; want server %d with %q, %d rejected", tc.name, tc.why, c.Key, c.Reason, len(rej), tc.want, tc.reasonIn, tc.rejected)
		}
	}
}

func TestCandidateErrorMessage(t *testing.T) {
	rej := []Excluded{{Key: key(2), Label: "db2(127.0.0.12:3306)", Why: "no_master=1"}, {Key: key(3), Label: "db3(127.0.0.13:3306)", Why: "log-bin is disabled"}}
	tests := []struct {
		err  *CandidateError
		want string
		why  string
	}{
		{err: &CandidateError{Rejected: rej}, want: "no replica can become the new master: db2(127.0.0.12:3306): no_master=1; db3(127.0.0.13:3306): log-bin is disabled",
			why: "every replica and its reason, so the DBA knows what to fix"},
		{err: &CandidateError{Forced: key(3), Rejected: rej}, want: "no replica can become the new master: 127.0.0.13:3306 (--new_master_host) cannot be promoted: log-bin is disabled; there is no fallback: fix it or name another server",
			why: "a forced server names only its own reason"},
		{err: &CandidateError{}, want: "no replica can become the new master: no alive replica of the dead master", why: "nothing to choose from"},
	}
	for _, tc := range tests {
		if tc.err.Error() != tc.want || !errors.Is(tc.err, ErrNoCandidate) {
			t.Errorf("%s:\n got %q\nwant %q", tc.why, tc.err.Error(), tc.want)
		}
	}
}
