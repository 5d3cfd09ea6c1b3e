package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sextantdc/sextant/internal/overlay/alloc"
)

// CNIConfig is the network configuration the agent module writes for
// UCR containers on an overlay (§C.3): the port mapper delegating to the
// bridge plugin on m-<name> with host-local IPAM over the Mesos half.
// ok is false for an overlay without an IPv4 Mesos bridge (DC/OS writes no
// file then: IPv6 overlays are for Docker only).
func CNIConfig(ov alloc.AgentOverlay, mtu int, dataDir string) (b []byte, ok bool) {
	if ov.MesosBridge == nil || ov.MesosBridge.IP == "" {
		return nil, false
	}
	ipam := map[string]any{"type": "host-local", "subnet": ov.MesosBridge.IP, "routes": []map[string]string{{"dst": "0.0.0.0/0"}}}
	if dataDir != "" {
		ipam["dataDir"] = dataDir
	}
	doc := map[string]any{
		"name":           ov.Info.Name,
		"type":           "mesos-cni-port-mapper",
		"excludeDevices": []string{ov.MesosBridge.Name},
		"chain":          strings.ToUpper(ov.MesosBridge.Name),
		"delegate": map[string]any{"type": "bridge", "bridge": ov.MesosBridge.Name, "isGateway": true, "ipMasq": false,
			"hairpinMode": true, "mtu": mtu, "ipam": ipam},
	}
	b, _ = json.MarshalIndent(doc, "", "  ")
	return append(b, '\n'), true
}

// writeCNI writes <dir>/<name>.conf for every overlay that has one,
// replacing each file atomically.
func writeCNI(dir string, info alloc.AgentInfo, mtu int, dataDir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cni_dir: %w", err)
	}
	for _, ov := range info.Overlays {
		b, ok := CNIConfig(ov, mtu, dataDir)
		if !ok {
			continue
		}
		path := filepath.Join(dir, ov.Info.Name+".conf")
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return nil
}
