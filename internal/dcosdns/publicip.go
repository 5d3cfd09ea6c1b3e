package dcosdns

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/directory"
	"github.com/sextantdc/sextant/internal/gossip"
)

// DefaultNodeMetaRefresh is how often the public IPs are detected again
// (dcos-net refreshed its node metadata and thisnode zone every 30 min).
const DefaultNodeMetaRefresh = 30 * time.Minute

// detectTimeout bounds one run of the public-IP command.
const detectTimeout = 30 * time.Second

// ParsePublicIPs reads the output of a public-IP detection command (DC/OS'
// detect_ip_public): one IP address per line, surrounding white space
// ignored, empty lines skipped. A bad line is skipped with an error naming
// it; duplicates are dropped; at most gossip.MaxPublicIPs are kept (the
// rest is reported).
func ParsePublicIPs(out []byte) ([]netip.Addr, []error) {
	var ips []netip.Addr
	var errs []error
	for i, line := range bytes.Split(out, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if s == "" {
			continue
		}
		ip, err := netip.ParseAddr(s)
		if err != nil || ip.Zone() != "" {
			errs = append(errs, fmt.Errorf("public ip line %d: %q is not an IP address", i+1, truncate(s, 64)))
			continue
		}
		ip = ip.Unmap()
		if slices.Contains(ips, ip) {
			continue
		}
		if len(ips) == gossip.MaxPublicIPs {
			errs = append(errs, fmt.Errorf("public ip line %d: more than %d addresses, %s and later ones ignored", i+1, gossip.MaxPublicIPs, ip))
			break
		}
		ips = append(ips, ip)
	}
	return ips, errs
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// detectPublicIPs runs the configured command. An error (the command
// failed, or printed no usable address while printing something) keeps
// the previous addresses.
func (n *node) detectPublicIPs(ctx context.Context) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, detectTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, n.o.DetectIPPublic).Output()
	if err != nil {
		return nil, fmt.Errorf("public ip command %s: %w", n.o.DetectIPPublic, err)
	}
	ips, errs := ParsePublicIPs(out)
	for _, e := range errs {
		n.log.Warn("public ip skipped", "command", n.o.DetectIPPublic, "err", e)
	}
	if len(ips) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("public ip command %s: no usable address", n.o.DetectIPPublic)
	}
	return ips, nil
}

// refreshPublicIPs detects the public IPs again and, when they changed,
// rebuilds thisnode.thisdcos.directory and tells the cluster.
func (n *node) refreshPublicIPs(ctx context.Context) {
	ips, err := n.detectPublicIPs(ctx)
	if err != nil {
		n.log.Warn("public ip detection failed; keeping the previous addresses", "err", err)
		return
	}
	if slices.Equal(ips, *n.publicIPs.Load()) {
		return
	}
	n.publicIPs.Store(&ips)
	n.log.Info("public ips", "ips", ips)
	local, _ := directory.BuildLocal(n.localConfig(*n.masters.Load()))
	n.mu.Lock()
	n.local = local
	n.mu.Unlock()
	n.install()
	if n.gossip != nil {
		if err := n.gossip.UpdateMeta(n.o.Hostname, ips, 5*time.Second); err != nil {
			n.log.Warn("gossip metadata update", "err", err)
		}
	}
}

// watchPublicIPs re-detects the public IPs every NodeMetaRefresh.
func (n *node) watchPublicIPs(ctx context.Context) {
	every := n.o.NodeMetaRefresh
	if every <= 0 {
		every = DefaultNodeMetaRefresh
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.refreshPublicIPs(ctx)
		}
	}
}
