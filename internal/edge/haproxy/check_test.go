package haproxy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
)

// removedDirectives are HAProxy 2.0 directives that HAProxy 2.1 removed;
// marathon-lb's own defaults use them (spec quirk 12).
var removedDirectives = regexp.MustCompile(`(?m)^\s*(reqirep|rspirep|rspadd|reqadd|reqrep|rsprep)\s`)

// TestHAProxyAccepts runs every golden configuration through the real
// `haproxy -c`, in the HAProxy 2.2 dialect, and in marathon-lb's own
// (2.0) dialect as well when it has none of the directives HAProxy 2.1
// removed (Debian's HAProxy is 2.6). Only file paths are rewritten for
// the check: certificates (self-signed, made here), the Lua services
// (stubs) and the map files move into a temporary directory.
func TestHAProxyAccepts(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (Debian: apt-get install -y haproxy): configurations are not checked")
	}
	checked, skipped := 0, 0
	for _, s := range appSets() {
		t.Run(s.name, func(t *testing.T) {
			body := s.body(t)
			for _, fl := range goldenFlags(s.name) {
				for _, d := range []haproxy.Dialect{haproxy.HAProxy22, haproxy.HAProxy20} {
					out, cfg := generate(t, body, flagsNamed(t, fl), d)
					if d == haproxy.HAProxy20 && removedDirectives.MatchString(out.Config) {
						skipped++
						continue
					}
					checked++
					if msg, ok := check(t, bin, out, cfg); !ok {
						t.Errorf("%s with %s (dialect %d): haproxy -c rejects the configuration:\n%s", s.name, fl, d, msg)
					}
				}
			}
		})
	}
	t.Logf("haproxy -c accepted %d configurations (%d in marathon-lb's 2.0 text use directives HAProxy 2.1 removed "+
		"and were checked in the 2.2 dialect only)", checked, skipped)
}

// TestDialects: marathon-lb's text is the default; the 2.2 dialect only
// replaces the three templates with removed directives.
func TestDialects(t *testing.T) {
	old, err := haproxy.Load(haproxy.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	neu, err := haproxy.Load(haproxy.LoadOptions{Dialect: haproxy.HAProxy22})
	if err != nil {
		t.Fatal(err)
	}
	changed := map[edge.Template]bool{edge.BackendHSTSOptions: true, edge.HTTPBackendProxypassGlue: true,
		edge.HTTPBackendRevproxyGlue: true}
	for _, i := range edge.Templates() {
		a, b := old.Text(i.Name), neu.Text(i.Name)
		if a != haproxy.Default().Text(i.Name) {
			t.Errorf("%s: Load with no options is not the default", i.Name)
		}
		if (a != b) != changed[i.Name] {
			t.Errorf("%s: changed by the 2.2 dialect = %v, want %v", i.Name, a != b, changed[i.Name])
		}
		if changed[i.Name] && (!removedDirectives.MatchString(a) || removedDirectives.MatchString(b)) {
			t.Errorf("%s: want removed directives in the 2.0 text only:\n%s\n%s", i.Name, a, b)
		}
	}
}

var crtRE = regexp.MustCompile(`crt (\S+)`)

// check writes out into a temporary directory with the paths it names
// and runs haproxy -c on it.
func check(t *testing.T, bin string, out haproxy.Output, cfg *edge.Config) (string, bool) {
	t.Helper()
	dir := t.TempDir()
	text := out.Config
	pemBytes := selfSigned(t)
	for _, m := range crtRE.FindAllStringSubmatch(text, -1) {
		p := filepath.Join(dir, "certs", m[1])
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, pemBytes, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	text = crtRE.ReplaceAllString(text, "crt "+filepath.Join(dir, "certs")+"$1")
	lua := filepath.Join(dir, "lua")
	if err := os.MkdirAll(lua, 0o755); err != nil {
		t.Fatal(err)
	}
	// The Lua services marathon-lb's HEAD loads, as stubs that register
	// the same service names (the config refers to lua.<name>).
	for file, services := range map[string][]string{
		"getpids.lua": {"getpids"}, "getconfig.lua": {"getconfig"}, "getmaps.lua": {"getvhostmap", "getappmap"},
		"signalmlb.lua": {"signalmlbhup", "signalmlbusr1"},
	} {
		var b strings.Builder
		for _, s := range services {
			b.WriteString("core.register_service(\"" + s + "\", \"http\", function(applet) end)\n")
		}
		if err := os.WriteFile(filepath.Join(lua, file), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text = strings.ReplaceAll(text, "lua-load /marathon-lb/", "lua-load "+lua+"/")
	maps := filepath.Join(dir, "maps")
	if err := os.MkdirAll(maps, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"domain2backend.map": out.DomainMap, "app2backend.map": out.AppMap} {
		if err := os.WriteFile(filepath.Join(maps, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		text = strings.ReplaceAll(text, "map("+cfg.HAProxyDir+"/"+name+")", "map("+filepath.Join(maps, name)+")")
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	msg, err := exec.CommandContext(ctx, bin, "-c", "-f", path).CombinedOutput()
	return string(msg), err == nil
}

// selfSigned is a PEM with a self-signed certificate and its key, as
// HAProxy's crt wants.
func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "*"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: []string{"*"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})...)
}
