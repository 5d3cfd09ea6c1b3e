package dnsserver

import (
	"bufio"
	"io"
	"net"
)

// reader and writer are thin wrappers over bufio so serveConn reads as the
// protocol does: length, message, and flush only when the client has
// nothing more queued.
type reader struct{ b *bufio.Reader }

func newReader(c net.Conn, size int) *reader { return &reader{bufio.NewReaderSize(c, size)} }

func (r *reader) buffered() int { return r.b.Buffered() }

func (r *reader) readFull(p []byte) error {
	_, err := io.ReadFull(r.b, p)
	return err
}

type writer struct{ b *bufio.Writer }

func newWriter(c net.Conn, size int) *writer { return &writer{bufio.NewWriterSize(c, size)} }

func (w *writer) write(p []byte) error {
	_, err := w.b.Write(p)
	return err
}

func (w *writer) flush() error { return w.b.Flush() }
