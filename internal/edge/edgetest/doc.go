// Package edgetest is the end-to-end suite both edge engines run: real
// Go backends on loopback, real clients (net/http and, where installed,
// curl and wrk), the routing cases of marathon-lb's labels.
//
// # Name
//
// edgetest — edge.Engine conformance: the same requests must reach the
// same servers through the HAProxy engine and the native engine.
//
// # Description
//
// Run(t, factory) starts one engine from the factory, with the shared
// frontends on free loopback ports, and applies one configuration per
// case, built by edge.Build from model apps whose tasks are backends
// started by the suite (services bind 127.0.0.1 through
// HAPROXY_{n}_BIND_ADDR). Cases: Host, several vhosts, path and
// proxypass, SNI on :443 with the --ssl-certs certificate, the app-id
// frontend, sticky sessions, redirect to https, basic auth, tcp mode,
// groups, backend weights ordering rules, a bad label disabling only its
// service. RunRedeploys puts the engine under a bounded wrk load while
// an app is redeployed and scaled 20 times and fails on any failed
// request.
//
// Every expectation is awaited with a generous bound (an engine may
// apply asynchronously); nothing is timed tightly.
//
// # Config
//
// A Factory gets the addresses to serve :80, :443 and :9091 on and
// returns the engine and, optionally, how to turn a configuration into
// a generation (the HAProxy engine renders its binds there).
//
// # Metrics
//
// None.
//
// # Readiness
//
// Not applicable.
//
// # Examples
//
//	func TestSuite(t *testing.T) {
//		edgetest.Run(t, func(t *testing.T, a edgetest.Addrs) edgetest.Target {
//			e := native.New(native.Options{HTTPAddr: a.HTTP, HTTPSAddr: a.HTTPS, AppIDAddr: a.AppID})
//			t.Cleanup(func() { e.Close() })
//			return edgetest.Target{Engine: e}
//		})
//	}
//
// # Imports
//
// internal/edge, internal/edge/haproxy, internal/model.
package edgetest
