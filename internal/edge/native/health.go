package native

import (
	"bufio"
	"math/rand/v2"
	"net"
	"strings"
	"time"
)

// startCheck runs the server's active check as its server line says
// (check inter, fall, rise; httpchk for http backends), replacing a
// check with other parameters and stopping one no longer configured.
func (st *serverState) startCheck(e *Engine, c *checkSpec) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if c != nil && st.checking != nil && *c == *st.checking {
		return
	}
	if st.stopCheck != nil {
		close(st.stopCheck)
		st.stopCheck = nil
	}
	st.checking = c
	if c == nil {
		st.checkDesc = ""
		st.up.Store(true)
		return
	}
	stop := make(chan struct{})
	st.stopCheck = stop
	go st.runCheck(e, *c, stop)
}

func (st *serverState) runCheck(e *Engine, c checkSpec, stop chan struct{}) {
	// Spread the first check over the interval, as HAProxy does.
	first := time.NewTimer(time.Duration(rand.Int64N(int64(c.inter)/2 + 1)))
	select {
	case <-stop:
		first.Stop()
		return
	case <-first.C:
	}
	tick := time.NewTicker(c.inter)
	defer tick.Stop()
	fails, oks := 0, 0
	for {
		ok, desc := probe(&c, e.o.ConnectTimeout)
		st.mu.Lock()
		if st.stopCheck != stop {
			st.mu.Unlock()
			return
		}
		st.checkDesc = desc
		if !ok {
			st.chkFail++
		}
		st.mu.Unlock()
		if ok {
			fails, oks = 0, oks+1
			if !st.up.Load() && oks >= c.rise {
				st.setUp(true)
				e.log.Info("native engine: server up", "server", st.addr, "check", desc)
			}
		} else {
			oks, fails = 0, fails+1
			if st.up.Load() && fails >= c.fall {
				st.setUp(false)
				e.log.Warn("native engine: server down", "server", st.addr, "check", desc)
			}
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// probe is one check: a connection (L4OK) or, for httpchk, a GET whose
// status is 2xx or 3xx (L7OK), with HAProxy's check_status names.
func probe(c *checkSpec, connect time.Duration) (bool, string) {
	d := net.Dialer{Timeout: min(connect, c.timeout)}
	conn, err := d.Dial("tcp", c.hostAddr)
	if err != nil {
		if strings.Contains(err.Error(), "timeout") {
			return false, "L4TOUT"
		}
		return false, "L4CON"
	}
	defer conn.Close()
	if !c.http {
		return true, "L4OK"
	}
	_ = conn.SetDeadline(time.Now().Add(c.timeout))
	path := c.path
	if path == "" {
		path = "/"
	}
	if _, err := conn.Write([]byte("GET " + path + " HTTP/1.0\r\n\r\n")); err != nil {
		return false, "L7RSP"
	}
	line, err := bufio.NewReaderSize(conn, 512).ReadString('\n')
	if err != nil {
		if strings.Contains(err.Error(), "timeout") {
			return false, "L7TOUT"
		}
		return false, "L7RSP"
	}
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") || len(f[1]) != 3 {
		return false, "L7RSP"
	}
	if f[1][0] == '2' || f[1][0] == '3' {
		return true, "L7OK"
	}
	return false, "L7STS"
}
