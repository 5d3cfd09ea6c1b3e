package gossip

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestMemberlistLoggerForwardsAtDebug(t *testing.T) {
	var buf bytes.Buffer
	l := memberlistLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Printf("[WARN] memberlist: Refuting a suspect message (from: a1)")
	l.Printf("no prefix at all")
	out := buf.String()
	for _, want := range []string{
		`level=DEBUG msg="Refuting a suspect message (from: a1)" component=memberlist memberlist_level=warn`,
		`level=DEBUG msg="no prefix at all" component=memberlist memberlist_level=""`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	buf.Reset()
	quiet := memberlistLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	quiet.Printf("[DEBUG] memberlist: chatter")
	if buf.Len() != 0 {
		t.Errorf("debug line logged at info level: %s", buf.String())
	}
}
