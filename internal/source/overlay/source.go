package overlay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/overlay/api"
)

// Name is the source's name in the hub.
const Name = "overlay"

// Publisher receives the observations (*hub.Hub).
type Publisher interface {
	PublishOverlay(*model.OverlayObservation)
	Fail(name string, err error)
}

// Options configure a Source.
type Options struct {
	// URLs are overlay master base URLs, tried in order.
	URLs []string
	// Interval between reads (default 5 s).
	Interval time.Duration
	Client   *http.Client
	Logger   *slog.Logger
}

// Source reads the overlay master's state.
type Source struct {
	o    Options
	pub  Publisher
	last []byte
}

// New returns a source publishing to pub.
func New(o Options, pub Publisher) (*Source, error) {
	if len(o.URLs) == 0 {
		return nil, errors.New("overlay source: no master URL")
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Source{o: o, pub: pub}, nil
}

// Run reads until ctx ends.
func (s *Source) Run(ctx context.Context) error {
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	for {
		s.once(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Source) once(ctx context.Context) {
	var errs []error
	for _, u := range s.o.URLs {
		body, err := s.fetch(ctx, strings.TrimSuffix(u, "/")+"/overlay-master/state")
		if err == nil {
			if bytes.Equal(body, s.last) {
				return // unchanged: no rebuild
			}
			obs, err := Translate(body)
			if err == nil {
				obs.Fetched, obs.From = time.Now(), u
				s.last = body
				s.pub.PublishOverlay(obs)
				return
			}
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	if ctx.Err() == nil {
		err := errors.Join(errs...)
		s.o.Logger.Warn("overlay source: read failed", "err", err)
		s.pub.Fail(Name, err)
	}
}

func (s *Source) fetch(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	return b, nil
}

// Translate decodes a master state into an observation; bad agents are
// skipped with a problem each.
func Translate(body []byte) (*model.OverlayObservation, error) {
	var st api.State
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("overlay state: %w", err)
	}
	obs := &model.OverlayObservation{}
	seen := map[netip.Addr]bool{}
	for i, ag := range st.Agents {
		a, field, err := agent(ag)
		if err == nil && seen[a.IP] {
			field, err = "ip", errors.New("listed twice")
		}
		if err != nil {
			obs.Problems = append(obs.Problems, model.Problem{Item: fmt.Sprintf("overlay agent %d (%q)", i, ag.IP), Field: field, Reason: err.Error()})
			continue
		}
		seen[a.IP] = true
		obs.Agents = append(obs.Agents, a)
	}
	slices.SortFunc(obs.Agents, func(x, y model.OverlayAgent) int { return x.IP.Compare(y.IP) })
	return obs, nil
}

func prefixOr(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	return netip.ParsePrefix(s)
}

func agent(ag api.AgentInfo) (model.OverlayAgent, string, error) {
	var a model.OverlayAgent
	var err error
	if a.IP, err = netip.ParseAddr(ag.IP); err != nil {
		return a, "ip", fmt.Errorf("%q is not an address", ag.IP)
	}
	for j, o := range ag.Overlays {
		f := fmt.Sprintf("overlays[%d]", j)
		if o.Backend.VXLAN == nil {
			return a, f + ".backend.vxlan", errors.New("missing")
		}
		vx := o.Backend.VXLAN
		if a.VTEP, err = netip.ParsePrefix(vx.VTEPIP); err != nil || !a.VTEP.Addr().Is4() {
			return a, f + ".backend.vxlan.vtep_ip", fmt.Errorf("%q is not an IPv4 CIDR", vx.VTEPIP)
		}
		if a.VTEP6, err = prefixOr(vx.VTEPIP6); err != nil {
			return a, f + ".backend.vxlan.vtep_ip6", fmt.Errorf("%q is not a CIDR", vx.VTEPIP6)
		}
		if a.MAC, err = net.ParseMAC(vx.VTEPMAC); err != nil || len(a.MAC) != 6 {
			return a, f + ".backend.vxlan.vtep_mac", fmt.Errorf("%q is not a MAC", vx.VTEPMAC)
		}
		sub := model.OverlaySubnet{Overlay: o.Info.Name, Status: o.State.Status}
		space := o.Info.Subnet
		block := o.Subnet
		if block == "" {
			space, block = o.Info.Subnet6, o.Subnet6
		}
		if sub.Space, err = prefixOr(space); err != nil {
			return a, f + ".info.subnet", fmt.Errorf("%q is not a CIDR", space)
		}
		if sub.Block, err = prefixOr(block); err != nil {
			return a, f + ".subnet", fmt.Errorf("%q is not a CIDR", block)
		}
		for _, br := range []struct {
			b   *api.Bridge
			dst *netip.Prefix
			f   string
		}{{o.MesosBridge, &sub.MesosBridge, ".mesos_bridge.ip"}, {o.DockerBridge, &sub.DockerBridge, ".docker_bridge.ip"}} {
			if br.b == nil {
				continue
			}
			ip := br.b.IP
			if ip == "" {
				ip = br.b.IP6
			}
			if *br.dst, err = prefixOr(ip); err != nil {
				return a, f + br.f, fmt.Errorf("%q is not a CIDR", ip)
			}
		}
		a.Subnets = append(a.Subnets, sub)
	}
	return a, "", nil
}
