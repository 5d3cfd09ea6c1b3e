// Package overlay is the overlay source: it reads the overlay master's
// state (/overlay-master/state) and publishes every node's VTEP and
// blocks as the model's OverlayObservation. An agent entry that does not
// parse is skipped with a model.Problem naming it; a state that does not
// parse at all is a failed fetch, and the hub keeps serving the last good
// one.
//
// # Imports
//
// internal/model and internal/overlay/api (the state's wire types).
package overlay
