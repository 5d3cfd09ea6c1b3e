package native

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// certCache loads certificate files once (HAProxy's crt: a PEM file
// with the chain and the key, or a directory of them).
type certCache struct {
	log      *slog.Logger
	mu       sync.Mutex
	files    map[string][]*tls.Certificate
	fallback *tls.Certificate
}

func newCertCache(log *slog.Logger) *certCache {
	return &certCache{log: log, files: map[string][]*tls.Certificate{}}
}

func (c *certCache) reset() {
	c.mu.Lock()
	clear(c.files)
	c.mu.Unlock()
}

// store is the certificates of these crt arguments, in order; a file
// that cannot be read is logged and replaced by a self-signed
// certificate (as marathon-lb's container makes one when none is given).
func (c *certCache) store(paths []string) *certStore {
	s := &certStore{byName: map[string]*tls.Certificate{}}
	for _, p := range paths {
		for _, crt := range c.load(p) {
			s.add(crt)
		}
	}
	if len(s.certs) == 0 {
		s.add(c.selfSigned())
	}
	s.cfg = &tls.Config{GetCertificate: s.get, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	return s
}

func (c *certCache) load(path string) []*tls.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	if got, ok := c.files[path]; ok {
		return got
	}
	var out []*tls.Certificate
	files := []string{path}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		ents, _ := os.ReadDir(path)
		files = files[:0]
		for _, e := range ents {
			if !e.IsDir() && !strings.HasSuffix(e.Name(), ".key") && !strings.HasSuffix(e.Name(), ".ocsp") {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		slices.Sort(files)
	}
	for _, f := range files {
		crt, err := loadPEM(f)
		if err != nil {
			c.log.Warn("native engine: certificate not loaded", "file", f, "err", err)
			continue
		}
		out = append(out, crt)
	}
	c.files[path] = out
	return out
}

// loadPEM reads a file holding the certificate chain and the private
// key, or a certificate with its key in FILE.key beside it.
func loadPEM(f string) (*tls.Certificate, error) {
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	crt, err := tls.X509KeyPair(b, b)
	if err != nil {
		k, kerr := os.ReadFile(f + ".key")
		if kerr != nil {
			return nil, err
		}
		if crt, err = tls.X509KeyPair(b, k); err != nil {
			return nil, err
		}
	}
	if crt.Leaf == nil {
		if crt.Leaf, err = x509.ParseCertificate(crt.Certificate[0]); err != nil {
			return nil, err
		}
	}
	return &crt, nil
}

func (c *certCache) selfSigned() *tls.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fallback != nil {
		return c.fallback
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // the system's randomness failed
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "sextant-edge"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0), DNSNames: []string{"sextant-edge"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	c.fallback = &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	return c.fallback
}

// certStore answers a TLS handshake with the certificate for its SNI:
// an exact name, else a wildcard, else the first certificate (HAProxy's
// default for its bind). bySNI, in grouped mode, gives each vhost its
// own certificates and refuses names no vhost has.
type certStore struct {
	certs  []*tls.Certificate
	byName map[string]*tls.Certificate
	bySNI  map[string]*certStore
	cfg    *tls.Config
}

func (s *certStore) add(c *tls.Certificate) {
	s.certs = append(s.certs, c)
	if c.Leaf == nil {
		return
	}
	names := slices.Clone(c.Leaf.DNSNames)
	if c.Leaf.Subject.CommonName != "" {
		names = append(names, c.Leaf.Subject.CommonName)
	}
	for _, n := range names {
		n = strings.ToLower(n)
		if _, dup := s.byName[n]; !dup {
			s.byName[n] = c
		}
	}
}

func (s *certStore) config() *tls.Config { return s.cfg }

var errNoVhost = errors.New("no TLS frontend for this server name")

func (s *certStore) get(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(h.ServerName)
	if s.bySNI != nil {
		sub, ok := s.bySNI[name]
		if !ok {
			return nil, errNoVhost
		}
		return sub.pick(name), nil
	}
	return s.pick(name), nil
}

func (s *certStore) pick(name string) *tls.Certificate {
	if c, ok := s.byName[name]; ok {
		return c
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if c, ok := s.byName["*"+name[i:]]; ok {
			return c
		}
	}
	return s.certs[0]
}
