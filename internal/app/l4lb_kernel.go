package app

import (
	"log/slog"

	"github.com/sextantdc/sextant/internal/l4lb"
)

// openNFTables opens the nftables plane.
func openNFTables(*slog.Logger) (l4lb.Dataplane, error) { return nil, errNoKernelPlane }

// openEBPF opens the socket-level plane in front of the nftables plane
// nft, which keeps serving traffic from other hosts.
func openEBPF(l4lb.Dataplane, *slog.Logger) (l4lb.Dataplane, error) { return nil, errNoKernelPlane }
