package sandbox

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/gomha/gomha/sandbox/internal/proc"
)

// Roles reported by Status.
const (
	RoleMaster  = "master"  // mariadbd answers and has no replication configured
	RoleReplica = "replica" // mariadbd answers and replicates from MasterAddr
	RoleUnknown = ""        // mariadbd does not answer (down, isolated or frozen)
)

// HostStatus is what Status observed of one host.
type HostStatus struct {
	Host          Host
	MysqldPID     int
	MysqldRunning bool // recorded pid alive and TCP connect to Addr:Port works
	SSHDPID       int
	SSHDRunning   bool // recorded pid alive and TCP connect to Addr:SSHPort works
	Isolated      bool
	Frozen        bool     // mariadbd stopped by Freeze
	CutFrom       []string // hosts Cut from this one
	Role          string
	MasterAddr    string // for a replica: Master_Host
	IORunning     string // Slave_IO_Running
	SQLRunning    string // Slave_SQL_Running
	ReadOnly      bool
	Err           string // why the role could not be read, if it could not
}

// String is a one-line summary such as "host2 127.0.0.12 mysqld=up sshd=up replica of 127.0.0.11 (io=Yes sql=Yes) read_only".
func (s HostStatus) String() string {
	up := func(b bool) string {
		if b {
			return "up"
		}
		return "down"
	}
	out := fmt.Sprintf("%s %s mysqld=%s sshd=%s", s.Host.Name, s.Host.Addr, up(s.MysqldRunning), up(s.SSHDRunning))
	switch s.Role {
	case RoleMaster:
		out += " master"
	case RoleReplica:
		out += fmt.Sprintf(" replica of %s (io=%s sql=%s)", s.MasterAddr, s.IORunning, s.SQLRunning)
	}
	if s.ReadOnly {
		out += " read_only"
	}
	if s.Isolated {
		out += " ISOLATED"
	}
	if s.Frozen {
		out += " FROZEN"
	}
	if len(s.CutFrom) > 0 {
		out += " CUT from " + strings.Join(s.CutFrom, ",")
	}
	return out
}

// Status reports every host, in host order. Hosts are probed in parallel,
// each with short timeouts; an isolated host or a frozen mariadbd is not
// probed over TCP.
func (c *Cluster) Status(ctx context.Context) ([]HostStatus, error) {
	out := make([]HostStatus, len(c.Hosts))
	cuts, err := c.cuts(ctx)
	if err != nil { // the hosts are still worth reporting
		c.logger.Warn("status: cannot read Cut rules", "err", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	for i, h := range c.Hosts {
		g.Go(func() error {
			out[i] = c.hostStatus(gctx, h)
			out[i].CutFrom = c.cutPeers(cuts, h)
			return nil
		})
	}
	_ = g.Wait() // probes report in HostStatus.Err, not as errors
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("status of sandbox %s: %w", c.Dir, err)
	}
	return out, nil
}

func (c *Cluster) hostStatus(ctx context.Context, h Host) HostStatus {
	p, _ := c.PIDs(h.Name)
	s := HostStatus{Host: h, MysqldPID: p.Mysqld, SSHDPID: p.SSHD}
	iso := c.isolated(ctx, h)
	s.Isolated = iso
	mAlive, sAlive := proc.Ours(p.Mysqld, h.mysqldMarker()), proc.Ours(p.SSHD, h.sshdMarker())
	s.Frozen = mAlive && frozen(p.Mysqld)
	if iso {
		s.MysqldRunning, s.SSHDRunning = mAlive, sAlive
		s.Err = "isolated: not probed"
		return s
	}
	s.MysqldRunning = mAlive && tcpUp(ctx, h.mysqlAddr(), statusTimeout)
	s.SSHDRunning = sAlive && tcpUp(ctx, h.sshAddr(), statusTimeout)
	if s.Frozen { // its kernel accepts connections, the server would not answer
		s.Err = "frozen: not probed"
		return s
	}
	if !s.MysqldRunning {
		return s
	}
	if err := c.readRole(ctx, h, &s); err != nil {
		s.Err = err.Error()
	}
	return s
}

// readRole fills Role, MasterAddr, thread states and ReadOnly.
func (c *Cluster) readRole(ctx context.Context, h Host, s *HostStatus) error {
	ctx, cancel := context.WithTimeout(ctx, 3*statusTimeout)
	defer cancel()
	db, err := c.openDB(ctx, h, statusTimeout)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "SELECT @@global.read_only /* gomha sandbox */").Scan(&s.ReadOnly); err != nil {
		return fmt.Errorf("read read_only on %s: %w", h.Name, err)
	}
	rows, err := queryMaps(ctx, db, "SHOW SLAVE STATUS /* gomha sandbox */")
	if err != nil {
		return fmt.Errorf("show slave status on %s: %w", h.Name, err)
	}
	if len(rows) == 0 {
		s.Role = RoleMaster
		return nil
	}
	s.Role = RoleReplica
	s.MasterAddr = rows[0]["Master_Host"]
	s.IORunning = rows[0]["Slave_IO_Running"]
	s.SQLRunning = rows[0]["Slave_SQL_Running"]
	return nil
}
