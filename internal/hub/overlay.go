package hub

import "github.com/sextantdc/sextant/internal/model"

// Overlay is the source of the overlay's allocations.
const Overlay = "overlay"

// PublishOverlay replaces the overlay observation. It never blocks; obs
// must not be modified afterwards.
func (h *Hub) PublishOverlay(obs *model.OverlayObservation) {
	h.publish(Overlay, obs.Fetched, obs.From, func() { h.obs.Overlay = obs })
}
