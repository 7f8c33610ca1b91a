package binlog

import (
	"bytes"
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
		if err := x.drop(res.Dropped); err != nil {
			return err
		}
	}
	if res.Kind == Outside {
		return nil
	}
	// The transaction's first event: a Begin, or an End that is the whole
	// transaction (a statement without GTID or BEGIN).
	if res.Trx.Events == 1 {
		if err := x.begin(ev, res.Trx); err != nil {
			return fmt.Errorf("extract at %s:%d: %w", name, ev.Offset, err)
		}
	}
	if ev.hasCRC != x.trxCRC {
		return fmt.Errorf("extract at %s:%d: checksum algorithm changes inside a transaction: %w", name, ev.Offset, ErrUnsupported)
	}
	x.trxBytes += int64(len(ev.Raw))
	if !x.skip {
		if err := x.out.write(ev.Raw); err != nil {
			return fmt.Errorf("extract at %s:%d: %w", name, ev.Offset, err)
		}
	}
	if res.Kind == End {
		return x.end(res.Trx)
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
		Bytes:  x.trxBytes,
	}
}

// begin starts transaction t at its first event ev: its master start, and
// whether it is written. Streaming, the header goes out ahead of the first
// transaction written, to be cut off with it if it is not kept.
func (x *extractor) begin(ev *Event, t *Trx) error {
	x.trxCRC = ev.hasCRC
	x.trxBytes = 0
	x.trxMaster = Pos{File: x.masterFile}
	if ev.LogPos >= ev.Size {
		x.trxMaster.Offset = int64(ev.LogPos - ev.Size)
	}
	x.skip = x.opts.Skip != nil && x.opts.Skip(TrxStart{GTID: t.GTID, Master: x.trxMaster})
	if x.skip || x.headerDone || !x.out.streaming() {
		return nil
	}
	raw, _, err := x.headerBytes()
	if err != nil {
		return err
	}
	x.header, x.headerAt = raw, x.out.pos
	return x.out.write(raw)
}

// end handles the completed transaction t: beyond Until it is cut off and
// the extraction stops; skipped, it is listed; else it is kept.
func (x *extractor) end(t *Trx) error {
	info := x.info(t)
	if !x.opts.Until.IsZero() && info.Master.Compare(x.opts.Until) > 0 {
		x.sum.Stopped = true
		return x.cut()
	}
	stop := (x.opts.UntilGTID != "" && t.GTID == x.opts.UntilGTID) ||
		(!x.opts.Until.IsZero() && info.Master.Compare(x.opts.Until) == 0)
	if x.skip {
		x.sum.Skipped = append(x.sum.Skipped, info)
	} else if err := x.keep(t, info); err != nil {
		return err
	}
	x.sum.Stopped = stop
	return nil
}

// drop cuts off transaction t, proved incomplete by the start of another.
func (x *extractor) drop(t *Trx) error {
	info := x.info(t)
	x.sum.Dropped = append(x.sum.Dropped, info)
	x.opts.Logger.Debug("dropped incomplete transaction", "gtid", info.GTID, "at", info.Source.String())
	return x.cut()
}

// cut drops what was written of the current transaction.
func (x *extractor) cut() error {
	x.header = nil
	if err := x.out.cut(); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	return nil
}

// keep writes the completed transaction t for good, after the header if it
// is the first.
func (x *extractor) keep(t *Trx, info TrxInfo) error {
	var fix []byte
	if !x.headerDone {
		var err error
		if fix, err = x.keepHeader(); err != nil {
			return err
		}
	}
	if x.trxCRC != x.headerCRC {
		return fmt.Errorf("extract %s: checksum algorithm differs from the header's: %w", t, ErrUnsupported)
	}
	if err := x.out.keep(); err != nil {
		return fmt.Errorf("extract: write %s: %w", t, err)
	}
	if fix != nil {
		if err := x.out.rewrite(x.headerAt, fix); err != nil {
			return fmt.Errorf("extract: header before %s: %w", t, err)
		}
	}
	x.header = nil
	if len(x.sum.Trxs) == 0 {
		x.sum.FirstMaster = x.trxMaster
	}
	x.sum.Trxs = append(x.sum.Trxs, info)
	x.sum.LastMaster = info.Master
	x.sum.End = Pos{File: t.EndFile, Offset: t.End}
	x.sum.Bytes += info.Bytes
	return nil
}

// keepHeader writes the magic and the FDE known now: the override, else the
// master's latest, else the file's own. Streaming, a header went out at the
// transaction's start; if the FDE changed since (a relay log rotated inside
// the transaction) the new one, of the same size, is returned to be written
// over it.
func (x *extractor) keepHeader() (fix []byte, err error) {
	raw, crc, err := x.headerBytes()
	if err != nil {
		return nil, err
	}
	switch {
	case x.header == nil:
		if err := x.out.head(raw); err != nil {
			return nil, fmt.Errorf("extract: %w", err)
		}
	case len(raw) != len(x.header):
		return nil, fmt.Errorf("extract from %s: format description event of %d bytes, %d when the first transaction began: %w",
			x.start, len(raw), len(x.header), ErrUnsupported)
	case !bytes.Equal(raw, x.header):
		fix = raw
	}
	x.headerDone = true
	x.headerCRC = crc
	x.sum.Bytes += int64(len(raw))
	return fix, nil
}

// headerBytes returns the magic and the FDE to head the output with, and
// whether that FDE announces CRC32 checksums.
func (x *extractor) headerBytes() ([]byte, bool, error) {
	fde := x.masterFDE
	if fde == nil {
		fde = x.ownFDE
	}
	if x.opts.FDE != nil {
		f, err := decodeFDE(x.opts.FDE)
		if err != nil {
			return nil, false, fmt.Errorf("extract: FDE given in options: %w", err)
		}
		fde = f
	}
	if fde == nil {
		return nil, false, fmt.Errorf("extract from %s: no format description event found: %w", x.start, ErrCorrupt)
	}
	raw := append(append([]byte(nil), Magic...), CleanFDE(fde)...)
	return raw, fde.Checksum == ChecksumCRC32, nil
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
