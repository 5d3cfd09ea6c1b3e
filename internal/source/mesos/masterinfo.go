package mesos

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// MasterAddr returns "ip:port" (or "host:port") of a MasterInfo: the
// address field when present (Mesos ≥ 0.24), else the legacy packed ip
// (a uint32 holding the address in network byte order, read on a
// little-endian host, so 127.0.0.1 is 0x0100007f) and port.
func MasterAddr(mi *state.MasterInfo) (string, error) {
	if a := mi.Address; a != nil && a.Port > 0 && a.Port <= 65535 {
		if ip, err := netip.ParseAddr(a.IP); err == nil {
			return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port)).String(), nil
		}
		if a.Hostname != "" {
			return net.JoinHostPort(a.Hostname, strconv.Itoa(a.Port)), nil
		}
	}
	if mi.IP != 0 && mi.Port > 0 && mi.Port <= 65535 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], mi.IP)
		return netip.AddrPortFrom(netip.AddrFrom4(b), uint16(mi.Port)).String(), nil
	}
	if mi.Hostname != "" && mi.Port > 0 && mi.Port <= 65535 {
		return net.JoinHostPort(mi.Hostname, strconv.Itoa(mi.Port)), nil
	}
	return "", errors.New("master info has no usable address (address.ip/port, ip/port or hostname/port)")
}

// ParseMasterInfoJSON decodes the JSON MasterInfo Mesos writes to
// `json.info_*` znodes.
func ParseMasterInfoJSON(b []byte) (*state.MasterInfo, error) {
	var mi state.MasterInfo
	if err := json.Unmarshal(b, &mi); err != nil {
		return nil, fmt.Errorf("master info JSON: %w", err)
	}
	return &mi, nil
}

// ParseMasterInfoProto decodes the fields Sextant needs from the protobuf
// MasterInfo that Mesos < 0.24 wrote to `info_*` znodes: id (1), ip (2),
// port (3), pid (4), hostname (5), version (6), address (7: hostname 1,
// ip 2, port 3). Other fields are skipped.
func ParseMasterInfoProto(b []byte) (*state.MasterInfo, error) {
	var mi state.MasterInfo
	err := walkProto(b, func(num int, wt int, v uint64, data []byte) error {
		switch {
		case num == 1 && wt == 2:
			mi.ID = string(data)
		case num == 2 && wt == 0:
			mi.IP = uint32(v)
		case num == 3 && wt == 0:
			mi.Port = int(uint32(v))
		case num == 4 && wt == 2:
			mi.PID = string(data)
		case num == 5 && wt == 2:
			mi.Hostname = string(data)
		case num == 6 && wt == 2:
			mi.Version = string(data)
		case num == 7 && wt == 2:
			a := &state.Address{}
			if err := walkProto(data, func(n, w int, v uint64, d []byte) error {
				switch {
				case n == 1 && w == 2:
					a.Hostname = string(d)
				case n == 2 && w == 2:
					a.IP = string(d)
				case n == 3 && w == 0:
					a.Port = int(int32(v))
				}
				return nil
			}); err != nil {
				return fmt.Errorf("address: %w", err)
			}
			mi.Address = a
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("master info protobuf: %w", err)
	}
	return &mi, nil
}

// walkProto calls fn for each field of a protobuf message: varints in v,
// length-delimited payloads in data; fixed-size fields are skipped.
func walkProto(b []byte, fn func(num, wt int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("bad field key")
		}
		b = b[n:]
		num, wt := int(key>>3), int(key&7)
		if num == 0 {
			return errors.New("field number 0")
		}
		switch wt {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return fmt.Errorf("field %d: bad varint", num)
			}
			b = b[n:]
			if err := fn(num, wt, v, nil); err != nil {
				return err
			}
		case 1:
			if len(b) < 8 {
				return fmt.Errorf("field %d: short fixed64", num)
			}
			b = b[8:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return fmt.Errorf("field %d: bad length", num)
			}
			data := b[n : n+int(l)]
			b = b[n+int(l):]
			if err := fn(num, wt, 0, data); err != nil {
				return err
			}
		case 5:
			if len(b) < 4 {
				return fmt.Errorf("field %d: short fixed32", num)
			}
			b = b[4:]
		default:
			return fmt.Errorf("field %d: unsupported wire type %d", num, wt)
		}
	}
	return nil
}
