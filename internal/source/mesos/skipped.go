package mesos

import (
	"log/slog"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// skippedLog remembers the state parts skipped by the last fetch, so that
// a standing bad value is logged when it appears, not on every refresh.
type skippedLog map[string]bool

// note counts every skipped part and logs the new ones; it returns what to
// remember for the next fetch.
func (l skippedLog) note(skipped []state.Skipped, m *metrics, log *slog.Logger) skippedLog {
	cur := make(skippedLog, len(skipped))
	for _, sk := range skipped {
		m.itemsSkipped.WithLabelValues(string(sk.Kind)).Inc()
		k := sk.String()
		if !l[k] && !cur[k] {
			log.Warn("mesos state item skipped", "kind", string(sk.Kind), "item", sk.Item, "field", sk.Field, "reason", sk.Reason)
		}
		cur[k] = true
	}
	return cur
}
