// Package recordio reads and writes Mesos' RecordIO framing: each record is
// its length in bytes as ASCII decimal, a line feed, then exactly that many
// bytes, with nothing between records.
//
//	20\n{"type":"HEARTBEAT"}20\n{"type":"HEARTBEAT"}
//
// Imports: the standard library and third-party modules only, no package of Sextant's.
package recordio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxRecord bounds a record's size: a SUBSCRIBED snapshot of a large
// cluster is tens of MB, so 256 MiB leaves room without letting a corrupt
// length exhaust memory.
const DefaultMaxRecord = 256 << 20

// maxLengthLine is the longest accepted length line: 20 digits hold any
// uint64.
const maxLengthLine = 20

// ErrTooLarge is returned for a record longer than the reader's maximum.
var ErrTooLarge = errors.New("recordio: record too large")

// Reader reads records from a byte stream.
type Reader struct {
	r   *bufio.Reader
	max uint64
	buf []byte
}

// NewReader returns a Reader; max ≤ 0 means DefaultMaxRecord.
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxRecord
	}
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), max: uint64(max)}
}

// Buffered reports how many bytes are buffered and can be read without
// touching the underlying reader: a caller can batch work while more
// records are already at hand.
func (r *Reader) Buffered() int { return r.r.Buffered() }

// Next returns the next record. The slice is valid until the next call.
// A clean end of stream between records is io.EOF; an end inside a record
// is io.ErrUnexpectedEOF; a malformed length is an error naming it. Empty
// lines before a length are skipped, as Mesos' reference parser does.
func (r *Reader) Next() ([]byte, error) {
	var line [maxLengthLine]byte
	n := 0
	for {
		c, err := r.r.ReadByte()
		if err != nil {
			if err == io.EOF && n > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if c == '\n' {
			if n == 0 {
				continue // lenient: blank line between records
			}
			break
		}
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("recordio: length: unexpected byte %q", c)
		}
		if n == maxLengthLine {
			return nil, fmt.Errorf("recordio: length: longer than %d digits", maxLengthLine)
		}
		line[n] = c
		n++
	}
	size, err := strconv.ParseUint(string(line[:n]), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("recordio: length %q: %w", line[:n], err)
	}
	if size > r.max {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, r.max)
	}
	if uint64(cap(r.buf)) < size {
		r.buf = make([]byte, size)
	}
	r.buf = r.buf[:size]
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("recordio: record of %d bytes: %w", size, err)
	}
	return r.buf, nil
}

// Append appends one framed record to dst.
func Append(dst, record []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(record)), 10)
	dst = append(dst, '\n')
	return append(dst, record...)
}

// Frame returns record framed as one RecordIO record.
func Frame(record []byte) []byte {
	return Append(make([]byte, 0, len(record)+12), record)
}

// HasRecord reports whether a complete record is already buffered, so the
// next Next call will not wait for the underlying reader. A caller uses it
// to batch work over records that arrived together.
func (r *Reader) HasRecord() bool {
	b, _ := r.r.Peek(r.r.Buffered())
	i := 0
	for i < len(b) && b[i] == '\n' {
		i++
	}
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < maxLengthLine {
		i++
	}
	if i == start || i >= len(b) || b[i] != '\n' {
		return false
	}
	size, err := strconv.ParseUint(string(b[start:i]), 10, 64)
	if err != nil {
		return false
	}
	return uint64(len(b)-i-1) >= size
}
