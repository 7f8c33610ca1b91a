package etcdsandbox

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/gomha/gomha/sandbox/internal/dirstate"
)

// record is the on-disk form of a Cluster, Dir/etcd.json: what Open needs
// to stop exactly the processes Up started, from another process.
type record struct {
	Version       int           `json:"version"`
	Dir           string        `json:"dir"`
	Members       []Member      `json:"members"`
	Token         string        `json:"token"`
	FirewallChain string        `json:"firewall_chain"`
	Binary        string        `json:"binary"`
	Timing        timing        `json:"timing"`
	UpDuration    time.Duration `json:"up_duration_ns"`
	PIDs          []int         `json:"pids"` // by member, 0: not running
}

const recordVersion = 1

func (c *Cluster) record() record {
	c.mu.Lock()
	pids := append([]int(nil), c.pids...)
	c.mu.Unlock()
	return record{
		Version: recordVersion, Dir: c.Dir, Members: c.Members, Token: c.Token,
		FirewallChain: c.FirewallChain, Binary: c.Binary, Timing: c.timing,
		UpDuration: c.UpDuration, PIDs: pids,
	}
}

func fromRecord(r record, logger *slog.Logger) *Cluster {
	pids := make([]int, len(r.Members))
	copy(pids, r.PIDs)
	return &Cluster{
		Dir: r.Dir, Members: r.Members, Token: r.Token, FirewallChain: r.FirewallChain,
		Binary: r.Binary, UpDuration: r.UpDuration, timing: r.Timing, logger: logger,
		pids: pids, exited: make([]<-chan struct{}, len(r.Members)),
	}
}

// save writes Dir/etcd.json atomically.
func (c *Cluster) save() error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	return dirstate.Save(c.Dir, stateFile, "etcd sandbox state", c.record())
}

// Open loads the etcd sandbox of dir from its etcd.json, as written by Up,
// for example to stop it from another process. Its logger discards; see
// SetLogger.
func Open(dir string) (*Cluster, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open etcd sandbox %q: %w", dir, err)
	}
	r, err := readRecord(abs)
	if err != nil {
		return nil, err
	}
	return fromRecord(r, slog.New(slog.DiscardHandler)), nil
}

func readRecord(dir string) (record, error) {
	var r record
	if err := dirstate.Load(dir, stateFile, "etcd sandbox", &r); err != nil {
		return r, err
	}
	path := filepath.Join(dir, stateFile)
	if r.Version != recordVersion || len(r.Members) == 0 {
		return r, fmt.Errorf("open etcd sandbox: %s: unsupported version %d or no members", path, r.Version)
	}
	if r.Dir != dir {
		return r, fmt.Errorf("open etcd sandbox %s: %s names dir %s (a moved sandbox is not supported)", dir, path, r.Dir)
	}
	return r, nil
}
