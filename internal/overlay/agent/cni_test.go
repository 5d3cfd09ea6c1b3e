package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// The CNI file is the agent module's, key for key (§C.3).
func TestCNIConfig(t *testing.T) {
	agents := cluster(t, seedNet, reg("10.0.0.5", true, true), reg("10.0.0.7", true, true))
	self := agents[1]
	b, ok := CNIConfig(self.Overlays[0], 1420, "/var/run/dcos/cni/networks")
	if !ok {
		t.Fatal("no CNI config for dcos")
	}
	want := `{
  "chain": "M-DCOS",
  "delegate": {
    "bridge": "m-dcos",
    "hairpinMode": true,
    "ipMasq": false,
    "ipam": {
      "dataDir": "/var/run/dcos/cni/networks",
      "routes": [
        {
          "dst": "0.0.0.0/0"
        }
      ],
      "subnet": "9.0.1.0/25",
      "type": "host-local"
    },
    "isGateway": true,
    "mtu": 1420,
    "type": "bridge"
  },
  "excludeDevices": [
    "m-dcos"
  ],
  "name": "dcos",
  "type": "mesos-cni-port-mapper"
}
`
	if string(b) != want {
		t.Errorf("got\n%s", b)
	}
	if _, ok := CNIConfig(self.Overlays[1], 1420, ""); ok {
		t.Error("a CNI file for the IPv6-only overlay")
	}
	dir := t.TempDir()
	if err := writeCNI(dir, self, 1420, ""); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "dcos.conf" {
		t.Fatalf("files %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "dcos.conf")); len(b) == 0 {
		t.Error("empty file")
	}
}
