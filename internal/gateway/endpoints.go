package gateway

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/directory"
	"github.com/sextantdc/sextant/internal/model"
	"github.com/sextantdc/sextant/internal/vip"
)

// AutoIPZone is the zone of the endpoints' DNS names (dcos-commons'
// SERVICE_TLD default).
const AutoIPZone = "autoip.dcos.thisdcos.directory"

// Endpoint is one named port of a service (§3.2): every serving task's
// address and DNS name for it, and its VIP when it has one.
type Endpoint struct {
	Address []string `json:"address"`
	DNS     []string `json:"dns"`
	VIP     string   `json:"vip,omitempty"`
}

// ServiceEndpoints are a service's endpoints by port name.
type ServiceEndpoints map[string]*Endpoint

// Names is the sorted list /v1/endpoints answers.
func (s ServiceEndpoints) Names() []string {
	out := make([]string, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (s ServiceEndpoints) add(port, addr, dns, vipName string) {
	e := s[port]
	if e == nil {
		e = &Endpoint{Address: []string{}, DNS: []string{}}
		s[port] = e
	}
	if addr != "" {
		e.Address = append(e.Address, addr)
	}
	if dns != "" && !slices.Contains(e.DNS, dns) {
		e.DNS = append(e.DNS, dns)
	}
	if e.VIP == "" {
		e.VIP = vipName
	}
}

// vipAddress renders a VIP label value as the address clients use:
// <name>.<framework>.l4lb.thisdcos.directory:<port> for a named VIP, the
// literal ip:port otherwise; "" when it does not parse.
func vipAddress(spec, framework string) string {
	sp, err := vip.ParseSpec(spec)
	if err != nil {
		return ""
	}
	if !sp.Named() {
		return netip.AddrPortFrom(sp.IP, sp.Port).String()
	}
	key, ok := vip.NameKey(sp.Host, framework)
	if !ok {
		return ""
	}
	return vip.FQDN(key) + ":" + strconv.Itoa(int(sp.Port))
}

func firstVIP(labels map[string]string, framework string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if strings.HasPrefix(k, "VIP_") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if a := vipAddress(labels[k], framework); a != "" {
			return a
		}
	}
	return ""
}

func serving(s *model.Snapshot, t *model.AppTask) bool {
	if t.Mesos >= 0 && t.Mesos < len(s.Tasks) {
		return s.Tasks[t.Mesos].Serving()
	}
	return t.State == model.TaskRunning && t.Health != model.Unhealthy
}

// BuildEndpoints derives every service's endpoints from a snapshot:
// Marathon apps by id (without the leading slash: "tools/echo"), other
// frameworks by name, each port by its name (unnamed ports are left out,
// as dcos-commons does). Only serving tasks count.
func BuildEndpoints(s *model.Snapshot) map[string]ServiceEndpoints {
	out := map[string]ServiceEndpoints{}
	if s == nil {
		return out
	}
	for ai := range s.Apps {
		a := &s.Apps[ai]
		name := strings.Trim(a.ID, "/")
		se := ServiceEndpoints{}
		for i, p := range a.Ports {
			if p.Name != "" {
				se.add(p.Name, "", "", firstVIP(a.Ports[i].Labels, "marathon"))
			}
		}
		for ti := range a.Tasks {
			t := &a.Tasks[ti]
			if !serving(s, t) {
				continue
			}
			var dnsName string
			if t.Mesos >= 0 && t.Mesos < len(s.Tasks) {
				if n, ok := directory.TaskName(s, &s.Tasks[t.Mesos]); ok {
					dnsName = n + "." + AutoIPZone
				}
			}
			for _, ep := range t.Endpoints {
				if ep.Name == "" || ep.Port == 0 {
					continue
				}
				host := ep.Host
				if ep.Addr.IsValid() {
					host = ep.Addr.String()
				}
				port := strconv.Itoa(int(ep.Port))
				dns := ""
				if dnsName != "" {
					dns = dnsName + ":" + port
				}
				se.add(ep.Name, net.JoinHostPort(host, port), dns, "")
			}
		}
		out[name] = se
	}
	for fi := range s.Frameworks {
		f := &s.Frameworks[fi]
		if f.Name == "marathon" || f.Name == "" {
			continue
		}
		se := ServiceEndpoints{}
		for _, t := range s.FrameworkTasks(f) {
			if !t.Serving() {
				continue
			}
			dnsName := ""
			if n, ok := directory.TaskName(s, &t); ok {
				dnsName = n + "." + AutoIPZone
			}
			for _, p := range t.NetPorts {
				if p.Name == "" {
					continue
				}
				var addr netip.AddrPort
				port := uint32(0)
				switch {
				case p.HasHostPort && t.AgentIP.IsValid():
					port = p.HostPort
					addr = netip.AddrPortFrom(t.AgentIP, uint16(port))
				case p.HasPort && len(t.IPs) > 0:
					port = p.Port
					addr = netip.AddrPortFrom(t.IPs[0], uint16(port))
				case p.HasPort && t.AgentIP.IsValid():
					port = p.Port
					addr = netip.AddrPortFrom(t.AgentIP, uint16(port))
				default:
					continue
				}
				v := ""
				for _, l := range p.VIPs {
					if v = vipAddress(l.Value, f.Name); v != "" {
						break
					}
				}
				dns := ""
				if dnsName != "" {
					dns = dnsName + ":" + strconv.Itoa(int(port))
				}
				se.add(p.Name, addr.String(), dns, v)
			}
		}
		if _, taken := out[f.Name]; !taken || len(se) > 0 {
			out[f.Name] = se
		}
	}
	for _, se := range out {
		for _, e := range se {
			slices.Sort(e.Address)
			slices.SortFunc(e.DNS, cmp.Compare[string])
		}
	}
	return out
}
