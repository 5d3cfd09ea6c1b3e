package marathon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	// Type is the event: field ("" when the event had none).
	Type string
	// Data is the data: lines joined by "\n".
	Data []byte
	// TooLong is set when a line or the data exceeded the size limit; Data
	// is then truncated and must not be trusted.
	TooLong bool
}

// sseReader reads events framed as the HTML Living Standard says
// (https://html.spec.whatwg.org/multipage/server-sent-events.html): lines
// end in CRLF, LF or CR; "field: value" lines; ':' starts a comment; an
// empty line dispatches the event, or is a heartbeat when no data came.
// Marathon (Jetty) writes CRLF and a bare CRLF heartbeat every 10 s.
type sseReader struct {
	r   *bufio.Reader
	max int

	line   []byte
	long   bool // the current line passed max
	skipLF bool // the last line ended in CR: a following LF belongs to it
}

func newSSEReader(r io.Reader, max int) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 32<<10), max: max}
}

// readLine returns the next line without its end. A line ending in CR
// is returned at once; the LF that may follow is skipped on the next
// call, so a CRLF event is dispatched without waiting for more bytes.
func (p *sseReader) readLine() ([]byte, error) {
	p.line, p.long = p.line[:0], false
	for {
		if p.r.Buffered() == 0 {
			// Blocks until bytes arrive; an unfinished line at the end is
			// dropped, as the standard drops an unfinished event.
			if _, err := p.r.Peek(1); err != nil {
				return nil, err
			}
		}
		buf, _ := p.r.Peek(p.r.Buffered())
		if p.skipLF {
			p.skipLF = false
			if buf[0] == '\n' {
				_, _ = p.r.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(buf, "\r\n")
		if i < 0 {
			p.appendLine(buf)
			_, _ = p.r.Discard(len(buf))
			continue
		}
		p.appendLine(buf[:i])
		p.skipLF = buf[i] == '\r'
		_, _ = p.r.Discard(i + 1)
		return p.line, nil
	}
}

func (p *sseReader) appendLine(b []byte) {
	if p.long {
		return
	}
	if len(p.line)+len(b) > p.max {
		p.long = true
		return
	}
	p.line = append(p.line, b...)
}

// next returns the next event. It returns an error only when the stream
// ends or breaks; an unfinished event at the end is dropped.
func (p *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	var data []byte
	hasData := false
	for {
		line, err := p.readLine()
		if err != nil {
			return sseEvent{}, err
		}
		if p.long {
			ev.TooLong = true
			continue
		}
		if len(line) == 0 {
			if !hasData && !ev.TooLong {
				ev = sseEvent{} // heartbeat, or an event without data
				continue
			}
			ev.Data = bytes.TrimSuffix(data, []byte("\n"))
			return ev, nil
		}
		if line[0] == ':' {
			continue // comment
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			ev.Type = string(value)
		case "data":
			hasData = true
			if len(data)+len(value)+1 > p.max {
				ev.TooLong = true
				continue
			}
			data = append(data, value...)
			data = append(data, '\n')
		}
		// id and retry mean nothing here: Marathon replays nothing, and
		// reconnect timing is ours.
	}
}

// eventTypes reads the JSON documents of one event's data (Marathon writes
// one; several separated by CRLF have been seen, and a document may span
// several data lines) and returns their eventType fields, or false when
// the data is not a sequence of JSON objects.
func eventTypes(data []byte) ([]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var out []string
	for {
		var v struct {
			EventType any `json:"eventType"`
		}
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, false
		}
		t, _ := v.EventType.(string)
		out = append(out, t)
	}
	return out, len(out) > 0
}
