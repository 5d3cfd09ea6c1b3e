package attach

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// IPAM allocates container addresses of one bridge's range. With Dir set,
// every allocation is a file named after the address holding its owner's
// ID (host-local's layout), created with O_EXCL so two processes sharing
// the directory never give one address twice.
type IPAM struct {
	Range netip.Prefix // the bridge's half, e.g. 9.0.1.0/25
	Dir   string       // "" keeps allocations in memory only

	mu   sync.Mutex
	used map[netip.Addr]string
}

// ErrFull: the range has no free address.
var ErrFull = errors.New("no free address")

func (m *IPAM) load() {
	if m.used != nil {
		return
	}
	m.used = map[netip.Addr]string{}
	if m.Dir == "" {
		return
	}
	ents, _ := os.ReadDir(m.Dir)
	for _, e := range ents {
		if a, err := netip.ParseAddr(e.Name()); err == nil && m.Range.Contains(a) {
			b, _ := os.ReadFile(filepath.Join(m.Dir, e.Name()))
			m.used[a] = strings.TrimSpace(string(b))
		}
	}
}

// Allocate gives id the lowest free address (the same one again if id
// already holds one), with the range's prefix length.
func (m *IPAM) Allocate(id string) (netip.Prefix, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.load()
	for a, owner := range m.used {
		if owner == id {
			return netip.PrefixFrom(a, m.Range.Bits()), nil
		}
	}
	gw := m.Range.Masked().Addr().Next()
	for a := gw.Next(); m.Range.Contains(a); a = a.Next() {
		if a.Is4() && !m.Range.Contains(a.Next()) {
			break // broadcast
		}
		if _, taken := m.used[a]; taken {
			continue
		}
		if m.Dir != "" {
			if err := os.MkdirAll(m.Dir, 0o755); err != nil {
				return netip.Prefix{}, err
			}
			f, err := os.OpenFile(filepath.Join(m.Dir, a.String()), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if errors.Is(err, os.ErrExist) {
				m.used[a] = "?" // another process took it
				continue
			}
			if err != nil {
				return netip.Prefix{}, err
			}
			_, err = f.WriteString(id)
			f.Close()
			if err != nil {
				return netip.Prefix{}, err
			}
		}
		m.used[a] = id
		return netip.PrefixFrom(a, m.Range.Bits()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%s: %w", m.Range, ErrFull)
}

// Release frees id's address.
func (m *IPAM) Release(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.load()
	for a, owner := range m.used {
		if owner == id {
			delete(m.used, a)
			if m.Dir != "" {
				os.Remove(filepath.Join(m.Dir, a.String()))
			}
		}
	}
}
