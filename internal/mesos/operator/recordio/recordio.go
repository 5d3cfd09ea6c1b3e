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

// DefaultMaxRecord bounds the size of a record read whole (Next): 256 MiB
// leaves room without letting a corrupt length exhaust memory. A stream's
// first record, a whole cluster's state, can be larger (389 MB at 250,000
// tasks): NextStream hands such records out as readers, with no bound.
const DefaultMaxRecord = 256 << 20

// maxLengthLine is the longest accepted length line: 20 digits hold any
// uint64.
const maxLengthLine = 20

// ErrTooLarge is returned for a record longer than the reader's maximum.
var ErrTooLarge = errors.New("recordio: record too large")

// Reader reads records from a byte stream.
type Reader struct {
	r    *bufio.Reader
	max  uint64
	buf  []byte
	body *exactReader // the record NextStream handed out as a reader
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
	size, err := r.length()
	if err != nil {
		return nil, err
	}
	if size > r.max {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, r.max)
	}
	return r.read(size)
}

// keepBuffer is the largest record buffer kept for the next record: a
// stream's records are small but for the first (a whole cluster), whose
// buffer must not stay allocated for the stream's life.
const keepBuffer = 1 << 20

func (r *Reader) read(size uint64) ([]byte, error) {
	buf := r.buf
	if uint64(cap(buf)) < size {
		buf = make([]byte, size)
		if size <= keepBuffer {
			r.buf = buf
		}
	}
	buf = buf[:size]
	if _, err := io.ReadFull(r.r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("recordio: record of %d bytes: %w", size, err)
	}
	return buf, nil
}

// NextStream is Next for a stream whose records can be too large to hold:
// a record of at most whole bytes (and within the reader's maximum) is
// returned as a slice (valid until the next call), a larger one as a
// reader of exactly its bytes, with no limit on its size, for the caller
// to decode as it arrives. The caller must not
// read past that reader's end, and the part it did not read is skipped on
// the next call. A record cut short gives io.ErrUnexpectedEOF from the
// reader.
func (r *Reader) NextStream(whole int) ([]byte, io.Reader, error) {
	if r.body != nil {
		if _, err := io.Copy(io.Discard, r.body); err != nil {
			return nil, nil, err
		}
		r.body = nil
	}
	size, err := r.length()
	if err != nil {
		return nil, nil, err
	}
	if size <= uint64(whole) && size <= r.max {
		b, err := r.read(size)
		return b, nil, err
	}
	r.body = &exactReader{r: r.r, left: size}
	return nil, r.body, nil
}

// exactReader reads the remaining bytes of one record.
type exactReader struct {
	r    io.Reader
	left uint64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		return 0, io.EOF
	}
	if uint64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= uint64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// length reads a record's length line.
func (r *Reader) length() (uint64, error) {
	var line [maxLengthLine]byte
	n := 0
	for {
		c, err := r.r.ReadByte()
		if err != nil {
			if err == io.EOF && n > 0 {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if c == '\n' {
			if n == 0 {
				continue // lenient: blank line between records
			}
			break
		}
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("recordio: length: unexpected byte %q", c)
		}
		if n == maxLengthLine {
			return 0, fmt.Errorf("recordio: length: longer than %d digits", maxLengthLine)
		}
		line[n] = c
		n++
	}
	size, err := strconv.ParseUint(string(line[:n]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("recordio: length %q: %w", line[:n], err)
	}
	return size, nil
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
