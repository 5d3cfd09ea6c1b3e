package gossip

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"strings"
)

// slogWriter turns memberlist's printf-style lines ("[DEBUG] memberlist:
// Stream connection from=…") into slog records at debug level. memberlist
// logs routine events (every refused packet, every suspicion) at WARN/ERR;
// the role reports what matters through its own logs and metrics, so the
// library's chatter stays at debug with its original level as an attribute.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	if !w.l.Enabled(context.Background(), slog.LevelDebug) {
		return len(p), nil
	}
	for line := range bytes.SplitSeq(bytes.TrimRight(p, "\n"), []byte("\n")) {
		s := string(line)
		lvl := ""
		if strings.HasPrefix(s, "[") {
			if i := strings.IndexByte(s, ']'); i > 0 {
				lvl, s = strings.ToLower(s[1:i]), strings.TrimSpace(s[i+1:])
			}
		}
		s = strings.TrimPrefix(s, "memberlist: ")
		w.l.Debug(s, "memberlist_level", lvl)
	}
	return len(p), nil
}

// memberlistLogger adapts l for memberlist.Config.Logger.
func memberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(slogWriter{l: l.With("component", "memberlist")}, "", 0)
}
