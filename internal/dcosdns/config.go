package dcosdns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/directory"
)

// Config is the dcos-dns configuration file (`dcos-dns.json`, spec §A.1)
// as dcos-dns reads it. Zero value = defaults (see DefaultPort).
type Config struct {
	// UpstreamResolvers are "ip:port" strings (port 53 added when absent).
	// Default: none, so names outside the cluster get SERVFAIL; dcos-dns'
	// predecessor defaulted to public resolvers, which a node must not ask
	// without being told to.
	UpstreamResolvers []string
	// ForwardZones maps a zone (lower-case FQDN) to its "ip:port" upstreams.
	ForwardZones map[string][]string
	// BindInterface keeps only this interface's addresses when BindIPs is
	// empty ("spartan" on DC/OS agents).
	BindInterface string
	// BindIPs, when set, are the listen addresses.
	BindIPs []netip.Addr
	// BindIPBlacklist addresses are never bound; ReservedBlacklist is
	// always added (DC/OS prepends dns_bind_ip_reserved).
	BindIPBlacklist []netip.Addr
	// UDPPort and TCPPort: DefaultPort when absent.
	UDPPort, TCPPort int
	// HandlerLimit bounds concurrent forwarded queries (dcos-dns: 1024).
	HandlerLimit int
	// Zones are custom CNAME-only zones under thisdcos.directory.
	Zones map[string][]CNAMEEntry
}

// CNAMEEntry is one record of a custom zone.
type CNAMEEntry struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Defaults.
const (
	// DefaultPort is the DNS port when the file sets none. dcos-dns'
	// compiled default was 5454 and its sample config 8053; DC/OS sets 53.
	// We use 8053 so that an unconfigured node runs without root.
	DefaultPort = 8053
	// DefaultHandlerLimit is dcos-dns' handler_limit.
	DefaultHandlerLimit = 1024
)

// ReservedBlacklist returns DC/OS' dns_bind_ip_reserved: never bound.
func ReservedBlacklist() []netip.Addr { return []netip.Addr{netip.AddrFrom4([4]byte{198, 51, 100, 4})} }

// LoadConfig reads and parses a config file.
func LoadConfig(path string) (*Config, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read dcos-dns config: %w", err)
	}
	c, warn, err := ParseConfig(b)
	if err != nil {
		return nil, warn, fmt.Errorf("%s: %w", path, err)
	}
	return c, warn, nil
}

// ParseConfig parses the JSON config. A key with the wrong shape is an
// error naming the key (the caller keeps its previous config); one bad
// item inside a list is skipped with a warning naming the key and item;
// unknown keys are warned about and ignored (dcos-dns copied them into
// its application environment, where nothing read them).
func ParseConfig(b []byte) (*Config, []string, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, fmt.Errorf("dcos-dns config: not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, nil, errors.New("dcos-dns config: trailing data after the JSON object")
	}
	if raw == nil {
		return nil, nil, errors.New("dcos-dns config: not a JSON object")
	}
	c := &Config{UDPPort: DefaultPort, TCPPort: DefaultPort, HandlerLimit: DefaultHandlerLimit}
	var warn []string
	var errs []error
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := raw[k]
		bad := func(want string, err error) {
			errs = append(errs, fmt.Errorf("dcos-dns config: key %q: want %s: %v", k, want, err))
		}
		switch k {
		case "upstream_resolvers":
			var l []string
			if err := json.Unmarshal(v, &l); err != nil {
				bad("a list of \"ip[:port]\" strings", err)
				continue
			}
			for _, s := range l {
				u, err := parseUpstream(s)
				if err != nil {
					warn = append(warn, fmt.Sprintf("key %q: %v; skipped", k, err))
					continue
				}
				c.UpstreamResolvers = append(c.UpstreamResolvers, u)
			}
		case "forward_zones":
			var m map[string][]string
			if err := json.Unmarshal(v, &m); err != nil {
				bad("an object of zone → list of \"ip[:port]\"", err)
				continue
			}
			c.ForwardZones = map[string][]string{}
			for z, l := range m {
				name := dns.Fqdn(strings.ToLower(strings.TrimSpace(z)))
				if _, ok := dns.IsDomainName(name); !ok || name == "." {
					warn = append(warn, fmt.Sprintf("key %q: zone %q is not a domain name; skipped", k, z))
					continue
				}
				var ups []string
				for _, s := range l {
					u, err := parseUpstream(s)
					if err != nil {
						warn = append(warn, fmt.Sprintf("key %q: zone %q: %v; skipped", k, z, err))
						continue
					}
					ups = append(ups, u)
				}
				if len(ups) == 0 {
					warn = append(warn, fmt.Sprintf("key %q: zone %q has no usable upstream; skipped", k, z))
					continue
				}
				c.ForwardZones[name] = ups
			}
		case "bind_interface":
			if err := json.Unmarshal(v, &c.BindInterface); err != nil {
				bad("a string", err)
			}
		case "bind_ips", "bind_ip_blacklist":
			var l []string
			if err := json.Unmarshal(v, &l); err != nil {
				bad("a list of IP address strings", err)
				continue
			}
			for _, s := range l {
				a, err := netip.ParseAddr(strings.TrimSpace(s))
				if err != nil {
					warn = append(warn, fmt.Sprintf("key %q: %q is not an IP address; skipped", k, s))
					continue
				}
				if k == "bind_ips" {
					c.BindIPs = append(c.BindIPs, a.Unmap())
				} else {
					c.BindIPBlacklist = append(c.BindIPBlacklist, a.Unmap())
				}
			}
		case "udp_port", "tcp_port":
			var p int
			if err := json.Unmarshal(v, &p); err != nil || p < 0 || p > 65535 {
				if err == nil {
					err = fmt.Errorf("%d is out of range", p)
				}
				bad("a port number 0–65535", err)
				continue
			}
			if k == "udp_port" {
				c.UDPPort = p
			} else {
				c.TCPPort = p
			}
		case "handler_limit":
			var n int
			if err := json.Unmarshal(v, &n); err != nil || n <= 0 {
				if err == nil {
					err = fmt.Errorf("%d is not positive", n)
				}
				bad("a positive integer", err)
				continue
			}
			c.HandlerLimit = n
		case "zones":
			var m map[string][]CNAMEEntry
			if err := json.Unmarshal(v, &m); err != nil {
				bad("an object of zone → list of {type, name, value}", err)
				continue
			}
			c.Zones = map[string][]CNAMEEntry{}
			for z, l := range m {
				name := dns.Fqdn(strings.ToLower(z))
				if !dns.IsSubDomain("thisdcos.directory.", name) || dns.CountLabel(name) < 3 {
					warn = append(warn, fmt.Sprintf("key %q: zone %q is not under thisdcos.directory; skipped", k, z))
					continue
				}
				switch dns.SplitDomainName(name)[0] {
				case "l4lb", "mesos", "dcos":
					if dns.CountLabel(name) == 3 {
						warn = append(warn, fmt.Sprintf("key %q: zone %q is reserved; skipped", k, z))
						continue
					}
				}
				for _, e := range l {
					if !strings.EqualFold(e.Type, "cname") {
						// dcos-dns stopped the whole VM here; we skip the entry.
						warn = append(warn, fmt.Sprintf("key %q: zone %q: entry %q has type %q, only cname is allowed; skipped", k, z, e.Name, e.Type))
						continue
					}
					c.Zones[name] = append(c.Zones[name], e)
				}
			}
		default:
			warn = append(warn, fmt.Sprintf("unknown key %q ignored", k))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, warn, err
	}
	return c, warn, nil
}

// parseUpstream accepts "IPv4" or "IPv4:port" as dcos-dns does (IPv6
// upstreams are not accepted there either).
func parseUpstream(s string) (string, error) {
	s = strings.TrimSpace(s)
	host, port := s, "53"
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() {
		return "", fmt.Errorf("upstream %q: not an IPv4 address or IPv4:port", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return "", fmt.Errorf("upstream %q: bad port", s)
	}
	return netip.AddrPortFrom(a, uint16(p)).String(), nil
}

// CustomZones converts the `zones` key for the zone builder.
func (c *Config) CustomZones() []directory.CustomZone {
	names := make([]string, 0, len(c.Zones))
	for z := range c.Zones {
		names = append(names, z)
	}
	sort.Strings(names)
	out := make([]directory.CustomZone, 0, len(names))
	for _, z := range names {
		cz := directory.CustomZone{Name: z}
		for _, e := range c.Zones[z] {
			cz.CNAMEs = append(cz.CNAMEs, directory.CNAME{Name: e.Name, Value: e.Value})
		}
		out = append(out, cz)
	}
	return out
}

// DefaultConfig is the configuration used without a file.
func DefaultConfig() *Config {
	return &Config{UDPPort: DefaultPort, TCPPort: DefaultPort, HandlerLimit: DefaultHandlerLimit}
}
