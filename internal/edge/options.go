package edge

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// DefaultSSLCert is marathon-lb's certificate on the shared :443 bind
// when --ssl-certs is empty.
const DefaultSSLCert = "/etc/ssl/cert.pem"

// DefaultConfigFile is marathon-lb's --haproxy-config default.
const DefaultConfigFile = "/etc/haproxy/haproxy.cfg"

// Options are the marathon-lb flags (spec §2.1) that shape the
// configuration. The zero value plus Groups is marathon-lb's default
// command line.
type Options struct {
	// Groups are the --group values (required): a service is included
	// when its groups intersect them, or when they hold "*".
	Groups []string
	// StrictMode (--strict-mode): services are off unless
	// HAPROXY_{n}_ENABLED is true.
	StrictMode bool
	// HealthCheck (--health-check): tasks of apps with health checks are
	// included only when a Marathon result is alive.
	HealthCheck bool
	// HAProxyMap (--haproxy-map): route vhosts and app ids through the
	// map files instead of one ACL per vhost.
	HAProxyMap bool
	// DontBindHTTPHTTPS (--dont-bind-http-https): no :80 and :443
	// frontends.
	DontBindHTTPHTTPS bool
	// GroupHTTPSByVhost (--group-https-by-vhost): :443 becomes an SNI
	// switch to one TLS frontend per vhost.
	GroupHTTPSByVhost bool
	// SSLCerts are the --ssl-certs values, in order (marathon-lb splits
	// the flag on ','); none means DefaultSSLCert.
	SSLCerts []string
	// ConfigFile is --haproxy-config (DefaultConfigFile when empty); the
	// map files live in its directory.
	ConfigFile string
	// ServicePorts is the range of service ports assigned to IP-per-task
	// apps that Marathon gave none (--min/max-serv-port-ip-per-task,
	// 10050–10100 when zero); NoServicePortAssignment turns it off (both
	// flags 0).
	ServicePorts            PortRange
	NoServicePortAssignment bool
	// FrameworkName is $FRAMEWORK_NAME: the app of that name (without the
	// leading slash) is marathon-lb itself and is left out.
	FrameworkName string
	// Resolve maps a task's agent host name to its IPv4 address, as
	// gethostbyname does for marathon-lb (which caches the answer
	// forever); nil accepts IP literals only.
	Resolve func(host string) (netip.Addr, bool)
}

// PortRange is an inclusive range of ports.
type PortRange struct{ Min, Max int }

// ParseSSLCerts splits a --ssl-certs value as marathon-lb does (on ',',
// keeping empty entries); "" is the default certificate.
func ParseSSLCerts(flag string) []string {
	if flag == "" {
		return []string{DefaultSSLCert}
	}
	return strings.Split(flag, ",")
}

// Validate reports options marathon-lb's argument parser rejects.
func (o *Options) Validate() error {
	var errs []error
	if len(o.Groups) == 0 {
		errs = append(errs, errors.New("groups: at least one group is required (\"*\" matches every service)"))
	}
	if r := o.ServicePorts; !o.NoServicePortAssignment && r != (PortRange{}) {
		if r.Min <= 0 || r.Max <= 0 || r.Min > r.Max || r.Max > 65535 {
			errs = append(errs, fmt.Errorf("service ports: %d-%d is not a range of ports", r.Min, r.Max))
		}
	}
	return errors.Join(errs...)
}

func (o *Options) sslCerts() []string {
	if len(o.SSLCerts) == 0 {
		return []string{DefaultSSLCert}
	}
	return o.SSLCerts
}

func (o *Options) portRange() (PortRange, bool) {
	if o.NoServicePortAssignment {
		return PortRange{}, false
	}
	if o.ServicePorts == (PortRange{}) {
		return PortRange{10050, 10100}, true
	}
	return o.ServicePorts, true
}

func (o *Options) resolve(host string) (string, bool) {
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		return a.String(), true // gethostbyname returns a literal as it is
	}
	if o.Resolve != nil {
		a, ok := o.Resolve(host)
		if !ok || !a.IsValid() {
			return "", false
		}
		return a.String(), true
	}
	return "", false
}

// dirname is Python's os.path.dirname: "" for a bare file name (Go's
// filepath.Dir says "."), and a run of slashes before the name is
// dropped unless it is the whole head.
func dirname(p string) string {
	i := strings.LastIndexByte(p, '/')
	head := p[:i+1]
	if t := strings.TrimRight(head, "/"); t != "" {
		return t
	}
	return head
}
