package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/sextantdc/sextant/"

// layer is a package's place in the pipeline (docs/ARCHITECTURE.md).
type layer int

const (
	leaf     layer = iota // std-like helpers: labels, obs, link, recordio
	wire                  // Mesos and Marathon wire types and clients, the local runtime
	model                 // the cluster model
	source                // producers of observations
	hubL                  // the snapshot fan-out
	configL               // adapters from outside config files to typed options
	consumer              // roles deriving their views from snapshots
	plane                 // data planes: DNS serving, forwarding, gossip transport, L4 balancing
	wiring                // internal/app
	command               // cmd/…
	other                 // examples, benchmarks, test helpers
	unknown               // a package nobody placed yet: fails the test
)

var layerNames = map[layer]string{leaf: "leaf", wire: "wire", model: "model", source: "source", hubL: "hub",
	configL: "config", consumer: "consumer", plane: "data plane", wiring: "app", command: "cmd", other: "other", unknown: "unknown"}

func layerOf(pkg string) layer {
	p := strings.TrimPrefix(pkg, module)
	switch {
	case strings.HasPrefix(p, "cmd/"):
		return command
	case p == "internal/app":
		return wiring
	case p == "internal/model":
		return model
	case p == "internal/hub":
		return hubL
	case strings.HasPrefix(p, "internal/source/"):
		return source
	case p == "internal/mesosdns/config":
		return configL
	case p == "internal/mesos/operator/recordio", p == "internal/obs", strings.HasPrefix(p, "internal/kernel/"),
		p == "internal/directory/label", p == "internal/mesosdns/labels", p == "internal/edge/pystr":
		return leaf
	case p == "internal/overlay/config", p == "internal/overlay/api":
		return leaf
	case p == "internal/overlay/isolate":
		return consumer
	case strings.HasPrefix(p, "internal/overlay/"):
		return plane
	case strings.HasPrefix(p, "internal/mesos/"), p == "internal/marathon", p == "internal/runtime":
		return wire
	case p == "internal/l4lb/l4lbtest":
		return other
	case p == "internal/edge/edgetest":
		return other
	case p == "internal/dnsserver", p == "internal/forward", p == "internal/gossip", strings.HasPrefix(p, "internal/l4lb/"):
		return plane
	case strings.HasPrefix(p, "internal/mesosdns/records/synth"), strings.HasPrefix(p, "internal/testutil"),
		strings.HasPrefix(p, "bench/"), p == "examples":
		return other
	case strings.HasPrefix(p, "internal/mesosdns/"), p == "internal/dcosdns", p == "internal/directory", p == "internal/vip",
		p == "internal/zonepub", p == "internal/edge", p == "internal/edge/haproxy", p == "internal/l4lb":
		return consumer
	case p == "internal/edge/native":
		return consumer
	case p == "internal/edge/admin", p == "internal/edge/zdd":
		return consumer
	case p == "internal/gateway/auth", p == "internal/gateway/ui":
		return leaf
	case p == "internal/httpfast":
		return leaf
	case p == "internal/gateway":
		return consumer
	}
	return unknown
}

// allowed says which layers a layer may import (besides itself, and
// besides leaf packages, which everyone may import).
var allowed = map[layer][]layer{
	leaf:     {},
	wire:     {},
	model:    {},
	source:   {wire, model},
	hubL:     {model},
	configL:  {source},
	consumer: {model, hubL, configL, plane},
	plane:    {},
	wiring:   {wire, model, source, hubL, configL, consumer, plane, other},
	command:  {wiring},
	other:    {wire, model, source, hubL, configL, consumer, plane, wiring},
}

// TestImportDirection fails when a package imports against the flow
// sources → model/hub → consumers → data planes, cmd → app only. Tests
// are not checked: they may build whole pipelines.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}:{{join .Imports \" \"}}", module+"...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		from := layerOf(pkg)
		if from == unknown {
			t.Errorf("%s has no place in the pipeline: add it to layerOf (and docs/ARCHITECTURE.md)", strings.TrimPrefix(pkg, module))
		}
		for _, imp := range strings.Fields(imports) {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			checked++
			to := layerOf(imp)
			if to == from || to == leaf {
				continue
			}
			ok := false
			for _, l := range allowed[from] {
				ok = ok || l == to
			}
			if !ok {
				t.Errorf("%s (%s) imports %s (%s): against the pipeline's direction", strings.TrimPrefix(pkg, module),
					layerNames[from], strings.TrimPrefix(imp, module), layerNames[to])
			}
		}
	}
	if checked == 0 {
		t.Fatal("no internal imports seen: the check is not running")
	}
}

// TestLayerRulesCatchViolations makes sure the rule table is not vacuous.
func TestLayerRulesCatchViolations(t *testing.T) {
	bad := [][2]string{
		{"internal/model", "internal/mesos/state"},
		{"internal/vip", "internal/source/mesos"},
		{"cmd/sextant", "internal/dcosdns"},
		{"internal/source/mesos", "internal/hub"},
		{"internal/dnsserver", "internal/model"},
		{"internal/dcosdns", "internal/app"},
	}
	for _, b := range bad {
		from, to := layerOf(module+b[0]), layerOf(module+b[1])
		for _, l := range allowed[from] {
			if l == to {
				t.Errorf("%s → %s is allowed", b[0], b[1])
			}
		}
	}
}

// TestPackagesSayWhatTheyImport: every package's doc comment says what it
// may import (docs/ARCHITECTURE.md lists the layers), so a reader learns a
// package's place without reading its code.
func TestPackagesSayWhatTheyImport(t *testing.T) {
	// go list's Doc is the first sentence only: read the whole comment.
	dirs, err := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \" \"}}", module+"...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(dirs)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 3 || f[2] == "" || strings.HasPrefix(strings.TrimPrefix(f[0], module), "bench/") {
			continue
		}
		found := false
		for _, name := range strings.Fields(f[2]) {
			b, err := os.ReadFile(filepath.Join(f[1], name))
			if err != nil {
				t.Fatal(err)
			}
			src := string(b)
			i := strings.Index(src, "\npackage ")
			if i < 0 || !(strings.Contains(src[:i], "// Package ") || strings.Contains(src[:i], "// Command ")) {
				continue
			}
			found = strings.Contains(src[:i], "Imports")
			break
		}
		if !found {
			t.Errorf("%s: its package doc does not say what it imports (an \"Imports…\" paragraph)", strings.TrimPrefix(f[0], module))
		}
	}
}
