package app

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/sextantdc/sextant/internal/runtime"
)

// Container networks in `sextant up`: the overlay's master and agent parts
// run in the process (the master's state in the state directory, both APIs
// on the Mesos listener, where DC/OS serves them), and tasks asking for the
// dcos network get a network namespace on the m-dcos bridge with an
// address of this node's block. Everything that needs the kernel is in
// overlay_linux.go.

// Container-network modes (--container-networks).
const (
	ContainerNetworksAuto = "auto" // on when running as root
	ContainerNetworksOff  = "off"
)

// netStatus is what the banner and /health say about container networks.
type netStatus struct {
	mu     sync.Mutex
	ok     bool
	detail string // what runs, or why nothing does
}

func (s *netStatus) set(ok bool, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ok, s.detail = ok, detail
}

func (s *netStatus) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ok {
		return s.detail
	}
	return "unavailable: " + s.detail
}

// unavailable returns why container networks cannot run here, or "".
func containerNetworksUnavailable(mode string) string {
	switch strings.ToLower(mode) {
	case "", ContainerNetworksAuto:
	case ContainerNetworksOff:
		return "turned off (--container-networks=off)"
	default:
		return fmt.Sprintf("--container-networks %q: want auto or off", mode)
	}
	if os.Geteuid() != 0 {
		return "sextant up runs without root, and network namespaces, bridges and VXLAN need it (run it as root for container networks)"
	}
	return platformUnavailable()
}

// upNetworks is what Up hands the runtime: the implementation, or nil and
// the reason.
func upNetworks(un string, status *netStatus) (runtime.ContainerNetworks, string) {
	if un != "" {
		status.set(false, un)
		return nil, un
	}
	status.set(false, "starting")
	return newLocalOverlay(status), ""
}
