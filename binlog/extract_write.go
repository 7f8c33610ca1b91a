package binlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// event handles one event at or after the start position.
func (x *extractor) event(name string, ev *Event) error {
	x.track(ev)
	if x.leading {
		if !isOutside(ev.Type) && !x.startsTrx(ev) {
			x.sum.SkippedLeading++
			return nil
		}
		if !isOutside(ev.Type) {
			x.leading = false
		}
	}
	res, err := x.sp.Step(name, ev)
	if err != nil {
		return fmt.Errorf("extract at %s:%d: %w", name, ev.Offset, err)
	}
	if res.Dropped != nil {
		info := x.info(res.Dropped)
		x.sum.Dropped = append(x.sum.Dropped, info)
		x.opts.Logger.Debug("dropped incomplete transaction", "gtid", info.GTID, "at", info.Source.String())
	}
	switch res.Kind {
	case Outside:
		return nil
	case Begin:
		x.buf.Reset()
		x.trxCRC = ev.hasCRC
		x.trxMaster = Pos{File: x.masterFile}
		if ev.LogPos >= ev.Size {
			x.trxMaster.Offset = int64(ev.LogPos - ev.Size)
		}
	}
	if ev.hasCRC != x.trxCRC {
		return fmt.Errorf("extract at %s:%d: checksum algorithm changes inside a transaction: %w", name, ev.Offset, ErrUnsupported)
	}
	x.buf.Write(ev.Raw)
	if res.Kind == End {
		return x.flush(res.Trx)
	}
	return nil
}

// startsTrx reports whether ev can be the first event of a transaction.
func (x *extractor) startsTrx(ev *Event) bool {
	switch ev.Type {
	case MariadbGTIDEvent, MySQLGTIDEvent, AnonymousGTIDEvent:
		return true
	case QueryEvent:
		if !x.seenGTID {
			return true
		}
		q, err := QueryText(ev)
		return err == nil && classifyQuery(q) == queryBegin
	}
	return false
}

func isOutside(t EventType) bool {
	switch t {
	case FormatDescriptionEvent, RotateEvent, MariadbGTIDListEvent, BinlogCheckpointEvent,
		PreviousGTIDsEvent, StopEvent, HeartbeatEvent, HeartbeatEventV2, StartEncryptionEvent,
		IncidentEvent:
		return true
	}
	return false
}

func (x *extractor) info(t *Trx) TrxInfo {
	return TrxInfo{
		GTID:   t.GTID,
		Source: Pos{File: t.File, Offset: t.Start},
		Master: Pos{File: x.masterFile, Offset: int64(t.LogPos)},
		Bytes:  int64(x.buf.Len()),
	}
}

// flush writes the completed transaction t held in x.buf.
func (x *extractor) flush(t *Trx) error {
	info := x.info(t)
	if !x.opts.Until.IsZero() && info.Master.Compare(x.opts.Until) > 0 {
		x.sum.Stopped = true
		return nil
	}
	if !x.headerDone {
		if err := x.writeHeader(); err != nil {
			return err
		}
	}
	if x.trxCRC != x.headerCRC {
		return fmt.Errorf("extract %s: checksum algorithm differs from the header's: %w", t, ErrUnsupported)
	}
	if _, err := x.w.Write(x.buf.Bytes()); err != nil {
		return fmt.Errorf("extract: write %s: %w", t, err)
	}
	if len(x.sum.Trxs) == 0 {
		x.sum.FirstMaster = x.trxMaster
	}
	x.sum.Trxs = append(x.sum.Trxs, info)
	x.sum.LastMaster = info.Master
	x.sum.End = Pos{File: t.EndFile, Offset: t.End}
	x.sum.Bytes += info.Bytes
	if (x.opts.UntilGTID != "" && t.GTID == x.opts.UntilGTID) ||
		(!x.opts.Until.IsZero() && info.Master.Compare(x.opts.Until) == 0) {
		x.sum.Stopped = true
	}
	return nil
}

// writeHeader writes the magic and the FDE: the override, else the master's
// latest, else the file's own.
func (x *extractor) writeHeader() error {
	fde := x.masterFDE
	if fde == nil {
		fde = x.ownFDE
	}
	if x.opts.FDE != nil {
		f, err := decodeFDE(x.opts.FDE)
		if err != nil {
			return fmt.Errorf("extract: FDE given in options: %w", err)
		}
		fde = f
	}
	if fde == nil {
		return fmt.Errorf("extract from %s: no format description event found: %w", x.start, ErrCorrupt)
	}
	raw := CleanFDE(fde)
	if _, err := x.w.Write(Magic); err != nil {
		return fmt.Errorf("extract: write header: %w", err)
	}
	if _, err := x.w.Write(raw); err != nil {
		return fmt.Errorf("extract: write header: %w", err)
	}
	x.headerDone = true
	x.headerCRC = fde.Checksum == ChecksumCRC32
	x.sum.Bytes += int64(len(Magic) + len(raw))
	return nil
}

// CleanFDE returns a copy of the FDE ready to head a new binlog file: the
// in-use, artificial and relay-log flags cleared, end_log_pos set to its end
// at offset 4, and the CRC32 recomputed.
func CleanFDE(fde *FormatDescription) []byte {
	raw := append([]byte(nil), fde.Raw...)
	flags := binary.LittleEndian.Uint16(raw[flagsOffset:]) &^ (FlagInUse | FlagArtificial | FlagRelayLog)
	binary.LittleEndian.PutUint16(raw[flagsOffset:], flags)
	binary.LittleEndian.PutUint32(raw[logPosOffset:], uint32(len(Magic)+len(raw)))
	if fde.Checksum == ChecksumCRC32 {
		n := len(raw) - crcSize
		binary.LittleEndian.PutUint32(raw[n:], crc32.ChecksumIEEE(raw[:n]))
	}
	return raw
}
