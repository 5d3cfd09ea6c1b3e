package alloc

import "github.com/sextantdc/sextant/internal/overlay/api"

// The wire types, under the names the allocator has always used.
type (
	State         = api.State
	AgentInfo     = api.AgentInfo
	AgentOverlay  = api.AgentOverlay
	OverlayInfo   = api.OverlayInfo
	Bridge        = api.Bridge
	Backend       = api.Backend
	VXLAN         = api.VXLAN
	OverlayState  = api.OverlayState
	Registration  = api.Registration
	DeleteRequest = api.DeleteRequest
)

// Constants of every DC/OS overlay and the overlay states.
const (
	VNI               = api.VNI
	VTEPName          = api.VTEPName
	VXLANPort         = api.VXLANPort
	StatusInvalid     = api.StatusInvalid
	StatusOK          = api.StatusOK
	StatusFailed      = api.StatusFailed
	StatusConfiguring = api.StatusConfiguring
)
