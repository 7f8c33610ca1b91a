package binlog

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// flushSize is how much of a transaction Extract holds before writing it
// to an output it can cut back.
const flushSize = 1 << 20

// truncater is an output that can be cut back, as an *os.File.
type truncater interface {
	io.Writer
	Seek(offset int64, whence int) (int64, error)
	Truncate(size int64) error
}

// output is where Extract writes. The bytes of the transaction being read
// are pending until keep writes them for good or cut drops them. With a
// truncater they go out as they come, once more than limit of them wait,
// and cut truncates the file back; otherwise they wait in memory.
type output struct {
	w       io.Writer
	t       truncater // nil: hold the pending bytes in memory
	limit   int
	buf     bytes.Buffer
	pos     int64 // offset in t where the pending bytes begin
	flushed int64 // pending bytes already written to t
}

func newOutput(w io.Writer, limit int) *output {
	o := &output{w: w, limit: limit}
	t, ok := w.(truncater)
	if !ok {
		return o
	}
	if st, ok := w.(interface{ Stat() (os.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err != nil || !fi.Mode().IsRegular() {
			return o // a pipe or a device: no truncation
		}
	}
	pos, err := t.Seek(0, io.SeekCurrent)
	if err != nil {
		return o
	}
	o.t, o.pos = t, pos
	return o
}

// streaming reports whether pending bytes may reach w before keep.
func (o *output) streaming() bool { return o.t != nil }

// write adds p to the pending bytes.
func (o *output) write(p []byte) error {
	if o.t == nil || o.buf.Len()+len(p) <= o.limit {
		if o.t != nil && o.buf.Cap() < o.limit {
			o.buf.Grow(o.limit)
		}
		o.buf.Write(p)
		return nil
	}
	if err := o.flush(); err != nil {
		return err
	}
	if len(p) > o.limit {
		return o.put(p)
	}
	o.buf.Write(p)
	return nil
}

func (o *output) flush() error {
	if o.buf.Len() == 0 {
		return nil
	}
	err := o.put(o.buf.Bytes())
	o.buf.Reset()
	return err
}

func (o *output) put(p []byte) error {
	n, err := o.t.Write(p)
	o.flushed += int64(n)
	if err != nil {
		return fmt.Errorf("write output at %d: %w", o.pos+o.flushed, err)
	}
	return nil
}

// keep writes the pending bytes for good.
func (o *output) keep() error {
	if o.t == nil {
		_, err := o.w.Write(o.buf.Bytes())
		o.buf.Reset()
		if err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	err := o.flush()
	o.pos += o.flushed
	o.flushed = 0
	return err
}

// cut drops the pending bytes, truncating w back to where they began.
func (o *output) cut() error {
	o.buf.Reset()
	if o.flushed == 0 {
		return nil
	}
	o.flushed = 0
	if err := o.t.Truncate(o.pos); err != nil {
		return fmt.Errorf("cut output back to %d: %w", o.pos, err)
	}
	if _, err := o.t.Seek(o.pos, io.SeekStart); err != nil {
		return fmt.Errorf("cut output back to %d: %w", o.pos, err)
	}
	return nil
}

// head writes p ahead of the pending bytes, none of which may have
// reached w yet: the header of the first transaction written.
func (o *output) head(p []byte) error {
	if o.flushed > 0 {
		return fmt.Errorf("write header at %d: %d bytes already follow", o.pos, o.flushed)
	}
	if _, err := o.w.Write(p); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	o.pos += int64(len(p))
	return nil
}

// rewrite overwrites bytes already kept, at offset off of w, and comes
// back to the end. Streaming only, with nothing pending.
func (o *output) rewrite(off int64, p []byte) error {
	if _, err := o.t.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("rewrite output at %d: %w", off, err)
	}
	if _, err := o.t.Write(p); err != nil {
		return fmt.Errorf("rewrite output at %d: %w", off, err)
	}
	if _, err := o.t.Seek(o.pos, io.SeekStart); err != nil {
		return fmt.Errorf("rewrite output at %d: %w", off, err)
	}
	return nil
}
