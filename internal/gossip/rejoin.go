package gossip

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// TimersByName returns a preset by name ("lan" or "fast"), for a flag or
// config value.
func TimersByName(name string) (Timers, error) {
	switch name {
	case "", "lan":
		return LANTimers(), nil
	case "fast":
		return FastTimers(), nil
	}
	return Timers{}, fmt.Errorf("gossip timers %q: want \"lan\" or \"fast\"", name)
}

// KeepJoined joins the contact members (normally the masters' gossip
// addresses, "ip:port") and keeps doing so every interval for those not
// currently alive members, until ctx ends. It covers agents started before
// the masters, masters that restart, and partitions that heal while
// memberlist has already forgotten the other side. contacts is called on
// every round so the list may change (Lashup refreshed its contact nodes
// from the master list every 5 s). Contacts that are not "ip:port" are
// joined every round (memberlist resolves names). It returns ctx's error.
func (n *Node) KeepJoined(ctx context.Context, contacts func() []string, interval time.Duration) error {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if missing := n.missingContacts(contacts()); len(missing) > 0 {
			if k, err := n.Join(missing); err != nil {
				n.log.Debug("gossip contacts not reachable yet", "contacts", missing, "err", err)
			} else {
				n.log.Info("joined gossip contacts", "contacts", missing, "reached", k)
			}
		}
		t.Reset(interval)
	}
}

// missingContacts returns the contacts that are not the address of an
// alive member (nor our own).
func (n *Node) missingContacts(contacts []string) []string {
	n.mu.Lock()
	alive := make(map[netip.AddrPort]bool, len(n.members))
	for _, m := range n.members {
		if m.State == StateAlive {
			alive[m.Addr] = true
		}
	}
	n.mu.Unlock()
	var out []string
	for _, c := range contacts {
		ap, err := netip.ParseAddrPort(c)
		if err == nil && alive[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())] {
			continue
		}
		out = append(out, c)
	}
	return out
}
