package edgetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
	"github.com/sextantdc/sextant/internal/model"
)

// Addrs are where the engine under test serves marathon-lb's shared
// frontends: :80 (HTTP), :443 (HTTPS) and :9091 (AppID), each a free
// loopback address.
type Addrs struct {
	HTTP, HTTPS, AppID string
}

// Target is the engine under test.
type Target struct {
	Engine edge.Engine
	// Generate builds the generation applied from the apps and options;
	// nil is haproxy.Generate with marathon-lb's default templates.
	Generate func([]model.App, edge.Options) (*edge.Generation, error)
}

// Factory starts an engine serving a; it registers its own clean-up.
type Factory func(t *testing.T, a Addrs) Target

// Env is one engine under test with the suite's certificate.
type Env struct {
	T        *testing.T
	Addrs    Addrs
	Target   Target
	CertFile string
	CertPool *x509.CertPool
	Options  edge.Options
}

// NewEnv starts the engine of f on free loopback ports, with a
// certificate for *.example.com as --ssl-certs.
func NewEnv(t *testing.T, f Factory) *Env {
	t.Helper()
	e := &Env{T: t, Addrs: Addrs{HTTP: FreeAddr(t), HTTPS: FreeAddr(t), AppID: FreeAddr(t)}}
	e.CertFile, e.CertPool = WriteCert(t)
	e.Options = edge.Options{Groups: []string{"external"}, SSLCerts: []string{e.CertFile}}
	e.Target = f(t, e.Addrs)
	return e
}

// Apply builds the configuration of apps and applies it.
func (e *Env) Apply(apps ...model.App) *edge.Config {
	e.T.Helper()
	g, err := e.generation(apps)
	if err != nil {
		e.T.Fatalf("generation: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.Target.Engine.Apply(ctx, g); err != nil {
		e.T.Fatalf("apply: %v", err)
	}
	return g.Config
}

func (e *Env) generation(apps []model.App) (*edge.Generation, error) {
	if e.Target.Generate != nil {
		return e.Target.Generate(apps, e.Options)
	}
	return haproxy.Generate(apps, e.Options, haproxy.Default())
}

// FreeAddr is a loopback address with a port free a moment ago. The
// port is drawn at random below the kernel's ephemeral range, where a
// port just closed is not handed out again at once (the kernel's own
// choice for port 0 often is).
func FreeAddr(t testing.TB) string {
	t.Helper()
	for range 200 {
		addr := "127.0.0.1:" + strconv.Itoa(20000+mrand.IntN(12000))
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
			return addr
		}
	}
	t.Fatal("no free loopback port in 20000-31999")
	return ""
}

// FreePort is the port of FreeAddr.
func FreePort(t testing.TB) uint16 {
	_, p, _ := net.SplitHostPort(FreeAddr(t))
	n, _ := strconv.Atoi(p)
	return uint16(n)
}

// WriteCert writes a self-signed certificate for example.com and
// *.example.com, chain and key in one PEM file as HAProxy's crt wants.
func WriteCert(t testing.TB) (string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example.com"},
		DNSNames: []string{"example.com", "*.example.com"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "cert.pem")
	body := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})...)
	if err := os.WriteFile(f, body, 0o600); err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return f, pool
}

// Backend is an HTTP server on loopback that names itself in every
// answer and says what it saw.
type Backend struct {
	Name string
	Port uint16
	Hits atomic.Int64
	srv  *http.Server
	ln   net.Listener
}

// StartBackend starts a backend; it stops with the test.
func StartBackend(t testing.TB, name string) *Backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &Backend{Name: name, ln: ln, Port: uint16(ln.Addr().(*net.TCPAddr).Port)}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.Hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("X-Backend", name)
		h.Set("X-Seen-Uri", r.RequestURI)
		h.Set("X-Seen-Host", r.Host)
		h.Set("X-Seen-Proto", r.Header.Get("X-Forwarded-Proto"))
		h.Set("X-Seen-For", r.Header.Get("X-Forwarded-For"))
		h.Set("X-Seen-Cookie", r.Header.Get("Cookie"))
		if r.URL.Path == "/moved" {
			h.Set("Location", "http://"+r.Host+"/elsewhere")
			w.WriteHeader(http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, name+"\n")
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(func() { b.srv.Close() })
	return b
}

// Stop stops the backend gracefully: requests in flight finish.
func (b *Backend) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = b.srv.Shutdown(ctx)
}

// TCPBackend answers each connection with its name, then echoes.
type TCPBackend struct {
	Name string
	Port uint16
}

// StartTCPBackend starts a tcp echo backend; it stops with the test.
func StartTCPBackend(t testing.TB, name string) *TCPBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.WriteString(c, name+"\n")
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return &TCPBackend{Name: name, Port: uint16(ln.Addr().(*net.TCPAddr).Port)}
}

// App is a host-network app with one service port, a task per backend
// port, in group "external" and bound to 127.0.0.1 unless labels say
// otherwise.
func App(id string, servicePort uint16, labels map[string]string, ports ...uint16) model.App {
	l := map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_BIND_ADDR": "127.0.0.1"}
	for k, v := range labels {
		l[k] = v
	}
	a := model.App{ID: id, Labels: l, Instances: len(ports), Network: model.NetworkHost,
		Ports: []model.AppPort{{ServicePort: servicePort, Protocol: "tcp"}}}
	for i, p := range ports {
		a.Tasks = append(a.Tasks, model.AppTask{ID: strings.TrimPrefix(id, "/") + "." + strconv.Itoa(i) + "." + strconv.Itoa(int(p)),
			Host: "127.0.0.1", State: model.TaskRunning, Ports: []uint16{p}})
	}
	return a
}

// Ports lists backends' ports.
func Ports(bs ...*Backend) []uint16 {
	out := make([]uint16, len(bs))
	for i, b := range bs {
		out[i] = b.Port
	}
	return out
}

// Req is one request of a case.
type Req struct {
	Addr   string // host:port to connect to
	Host   string // Host header
	Path   string
	TLS    bool
	SNI    string
	Header http.Header
}

// Resp is what came back.
type Resp struct {
	Status  int
	Backend string
	Header  http.Header
	Body    string
}

// Do sends one request on a new connection.
func (e *Env) Do(q Req) (Resp, error) {
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	scheme := "http"
	if q.TLS {
		scheme = "https"
		tr.TLSClientConfig = &tls.Config{ServerName: q.SNI, RootCAs: e.CertPool, InsecureSkipVerify: q.SNI == ""}
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	path := q.Path
	if path == "" {
		path = "/"
	}
	r, err := http.NewRequest(http.MethodGet, scheme+"://"+q.Addr+path, nil)
	if err != nil {
		return Resp{}, err
	}
	for k, vv := range q.Header {
		r.Header[k] = vv
	}
	if q.Host != "" {
		r.Host = q.Host
	}
	resp, err := c.Do(r)
	if err != nil {
		return Resp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Resp{}, err
	}
	return Resp{Status: resp.StatusCode, Backend: resp.Header.Get("X-Backend"), Header: resp.Header, Body: string(b)}, nil
}

// Await repeats q until check accepts the response, failing the test
// after a generous bound; it returns the accepted response.
func (e *Env) Await(q Req, what string, check func(Resp) error) Resp {
	e.T.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for {
		r, err := e.Do(q)
		if err == nil {
			if err = check(r); err == nil {
				return r
			}
		}
		last = err
		if time.Now().After(deadline) {
			e.T.Fatalf("%s: %+v: %v", what, q, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Routed accepts a 200 from one of the backends.
func Routed(names ...string) func(Resp) error {
	return func(r Resp) error {
		if r.Status != http.StatusOK {
			return fmt.Errorf("status %d (backend %q), want 200 from %v", r.Status, r.Backend, names)
		}
		for _, n := range names {
			if r.Backend == n {
				return nil
			}
		}
		return fmt.Errorf("answered by %q, want one of %v", r.Backend, names)
	}
}

// Status accepts a response with that status and no backend.
func Status(code int) func(Resp) error {
	return func(r Resp) error {
		if r.Status != code || r.Backend != "" {
			return fmt.Errorf("status %d from %q, want %d from the edge itself", r.Status, r.Backend, code)
		}
		return nil
	}
}

var errNotYet = errors.New("not yet")
