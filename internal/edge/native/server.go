package native

import (
	"time"

	"github.com/sextantdc/sextant/internal/httpfast"
)

// The client side is internal/httpfast's lean HTTP/1.1 server loop, not
// net/http's: one request object per connection, the response flushed
// once.

// newServer is the server loop of a listener's connections.
func (l *listener) newServer() *httpfast.Server {
	o := l.e.o
	return &httpfast.Server{Handler: l.h, RequestTimeout: o.RequestTimeout, KeepAliveTimeout: o.KeepAliveTimeout,
		WriteTimeout: o.ClientTimeout, Logger: l.e.log, Closing: l.closing.Load, Track: l.track}
}

// track registers a connection with its listener, for closing.
func (l *listener) track(cc *httpfast.Conn, add bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if add {
		l.conns[cc] = struct{}{}
	} else {
		delete(l.conns, cc)
	}
	l.active.Store(int64(len(l.conns)))
}

// closeIdle ends the connections waiting for a request; the others end
// after their response.
func (l *listener) closeIdle(all bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for cc := range l.conns {
		if all || cc.Idle() {
			_ = cc.NetConn().SetReadDeadline(time.Unix(1, 0))
		}
		if all {
			cc.NetConn().Close()
		}
	}
}
