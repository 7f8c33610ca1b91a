package binlog

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// progressEvery is the period of ApplyOptions.Progress calls while a file
// streams.
const progressEvery = 2 * time.Second

// eventOffsets passes mariadb-binlog's output on and follows how far in
// the binlog file it got. Before each event (and after the last one)
// mariadb-binlog writes a line "# at N", N being the event's offset in the
// file, and every statement it writes ends with its delimiter "/*!*/;". It
// holds the rows events of a statement back until the statement's last one
// and then writes their "# at" lines first, so an offset only counts once a
// statement end has followed its line: then the events before it have been
// handed on. (Counting bytes of SQL would not do: they are some 1.5 to 3
// times the file's.) A string value can hold such lines too, so an offset
// only counts if it does not go back and stays within the file.
type eventOffsets struct {
	w    io.Writer
	size int64
	at   atomic.Int64 // the events before this offset were handed on
	next int64        // the last "# at" offset, counted at the next statement end

	head  []byte // the first bytes of the current line, while it may be "# at N"
	notAt bool   // the current line is not "# at N"
	tail  []byte // the last bytes of the current line
}

const (
	atPrefix     = "# at "
	maxAtLine    = len(atPrefix) + 20 // "# at N", N up to 20 digits
	statementEnd = "/*!*/;"           // mariadb-binlog's delimiter
)

func (o *eventOffsets) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	o.scan(p[:n])
	return n, err
}

func (o *eventOffsets) scan(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			o.add(p)
			return
		}
		o.add(p[:i])
		o.endLine()
		p = p[i+1:]
	}
}

// add takes the next bytes of the current line.
func (o *eventOffsets) add(p []byte) {
	if len(p) == 0 {
		return
	}
	if !o.notAt {
		o.head = append(o.head, p[:min(len(p), maxAtLine+1)]...)
		if k := min(len(o.head), len(atPrefix)); len(o.head) > maxAtLine || string(o.head[:k]) != atPrefix[:k] {
			o.notAt = true
		}
	}
	if len(p) >= len(statementEnd) {
		o.tail = append(o.tail[:0], p[len(p)-len(statementEnd):]...)
	} else {
		o.tail = append(o.tail, p...)
		o.tail = o.tail[max(0, len(o.tail)-len(statementEnd)):]
	}
}

func (o *eventOffsets) endLine() {
	if !o.notAt {
		if rest, ok := strings.CutPrefix(string(o.head), atPrefix); ok {
			n, err := strconv.ParseInt(rest, 10, 64)
			if err == nil && n >= o.next && n <= o.size {
				o.next = n
			}
		}
	} else if string(o.tail) == statementEnd && o.next > o.at.Load() {
		o.at.Store(o.next)
	}
	o.head, o.notAt, o.tail = o.head[:0], false, o.tail[:0]
}

// reportProgress calls progress every progressEvery with the offset reached
// until stop is closed; done is closed when it has returned.
func reportProgress(progress func(file string, done, total int64), file string, o *eventOffsets, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	if progress == nil {
		return
	}
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			progress(file, o.at.Load(), o.size)
		}
	}
}
