package ebpf

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/sextantdc/sextant/internal/l4lb"
	"github.com/sextantdc/sextant/internal/l4lb/l4lbtest"
	"github.com/sextantdc/sextant/internal/l4lb/nft"
)

// The plane as a node runs it: in front of the nftables plane (which
// serves traffic from other hosts, and here installs the VIP ranges'
// local routes and refusals in the helper's namespace). Local clients
// must see exactly what they see with this plane alone, and the two
// planes' counters add up to what the clients did.
func TestConformanceWithNftables(t *testing.T) { runHelper(t, "TestConformanceWithNftablesHelper") }

func TestConformanceWithNftablesHelper(t *testing.T) {
	cg := helperEnv(t)
	l4lbtest.Run(t, l4lbtest.Env{
		New: func(t *testing.T) l4lb.Dataplane {
			remote, err := nft.New(nft.Options{})
			if err != nil {
				t.Skipf("nftables plane: %v", err)
			}
			p, err := New(Options{CgroupPath: cg, Remote: remote, Ranges: nft.DefaultVIPRanges})
			if errors.Is(err, ErrUnsupported) {
				remote.Close()
				t.Skipf("the kernel does not take the programs: %v", err)
			}
			if err != nil {
				remote.Close()
				t.Fatal(err)
			}
			return p
		},
		Client:   func(vip netip.AddrPort) netip.AddrPort { return vip },
		VIP4:     func(i int) netip.Addr { return netip.AddrFrom4([4]byte{11, 215, 17, byte(i)}) },
		VIP6:     func(i int) netip.Addr { return netip.AddrFrom16([16]byte{0xfd, 0x01, 0, 0x0c, 14: 0x17, 15: byte(i)}) },
		Isolated: true,
	})
}
