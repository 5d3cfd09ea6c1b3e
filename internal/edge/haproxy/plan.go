package haproxy

import (
	"slices"
	"strings"
)

// runtimeOp is one runtime-API command and the answer that means it
// worked ("" for commands that answer nothing).
type runtimeOp struct {
	cmd, ok string
}

// serverKey is backend/server, the runtime API's name of a server.
type serverKey string

func key(backend, server string) serverKey { return serverKey(backend + "/" + server) }

// runtimePlan is how to go from the servers HAProxy runs to the wanted
// ones without a reload: servers to add and enable first (so traffic
// always has somewhere to go), then servers to put in maintenance, which
// are deleted once their sessions end.
type runtimePlan struct {
	ops    []runtimeOp
	drain  map[serverKey]serverLine
	revive []serverKey
}

// planRuntime compares the server lines of two files with the same
// skeleton. pending are servers HAProxy still runs in maintenance,
// waiting for their sessions to end. It returns false when a change
// needs a reload: a server's options other than "disabled" changed, or a
// new server has a cookie (HAProxy 2.6 refuses cookies on servers added
// at run time).
func planRuntime(old, want map[string][]serverLine, pending map[serverKey]serverLine) (*runtimePlan, bool) {
	p := &runtimePlan{drain: map[serverKey]serverLine{}}
	var disables []runtimeOp
	backends := make([]string, 0, len(want))
	for b := range want {
		backends = append(backends, b)
	}
	for b := range old {
		if _, ok := want[b]; !ok {
			backends = append(backends, b)
		}
	}
	slices.Sort(backends)
	for _, b := range backends {
		have := map[string]serverLine{}
		for _, s := range old[b] {
			have[s.Name] = s
		}
		wanted := map[string]bool{}
		for _, s := range want[b] {
			wanted[s.Name] = true
			k := key(b, s.Name)
			args, dis := s.disabled()
			cur, running := have[s.Name]
			if !running {
				if pend, ok := pending[k]; ok {
					// Still draining: bring it back rather than add it twice.
					if pargs, _ := pend.disabled(); pargs != args {
						return nil, false
					}
					p.revive = append(p.revive, k)
					if !dis {
						p.ops = append(p.ops, runtimeOp{"enable server " + string(k), ""})
					}
					continue
				}
				if s.sticky() {
					return nil, false
				}
				p.ops = append(p.ops, runtimeOp{"add server " + string(k) + " " + args, "New server registered"})
				if slices.Contains(strings.Fields(args), "check") {
					p.ops = append(p.ops, runtimeOp{"enable health " + string(k), ""})
				}
				if !dis {
					p.ops = append(p.ops, runtimeOp{"enable server " + string(k), ""})
				}
				continue
			}
			cargs, cdis := cur.disabled()
			if cargs != args {
				return nil, false
			}
			switch {
			case dis && !cdis:
				disables = append(disables, runtimeOp{"disable server " + string(k), ""})
			case !dis && cdis:
				p.ops = append(p.ops, runtimeOp{"enable server " + string(k), ""})
			}
		}
		for _, s := range old[b] {
			if !wanted[s.Name] {
				k := key(b, s.Name)
				disables = append(disables, runtimeOp{"disable server " + string(k), ""})
				p.drain[k] = s
			}
		}
	}
	p.ops = append(p.ops, disables...)
	return p, true
}
