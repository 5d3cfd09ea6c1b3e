package app

import (
	"log/slog"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/native"
)

// newNativeEngine builds the native Go engine on the addresses
// marathon-lb binds, moved by c.Rebind.
func newNativeEngine(c EdgeConfig, log *slog.Logger, reg prometheus.Registerer) (edge.Engine, error) {
	rebind := c.Rebind
	if rebind == nil {
		rebind = func(a string) string { return strings.TrimPrefix(a, "*") }
	}
	tcp := func(a string) string {
		if strings.HasPrefix(a, "/") {
			return "" // a socket path: the native engine listens on TCP only
		}
		return a
	}
	o := native.Options{AppIDAddr: tcp(rebind("*:9091")), Logger: log.With("component", "native"), Registerer: reg}
	if !c.Options.DontBindHTTPHTTPS {
		o.HTTPAddr, o.HTTPSAddr = tcp(rebind("*:80")), tcp(rebind("*:443"))
	}
	if c.Rebind != nil {
		o.ServiceAddr = func(bind string, port int64) string { return rebind(bind + ":" + strconv.FormatInt(port, 10)) }
	}
	return native.New(o), nil
}
