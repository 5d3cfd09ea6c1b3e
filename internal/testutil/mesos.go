package testutil

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// StateServer is a static Mesos master on loopback: GET /master/state
// answers with the body set last, any other path 404 (so a client that
// tries the operator API falls back to polling).
type StateServer struct {
	srv  *httptest.Server
	body atomic.Pointer[[]byte]
}

// NewStateServer starts a StateServer serving an empty body until Set; it
// is closed at cleanup.
func NewStateServer(t testing.TB) *StateServer {
	t.Helper()
	s := &StateServer{}
	empty := []byte{}
	s.body.Store(&empty)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/master/state" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// Set replaces the body of /master/state.
func (s *StateServer) Set(body []byte) { s.body.Store(&body) }

// HostPort is the server's "127.0.0.1:port", as a Mesos master address.
func (s *StateServer) HostPort() string { return strings.TrimPrefix(s.srv.URL, "http://") }

// Leader is the server as a state's leader field: "master@127.0.0.1:port".
func (s *StateServer) Leader() string { return "master@" + s.HostPort() }

// Server is the underlying httptest server (to close it or its
// connections, simulating a master that goes away).
func (s *StateServer) Server() *httptest.Server { return s.srv }

// FakeState returns the fixture mesos/fake.json as a generic JSON object
// with its leader set to leader, so that a source following the leader
// stays on the test's server. It skips when the fixtures are absent.
func FakeState(t testing.TB, leader string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(Fixtures(t, "mesos"), "fake.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("fake.json: %v", err)
	}
	st["leader"] = leader
	return st
}
