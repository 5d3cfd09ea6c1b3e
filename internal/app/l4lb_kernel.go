package app

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextantdc/sextant/internal/l4lb"
	"github.com/sextantdc/sextant/internal/l4lb/ebpf"
	"github.com/sextantdc/sextant/internal/l4lb/nft"
)

// openNFTables opens the nftables plane (table inet sextant_l4lb, local
// routes for the VIP ranges) in this process's network namespace.
func openNFTables(log *slog.Logger, reg prometheus.Registerer) (l4lb.Dataplane, error) {
	p, err := nft.New(nft.Options{Logger: log.With("component", "l4lb-nft"), Registerer: reg})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// openEBPF opens the socket-level plane in front of the nftables plane
// remote, which keeps serving traffic from other hosts (and is closed
// with it). The programs attach to the root of the cgroup2 hierarchy:
// every process and container of the host. An error wraps
// ebpf.ErrUnsupported when the kernel cannot load them.
func openEBPF(remote l4lb.Dataplane, log *slog.Logger) (l4lb.Dataplane, error) {
	p, err := ebpf.New(ebpf.Options{Logger: log.With("component", "l4lb-ebpf"), Remote: remote, Ranges: nft.DefaultVIPRanges})
	if err != nil {
		return nil, err
	}
	return p, nil
}
