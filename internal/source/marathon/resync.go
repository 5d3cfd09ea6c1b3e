package marathon

// Resync asks for a full re-read of the apps now, as marathon-lb's
// SIGHUP does (the edge's /_mlb_signal/hup); it never blocks, and a burst
// of calls yields one read.
func (s *Source) Resync() {
	select {
	case s.invalid <- struct{}{}:
	default:
	}
}
