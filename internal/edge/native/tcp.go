package native

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sextantdc/sextant/internal/httpfast"
)

// serveTCP proxies one connection of a tcp frontend to a server of its
// backend, trying other servers while a connection cannot be made.
func (e *Engine) serveTCP(c net.Conn, fe *frontend) {
	defer c.Close()
	be := fe.backend
	if be == nil {
		return
	}
	if fe.certs != nil {
		tc := tls.Server(c, fe.certs.config())
		_ = tc.SetDeadline(time.Now().Add(e.o.ClientTimeout))
		if err := tc.Handshake(); err != nil {
			fe.stats.ereq.Add(1)
			return
		}
		_ = tc.SetDeadline(time.Time{})
		c = tc
	}
	src := clientIP(c.RemoteAddr().String())
	if !be.allows(src) {
		be.stats.ereq.Add(1)
		return
	}
	be.stats.stot.Add(1)
	q := pickInfo{src: src, now: time.Now().UnixNano()}
	for range e.o.Retries + 1 {
		srv := be.pick(&q)
		if srv == nil {
			return
		}
		up, err := net.DialTimeout("tcp", srv.addr, e.o.ConnectTimeout)
		if err != nil {
			srv.st.stats.econ.Add(1)
			be.stats.econ.Add(1)
			srv.st.failed(e)
			q.skip = srv
			continue
		}
		st := srv.st
		st.stats.stot.Add(1)
		st.stats.lbtot.Add(1)
		st.stats.bumpMax(st.active.Add(1))
		be.stats.bumpMax(be.stats.scur.Add(1))
		in, out := splice(c, up)
		st.active.Add(-1)
		be.stats.scur.Add(-1)
		st.stats.bin.Add(in)
		st.stats.bout.Add(out)
		be.stats.bin.Add(in)
		be.stats.bout.Add(out)
		fe.stats.bin.Add(in)
		fe.stats.bout.Add(out)
		return
	}
}

// splice copies both ways until both directions end, passing on each
// half-close; it returns the bytes client→server and server→client.
func splice(client, server net.Conn) (int64, int64) {
	var wg sync.WaitGroup
	var in int64
	wg.Go(func() {
		in, _ = io.Copy(server, client)
		closeWrite(server)
	})
	out, _ := io.Copy(client, server)
	closeWrite(client)
	wg.Wait()
	server.Close()
	return in, out
}

func closeWrite(c net.Conn) {
	switch x := c.(type) {
	case interface{ CloseWrite() error }:
		_ = x.CloseWrite()
	case *countedConn:
		closeWrite(x.Conn)
	default:
		_ = c.Close()
	}
}

// tunnel finishes a protocol upgrade (101, WebSocket): the response
// head goes to the client, then both connections are spliced.
func (e *Engine) tunnel(w http.ResponseWriter, uc *upConn, resp *respHead, sc *counters) (int, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		uc.c.Close()
		return errorPage(w, http.StatusBadGateway, page502), nil
	}
	cc, brw, err := hj.Hijack()
	if err != nil {
		uc.c.Close()
		return http.StatusSwitchingProtocols, nil
	}
	defer cc.Close()
	_ = uc.c.SetDeadline(time.Time{})
	bw := bufio.NewWriter(cc)
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = w.Header().Write(bw)
	httpfast.WriteHeader(bw, "Connection", "Upgrade")
	if resp.upgrade != "" {
		httpfast.WriteHeader(bw, "Upgrade", resp.upgrade)
	}
	bw.WriteString("\r\n")
	// What either side sent early is still buffered.
	if n := uc.br.Buffered(); n > 0 {
		b, _ := uc.br.Peek(n)
		bw.Write(b)
	}
	if err := bw.Flush(); err != nil {
		uc.c.Close()
		return http.StatusSwitchingProtocols, nil
	}
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		if _, err := uc.c.Write(b); err != nil {
			uc.c.Close()
			return http.StatusSwitchingProtocols, nil
		}
	}
	sc.resp(http.StatusSwitchingProtocols)
	in, out := splice(cc, uc.c)
	sc.bin.Add(in)
	sc.bout.Add(out)
	return http.StatusSwitchingProtocols, nil
}
