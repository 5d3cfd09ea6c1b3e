package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/sextantdc/sextant/internal/app"
)

// runDig is `sextant dig NAME [TYPE]`: ask Sextant's DNS server (the one
// `sextant up` announced in endpoints.json, or --server) and print the
// reply the way dig does, or as JSON.
func runDig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dig", stdout, stderr)
	server := fs.String("server", "", "DNS server host:port (default: the \"dns\" entry of endpoints.json in the state dir, else 127.0.0.1:53)")
	stateDir := fs.String("state-dir", app.DefaultStateDir(), "state `DIR` of the sextant up to talk to, for its endpoints.json (default as sextant up's: $XDG_STATE_HOME/sextant, else ~/.local/state/sextant)")
	asJSON := fs.Bool("json", false, "print the reply as JSON")
	tcp := fs.Bool("tcp", false, "ask over TCP")
	timeout := fs.Duration("timeout", 5*time.Second, "time to wait for the reply")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sextant dig NAME [TYPE] [--server host:port] [--state-dir DIR] [--json] [--tcp]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 || len(pos) > 2 {
		fs.Usage()
		return errUsage
	}
	qtype := dns.TypeA
	if len(pos) == 2 {
		t, ok := dns.StringToType[strings.ToUpper(pos[1])]
		if !ok {
			return fmt.Errorf("unknown query type %q", pos[1])
		}
		qtype = t
	}
	addr, why, from := *server, "", ""
	if addr == "" {
		addr, from, why = endpointDNS(*stateDir)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "53")
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(pos[0]), qtype)
	q.RecursionDesired = true
	q.SetEdns0(1232, false)
	network := "udp"
	if *tcp {
		network = "tcp"
	}
	c := &dns.Client{Net: network, Timeout: *timeout}
	reply, rtt, err := c.ExchangeContext(ctx, q, addr)
	if err == nil && reply.Truncated && network == "udp" {
		// As dig does: a truncated UDP reply is retried over TCP.
		c.Net = "tcp"
		reply, rtt, err = c.ExchangeContext(ctx, q, addr)
	}
	if err != nil {
		switch {
		case why != "":
			return fmt.Errorf("asking %s (%s; is sextant up running? with another state directory, pass --state-dir DIR or set XDG_STATE_HOME as it was; --server names another server): %w", addr, why, err)
		case from != "":
			return fmt.Errorf("asking %s (from %s; is sextant up still running?): %w", addr, from, err)
		}
		return fmt.Errorf("asking %s: %w", addr, err)
	}
	if *asJSON {
		return printDigJSON(stdout, reply, addr, from, rtt)
	}
	fmt.Fprintf(stdout, "; <<>> sextant dig <<>> @%s %s %s\n", addr, q.Question[0].Name, dns.TypeToString[qtype])
	fmt.Fprintln(stdout, reply.String())
	src := ""
	if from != "" {
		src = ", from " + from
	}
	fmt.Fprintf(stdout, ";; Query time: %d msec\n;; SERVER: %s (%s%s)\n;; MSG SIZE  rcvd: %d\n", rtt.Milliseconds(), addr, c.Net, src, reply.Len())
	return nil
}

// endpointDNS reads the DNS address `sextant up` wrote into the state
// directory and names the file it came from; else it falls back to
// 127.0.0.1:53 and says why (for the error when that fails too).
func endpointDNS(stateDir string) (addr, from, why string) {
	f := filepath.Join(stateDir, "endpoints.json")
	b, err := os.ReadFile(f)
	if err != nil {
		return "127.0.0.1:53", "", "no " + f
	}
	var ep map[string]string
	if err := json.Unmarshal(b, &ep); err != nil || ep["dns"] == "" {
		return "127.0.0.1:53", "", "no \"dns\" entry in " + f
	}
	return ep["dns"], f, ""
}

type digRR struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Class string `json:"class"`
	TTL   uint32 `json:"ttl"`
	Data  string `json:"data"`
}

func digRRs(rrs []dns.RR) []digRR {
	out := []digRR{}
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype == dns.TypeOPT {
			continue
		}
		data := strings.TrimPrefix(rr.String(), h.String())
		out = append(out, digRR{h.Name, dns.TypeToString[h.Rrtype], dns.ClassToString[h.Class], h.Ttl, data})
	}
	return out
}

func printDigJSON(w io.Writer, m *dns.Msg, server, from string, rtt time.Duration) error {
	if m == nil {
		return errors.New("no reply")
	}
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{m.Response, "qr"}, {m.Authoritative, "aa"}, {m.Truncated, "tc"}, {m.RecursionDesired, "rd"}, {m.RecursionAvailable, "ra"}, {m.AuthenticatedData, "ad"}, {m.CheckingDisabled, "cd"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	out := map[string]any{
		"server":     server,
		"id":         m.Id,
		"status":     dns.RcodeToString[m.Rcode],
		"flags":      flags,
		"question":   m.Question,
		"answer":     digRRs(m.Answer),
		"authority":  digRRs(m.Ns),
		"additional": digRRs(m.Extra),
		"rtt_ms":     float64(rtt.Microseconds()) / 1000,
	}
	if from != "" {
		out["server_from"] = from
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
