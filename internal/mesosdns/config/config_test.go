package config

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var fixedNow = time.Unix(1700000000, 0)

// testOptions reads files from a map (falling back to the disk for
// absolute paths under a test's temp dir) and has no local addresses.
func testOptions(files map[string]string) Options {
	return Options{
		Now:        func() time.Time { return fixedNow },
		ResolvConf: "/test/resolv.conf",
		LocalAddrs: func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("10.0.0.53")}, nil },
		ReadFile: func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			if strings.HasPrefix(p, os.TempDir()) {
				return os.ReadFile(p)
			}
			return nil, &os.PathError{Op: "open", Path: p, Err: os.ErrNotExist}
		},
		Home: func() (string, error) { return "/home/test", nil },
	}
}

func parse(t *testing.T, doc string, files map[string]string) (*Config, []Warning, error) {
	t.Helper()
	return Parse([]byte(doc), "/etc/mesos-dns/config.json", testOptions(files))
}

func TestDefaults(t *testing.T) {
	c, warns, err := parse(t, `{"masters":["10.0.0.1:5050"]}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Fatalf("warnings %v", warns)
	}
	want := Default()
	want.Masters = []string{"10.0.0.1:5050"}
	want.File = "/etc/mesos-dns/config.json"
	want.SOAMname = "ns1.mesos."
	want.SOARname = "root.ns1.mesos."
	want.SOASerial = uint32(fixedNow.Unix())
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
	// The documented defaults, spelled out.
	if c.RefreshSeconds != 60 || c.StateTimeoutSeconds != 300 || c.ZkDetectionTimeout != 30 || c.TTL != 60 ||
		c.Port != 53 || c.HTTPPort != 8123 || c.Timeout != 5 || c.Domain != "mesos" || c.Listener != "0.0.0.0" ||
		c.HTTPListener != "0.0.0.0" || !c.DNSOn || !c.HTTPOn || !c.ExternalOn || !c.RecurseOn || !c.SetTruncateBit ||
		!c.EnumerationOn || c.EnforceRFC952 || c.MesosHTTPSOn || c.SRVRecordDefaultWeight != 1 ||
		c.SOARefresh != 60 || c.SOARetry != 600 || c.SOAExpire != 86400 || c.SOAMinttl != 60 ||
		!slices.Equal(c.Resolvers, []string{"8.8.8.8"}) || !slices.Equal(c.IPSources, []string{"netinfo", "mesos", "host"}) {
		t.Fatalf("defaults differ: %+v", c)
	}
}

func TestKeysCaseInsensitive(t *testing.T) {
	for _, doc := range []string{
		`{"masters":["10.0.0.1:5050"],"refreshSeconds":7,"httpport":9000,"dnson":false,"soamname":"ns.x","ipsources":["host"]}`,
		`{"Masters":["10.0.0.1:5050"],"RefreshSeconds":7,"HttpPort":9000,"DnsOn":false,"SOAMname":"ns.x","IPSources":["host"]}`,
		`{"MASTERS":["10.0.0.1:5050"],"REFRESHSECONDS":7,"HTTPPORT":9000,"DNSON":false,"SOAMNAME":"ns.x","IPSOURCES":["host"]}`,
	} {
		c, warns, err := parse(t, doc, nil)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if len(warns) != 0 || c.RefreshSeconds != 7 || c.HTTPPort != 9000 || c.DNSOn || c.SOAMname != "ns.x." || !slices.Equal(c.IPSources, []string{"host"}) {
			t.Fatalf("%s: %+v %v", doc, c, warns)
		}
	}
}

func TestUnknownKeysWarned(t *testing.T) {
	_, warns, err := parse(t, `{"masters":["10.0.0.1:5050"],"email":"root.mesos-dns.mesos","ns":"ns1","mname":"x",
		"mesosCredentials":{"principal":"p","secret":"s","extra":1}}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, w := range warns {
		keys = append(keys, w.Key)
	}
	// Unknown keys (sorted) first, then validation remarks.
	want := []string{"email", "mesosCredentials.extra", "mname", "ns", "mesosCredentials"}
	if !slices.Equal(keys, want) {
		t.Fatalf("warned keys %v, want %v (%v)", keys, want, warns)
	}
}

func TestSOANormalisation(t *testing.T) {
	c, _, err := parse(t, `{"masters":["10.0.0.1:5050"],"SOAMname":"ns1.example.com..","SOARname":"admin@example.com","domain":"Mesos.Test.NET"}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SOAMname != "ns1.example.com." || c.SOARname != "admin.example.com." || c.Domain != "mesos.test.net" {
		t.Fatalf("mname %q rname %q domain %q", c.SOAMname, c.SOARname, c.Domain)
	}
}

func TestTimeoutZeroMeansFive(t *testing.T) {
	c, _, err := parse(t, `{"masters":["10.0.0.1:5050"],"timeout":0}`, nil)
	if err != nil || c.Timeout != 5 {
		t.Fatalf("timeout %d, %v", c.Timeout, err)
	}
}

func TestResolvConfFallback(t *testing.T) {
	files := map[string]string{"/test/resolv.conf": "# comment\nsearch example.com\nnameserver 10.0.0.53\nnameserver 192.0.2.1\nnameserver fe80::1%eth0\nnameserver 2001:db8::1\nnameserver bogus\noptions ndots:2\n"}
	c, _, err := parse(t, `{"masters":["10.0.0.1:5050"],"resolvers":[]}`, files)
	if err != nil {
		t.Fatal(err)
	}
	// 10.0.0.53 is a local address: forwarding to it would loop.
	if !slices.Equal(c.Resolvers, []string{"192.0.2.1", "2001:db8::1"}) {
		t.Fatalf("resolvers %v", c.Resolvers)
	}
	// externalon false: not read at all.
	c, _, err = parse(t, `{"masters":["10.0.0.1:5050"],"resolvers":[],"externalon":false}`, nil)
	if err != nil || len(c.Resolvers) != 0 {
		t.Fatalf("resolvers %v, %v", c.Resolvers, err)
	}
	// Only local servers: an empty list (the server then answers REFUSED).
	c, _, err = parse(t, `{"masters":["10.0.0.1:5050"],"resolvers":null}`, map[string]string{"/test/resolv.conf": "nameserver 10.0.0.53\n"})
	if err != nil || len(c.Resolvers) != 0 || c.Resolvers == nil {
		t.Fatalf("resolvers %#v, %v", c.Resolvers, err)
	}
}

func TestZKFileSpec(t *testing.T) {
	files := map[string]string{"/etc/mesos/zk": "zk://u:p@10.0.0.1:2181,10.0.0.2:2181/mesos\n"}
	c, _, err := parse(t, `{"zk":"file:///etc/mesos/zk"}`, files)
	if err != nil {
		t.Fatal(err)
	}
	if c.ZK == nil || !slices.Equal(c.ZK.Servers, []string{"10.0.0.1:2181", "10.0.0.2:2181"}) || c.ZK.Path != "/mesos" || c.ZK.User != "u" {
		t.Fatalf("zk %+v", c.ZK)
	}
	if c.Zk != "file:///etc/mesos/zk" {
		t.Fatalf("Zk changed to %q; /v1/config shows it as configured", c.Zk)
	}
	o := c.SourceOptions()
	if o.ZK != c.ZK || o.ZKDetectionTimeout != 30*time.Second || o.RefreshInterval != time.Minute || o.StateTimeout != 300*time.Second {
		t.Fatalf("source options %+v", o)
	}
}

func TestLoadPathExpansion(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"masters":["10.0.0.1:5050"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	o := testOptions(nil)
	o.Home = func() (string, error) { return dir, nil }
	c, _, err := Load("~/config.json", o)
	if err != nil {
		t.Fatal(err)
	}
	if c.File != filepath.Join(dir, "config.json") {
		t.Fatalf("File %q", c.File)
	}
	// A File key overrides the recorded path, as in the original.
	if err := os.WriteFile(filepath.Join(dir, "f.json"), []byte(`{"masters":["10.0.0.1:5050"],"File":"/x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, _, err = Load(filepath.Join(dir, "f.json"), o); err != nil || c.File != "/x" {
		t.Fatalf("File %q, %v", c.File, err)
	}
	if _, _, err := Load(filepath.Join(dir, "missing.json"), o); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	p, err := ExpandPath("~/a/b.json", func() (string, error) { return "", errors.New("no user") })
	if err != nil || !strings.HasSuffix(p, "/a/b.json") || !filepath.IsAbs(p) {
		t.Fatalf("ExpandPath without home: %q %v", p, err)
	}
}

// writeCert makes a self-signed certificate and key under dir.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTLSAndAuth(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	keyPEM, _ := os.ReadFile(key)
	iamFile := filepath.Join(dir, "iam.json")
	iamDoc, _ := json.Marshal(map[string]string{"uid": "svc", "private_key": string(keyPEM), "login_endpoint": "https://leader.mesos/acs/api/v1/auth/login"})
	if err := os.WriteFile(iamFile, iamDoc, 0o600); err != nil {
		t.Fatal(err)
	}
	doc := `{"masters":["10.0.0.1:5050"],"MesosHTTPSOn":true,"CACertFile":` + q(cert) + `,"CertFile":` + q(cert) + `,"KeyFile":` + q(key) +
		`,"mesosAuthentication":"iam","IAMConfigFile":` + q(iamFile) + `}`
	c, _, err := parse(t, doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.IAM == nil || c.IAM.UID != "svc" {
		t.Fatalf("IAM %+v", c.IAM)
	}
	o := c.SourceOptions()
	if !o.HTTPS || o.CACertFile != cert || o.IAM != c.IAM || o.Basic != nil {
		t.Fatalf("source options %+v", o)
	}
	c, warns, err := parse(t, `{"masters":["10.0.0.1:5050"],"mesosAuthentication":"basic","mesosCredentials":{"principal":"p","secret":"s"}}`, nil)
	if err != nil || len(warns) != 0 {
		t.Fatal(err, warns)
	}
	if o := c.SourceOptions(); o.Basic == nil || o.Basic.Principal != "p" || o.Basic.Secret != "s" {
		t.Fatalf("basic %+v", o.Basic)
	}
	_, warns, err = parse(t, `{"masters":["10.0.0.1:5050"],"mesosCredentials":{"principal":"p","secret":"s"}}`, nil)
	if err != nil || len(warns) != 1 || warns[0].Key != "mesosCredentials" {
		t.Fatalf("credentials without auth: %v %v", warns, err)
	}
}

func q(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestBadValues(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	badIAM := filepath.Join(dir, "iam.json")
	if err := os.WriteFile(badIAM, []byte(`{"uid":"svc","login_endpoint":"https://x/"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	m := `"masters":["10.0.0.1:5050"]`
	cases := []struct{ name, doc, want string }{
		{"empty document", ``, "empty document"},
		{"null", `null`, "null"},
		{"array", `[]`, "invalid JSON"},
		{"syntax", `{"masters":`, "invalid JSON"},
		{"trailing garbage", `{` + m + `} x`, "invalid JSON"},
		{"wrong type", `{` + m + `,"refreshSeconds":"60"}`, "RefreshSeconds: cannot use JSON string"},
		{"wrong type bool", `{` + m + `,"dnson":"yes"}`, "DnsOn: cannot use JSON string"},
		{"ttl overflow", `{` + m + `,"ttl":3000000000}`, "TTL: cannot use JSON number"},
		{"weight overflow", `{` + m + `,"srvRecordDefaultWeight":70000}`, "SRVRecordDefaultWeight"},
		{"services off", `{` + m + `,"dnson":false,"httpon":false}`, "DnsOn, HttpOn"},
		{"no masters no zk", `{}`, "masters, zk"},
		{"master no port", `{"masters":["10.0.0.1"]}`, "masters[0]: \"10.0.0.1\": want host:port"},
		{"master port 0", `{"masters":["10.0.0.1:5050","10.0.0.2:0"]}`, "masters[1]:"},
		{"master port big", `{"masters":["10.0.0.1:70000"]}`, "masters[0]:"},
		{"master empty host", `{"masters":[":5050"]}`, "masters[0]:"},
		{"master duplicate", `{"masters":["10.0.0.1:5050","10.0.0.1:5050"]}`, "masters[1]: \"10.0.0.1:5050\" duplicates masters[0]"},
		{"master duplicate ipv6", `{"masters":["[fd00::1]:5050","[fd00:0::1]:5050"]}`, "masters[1]:"},
		{"bad zk", `{"zk":"http://zk:2181/mesos"}`, "zk: "},
		{"zk missing file", `{"zk":"file:///nope"}`, "zk: read zk spec file"},
		{"resolver hostname", `{` + m + `,"resolvers":["dns.google"]}`, "resolvers[0]: \"dns.google\""},
		{"resolver empty", `{` + m + `,"resolvers":["8.8.8.8",""]}`, "resolvers[1]: empty"},
		{"resolver duplicate", `{` + m + `,"resolvers":["8.8.8.8","8.8.8.8:53"]}`, "resolvers[1]:"},
		{"resolver port 0", `{` + m + `,"resolvers":["8.8.8.8:0"]}`, "resolvers[0]:"},
		{"resolv.conf missing", `{` + m + `,"resolvers":[]}`, "resolvers: empty, and cannot read /test/resolv.conf"},
		{"zone resolvers empty list", `{` + m + `,"zoneResolvers":{"consul":[]}}`, `zoneResolvers["consul"]: empty list`},
		{"zone resolvers bad ip", `{` + m + `,"zoneResolvers":{"consul":["x"]}}`, `zoneResolvers["consul"][0]`},
		{"zone equals domain", `{` + m + `,"zoneResolvers":{"mesos":["1.1.1.1"]}}`, "equals the mesos domain"},
		{"zone dot", `{` + m + `,"zoneResolvers":{".consul":["1.1.1.1"]}}`, "no leading or trailing dot"},
		{"zone ambiguous", `{` + m + `,"zoneResolvers":{"consul":["1.1.1.1"],"dc.consul":["1.1.1.2"]}}`, "ambiguous zone resolvers"},
		{"zone under mesos", `{` + m + `,"zoneResolvers":{"x.mesos":["1.1.1.1"]}}`, "ambiguous zone resolvers"},
		{"ipsources empty", `{` + m + `,"IPSources":[]}`, "IPSources: empty"},
		{"ipsources bad", `{` + m + `,"IPSources":["host","rkt"]}`, "IPSources[1]: invalid ip source \"rkt\""},
		{"ipsources duplicate", `{` + m + `,"IPSources":["host","host"]}`, "IPSources[1]:"},
		{"state timeout 0", `{` + m + `,"stateTimeoutSeconds":0}`, "stateTimeoutSeconds: must be > 0"},
		{"refresh 0", `{` + m + `,"refreshSeconds":0}`, "refreshSeconds: must be > 0"},
		{"refresh negative", `{` + m + `,"refreshSeconds":-5}`, "refreshSeconds: must be > 0"},
		{"zk timeout negative", `{` + m + `,"zkDetectionTimeout":-1}`, "zkDetectionTimeout"},
		{"timeout negative", `{` + m + `,"timeout":-1}`, "timeout"},
		{"domain bad", `{` + m + `,"domain":"mesos."}`, "domain:"},
		{"domain underscore", `{` + m + `,"domain":"my_domain"}`, "domain:"},
		{"domain empty", `{` + m + `,"domain":""}`, "domain:"},
		{"listener hostname", `{` + m + `,"listener":"localhost"}`, "listener: \"localhost\" must be an IP address"},
		{"listener hostname dns off", `{` + m + `,"listener":"localhost","dnson":false}`, "listener:"},
		{"port range", `{` + m + `,"port":65536}`, "port:"},
		{"http listener hostname", `{` + m + `,"httpListener":"localhost"}`, "httpListener:"},
		{"http port range", `{` + m + `,"httpport":-1}`, "HttpPort:"},
		{"ttl negative", `{` + m + `,"ttl":-1}`, "ttl:"},
		{"ca missing", `{` + m + `,"CACertFile":"/nope.pem"}`, "CACertFile:"},
		{"ca not pem", `{` + m + `,"CACertFile":` + q(notPEM) + `}`, "CACertFile:"},
		{"cert without key", `{` + m + `,"CertFile":` + q(cert) + `}`, "CertFile, KeyFile: set both or neither"},
		{"key without cert", `{` + m + `,"KeyFile":` + q(key) + `}`, "CertFile, KeyFile: set both or neither"},
		{"cert not pem", `{` + m + `,"CertFile":` + q(notPEM) + `,"KeyFile":` + q(key) + `}`, "CertFile, KeyFile:"},
		{"cert missing", `{` + m + `,"CertFile":"/nope","KeyFile":` + q(key) + `}`, "CertFile:"},
		{"auth unknown", `{` + m + `,"mesosAuthentication":"kerberos"}`, "mesosAuthentication: unknown mechanism"},
		{"basic without credentials", `{` + m + `,"mesosAuthentication":"basic"}`, "mesosCredentials: basic authentication needs"},
		{"iam without file", `{` + m + `,"mesosAuthentication":"iam"}`, "IAMConfigFile: iam authentication needs"},
		{"iam file missing", `{` + m + `,"mesosAuthentication":"iam","IAMConfigFile":"/nope.json"}`, "IAMConfigFile:"},
		{"iam file incomplete", `{` + m + `,"mesosAuthentication":"iam","IAMConfigFile":` + q(badIAM) + `}`, "IAMConfigFile: " + badIAM + ": private_key: missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := parse(t, c.doc, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestValidationOrder(t *testing.T) {
	// Several bad values at once: the first in the original's order wins.
	_, _, err := parse(t, `{"masters":["x"],"IPSources":[],"stateTimeoutSeconds":0,"domain":"a_b"}`, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "masters[0]") {
		t.Fatalf("got %v, want the masters error first", err)
	}
	_, _, err = parse(t, `{"masters":["10.0.0.1:5050"],"IPSources":[],"stateTimeoutSeconds":0,"domain":"a_b"}`, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "IPSources") {
		t.Fatalf("got %v, want the IPSources error first", err)
	}
	_, _, err = parse(t, `{"masters":["10.0.0.1:5050"],"stateTimeoutSeconds":0,"domain":"a_b"}`, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "stateTimeoutSeconds") {
		t.Fatalf("got %v, want the stateTimeoutSeconds error first", err)
	}
}

// The /v1/config key order of the original (spec §7.2).
var publicKeys = []string{"RefreshSeconds", "Port", "Timeout", "StateTimeoutSeconds", "ZkDetectionTimeout", "HttpPort", "TTL",
	"SRVRecordDefaultWeight", "SOASerial", "SOARefresh", "SOARetry", "SOAExpire", "SOAMinttl", "SOAMname", "SOARname",
	"Masters", "ZoneResolvers", "Resolvers", "IPSources", "Zk", "Domain", "File", "Listener", "HTTPListener", "RecurseOn",
	"DnsOn", "HttpOn", "ExternalOn", "EnforceRFC952", "SetTruncateBit", "EnumerationOn", "MesosHTTPSOn", "CACertFile",
	"CertFile", "KeyFile", "MesosCredentials", "IAMConfigFile", "MesosAuthentication"}

func TestPublicJSON(t *testing.T) {
	c, _, err := parse(t, `{"masters":["10.0.0.1:5050"],"mesosAuthentication":"basic","mesosCredentials":{"principal":"p","secret":"hunter2"}}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.PublicJSONWithSerial(42)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("hunter2")) {
		t.Fatalf("secret leaked: %s", b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(keys, publicKeys) {
		t.Fatalf("keys\n%v\nwant\n%v", keys, publicKeys)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	creds := m["MesosCredentials"].(map[string]any)
	if creds["Principal"] != "p" || creds["Secret"] != Redacted || m["SOASerial"] != float64(42) || m["SOAMname"] != "ns1.mesos." {
		t.Fatalf("rendered %s", b)
	}
	// The config itself keeps the secret (the source needs it).
	if c.MesosCredentials.Secret != "hunter2" {
		t.Fatal("PublicJSON modified the config")
	}
	// An empty secret stays empty, and Masters is [] rather than null.
	c2, _, err := parse(t, `{"zk":"zk://127.0.0.1:2181/mesos"}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = c2.PublicJSON()
	if !bytes.Contains(b, []byte(`"Secret":""`)) || !bytes.Contains(b, []byte(`"Masters":[]`)) {
		t.Fatalf("rendered %s", b)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"masters":["10.0.0.1:5050"]}`,
		`{"zk":"zk://127.0.0.1:2181/mesos","refreshSeconds":5,"IPSources":["host","mesos"],"resolvers":["1.1.1.1:5353"]}`,
		`{"masters":["[fd00::1]:5050"],"zoneResolvers":{"consul":["10.0.0.2"]},"SOARname":"a@b.c","domain":"Mesos.Test"}`,
		`{"masters":["10.0.0.1:5050"],"mesosAuthentication":"basic","mesosCredentials":{"principal":"p","secret":"s"}}`,
		`{"MASTERS":["a:1"],"email":"x","ttl":-1}`,
		`{"masters":["10.0.0.1:5050"],"resolvers":[]}`,
		`null`, `[]`, `{"masters":`,
	} {
		f.Add([]byte(s))
	}
	files := map[string]string{"/test/resolv.conf": "nameserver 192.0.2.1\n"}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, warns, err := Parse(b, "/c.json", testOptions(files))
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		for _, w := range warns {
			if w.Key == "" && w.Message == "" {
				t.Fatal("empty warning")
			}
		}
		// Invariants of an accepted config.
		if c.RefreshSeconds <= 0 || c.StateTimeoutSeconds <= 0 || c.Timeout <= 0 || len(c.IPSources) == 0 ||
			(!c.DNSOn && !c.HTTPOn) || (len(c.Masters) == 0 && c.ZK == nil) ||
			!strings.HasSuffix(c.SOAMname, ".") || !strings.HasSuffix(c.SOARname, ".") || strings.Contains(c.SOARname, "@") ||
			c.Domain != strings.ToLower(c.Domain) {
			t.Fatalf("accepted config breaks an invariant: %+v", c)
		}
		if _, err := netip.ParseAddr(c.Listener); err != nil {
			t.Fatalf("listener %q accepted", c.Listener)
		}
		pj, err := c.PublicJSON()
		if err != nil || !json.Valid(pj) {
			t.Fatalf("PublicJSON: %v", err)
		}
		var back struct{ MesosCredentials Credentials }
		if err := json.Unmarshal(pj, &back); err != nil {
			t.Fatal(err)
		}
		if c.MesosCredentials.Secret != "" && back.MesosCredentials.Secret != Redacted {
			t.Fatalf("secret shown as %q", back.MesosCredentials.Secret)
		}
	})
}
