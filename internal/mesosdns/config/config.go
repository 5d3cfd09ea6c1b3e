// Package config reads a Mesos-DNS config.json unchanged: every key the
// original accepts, with the same defaults, the same case-insensitive key
// matching (Go encoding/json rules) and the same validation order.
//
// Differences from the original, all deliberate:
//   - unknown keys are reported back as warnings instead of being ignored
//     silently;
//   - values that made the original panic later (refreshSeconds <= 0, a
//     host name as listener) are rejected at load with an error naming the
//     key;
//   - TLS files and the IAM key are loaded at start-up, so a broken file is
//     a start-up error rather than a failing refresh;
//   - PublicJSON (the /v1/config document) redacts the basic-auth secret.
//
// Imports of Sextant's own packages: internal/source/mesos; nothing else of Sextant.
package config

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/source/mesos"
)

// Config is the effective Mesos-DNS configuration. The exported fields are
// declared in the order the original renders them at /v1/config, and their
// JSON names are the original's Go field names (decoding matches them
// case-insensitively, so `refreshSeconds` and `RefreshSeconds` are one key).
type Config struct {
	RefreshSeconds         int
	Port                   int
	Timeout                int
	StateTimeoutSeconds    int
	ZkDetectionTimeout     int
	HTTPPort               int `json:"HttpPort"`
	TTL                    int32
	SRVRecordDefaultWeight uint16
	SOASerial              uint32
	SOARefresh             uint32
	SOARetry               uint32
	SOAExpire              uint32
	SOAMinttl              uint32
	SOAMname               string
	SOARname               string
	Masters                []string
	ZoneResolvers          map[string][]string
	Resolvers              []string
	IPSources              []string
	Zk                     string
	Domain                 string
	File                   string
	Listener               string
	HTTPListener           string
	RecurseOn              bool
	DNSOn                  bool `json:"DnsOn"`
	HTTPOn                 bool `json:"HttpOn"`
	ExternalOn             bool
	EnforceRFC952          bool
	SetTruncateBit         bool
	EnumerationOn          bool
	MesosHTTPSOn           bool
	CACertFile             string
	CertFile               string
	KeyFile                string
	MesosCredentials       Credentials
	IAMConfigFile          string
	MesosAuthentication    string
	// HealthAware (a Sextant addition, off by default as in the original,
	// which ignored health checks) leaves tasks that fail their health
	// checks, or are health-checked without a result yet, out of DNS. It
	// is left out of /v1/config while false, so the default document is
	// the original's.
	HealthAware bool `json:",omitempty"`

	// ZK is the parsed Zk (after reading a file:// spec); nil without zk.
	ZK *mesos.ZKURL `json:"-"`
	// IAM is the loaded IAMConfigFile when MesosAuthentication is "iam".
	IAM *mesos.IAMConfig `json:"-"`
}

// Credentials are the basic-auth principal and secret. The original's
// type has no JSON tags, so the keys are "Principal" and "Secret" (matched
// case-insensitively: "principal"/"secret" work too).
type Credentials struct {
	Principal string
	Secret    string
}

// Auth mechanisms of mesosAuthentication.
const (
	AuthNone  = ""
	AuthBasic = "basic"
	AuthIAM   = "iam"
)

// Redacted replaces secrets in PublicJSON.
const Redacted = "********"

// Warning is a non-fatal remark about the file (an unknown key, a setting
// that has no effect). The caller logs it.
type Warning struct {
	Key     string
	Message string
}

func (w Warning) String() string { return w.Key + ": " + w.Message }

// Options are the host inputs of Load, injectable for tests.
type Options struct {
	// Now stamps SOASerial (default time.Now).
	Now func() time.Time
	// ResolvConf is read when resolvers is explicitly empty (default
	// /etc/resolv.conf).
	ResolvConf string
	// LocalAddrs lists this host's interface addresses, which are dropped
	// from the resolv.conf servers (default: net.InterfaceAddrs).
	LocalAddrs func() ([]netip.Addr, error)
	// ReadFile reads the config and the files it names (default os.ReadFile).
	ReadFile func(string) ([]byte, error)
	// Home expands a leading "~/" (default os.UserHomeDir).
	Home func() (string, error)
}

func (o *Options) fill() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ResolvConf == "" {
		o.ResolvConf = "/etc/resolv.conf"
	}
	if o.LocalAddrs == nil {
		o.LocalAddrs = interfaceAddrs
	}
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	if o.Home == nil {
		o.Home = os.UserHomeDir
	}
}

// Default returns the configuration with every default of the original.
func Default() *Config {
	return &Config{
		RefreshSeconds:         60,
		Port:                   53,
		Timeout:                5,
		StateTimeoutSeconds:    300,
		ZkDetectionTimeout:     30,
		HTTPPort:               8123,
		TTL:                    60,
		SRVRecordDefaultWeight: 1,
		SOARefresh:             60,
		SOARetry:               600,
		SOAExpire:              86400,
		SOAMinttl:              60,
		SOAMname:               "ns1.mesos",
		SOARname:               "root.ns1.mesos",
		ZoneResolvers:          map[string][]string{},
		Resolvers:              []string{"8.8.8.8"},
		IPSources:              []string{"netinfo", "mesos", "host"},
		Domain:                 "mesos",
		Listener:               "0.0.0.0",
		HTTPListener:           "0.0.0.0",
		RecurseOn:              true,
		DNSOn:                  true,
		HTTPOn:                 true,
		ExternalOn:             true,
		SetTruncateBit:         true,
		EnumerationOn:          true,
	}
}

// ExpandPath applies the original's path rule: a leading "~/" becomes the
// home directory, then the path is made absolute.
func ExpandPath(path string, home func() (string, error)) (string, error) {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home == nil {
			home = os.UserHomeDir
		}
		h, err := home()
		if err != nil {
			// The original falls back to "." when the user is unknown.
			h = "."
		}
		path = filepath.Join(h, rest)
	}
	return filepath.Abs(path)
}

// Load reads and validates the config file at path (default "config.json"
// when empty).
func Load(path string, o Options) (*Config, []Warning, error) {
	o.fill()
	if path == "" {
		path = "config.json"
	}
	abs, err := ExpandPath(path, o.Home)
	if err != nil {
		return nil, nil, fmt.Errorf("config file %q: %w", path, err)
	}
	b, err := o.ReadFile(abs)
	if err != nil {
		return nil, nil, fmt.Errorf("config file: %w", err)
	}
	c, warns, err := Parse(b, abs, o)
	if err != nil {
		return nil, warns, fmt.Errorf("config file %s: %w", abs, err)
	}
	return c, warns, nil
}

// Parse decodes and validates a config document. file is recorded in the
// File key (a File key in the document overrides it, as in the original).
func Parse(data []byte, file string, o Options) (*Config, []Warning, error) {
	o.fill()
	c := Default()
	c.File = file
	warns, err := decode(data, c)
	if err != nil {
		return nil, warns, err
	}
	w2, err := c.validate(o)
	warns = append(warns, w2...)
	if err != nil {
		return nil, warns, err
	}
	return c, warns, nil
}

// decode fills c from the JSON object and reports unknown keys.
func decode(data []byte, c *Config) ([]Warning, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("empty document: want a JSON object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, jsonError(err)
	}
	if raw == nil {
		return nil, errors.New("document is null: want a JSON object")
	}
	var warns []Warning
	known := jsonNames(Config{})
	credKnown := jsonNames(Credentials{})
	for k, v := range raw {
		name, ok := matchKey(known, k)
		if !ok {
			warns = append(warns, Warning{Key: k, Message: "unknown key ignored"})
			continue
		}
		if name == "MesosCredentials" {
			var sub map[string]json.RawMessage
			if json.Unmarshal(v, &sub) == nil {
				for sk := range sub {
					if _, ok := matchKey(credKnown, sk); !ok {
						warns = append(warns, Warning{Key: k + "." + sk, Message: "unknown key ignored"})
					}
				}
			}
		}
	}
	sortWarnings(warns)
	if err := json.Unmarshal(data, c); err != nil {
		return warns, jsonError(err)
	}
	return warns, nil
}

// jsonError names the key of a type error, as "key: reason".
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("%s: cannot use JSON %s as %s", te.Field, te.Value, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// jsonNames lists the JSON names of a struct's encoded fields.
func jsonNames(v any) []string {
	b, _ := json.Marshal(v)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// matchKey matches a document key to a field name the way encoding/json
// does: exact first, then Unicode case folding.
func matchKey(names []string, k string) (string, bool) {
	for _, n := range names {
		if n == k {
			return n, true
		}
	}
	for _, n := range names {
		if strings.EqualFold(n, k) {
			return n, true
		}
	}
	return "", false
}

func sortWarnings(ws []Warning) {
	// Insertion sort: the list is a handful of keys; sort.Slice would pull
	// in reflection for nothing.
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && ws[j].Key < ws[j-1].Key; j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
}

var domainRE = regexp.MustCompile(`^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*$`)

// validate checks and completes c in the original's order: services on →
// masters-or-zk → masters → (zk) → resolvers → IPSources →
// stateTimeoutSeconds → (refreshSeconds) → domain → (listeners) → SOA →
// TLS files → auth. The steps in parentheses are ours.
func (c *Config) validate(o Options) ([]Warning, error) {
	var warns []Warning
	if !c.DNSOn && !c.HTTPOn {
		return nil, errors.New("DnsOn, HttpOn: at least one of DNS or HTTP must be on")
	}
	if len(c.Masters) == 0 && c.Zk == "" {
		return nil, errors.New("masters, zk: specify mesos masters or zookeeper")
	}
	if err := validateMasters(c.Masters); err != nil {
		return nil, err
	}
	if c.Zk != "" {
		z, err := mesos.ParseZKURL(c.Zk, o.ReadFile)
		if err != nil {
			return nil, fmt.Errorf("zk: %w", err)
		}
		c.ZK = &z
	}
	if c.ExternalOn {
		if len(c.Resolvers) == 0 {
			rs, err := localResolvers(o)
			if err != nil {
				return nil, fmt.Errorf("resolvers: empty, and %w", err)
			}
			c.Resolvers = rs
		}
		if err := validateResolvers("resolvers", c.Resolvers, false); err != nil {
			return nil, err
		}
		if err := validateZoneResolvers(c.ZoneResolvers, strings.ToLower(c.Domain)); err != nil {
			return nil, err
		}
	}
	if err := validateIPSources(c.IPSources); err != nil {
		return nil, err
	}
	if c.StateTimeoutSeconds <= 0 {
		return nil, fmt.Errorf("stateTimeoutSeconds: must be > 0, got %d", c.StateTimeoutSeconds)
	}
	// The original's ticker panics on a period <= 0.
	if c.RefreshSeconds <= 0 {
		return nil, fmt.Errorf("refreshSeconds: must be > 0, got %d", c.RefreshSeconds)
	}
	if c.ZkDetectionTimeout < 0 {
		return nil, fmt.Errorf("zkDetectionTimeout: must be >= 0 (0 = no timeout), got %d", c.ZkDetectionTimeout)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("timeout: must be >= 0, got %d", c.Timeout)
	}
	if c.Timeout == 0 {
		c.Timeout = 5
	}
	c.Domain = strings.ToLower(c.Domain)
	if !domainRE.MatchString(c.Domain) {
		return nil, fmt.Errorf("domain: %q is not a valid domain (letters, digits, '-', dot-separated labels)", c.Domain)
	}
	// The original panics at the first reload on a host name here: the
	// listener is also the name server's A/AAAA record, served by the HTTP
	// API too, so it is checked whether DNS is on or not.
	if _, err := netip.ParseAddr(c.Listener); err != nil {
		return nil, fmt.Errorf("listener: %q must be an IP address", c.Listener)
	}
	if c.DNSOn && (c.Port < 0 || c.Port > 65535) {
		return nil, fmt.Errorf("port: %d is not a port (0-65535)", c.Port)
	}
	if c.HTTPOn {
		if c.HTTPListener != "" {
			if _, err := netip.ParseAddr(c.HTTPListener); err != nil {
				return nil, fmt.Errorf("httpListener: %q must be an IP address", c.HTTPListener)
			}
		}
		if c.HTTPPort < 0 || c.HTTPPort > 65535 {
			return nil, fmt.Errorf("HttpPort: %d is not a port (0-65535)", c.HTTPPort)
		}
	}
	if c.TTL < 0 {
		return nil, fmt.Errorf("ttl: must be >= 0, got %d", c.TTL)
	}
	c.SOARname = strings.TrimRight(strings.ReplaceAll(c.SOARname, "@", "."), ".") + "."
	c.SOAMname = strings.TrimRight(c.SOAMname, ".") + "."
	c.SOASerial = uint32(o.Now().Unix())

	if err := c.validateTLS(o); err != nil {
		return nil, err
	}
	w, err := c.validateAuth(o)
	if err != nil {
		return nil, err
	}
	return append(warns, w...), nil
}

func validateMasters(ms []string) error {
	seen := make(map[string]int, len(ms))
	for i, m := range ms {
		key := fmt.Sprintf("masters[%d]", i)
		h, p, err := net.SplitHostPort(m)
		if err != nil {
			return fmt.Errorf("%s: %q: want host:port", key, m)
		}
		if h == "" {
			return fmt.Errorf("%s: %q: empty host", key, m)
		}
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("%s: %q: port must be 1-65535", key, m)
		}
		norm := strings.ToLower(h)
		if ip, err := netip.ParseAddr(h); err == nil {
			norm = ip.Unmap().String()
		}
		norm += "_" + strconv.FormatUint(n, 10)
		if j, dup := seen[norm]; dup {
			return fmt.Errorf("%s: %q duplicates masters[%d]", key, m, j)
		}
		seen[norm] = i
	}
	return nil
}

// validateResolvers checks upstreams given as IP or IP:port.
func validateResolvers(key string, rs []string, needOne bool) error {
	if needOne && len(rs) == 0 {
		return fmt.Errorf("%s: empty list", key)
	}
	seen := make(map[netip.AddrPort]int, len(rs))
	for i, r := range rs {
		ap, err := ParseUpstream(r)
		if err != nil {
			return fmt.Errorf("%s[%d]: %w", key, i, err)
		}
		if j, dup := seen[ap]; dup {
			return fmt.Errorf("%s[%d]: %q duplicates %s[%d]", key, i, r, key, j)
		}
		seen[ap] = i
	}
	return nil
}

// ParseUpstream parses a resolver entry: an IP literal, optionally with a
// port (default 53); IPv6 with a port needs brackets.
func ParseUpstream(s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, errors.New("empty resolver")
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if ip.Zone() != "" {
			return netip.AddrPort{}, fmt.Errorf("%q: zoned addresses are not supported", s)
		}
		return netip.AddrPortFrom(ip.Unmap(), 53), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: want an IP address or IP:port", s)
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("%q: port must be 1-65535", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

func validateZoneResolvers(zr map[string][]string, domain string) error {
	zones := make([]string, 0, len(zr))
	for z, rs := range zr {
		key := fmt.Sprintf("zoneResolvers[%q]", z)
		lz := strings.ToLower(z)
		if lz == "" || strings.HasPrefix(lz, ".") || strings.HasSuffix(lz, ".") || !domainRE.MatchString(lz) {
			return fmt.Errorf("%s: not a valid zone (no leading or trailing dot)", key)
		}
		if lz == domain {
			return fmt.Errorf("%s: zone equals the mesos domain %q", key, domain)
		}
		if err := validateResolvers(key, rs, true); err != nil {
			return err
		}
		zones = append(zones, lz)
	}
	all := append(zones, domain)
	for i, a := range all {
		for j, b := range all {
			if i != j && (a == b || strings.HasSuffix(a, "."+b)) {
				return fmt.Errorf("zoneResolvers: ambiguous zone resolvers: %q and %q overlap", a, b)
			}
		}
	}
	return nil
}

func validateIPSources(srcs []string) error {
	if len(srcs) == 0 {
		return errors.New("IPSources: empty list (want some of host, docker, mesos, netinfo)")
	}
	seen := map[string]int{}
	for i, s := range srcs {
		switch s {
		case "host", "docker", "mesos", "netinfo":
		default:
			return fmt.Errorf("IPSources[%d]: invalid ip source %q (want host, docker, mesos or netinfo)", i, s)
		}
		if j, dup := seen[s]; dup {
			return fmt.Errorf("IPSources[%d]: %q duplicates IPSources[%d]", i, s, j)
		}
		seen[s] = i
	}
	return nil
}

func (c *Config) validateTLS(o Options) error {
	if c.CACertFile != "" {
		b, err := o.ReadFile(c.CACertFile)
		if err != nil {
			return fmt.Errorf("CACertFile: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return fmt.Errorf("CACertFile: %s holds no PEM certificate", c.CACertFile)
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("CertFile, KeyFile: set both or neither")
	}
	if c.CertFile != "" {
		cb, err := o.ReadFile(c.CertFile)
		if err != nil {
			return fmt.Errorf("CertFile: %w", err)
		}
		kb, err := o.ReadFile(c.KeyFile)
		if err != nil {
			return fmt.Errorf("KeyFile: %w", err)
		}
		if _, err := tls.X509KeyPair(cb, kb); err != nil {
			return fmt.Errorf("CertFile, KeyFile: %w", err)
		}
	}
	return nil
}

func (c *Config) validateAuth(o Options) ([]Warning, error) {
	var warns []Warning
	hasCreds := c.MesosCredentials.Principal != "" || c.MesosCredentials.Secret != ""
	switch c.MesosAuthentication {
	case AuthNone:
		if hasCreds {
			warns = append(warns, Warning{Key: "mesosCredentials", Message: "set but mesosAuthentication is empty; not used"})
		}
	case AuthBasic:
		if !hasCreds {
			return nil, errors.New("mesosCredentials: basic authentication needs a principal and a secret")
		}
	case AuthIAM:
		if c.IAMConfigFile == "" {
			return nil, errors.New("IAMConfigFile: iam authentication needs an IAM config file")
		}
		b, err := o.ReadFile(c.IAMConfigFile)
		if err != nil {
			return nil, fmt.Errorf("IAMConfigFile: %w", err)
		}
		iam, err := mesos.ParseIAMConfig(b)
		if err != nil {
			return nil, fmt.Errorf("IAMConfigFile: %s: %w", c.IAMConfigFile, err)
		}
		c.IAM = iam
	default:
		return nil, fmt.Errorf("mesosAuthentication: unknown mechanism %q (want \"\", basic or iam)", c.MesosAuthentication)
	}
	return warns, nil
}

// localResolvers returns the nameservers of resolv.conf minus this host's
// own addresses (a local resolver would forward back to us).
func localResolvers(o Options) ([]string, error) {
	b, err := o.ReadFile(o.ResolvConf)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", o.ResolvConf, err)
	}
	local := map[netip.Addr]bool{}
	if addrs, err := o.LocalAddrs(); err == nil {
		for _, a := range addrs {
			local[a.Unmap().WithZone("")] = true
		}
	}
	out := []string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		ip, err := netip.ParseAddr(f[1])
		if err != nil || ip.Zone() != "" {
			continue
		}
		if local[ip.Unmap()] {
			continue
		}
		out = append(out, ip.Unmap().String())
	}
	return out, nil
}

func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out, nil
}

// PublicJSON renders the /v1/config document: the original's keys in its
// order, compact (the API indents it). Unlike the original, the basic-auth
// secret is replaced with "********".
func (c *Config) PublicJSON() ([]byte, error) { return c.PublicJSONWithSerial(c.SOASerial) }

// PublicJSONWithSerial is PublicJSON with SOASerial set to the serial the
// server currently uses.
func (c *Config) PublicJSONWithSerial(serial uint32) ([]byte, error) {
	p := *c
	p.SOASerial = serial
	if p.MesosCredentials.Secret != "" {
		p.MesosCredentials.Secret = Redacted
	}
	if p.Masters == nil {
		p.Masters = []string{}
	}
	return json.Marshal(&p)
}

// SourceOptions maps the config onto the Mesos state source's options.
func (c *Config) SourceOptions() mesos.Options {
	o := mesos.Options{
		Masters:            append([]string(nil), c.Masters...),
		ZK:                 c.ZK,
		ZKDetectionTimeout: time.Duration(c.ZkDetectionTimeout) * time.Second,
		RefreshInterval:    time.Duration(c.RefreshSeconds) * time.Second,
		StateTimeout:       time.Duration(c.StateTimeoutSeconds) * time.Second,
		HTTPS:              c.MesosHTTPSOn,
		CACertFile:         c.CACertFile,
		CertFile:           c.CertFile,
		KeyFile:            c.KeyFile,
	}
	switch c.MesosAuthentication {
	case AuthBasic:
		o.Basic = &mesos.BasicAuth{Principal: c.MesosCredentials.Principal, Secret: c.MesosCredentials.Secret}
	case AuthIAM:
		o.IAM = c.IAM
	}
	return o
}
