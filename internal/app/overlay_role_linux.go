//go:build linux

package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/nftables"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netlink"

	"github.com/sextantdc/sextant/internal/obs"
	"github.com/sextantdc/sextant/internal/overlay/agent"
	"github.com/sextantdc/sextant/internal/overlay/alloc"
	mesossrc "github.com/sextantdc/sextant/internal/source/mesos"
)

// overlayRole adds the overlay role to a pipeline: it runs beside the
// sources and consumers and ends with them.
func (p *pipeline) overlayRole(c OverlayConfig, master bool, nodeIP string) error {
	if !c.Enable {
		return nil
	}
	if c.IP == "" {
		c.IP = nodeIP
	}
	if c.IP == "" {
		return errors.New("--overlay needs --overlay-ip (or --node-ip): the address peers send VXLAN to")
	}
	if c.Addr == "" {
		return errors.New("--overlay needs --overlay-addr")
	}
	if !master && len(c.Masters) == 0 {
		return errors.New("--overlay needs --overlay-masters on agents")
	}
	log := p.log.With("component", "overlay")
	acfg, err := loadAgentConfig(c.AgentConfig, master, log)
	if err != nil {
		return err
	}
	var m *alloc.Master
	var election *alloc.ZKElection
	var zconn *zk.Conn
	if master {
		n, err := loadNetwork(c.Config, log)
		if err != nil {
			return err
		}
		var store alloc.Store
		var elector alloc.Elector
		switch {
		case c.ZK != "":
			u, err := mesossrc.ParseZKURL(c.ZK, nil)
			if err != nil {
				return fmt.Errorf("--overlay-zk: %w", err)
			}
			zconn, _, err = zk.Connect(u.Servers, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(overlayZKLogger{log}))
			if err != nil {
				return fmt.Errorf("--overlay-zk: %w", err)
			}
			adv := c.Advertise
			if adv == "" {
				_, port, _ := net.SplitHostPort(c.Addr)
				adv = "http://" + net.JoinHostPort(c.IP, port)
			}
			store = &alloc.ZKStore{Conn: zconn, Path: u.Path + "/overlay/network-state"}
			election = &alloc.ZKElection{Conn: zconn, Dir: u.Path + "/overlay/leader", URL: adv, Log: log}
			elector = election
		case c.StateFile != "":
			store = &alloc.FileStore{Path: c.StateFile}
		default:
			return errors.New("--overlay on a master needs --overlay-state FILE (one master) or --overlay-zk URL (several)")
		}
		m = alloc.NewMaster(alloc.MasterOptions{Network: n, Store: store, Elector: elector, Logger: log.With("part", "master"), Registry: p.reg})
	}
	host, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("overlay: netlink: %w", err)
	}
	masters := c.Masters
	if master {
		_, port, _ := net.SplitHostPort(c.Addr)
		masters = append([]string{"http://" + net.JoinHostPort(loopbackFor(c.Addr), port)}, masters...)
	}
	kernel := agent.Kernel{H: host}
	if nft, err := nftables.New(); err == nil {
		kernel.NFT = nft
	}
	ag := agent.NewAgent(agent.AgentOptions{IP: c.IP, Config: acfg, Masters: masters, Kernel: kernel,
		Logger: log.With("part", "agent"), Registry: p.reg})
	health := &obs.Health{}
	health.Add("overlay-agent", func() error {
		select {
		case <-ag.Ready():
			return nil
		default:
			return errors.New("this node's overlays are not configured yet")
		}
	})
	mux := http.NewServeMux()
	mux.Handle("/overlay-agent/", ag.Handler())
	if m != nil {
		mux.Handle("/overlay-master/", m.Handler())
	}
	mux.Handle("/health", health)
	if r, ok := p.reg.(*prometheus.Registry); ok {
		mux.Handle("/metrics", obs.MetricsHandler(r))
	}
	if m != nil {
		_, port, _ := net.SplitHostPort(c.Addr)
		if err := p.overlaySource([]string{"http://" + net.JoinHostPort(loopbackFor(c.Addr), port)}); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		host.Close()
		return fmt.Errorf("--overlay-addr %s: %w", c.Addr, err)
	}
	p.runs = append(p.runs, namedRun{"overlay", func(ctx context.Context) error {
		defer host.Close()
		if zconn != nil {
			defer zconn.Close()
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		if election != nil {
			go func() { _ = election.Run(ctx) }()
		}
		if m != nil {
			if err := m.Recover(ctx); err != nil {
				return nil // ctx ended
			}
		}
		return ag.Run(ctx)
	}})
	return nil
}

// loopbackFor is the address a master's own agent dials it at.
func loopbackFor(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		return "127.0.0.1"
	}
	return host
}

type overlayZKLogger struct{ log *slog.Logger }

func (l overlayZKLogger) Printf(format string, args ...any) {
	l.log.Debug("zookeeper client: " + strings.TrimSpace(fmt.Sprintf(format, args...)))
}
