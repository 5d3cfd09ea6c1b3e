package vip

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/sextantdc/sextant/internal/directory/label"
)

// TableItem is the name of the cluster item carrying the whole table
// (MarshalBinary) from the zone builder to every node's load balancer,
// beside the /v1/vips document and the zones.
const TableItem = "_vip_table"

// wireFormat is the version of the table encoding.
const wireFormat = 1

// The table's wire form: the whole table, lossless (unlike /v1/vips), so a
// node that receives it by gossip can program its data plane exactly as the
// publisher computed it.
type wireTable struct {
	Format  int       `json:"format"`
	Version uint64    `json:"version"`
	VIPs    []wireVIP `json:"vips"`
}

type wireVIP struct {
	Protocol string        `json:"protocol"`
	IP       string        `json:"ip,omitempty"`
	Name     string        `json:"name,omitempty"`
	Port     uint16        `json:"port"`
	Addrs    []string      `json:"addrs"`
	Labels   []string      `json:"labels"`
	Balance  []string      `json:"balance,omitempty"`
	Backends []wireBackend `json:"backends"`
}

type wireBackend struct {
	AgentIP string `json:"agent_ip"`
	IP      string `json:"ip"`
	Port    uint16 `json:"port"`
	Weight  uint8  `json:"weight"`
	TaskID  string `json:"task_id"`
	Local   string `json:"local,omitempty"`
}

// MarshalBinary encodes the whole table (compact JSON, deterministic
// because the table is sorted) for distribution.
func (t *Table) MarshalBinary() ([]byte, error) {
	w := wireTable{Format: wireFormat, Version: t.Version, VIPs: make([]wireVIP, 0, len(t.VIPs))}
	for _, v := range t.VIPs {
		wv := wireVIP{Protocol: v.Protocol.String(), Name: v.Name, Port: v.Port, Labels: v.Labels, Balance: v.Balance,
			Addrs: make([]string, 0, len(v.Addrs)), Backends: make([]wireBackend, 0, len(v.Backends))}
		if wv.Labels == nil {
			wv.Labels = []string{}
		}
		if v.IP.IsValid() {
			wv.IP = v.IP.String()
		}
		for _, a := range v.Addrs {
			wv.Addrs = append(wv.Addrs, a.String())
		}
		for _, b := range v.Backends {
			wb := wireBackend{AgentIP: b.AgentIP.String(), IP: b.IP.String(), Port: b.Port, Weight: b.Weight, TaskID: b.TaskID}
			if b.Local.IsValid() {
				wb.Local = b.Local.String()
			}
			wv.Backends = append(wv.Backends, wb)
		}
		w.VIPs = append(w.VIPs, wv)
	}
	return json.Marshal(w)
}

func parseAddr(field, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%s: %q is not an IP address", field, s)
	}
	return a, nil
}

// UnmarshalBinary decodes a table encoded by MarshalBinary, strictly:
// unknown fields, a bad protocol, port, address, name, an unsorted or
// duplicated VIP or backend are errors naming the field. On error the
// receiver is unchanged (keep serving the previous table).
func (t *Table) UnmarshalBinary(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wireTable
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("vip table: %w", err)
	}
	if dec.More() {
		return errors.New("vip table: trailing data after the document")
	}
	if w.Format != wireFormat {
		return fmt.Errorf("vip table: format: %d is not %d", w.Format, wireFormat)
	}
	out := &Table{Version: w.Version, VIPs: make([]VIP, 0, len(w.VIPs))}
	names := map[string]*Name{}
	for i, wv := range w.VIPs {
		f := fmt.Sprintf("vips[%d]", i)
		v, err := decodeVIP(f, wv)
		if err != nil {
			return fmt.Errorf("vip table: %w", err)
		}
		if i > 0 && compareKeys(out.VIPs[i-1].Key, v.Key) >= 0 {
			return fmt.Errorf("vip table: %s: out of order or duplicated", f)
		}
		if v.Name != "" {
			n := names[v.Name]
			if n == nil {
				n = &Name{FQDN: v.FQDN}
				names[v.Name] = n
			}
			for _, a := range v.Addrs {
				p := &n.IPv4
				if a.Is6() {
					p = &n.IPv6
				}
				if p.IsValid() && *p != a {
					return fmt.Errorf("vip table: %s.addrs: %s conflicts with %s for the same name", f, a, *p)
				}
				*p = a
			}
		}
		out.VIPs = append(out.VIPs, v)
	}
	for _, n := range names {
		out.Names = append(out.Names, *n)
	}
	slices.SortFunc(out.Names, func(a, b Name) int {
		switch {
		case a.FQDN < b.FQDN:
			return -1
		case a.FQDN > b.FQDN:
			return 1
		}
		return 0
	})
	*t = *out
	return nil
}

func decodeVIP(f string, wv wireVIP) (VIP, error) {
	var v VIP
	p, err := ParseProtocol(wv.Protocol)
	if err != nil || wv.Protocol != p.String() {
		return v, fmt.Errorf("%s.protocol: %q is not tcp or udp", f, wv.Protocol)
	}
	v.Protocol = p
	if wv.Port == 0 {
		return v, fmt.Errorf("%s.port: must be above 0", f)
	}
	v.Port = wv.Port
	switch {
	case wv.IP != "" && wv.Name != "":
		return v, fmt.Errorf("%s: both ip and name", f)
	case wv.IP != "":
		if v.IP, err = parseAddr(f+".ip", wv.IP); err != nil {
			return v, err
		}
	case wv.Name != "":
		// A name is the normalised key: domain_frag of itself, with at
		// least two labels (host and framework).
		if label.DomainFrag(wv.Name) != wv.Name || !bytes.ContainsRune([]byte(wv.Name), '.') || len(FQDN(wv.Name)) > 253 {
			return v, fmt.Errorf("%s.name: %q is not a normalised VIP name", f, wv.Name)
		}
		v.Name, v.FQDN = wv.Name, FQDN(wv.Name)
	default:
		return v, fmt.Errorf("%s: neither ip nor name", f)
	}
	fams := map[bool]bool{}
	for j, s := range wv.Addrs {
		a, err := parseAddr(fmt.Sprintf("%s.addrs[%d]", f, j), s)
		if err != nil {
			return v, err
		}
		if fams[a.Is4()] {
			return v, fmt.Errorf("%s.addrs[%d]: two addresses of one family", f, j)
		}
		fams[a.Is4()] = true
		if v.IP.IsValid() && a != v.IP {
			return v, fmt.Errorf("%s.addrs[%d]: an IP VIP's address is its ip", f, j)
		}
		v.Addrs = append(v.Addrs, a)
	}
	v.Labels = slices.Clone(wv.Labels)
	if !slices.IsSorted(v.Labels) {
		return v, fmt.Errorf("%s.labels: not sorted", f)
	}
	v.Balance = slices.Clone(wv.Balance)
	if !slices.IsSorted(v.Balance) || len(slices.Compact(slices.Clone(v.Balance))) != len(v.Balance) {
		return v, fmt.Errorf("%s.balance: not sorted and unique", f)
	}
	for j, wb := range wv.Backends {
		bf := fmt.Sprintf("%s.backends[%d]", f, j)
		var b Backend
		if b.AgentIP, err = parseAddr(bf+".agent_ip", wb.AgentIP); err != nil {
			return v, err
		}
		if b.IP, err = parseAddr(bf+".ip", wb.IP); err != nil {
			return v, err
		}
		if wb.Weight > 1 {
			return v, fmt.Errorf("%s.weight: %d is not 0 or 1", bf, wb.Weight)
		}
		b.Port, b.Weight, b.TaskID = wb.Port, wb.Weight, wb.TaskID
		if wb.Local != "" {
			if b.Local, err = netip.ParseAddrPort(wb.Local); err != nil || b.Local.Addr().Zone() != "" {
				return v, fmt.Errorf("%s.local: %q is not ip:port", bf, wb.Local)
			}
		}
		if j > 0 && compareBackends(v.Backends[j-1], b) >= 0 {
			return v, fmt.Errorf("%s: out of order or duplicated", bf)
		}
		v.Backends = append(v.Backends, b)
	}
	return v, nil
}
