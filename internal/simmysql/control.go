package simmysql

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Request is one line of the control protocol (JSON): Op is "start"
// (Clusters more clusters), "kill", "restart", "cut", "heal", "freeze" or
// "thaw" (Cluster),
// "stats" or "quit".
type Request struct {
	Op       string `json:"op"`
	Clusters int    `json:"clusters,omitempty"`
	Cluster  int    `json:"cluster,omitempty"`
}

// Response answers one Request, on one line.
type Response struct {
	OK       bool          `json:"ok"`
	Error    string        `json:"error,omitempty"`
	Started  []ClusterInfo `json:"started,omitempty"` // start
	KilledAt time.Time     `json:"killed_at,omitzero"`
	Stats    *Stats        `json:"stats,omitempty"`
}

// ClusterInfo names a started cluster's servers.
type ClusterInfo struct {
	ID       int      `json:"id"`
	Master   string   `json:"master"`   // host:port
	Replicas []string `json:"replicas"` // host:port
}

// Info describes c.
func (c *Cluster) Info() ClusterInfo {
	ci := ClusterInfo{ID: c.ID, Master: c.Master.Addr()}
	for _, r := range c.Replicas {
		ci.Replicas = append(ci.Replicas, r.Addr())
	}
	return ci
}

// Serve reads requests from r and writes responses to w until "quit" or
// the end of r; it does not close the Sim.
func Serve(s *Sim, r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	enc := json.NewEncoder(w)
	for sc.Scan() {
		var req Request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			if err := enc.Encode(Response{Error: fmt.Sprintf("bad request %q: %v", sc.Text(), err)}); err != nil {
				return err
			}
			continue
		}
		if req.Op == "quit" {
			return enc.Encode(Response{OK: true})
		}
		if err := enc.Encode(s.handle(req)); err != nil {
			return err
		}
	}
	return sc.Err()
}

func (s *Sim) handle(req Request) Response {
	switch req.Op {
	case "start":
		var res Response
		for range req.Clusters {
			c, err := s.AddCluster()
			if err != nil {
				res.Error = err.Error()
				return res
			}
			res.Started = append(res.Started, c.Info())
		}
		res.OK = true
		return res
	case "kill", "restart", "cut", "heal", "freeze", "thaw":
		c, err := s.Cluster(req.Cluster)
		if err != nil {
			return Response{Error: err.Error()}
		}
		switch req.Op {
		case "kill":
			return Response{OK: true, KilledAt: c.Kill()}
		case "cut":
			c.Cut()
		case "heal":
			c.Heal()
		case "freeze":
			c.Freeze()
		case "thaw":
			c.Thaw()
		default:
			if err := c.Restart(); err != nil {
				return Response{Error: err.Error()}
			}
		}
		return Response{OK: true}
	case "stats":
		st := s.Stats()
		return Response{OK: true, Stats: &st}
	}
	return Response{Error: fmt.Sprintf("unknown op %q", req.Op)}
}
