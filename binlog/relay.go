package binlog

import (
	"context"
	"errors"
	"fmt"
)

// ErrPositionNotFound: the relay logs do not hold the master position asked
// for (they do not go back that far, or the position is not an event end).
var ErrPositionNotFound = errors.New("master position not found in relay logs")

// RelayPos is an offset in a relay-log file.
type RelayPos struct {
	File   string
	Offset int64
}

func (p RelayPos) String() string { return Pos(p).String() }

// RelayOptions tune FindRelayPos.
type RelayOptions struct {
	// ReplicaServerID is the server_id of the replica that wrote the relay
	// logs; events carrying it are the replica's own and never match.
	// 0: taken from each relay log's own FORMAT_DESCRIPTION event.
	ReplicaServerID uint32
	// MasterLogFile is the replica's Master_Log_File: the master file of the
	// events at the end of the relay logs. It names the master file of a
	// region when the relay logs hold no Rotate for it (after a purge).
	MasterLogFile string
	Scan          ScanOptions
}

// relayMapper tracks which master file each region of the relay logs
// belongs to while scanning forward.
type relayMapper struct {
	target  Pos
	ownID   uint32
	file    string    // master file of the current region, "" if unknown
	match   *RelayPos // the last match in a region with a known file
	pending *RelayPos // the last candidate in the current unknown region
}

// FindRelayPos maps master coordinates (Master_Log_File, Read_Master_Log_Pos
// of another replica) to the offset in this replica's relay logs (oldest
// first) right after the event that ends at that master position: MHA's
// method. Master files are followed through the master's Rotate events,
// including the fake ones; events written by the replica itself are
// ignored. With several matches (a reconnect re-fetched events) the last
// one wins. A position the relay logs do not reach gives ErrPositionNotFound.
func FindRelayPos(ctx context.Context, relayLogs []Source, master Pos, opts RelayOptions) (RelayPos, error) {
	if _, _, err := ParseFileName(master.File); err != nil {
		return RelayPos{}, fmt.Errorf("find relay position of %s: %w", master, err)
	}
	m := relayMapper{target: master}
	for _, src := range relayLogs {
		if err := m.scanFile(ctx, src, opts); err != nil {
			return RelayPos{}, err
		}
	}
	if m.file == "" && opts.MasterLogFile != "" {
		m.resolve(opts.MasterLogFile)
	}
	if m.match == nil {
		first, last := "", ""
		if len(relayLogs) > 0 {
			first, last = relayLogs[0].name(), relayLogs[len(relayLogs)-1].name()
		}
		return RelayPos{}, fmt.Errorf("%w: %s in relay logs %s..%s", ErrPositionNotFound, master, first, last)
	}
	return *m.match, nil
}

func (m *relayMapper) scanFile(ctx context.Context, src Source, opts RelayOptions) error {
	rc, err := src.open(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	so := opts.Scan
	so.Name = src.name()
	sc := NewScanner(rc, so)
	m.ownID = opts.ReplicaServerID
	n := 0
	for sc.Next() {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return fmt.Errorf("read relay log %s: %w", so.Name, ctx.Err())
		}
		if err := m.step(so.Name, sc.Event()); err != nil {
			return fmt.Errorf("read relay log %s: %w", so.Name, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read relay log %s: %w", so.Name, err)
	}
	return nil
}

func (m *relayMapper) step(file string, ev *Event) error {
	if ev.Type == FormatDescriptionEvent && ev.Flags&FlagRelayLog != 0 && ev.Offset == int64(len(Magic)) {
		if m.ownID == 0 {
			m.ownID = ev.ServerID
		}
		return nil
	}
	if m.ownID != 0 && ev.ServerID == m.ownID {
		return nil
	}
	here := &RelayPos{File: file, Offset: ev.End()}
	if ev.Type == RotateEvent {
		r, err := DecodeRotate(ev)
		if err != nil {
			return err
		}
		if ev.Flags&FlagArtificial == 0 && ev.LogPos != 0 {
			// The master's real rotate: the last event of the old file.
			m.candidate(ev, here)
			if m.file == "" {
				if prev, ok := prevFileName(r.Next); ok {
					m.resolve(prev)
				}
			}
		}
		m.file, m.pending = r.Next, nil
		if r.Next == m.target.File && int64(r.Pos) == m.target.Offset {
			m.match = here
		}
		return nil
	}
	if ev.LogPos == 0 || ev.Flags&FlagArtificial != 0 {
		return nil
	}
	m.candidate(ev, here)
	return nil
}

func (m *relayMapper) candidate(ev *Event, here *RelayPos) {
	if int64(ev.LogPos) != m.target.Offset {
		return
	}
	switch {
	case m.file == "":
		m.pending = here
	case m.file == m.target.File:
		m.match = here
	}
}

// resolve names the master file of the unknown region just scanned.
func (m *relayMapper) resolve(file string) {
	if file == m.target.File && m.pending != nil {
		m.match = m.pending
	}
	m.pending = nil
}
