package topology

import (
	"fmt"
	"strings"
)

// Tree renders the replication tree the way MHA prints it:
//
//	host1(127.0.0.11:3306) (current master)
//	 +--host2(127.0.0.12:3306)
//	 +--host3(127.0.0.13:3306)
//
// Servers replicating from a replica are indented under it; dead servers and
// servers outside the tree are listed after it.
func (a *Analysis) Tree(s *Snapshot) string {
	var b strings.Builder
	if a.Master == nil {
		b.WriteString("(no current master)\n")
	} else {
		fmt.Fprintf(&b, "%s (current master)%s\n", a.Master.Server.Label(), deadMark(a.Master))
		writeChildren(&b, s, a.Master, 1, map[*Node]bool{a.Master: true})
	}
	placed := map[*Node]bool{}
	markTree(s, a.Master, placed)
	for _, n := range s.Nodes {
		if !placed[n] {
			fmt.Fprintf(&b, "%s (not in the tree%s)\n", n.Server.Label(), strings.TrimPrefix(deadMark(n), " "))
		}
	}
	return b.String()
}

func deadMark(n *Node) string {
	if n.Alive() {
		return ""
	}
	return " [" + errText(n) + "]"
}

func children(s *Snapshot, parent *Node) []*Node {
	var out []*Node
	for _, n := range s.Nodes {
		if n != parent && n.Alive() && n.Status.IsReplica() && parent.Server.Matches(n.Status.Replica.MasterHost, n.Status.Replica.MasterPort) {
			out = append(out, n)
		}
	}
	return out
}

func writeChildren(b *strings.Builder, s *Snapshot, parent *Node, depth int, seen map[*Node]bool) {
	for _, c := range children(s, parent) {
		if seen[c] {
			continue
		}
		seen[c] = true
		fmt.Fprintf(b, "%s+--%s\n", strings.Repeat(" ", 1+4*(depth-1)), c.Server.Label())
		writeChildren(b, s, c, depth+1, seen)
	}
}

func markTree(s *Snapshot, root *Node, placed map[*Node]bool) {
	if root == nil || placed[root] {
		return
	}
	placed[root] = true
	for _, c := range children(s, root) {
		markTree(s, c, placed)
	}
}
