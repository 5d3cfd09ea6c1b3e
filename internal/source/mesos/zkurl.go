package mesos

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// ZKURL is a parsed ZooKeeper master-detection URL,
// `zk://[user:pass@]host1:port1,host2:port2/path`.
type ZKURL struct {
	Servers []string // host:port, in the order given
	Path    string   // absolute znode path, without a trailing slash
	// User and Password, when set, are added to the session as a "digest"
	// credential (the scheme Mesos uses for ZooKeeper ACLs).
	User, Password string
}

// String renders the URL back, with the password masked.
func (z ZKURL) String() string {
	auth := ""
	if z.User != "" || z.Password != "" {
		auth = z.User + ":********@"
	}
	return "zk://" + auth + strings.Join(z.Servers, ",") + z.Path
}

// ParseZKURL parses a `zk://` URL. A `file://<path>` spec names a file
// whose contents are the `zk://` URL, as Mesos and Mesos-DNS accept it.
// readFile is used for `file://` (os.ReadFile when nil).
func ParseZKURL(spec string, readFile func(string) ([]byte, error)) (ZKURL, error) {
	spec = strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(spec, "file://"); ok {
		if readFile == nil {
			readFile = os.ReadFile
		}
		if rest == "" {
			return ZKURL{}, errors.New("file:// spec names no file")
		}
		b, err := readFile(rest)
		if err != nil {
			return ZKURL{}, fmt.Errorf("read zk spec file: %w", err)
		}
		inner := strings.TrimSpace(string(b))
		if strings.HasPrefix(inner, "file://") {
			return ZKURL{}, fmt.Errorf("zk spec file %s: nested file:// is not allowed", rest)
		}
		z, err := ParseZKURL(inner, readFile)
		if err != nil {
			return ZKURL{}, fmt.Errorf("zk spec file %s: %w", rest, err)
		}
		return z, nil
	}
	rest, ok := strings.CutPrefix(spec, "zk://")
	if !ok {
		return ZKURL{}, fmt.Errorf("%q: want zk://host:port[,host:port…]/path or file://path", spec)
	}
	var z ZKURL
	// userinfo ends at the last '@' before the first '/'.
	hostsAndPath := rest
	if slash := strings.IndexByte(rest, '/'); slash >= 0 {
		if at := strings.LastIndexByte(rest[:slash], '@'); at >= 0 {
			ui := rest[:at]
			hostsAndPath = rest[at+1:]
			u, p, _ := strings.Cut(ui, ":")
			var err1, err2 error
			z.User, err1 = url.PathUnescape(u)
			z.Password, err2 = url.PathUnescape(p)
			if err1 != nil || err2 != nil || z.User == "" {
				return ZKURL{}, errors.New("bad user:password in zk URL")
			}
		}
	}
	hosts, path, ok := strings.Cut(hostsAndPath, "/")
	if !ok {
		return ZKURL{}, errors.New("zk URL has no path (want zk://host:port/mesos)")
	}
	path = "/" + strings.TrimRight(path, "/")
	z.Path = path
	if path == "/" {
		return ZKURL{}, errors.New("zk URL has an empty path (want zk://host:port/mesos)")
	}
	if strings.Contains(path, "//") {
		return ZKURL{}, fmt.Errorf("zk path %q has an empty element", path)
	}
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			return ZKURL{}, errors.New("zk URL has an empty server entry")
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			return ZKURL{}, fmt.Errorf("zk server %q: want host:port", h)
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return ZKURL{}, fmt.Errorf("zk server %q: port must be 1-65535", h)
		}
		if host == "" {
			return ZKURL{}, fmt.Errorf("zk server %q: empty host", h)
		}
		z.Servers = append(z.Servers, net.JoinHostPort(host, port))
	}
	return z, nil
}
