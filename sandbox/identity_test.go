package sandbox

import (
	"strings"
	"testing"

	"github.com/gomha/gomha/sandbox/internal/dirstate"
)

// TestParseCgroup2Mount checks where the cgroup v2 hierarchy is looked for.
func TestParseCgroup2Mount(t *testing.T) {
	cases := []struct {
		why    string
		mounts string
		want   string
		ok     bool
	}{
		{why: "hybrid systems (this CI machine) mount it below the v1 controllers",
			mounts: "tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n",
			want:   "/sys/fs/cgroup/unified", ok: true},
		{why: "unified systems mount it at /sys/fs/cgroup",
			mounts: "proc /proc proc rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0\n",
			want:   "/sys/fs/cgroup", ok: true},
		{why: "the fstype decides, not the device name", mounts: "none /mnt/cg cgroup2 rw 0 0\n", want: "/mnt/cg", ok: true},
		{why: "/proc/mounts escapes spaces as \\040", mounts: "cgroup2 /mnt/my\\040cg cgroup2 rw 0 0\n", want: "/mnt/my cg", ok: true},
		{why: "a v1-only system has none: the sandbox then runs without identity",
			mounts: "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n", ok: false},
	}
	for _, tc := range cases {
		got, ok := parseCgroup2Mount(tc.mounts)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %q, %v; want %q, %v", tc.why, got, ok, tc.want, tc.ok)
		}
	}
}

// TestIdentityRules pins the rules that give host2 its own source address:
// the names must be unique per sandbox and fit iptables' 28 characters, and
// only loopback destinations may be rewritten.
func TestIdentityRules(t *testing.T) {
	c := testCluster(t, 3)
	id := dirstate.ID(c.Dir)
	if dirstate.ID("/other") == id || len(snatChain(c.Dir)) > 28 {
		t.Errorf("sandbox ids must differ per directory and chains fit 28 characters: %q %q", id, snatChain(c.Dir))
	}
	assertEq(t, cgroupName(c.Dir), "gomha_sandbox/"+id)
	assertEq(t, firewallChain(c.Dir), "in_"+id)
	h2 := c.Hosts[1]
	assertEq(t, strings.Join(snatRuleSpec(c.Dir, cgroupName(c.Dir), h2), " "),
		"gomha_snat_"+id+" -d 127.0.0.0/8 -m cgroup --path gomha_sandbox/"+id+"/host2 -j SNAT --to-source 127.0.0.62")
	assertEq(t, strings.Join(snatJumpSpec(c.Dir), " "),
		"POSTROUTING -m comment --comment gomha_sandbox "+id+" -j gomha_snat_"+id)
}
