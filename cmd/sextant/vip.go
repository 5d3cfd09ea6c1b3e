package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sextantdc/sextant/internal/app"
)

// runVIP is `sextant vip list`: the VIPs a node serves, read from its
// API (/v1/vips and /v1/l4lb), with where to connect and each backend's
// state.
func runVIP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("vip", stdout, stderr)
	stateDir := fs.String("state-dir", app.DefaultStateDir(), "state `DIR` of the sextant up to talk to, for its endpoints.json (default as sextant up's: $XDG_STATE_HOME/sextant, else ~/.local/state/sextant)")
	api := fs.String("api", "", "node API `URL` (default: the \"net_api\" key of endpoints.json in --state-dir; an agent's is http://127.0.0.1:62080)")
	asJSON := fs.Bool("json", false, "print /v1/vips as the API returns it")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sextant vip [flags] list")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "list" {
		fs.Usage()
		return errUsage
	}
	base := *api
	if base == "" {
		f := filepath.Join(*stateDir, "endpoints.json")
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("no --api URL and no %s (is `sextant up` running? with another state directory, pass --state-dir DIR or set XDG_STATE_HOME as it was): %w", f, err)
		}
		var eps map[string]string
		if err := json.Unmarshal(b, &eps); err != nil || eps["net_api"] == "" {
			return fmt.Errorf("%s: no \"net_api\" endpoint", f)
		}
		base = eps["net_api"]
		if !*asJSON {
			fmt.Fprintf(stderr, "sextant vip: node API at %s (from %s)\n", base, f)
		}
	}
	base = strings.TrimSuffix(base, "/")
	hc := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return b, err
	}
	doc, err := get("/v1/vips")
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := stdout.Write(doc)
		return err
	}
	vips, bad, err := app.ParseVIPs(doc)
	if err != nil {
		return err
	}
	for _, e := range bad {
		fmt.Fprintln(stderr, "sextant vip: skipped:", e)
	}
	var st app.L4LBStatus
	if b, err := get("/v1/l4lb"); err == nil && json.Unmarshal(b, &st) == nil && st.Plane != "" {
		fmt.Fprintf(stdout, "plane: %s (%s)\n", st.Plane, st.PlaneInfo)
		if st.LastSyncError != "" {
			fmt.Fprintf(stdout, "last sync failed: %s\n", st.LastSyncError)
		}
	} else {
		// dcos-net, or a node without a load balancer: the gossiped
		// document only.
		fmt.Fprintln(stdout, "plane: none reported (the node's /v1/l4lb does not answer: the cluster's VIP document only)")
	}
	return printVIPs(stdout, vips)
}

// printVIPs prints one line per VIP (CONNECT is where a client on this
// node connects), each followed by one indented line per backend; the
// VIP lines are aligned with each other, the backend lines likewise.
func printVIPs(w io.Writer, vips []app.APIVIP) error {
	if len(vips) == 0 {
		_, err := fmt.Fprintln(w, "(no VIPs: no running task has a VIP label)")
		return err
	}
	rows := [][]string{{"VIP", "PROTO", "ADDRESS", "CONNECT", "MODE", "REFUSED"}}
	var backends [][][]string
	for _, v := range vips {
		rows = append(rows, []string{v.VIP, v.Protocol, dash(strings.Join(v.Addrs, ",")), dash(strings.Join(v.Listen, ",")), dash(v.Mode), strconv.FormatUint(v.Refused, 10)})
		var bs [][]string
		for _, b := range v.Backend {
			addr := net.JoinHostPort(b.IP, strconv.Itoa(int(b.Port)))
			if b.Target != "" {
				addr += " via " + b.Target
			}
			bs = append(bs, []string{addr, dash(b.State), fmt.Sprintf("weight %d", b.Weight),
				fmt.Sprintf("conns %d active %d failures %d", b.Connections, b.Active, b.Failures), "agent " + dash(b.AgentIP), b.TaskID})
		}
		backends = append(backends, bs)
	}
	var all [][]string
	for _, bs := range backends {
		all = append(all, bs...)
	}
	vw, bw := widths(rows), widths(all)
	var out strings.Builder
	line := func(indent string, cells []string, ws []int) {
		out.WriteString(indent)
		for i, c := range cells {
			if i == len(cells)-1 {
				out.WriteString(c)
				break
			}
			fmt.Fprintf(&out, "%-*s  ", ws[i], c)
		}
		out.WriteString("\n")
	}
	line("", rows[0], vw)
	for i, r := range rows[1:] {
		line("", r, vw)
		for _, b := range backends[i] {
			line("  ", b, bw)
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// widths are the widest cell of each column.
func widths(rows [][]string) []int {
	var ws []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(ws) {
				ws = append(ws, 0)
			}
			ws[i] = max(ws[i], len(c))
		}
	}
	return ws
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
